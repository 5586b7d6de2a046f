// SPDX-License-Identifier: GPL-2.0
/*
 * license-none: a module without MODULE_LICENSE. modpost refuses to build
 * it:
 *
 *   ERROR: modpost: missing MODULE_LICENSE() in BUILD_DIR/license-none.o
 *
 * (KBUILD_MODPOST_WARN=1 does not make it a warning.) A kernel that gets
 * such a module anyway reads its licence as "unspecified", which is not
 * GPL-compatible: the module loads, taints the kernel with P and sees no
 * GPL-only symbol.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/module.h>
#include <linux/printk.h>

static int __init license_none_init(void)
{
	pr_info("loaded without a licence\n");
	return 0;
}

static void __exit license_none_exit(void)
{
	pr_info("unloaded\n");
}

module_init(license_none_init);
module_exit(license_none_exit);

MODULE_DESCRIPTION("A module without MODULE_LICENSE");
