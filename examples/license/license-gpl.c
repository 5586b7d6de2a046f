// SPDX-License-Identifier: GPL-2.0
/*
 * license-gpl: a GPL module. It may call the kernel's EXPORT_SYMBOL_GPL
 * functions (here ktime_get_mono_fast_ns) and adds no P to the kernel's
 * taint flags: only O (out of tree), and E where the kernel checks
 * signatures and this module has none.
 *
 *   insmod license-gpl.ko
 *   cat /sys/module/license_gpl/taint      # OE (O on a kernel without MODULE_SIG)
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/module.h>
#include <linux/printk.h>
#include <linux/timekeeping.h>

static int __init license_gpl_init(void)
{
	pr_info("loaded; ktime_get_mono_fast_ns, a GPL-only export, says %llu\n",
		(unsigned long long)ktime_get_mono_fast_ns());
	return 0;
}

static void __exit license_gpl_exit(void)
{
	pr_info("unloaded\n");
}

module_init(license_gpl_init);
module_exit(license_gpl_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("A GPL module that uses a GPL-only export");
