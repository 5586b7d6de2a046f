// SPDX-License-Identifier: GPL-2.0
/*
 * rtc-cmos: a module that takes the name of one of the kernel's built-in
 * modules. The file is rtc-cmos.ko, the module is rtc_cmos (kbuild turns
 * "-" into "_"), and every kernel of the lab has drivers/rtc/rtc-cmos built
 * in (modules.builtin), with a parameter, so /sys/module/rtc_cmos exists
 * from boot on. The kernel refuses this module: "rtc_cmos: module is
 * already loaded", EINVAL. Its init never runs.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/module.h>
#include <linux/printk.h>

static int __init rtc_cmos_init(void)
{
	pr_info("loaded: this kernel has no built-in rtc_cmos\n");
	return 0;
}

static void __exit rtc_cmos_exit(void)
{
	pr_info("unloaded\n");
}

module_init(rtc_cmos_init);
module_exit(rtc_cmos_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("A module named like a built-in one: the kernel refuses it");
