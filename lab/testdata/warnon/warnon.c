// SPDX-License-Identifier: GPL-2.0
/*
 * warnon: a test-only module whose init raises one kernel warning on
 * purpose and then loads normally. The lab must fail any run that loads
 * it and show the "WARNING:" report: that proves its bug check can fail.
 *
 * Loading it taints the kernel with W; only ever load it in the lab's VM.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bug.h>
#include <linux/init.h>
#include <linux/module.h>
#include <linux/printk.h>

static int __init warnon_init(void)
{
	pr_info("raising a warning on purpose\n");
	WARN_ONCE(1, "warnon: deliberate warning to test the lab's bug check\n");
	return 0;
}

static void __exit warnon_exit(void)
{
	pr_info("unloaded\n");
}

module_init(warnon_init);
module_exit(warnon_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Test-only: triggers one WARN to prove the lab detects kernel bugs");
