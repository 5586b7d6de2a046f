// SPDX-License-Identifier: GPL-2.0
/*
 * startstop, part two: the exit function. KBUILD_MODNAME is the module's
 * name, "startstop", in both files, so both log with the same prefix.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/module.h>
#include <linux/printk.h>

static void __exit startstop_exit(void)
{
	pr_info("stopped (exit is in stop.c)\n");
}

module_exit(startstop_exit);
