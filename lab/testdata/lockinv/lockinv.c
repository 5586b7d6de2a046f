// SPDX-License-Identifier: GPL-2.0
/*
 * lockinv: a test-only module whose init takes two mutexes in one order,
 * releases them, then takes them in the other order: an ABBA inversion.
 *
 * One task does both in turn, so nothing ever deadlocks, but two tasks
 * doing the same could. A kernel built with lockdep (PROVE_LOCKING) sees
 * the two orders and reports "WARNING: possible circular locking
 * dependency detected", with the line below marked SECOND ORDER. Debian's
 * kernels have no lockdep and cannot see it (see README.md).
 *
 * Lockdep turns itself off after its first report: load it last, or in a
 * boot of its own.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/printk.h>

static DEFINE_MUTEX(lock_a);
static DEFINE_MUTEX(lock_b);
static int counter;

static void a_then_b(void)
{
	mutex_lock(&lock_a);
	mutex_lock(&lock_b);
	counter++;
	mutex_unlock(&lock_b);
	mutex_unlock(&lock_a);
}

static void b_then_a(void)
{
	mutex_lock(&lock_b);
	mutex_lock(&lock_a); /* SECOND ORDER: lock_a after lock_b */
	counter++;
	mutex_unlock(&lock_a);
	mutex_unlock(&lock_b);
}

static int __init lockinv_init(void)
{
	a_then_b();
	b_then_a();
	pr_info("took lock_a and lock_b in both orders (%d times)\n", counter);
	return 0;
}

static void __exit lockinv_exit(void)
{
	pr_info("unloaded\n");
}

module_init(lockinv_init);
module_exit(lockinv_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Test-only: takes two mutexes in both orders, for lockdep to report");
