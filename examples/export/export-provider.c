// SPDX-License-Identifier: GPL-2.0
/*
 * export-provider: a module that exports a function and a variable for
 * other modules, with EXPORT_SYMBOL_GPL.
 *
 *   insmod export-provider.ko bias=10
 *   grep export_provider /proc/kallsyms
 *
 * shows export_provider_add and export_provider_calls with the module's
 * name in brackets, and next to them __ksymtab_export_provider_add and
 * friends: the table entries EXPORT_SYMBOL_GPL adds, which are what makes
 * a symbol usable by other modules. Only modules under a GPL-compatible
 * licence may use _GPL exports. While a
 * module that uses them is loaded (export-user.ko), this one cannot be
 * unloaded: rmmod fails with "Module export_provider is in use by:
 * export_user".
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/export.h>
#include <linux/init.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/printk.h>

#include "export-provider.h"

static int bias;
module_param(bias, int, 0444);
MODULE_PARM_DESC(bias, "Added to every sum export_provider_add() returns (default 0)");

atomic_t export_provider_calls = ATOMIC_INIT(0);
EXPORT_SYMBOL_GPL(export_provider_calls);

int export_provider_add(int a, int b)
{
	atomic_inc(&export_provider_calls);
	return a + b + bias;
}
EXPORT_SYMBOL_GPL(export_provider_add);

static int __init export_provider_init(void)
{
	pr_info("loaded: exporting export_provider_add and export_provider_calls (bias=%d)\n",
		bias);
	return 0;
}

static void __exit export_provider_exit(void)
{
	pr_info("unloaded after %d calls\n", atomic_read(&export_provider_calls));
}

module_init(export_provider_init);
module_exit(export_provider_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("The modlab authors");
MODULE_DESCRIPTION("Exports a function and a variable with EXPORT_SYMBOL_GPL");
