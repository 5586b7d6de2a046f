// SPDX-License-Identifier: GPL-2.0
/*
 * license-proprietary: a module that declares itself proprietary. (Its
 * source is GPL like the rest of this repository; the kernel knows only
 * what MODULE_LICENSE put into .modinfo.)
 *
 * Loading it sets the kernel's taint flag P (bit 0 of
 * /proc/sys/kernel/tainted) for the rest of the boot, and the module's own
 * (/sys/module/license_proprietary/taint). The first such module of a boot
 * makes the kernel log "license_proprietary: module license 'Proprietary'
 * taints kernel." It calls only plain EXPORT_SYMBOL functions (printk):
 * the GPL-only ones are hidden from it.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/module.h>
#include <linux/printk.h>

static int __init license_proprietary_init(void)
{
	pr_info("loaded; the kernel is tainted with P now\n");
	return 0;
}

static void __exit license_proprietary_exit(void)
{
	pr_info("unloaded; the P taint stays until the next boot\n");
}

module_init(license_proprietary_init);
module_exit(license_proprietary_exit);

MODULE_LICENSE("Proprietary");
MODULE_DESCRIPTION("A module that declares a proprietary licence");
