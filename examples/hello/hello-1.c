// SPDX-License-Identifier: GPL-2.0
/*
 * hello-1: the smallest useful module. One function runs when the module
 * is loaded and one when it is removed; module_init() and module_exit()
 * tell the kernel which ones they are.
 *
 * See it happen: insmod hello-1.ko; dmesg | tail -1; rmmod hello_1
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/module.h>
#include <linux/printk.h>

static int hello_1_init(void)
{
	pr_info("Hello, world 1\n");
	/* Anything but 0 here would make the load fail with that error. */
	return 0;
}

static void hello_1_exit(void)
{
	pr_info("Goodbye, world 1\n");
}

module_init(hello_1_init);
module_exit(hello_1_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("The smallest module: one line on load, one on unload");
