// SPDX-License-Identifier: GPL-2.0
/*
 * export-user: a module that calls a function another module exports.
 *
 *   insmod export-provider.ko
 *   insmod export-user.ko a=2 b=3
 *   modinfo -F depends export-user.ko      # export_provider
 *   lsmod | grep export                    # export_provider ... 1 export_user
 *
 * The kernel resolves export_provider_add while loading this module, takes
 * a reference on export-provider and records this module as its holder
 * (/sys/module/export_provider/holders/export_user). Loading this module
 * first fails with "Unknown symbol in module" (ENOENT); modprobe avoids that
 * by loading what "depends:" names first.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/init.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/printk.h>

#include "export-provider.h"

static int a = 2;
module_param(a, int, 0444);
MODULE_PARM_DESC(a, "First operand passed to export_provider_add() (default 2)");

static int b = 3;
module_param(b, int, 0444);
MODULE_PARM_DESC(b, "Second operand passed to export_provider_add() (default 3)");

static int __init export_user_init(void)
{
	int sum = export_provider_add(a, b);

	pr_info("export_provider_add(%d, %d) = %d (call %d)\n",
		a, b, sum, atomic_read(&export_provider_calls));
	return 0;
}

static void __exit export_user_exit(void)
{
	pr_info("unloaded\n");
}

module_init(export_user_init);
module_exit(export_user_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("The modlab authors");
MODULE_DESCRIPTION("Uses the symbols export-provider exports");
