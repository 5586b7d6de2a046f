// SPDX-License-Identifier: GPL-2.0
/*
 * atomicsleep: a test-only module whose init allocates with GFP_KERNEL
 * while it holds a spinlock.
 *
 * GFP_KERNEL may sleep to reclaim memory, and nothing may sleep under a
 * spinlock. In the lab's VM memory is plentiful and the allocation never
 * actually sleeps, so Debian's kernels see nothing; a kernel built with
 * DEBUG_ATOMIC_SLEEP checks every place that might sleep and reports "BUG:
 * sleeping function called from invalid context", with the line below
 * marked MIGHT SLEEP (see README.md).
 *
 * Only ever load it in the lab's VM.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/module.h>
#include <linux/printk.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

static DEFINE_SPINLOCK(table_lock);
static void *table[4];

static int __init atomicsleep_init(void)
{
	void *p;

	spin_lock(&table_lock);
	p = kmalloc(64, GFP_KERNEL); /* MIGHT SLEEP: GFP_KERNEL under a spinlock */
	table[0] = p;
	spin_unlock(&table_lock);
	if (!p)
		return -ENOMEM;
	pr_info("allocated with GFP_KERNEL under a spinlock\n");
	return 0;
}

static void __exit atomicsleep_exit(void)
{
	kfree(table[0]);
	pr_info("unloaded\n");
}

module_init(atomicsleep_init);
module_exit(atomicsleep_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Test-only: allocates with GFP_KERNEL under a spinlock, for DEBUG_ATOMIC_SLEEP to report");
