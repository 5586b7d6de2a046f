// SPDX-License-Identifier: GPL-2.0
/*
 * procfs4: /proc/iter, a /proc file written with seq_file. It lists the
 * squares of 0 to 999, one per line ("12 squared is 144"): about 20 KB,
 * five pages.
 *
 *   insmod procfs4.ko && wc -c /proc/iter && tail -n 2 /proc/iter
 *   cat /sys/module/procfs4/parameters/starts /sys/module/procfs4/parameters/stops
 *
 * The module only says how to walk its records: start() finds the record
 * at a position, next() moves to the one after, show() prints one, stop()
 * ends a walk. seq_file does the rest: it prints records into a buffer of
 * one page, hands out as much of it as read() asks for, remembers where
 * it stopped, and finds the right record again after lseek() or pread().
 * Each read() is one walk, start() to stop(), so reading the whole file
 * takes several. The read-only parameters starts and stops count the
 * calls, to show that happen.
 *
 * The records are computed from their position, so v, the record that
 * start() and next() hand to show(), is just a pointer to the position.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/fs.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/sysfs.h>
#include <linux/version.h>

/* Since 5.6 /proc files take a struct proc_ops, not file_operations. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(5, 6, 0)
#define HAVE_PROC_OPS
#endif

#define PROCFS_NAME	"iter"
#define ITER_RECORDS	1000

/* How often seq_file called start() and stop(), for everyone to read. */
static atomic_t iter_starts = ATOMIC_INIT(0);
static atomic_t iter_stops = ATOMIC_INIT(0);

static int counter_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%d\n", atomic_read((atomic_t *)kp->arg));
}

static int counter_set(const char *val, const struct kernel_param *kp)
{
	return -EINVAL;		/* counted by the module, not set */
}

static const struct kernel_param_ops counter_ops = {
	.set	= counter_set,
	.get	= counter_get,
};

module_param_cb(starts, &counter_ops, &iter_starts, 0444);
MODULE_PARM_DESC(starts, "calls of the seq_file start() so far (read-only)");
module_param_cb(stops, &counter_ops, &iter_stops, 0444);
MODULE_PARM_DESC(stops, "calls of the seq_file stop() so far (read-only)");

static struct proc_dir_entry *iter_entry;

static void *iter_start(struct seq_file *m, loff_t *pos)
{
	atomic_inc(&iter_starts);
	return *pos < ITER_RECORDS ? pos : NULL;
}

static void *iter_next(struct seq_file *m, void *v, loff_t *pos)
{
	++*pos;
	return *pos < ITER_RECORDS ? pos : NULL;
}

static void iter_stop(struct seq_file *m, void *v)
{
	atomic_inc(&iter_stops);
}

static int iter_show(struct seq_file *m, void *v)
{
	loff_t n = *(loff_t *)v;

	seq_printf(m, "%lld squared is %lld\n", n, n * n);
	return 0;
}

static const struct seq_operations iter_seq_ops = {
	.start	= iter_start,
	.next	= iter_next,
	.stop	= iter_stop,
	.show	= iter_show,
};

static int iter_open(struct inode *inode, struct file *file)
{
	return seq_open(file, &iter_seq_ops);
}

#ifdef HAVE_PROC_OPS
static const struct proc_ops iter_proc_ops = {
	.proc_open	= iter_open,
	.proc_read	= seq_read,
	.proc_lseek	= seq_lseek,
	.proc_release	= seq_release,
};
#else
static const struct file_operations iter_proc_ops = {
	.owner		= THIS_MODULE,
	.open		= iter_open,
	.read		= seq_read,
	.llseek		= seq_lseek,
	.release	= seq_release,
};
#endif

static int __init procfs4_init(void)
{
	iter_entry = proc_create(PROCFS_NAME, 0444, NULL, &iter_proc_ops);
	if (!iter_entry) {
		pr_err("could not create /proc/%s\n", PROCFS_NAME);
		return -ENOMEM;
	}
	pr_info("/proc/%s created (%d records)\n", PROCFS_NAME, ITER_RECORDS);
	return 0;
}

static void __exit procfs4_exit(void)
{
	/* Also releases the seq_file of every file still open. */
	proc_remove(iter_entry);
	pr_info("/proc/%s removed\n", PROCFS_NAME);
}

module_init(procfs4_init);
module_exit(procfs4_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("/proc/iter: a seq_file iterator over several pages of records");
