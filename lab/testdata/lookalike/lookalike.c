// SPDX-License-Identifier: GPL-2.0
/*
 * lookalike: a test-only module with no bug that logs the words of the
 * kernel's bug reports ("BUG:", "WARNING:", "Oops", "general protection
 * fault", "Kernel panic", "kernel BUG at", "UBSAN:", "refcount_t:") when it
 * loads and when it unloads. The lab must pass it: its bug check matches
 * the kernel's own report formats from the start of a log message, not
 * the words anywhere.
 *
 * Some lines are printed with printk() and no prefix, the way a careless
 * module might; the rest under the module's pr_fmt prefix.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/printk.h>

static void log_lookalikes(const char *when)
{
	/* No prefix: these start the message, as the kernel's reports do. */
	printk(KERN_INFO "BUG: counter wrapped\n");
	printk(KERN_INFO "Oops, the device went away\n");
	printk(KERN_WARNING "WARNING: this is only a test\n");
	printk(KERN_WARNING "WARNING: CPU: fan is loud\n");
	printk(KERN_ERR "refcount_t: my own words\n");
	printk(KERN_ERR "general protection fault is a term of the x86 manuals\n");
	printk(KERN_ERR "UBSAN: is a sanitizer\n");
	printk(KERN_INFO "Kernel panic avoided\n");
	printk(KERN_INFO "kernel BUG at the office\n");
	printk(KERN_INFO "list_add corruption is impossible here\n");

	/* Under the module's prefix, some in the kernel's exact formats. */
	pr_info("%s: BUG: counter wrapped\n", when);
	pr_warn("WARNING: low battery\n");
	pr_err("Oops: 0002 [#1] PREEMPT SMP NOPTI\n");
	pr_err("kernel BUG at lookalike.c:12!\n");
	pr_err("BUG: kernel NULL pointer dereference, address: 0000000000000000\n");
	pr_warn("WARNING: CPU: 0 PID: 1 at lookalike.c:12 lookalike_init+0x1/0x2\n");
	pr_err("refcount_t: underflow; use-after-free.\n");
	pr_err("UBSAN: array-index-out-of-bounds in lookalike.c:12:9\n");
	pr_info("Kernel panic - not syncing: nothing is wrong\n");
	pr_info("item [#3] done\n");
}

static int __init lookalike_init(void)
{
	log_lookalikes("init");
	return 0;
}

static void __exit lookalike_exit(void)
{
	log_lookalikes("exit");
}

module_init(lookalike_init);
module_exit(lookalike_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Test-only: logs the words of kernel bug reports without a bug");
