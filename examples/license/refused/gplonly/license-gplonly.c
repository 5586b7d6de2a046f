// SPDX-License-Identifier: GPL-2.0
/*
 * license-gplonly: a proprietary module that calls an EXPORT_SYMBOL_GPL
 * function. modpost refuses to build it:
 *
 *   ERROR: modpost: GPL-incompatible module license-gplonly.ko uses GPL-only symbol 'ktime_get_mono_fast_ns'
 *
 * KBUILD_MODPOST_WARN=1 does not help: it softens unresolved symbols only.
 * A kernel that gets such a module anyway (its licence changed after the
 * build) refuses it at load time: the GPL-only symbol is hidden from a
 * module that is not GPL-compatible, "Unknown symbol", ENOENT.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/module.h>
#include <linux/printk.h>
#include <linux/timekeeping.h>

static int __init license_gplonly_init(void)
{
	pr_info("loaded at %llu ns\n", (unsigned long long)ktime_get_mono_fast_ns());
	return 0;
}

static void __exit license_gplonly_exit(void)
{
	pr_info("unloaded\n");
}

module_init(license_gplonly_init);
module_exit(license_gplonly_exit);

MODULE_LICENSE("Proprietary");
MODULE_DESCRIPTION("A proprietary module that calls a GPL-only export");
