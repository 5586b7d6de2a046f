// SPDX-License-Identifier: GPL-2.0
/*
 * oops: a test-only module whose init dereferences a NULL pointer on
 * purpose. The kernel oopses and kills the task that loaded it. The lab
 * must report the "BUG:" splat, survive (its /init is not that task) and
 * go on with the next unit.
 *
 * The module stays half-loaded ("coming") until reboot: only ever load it
 * in the lab's VM.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/module.h>
#include <linux/printk.h>

/* volatile keeps the compiler from proving the store faults and dropping it */
static int * volatile target;

static int __init nullderef_init(void)
{
	pr_info("dereferencing NULL on purpose\n");
	*target = 1;
	return 0;
}

static void __exit nullderef_exit(void)
{
	pr_info("unloaded\n");
}

module_init(nullderef_init);
module_exit(nullderef_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Test-only: oopses in init to prove the lab survives and reports it");
