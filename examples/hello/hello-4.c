// SPDX-License-Identifier: GPL-2.0
/*
 * hello-4: a module that says who wrote it, what it is for and under which
 * licence it may be used.
 *
 * The MODULE_* macros add "key=value" strings to the .modinfo section of
 * hello-4.ko; modinfo(8) prints them without loading the module. The
 * licence also matters to the kernel: a non-GPL-compatible one taints it
 * and hides the GPL-only symbols from the module.
 *
 * See it: modinfo hello-4.ko
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/module.h>
#include <linux/printk.h>

static int __init hello_4_init(void)
{
	pr_info("Hello, world 4\n");
	return 0;
}

static void __exit hello_4_exit(void)
{
	pr_info("Goodbye, world 4\n");
}

module_init(hello_4_init);
module_exit(hello_4_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("The modlab authors");
MODULE_DESCRIPTION("A module that documents itself with MODULE_* macros");
