// SPDX-License-Identifier: GPL-2.0
/*
 * modinfo_sample: test data for modlab's modinfo. It carries parameters of
 * several types, exported symbols and unusual .modinfo entries; it does
 * nothing when loaded.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/module.h>
#include <linux/moduleparam.h>

static int count = 3;
module_param(count, int, 0444);
MODULE_PARM_DESC(count, "How many times to count");

static char *greeting = "hello";
module_param(greeting, charp, 0444);
MODULE_PARM_DESC(greeting, "What to say");

static bool verbose;
module_param(verbose, bool, 0644);
MODULE_PARM_DESC(verbose, "Say more (default: off)");

static int values[4];
static int nvalues;
module_param_array(values, int, &nvalues, 0444);
MODULE_PARM_DESC(values, "Up to four numbers");

/* A parameter with a type but no description, and one with a description
 * but no type: modinfo prints both shapes differently. */
static unsigned long quiet;
module_param(quiet, ulong, 0444);
MODULE_INFO(parm, "ghost:A description without a parameter");
MODULE_INFO(parm, "nocolon");

int modinfo_sample_add(int a, int b)
{
	return a + b;
}
EXPORT_SYMBOL(modinfo_sample_add);

int modinfo_sample_gpl_only(void)
{
	return count;
}
EXPORT_SYMBOL_GPL(modinfo_sample_gpl_only);

static int __init modinfo_sample_init(void)
{
	pr_info("loaded, count=%d\n", count);
	return 0;
}

static void __exit modinfo_sample_exit(void)
{
}

module_init(modinfo_sample_init);
module_exit(modinfo_sample_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("modlab");
MODULE_AUTHOR("A. N. Other <other@example.org>");
MODULE_DESCRIPTION("Test data for modinfo: parameters, exports, odd keys");
MODULE_ALIAS("modinfo-sample-alias");
MODULE_ALIAS("pci:v0000ABCDd*sv*sd*bc*sc*i*");
MODULE_INFO(averyveryverylongkey, "keys longer than fifteen characters");
MODULE_INFO(empty, "");
MODULE_VERSION("1.2.3");
