// SPDX-License-Identifier: GPL-2.0
/*
 * hello-2: hello-1 with its functions marked __init and __exit.
 *
 * __init puts the function in a section the kernel frees once the module
 * has finished loading: it runs once and its memory comes back. __exit
 * marks code that is only needed to remove the module; when the module is
 * built into the kernel (it can never be removed) that code is dropped.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/module.h>
#include <linux/printk.h>

static int __init hello_2_init(void)
{
	pr_info("Hello, world 2\n");
	return 0;
}

static void __exit hello_2_exit(void)
{
	pr_info("Goodbye, world 2\n");
}

module_init(hello_2_init);
module_exit(hello_2_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Init and exit functions in the __init and __exit sections");
