// SPDX-License-Identifier: GPL-2.0
/*
 * procfs1: the smallest /proc file, /proc/helloworld, which reads
 * "HelloWorld!\n".
 *
 *   insmod procfs1.ko && cat /proc/helloworld
 *
 * The read handler is written out by hand to show what the loff_t *
 * offset is for: the kernel passes the file position in, the handler
 * copies what lies from there on (at most count bytes), moves the position
 * past what it copied and returns how many bytes that was. At the end of
 * the text it returns 0, which is what tells cat to stop calling read().
 * procfs2 does the same with simple_read_from_buffer().
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/minmax.h>
#include <linux/module.h>
#include <linux/proc_fs.h>
#include <linux/uaccess.h>
#include <linux/version.h>

/* Since 5.6 /proc files take a struct proc_ops, not file_operations. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(5, 6, 0)
#define HAVE_PROC_OPS
#endif

#define PROCFS_NAME "helloworld"

static const char hello_text[] = "HelloWorld!\n";

static struct proc_dir_entry *hello_entry;

static ssize_t hello_read(struct file *file, char __user *buf, size_t count,
			  loff_t *ppos)
{
	const size_t len = sizeof(hello_text) - 1;
	loff_t pos = *ppos;

	if (pos < 0)
		return -EINVAL;
	if (pos >= (loff_t)len || !count)
		return 0;		/* end of file: the reader stops here */
	count = min_t(size_t, count, len - pos);
	if (copy_to_user(buf, hello_text + pos, count))
		return -EFAULT;
	*ppos = pos + count;		/* the next read() carries on from here */
	return count;
}

#ifdef HAVE_PROC_OPS
static const struct proc_ops hello_proc_ops = {
	.proc_read	= hello_read,
	.proc_lseek	= default_llseek,
};
#else
static const struct file_operations hello_proc_ops = {
	.owner		= THIS_MODULE,
	.read		= hello_read,
	.llseek		= default_llseek,
};
#endif

static int __init procfs1_init(void)
{
	hello_entry = proc_create(PROCFS_NAME, 0444, NULL, &hello_proc_ops);
	if (!hello_entry) {
		pr_err("could not create /proc/%s\n", PROCFS_NAME);
		return -ENOMEM;
	}
	pr_info("/proc/%s created\n", PROCFS_NAME);
	return 0;
}

static void __exit procfs1_exit(void)
{
	proc_remove(hello_entry);
	pr_info("/proc/%s removed\n", PROCFS_NAME);
}

module_init(procfs1_init);
module_exit(procfs1_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("/proc/helloworld: a read-only /proc file");
