// SPDX-License-Identifier: GPL-2.0
/*
 * hello-3: __initdata, the data counterpart of __init.
 *
 * hello_3_data lives in the init data section, freed together with the
 * __init code once loading is over. Only __init code may touch it: the
 * exit function must not, and modpost reports a section mismatch if it
 * does.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/module.h>
#include <linux/printk.h>

static int hello_3_data __initdata = 3;

static int __init hello_3_init(void)
{
	pr_info("Hello, world %d\n", hello_3_data);
	return 0;
}

static void __exit hello_3_exit(void)
{
	pr_info("Goodbye, world 3\n");
}

module_init(hello_3_init);
module_exit(hello_3_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Data used only while loading, marked __initdata");
