// SPDX-License-Identifier: GPL-2.0
/*
 * startstop, part one: the init function. The exit function is in stop.c;
 * the Kbuild line "startstop-objs := start.o stop.o" links both files into
 * one module, startstop.ko.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/module.h>
#include <linux/printk.h>

static int __init startstop_init(void)
{
	pr_info("started (init is in start.c)\n");
	return 0;
}

module_init(startstop_init);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("One module built from two source files");
