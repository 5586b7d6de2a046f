// SPDX-License-Identifier: GPL-2.0
/*
 * procfs2: /proc/buffer1k, a /proc file that keeps what was last written
 * to it, up to 1 KiB.
 *
 *   insmod procfs2.ko
 *   echo hello > /proc/buffer1k && cat /proc/buffer1k
 *
 * Each write() replaces the whole content with the bytes it carries,
 * wherever the file position is: a later, shorter write leaves nothing of
 * the earlier one. A write longer than the buffer fails with EFBIG and
 * changes nothing; there is no truncation. The new bytes are copied from
 * user space before the lock is taken, so a write whose buffer faults
 * (EFAULT) changes nothing either, and a reader never sees half of one.
 *
 * One mutex guards the buffer and its length: each read() copies out
 * under it and each write() swaps the content under it, so a read() large
 * enough for the whole content returns exactly one written value, never a
 * mix of two.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/err.h>
#include <linux/fs.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/proc_fs.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/version.h>

/* Since 5.6 /proc files take a struct proc_ops, not file_operations. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(5, 6, 0)
#define HAVE_PROC_OPS
#endif

#define PROCFS_NAME	"buffer1k"
#define BUFFER_SIZE	1024

static struct proc_dir_entry *buffer_entry;

/*
 * The buffer is allocated, not static, so that slub_debug's red zones and
 * KASAN would catch a write past its end.
 */
static DEFINE_MUTEX(buffer_lock);
static char *buffer;		/* BUFFER_SIZE bytes */
static size_t buffer_len;	/* how many of them hold the content */

static ssize_t buffer_read(struct file *file, char __user *ubuf, size_t count,
			   loff_t *ppos)
{
	ssize_t ret;

	/* Copies from *ppos on and advances *ppos; 0 at or past the end. */
	mutex_lock(&buffer_lock);
	ret = simple_read_from_buffer(ubuf, count, ppos, buffer, buffer_len);
	mutex_unlock(&buffer_lock);
	return ret;
}

static ssize_t buffer_write(struct file *file, const char __user *ubuf,
			    size_t count, loff_t *ppos)
{
	char *new;

	if (count > BUFFER_SIZE)
		return -EFBIG;
	new = memdup_user(ubuf, count);
	if (IS_ERR(new))
		return PTR_ERR(new);

	mutex_lock(&buffer_lock);
	memcpy(buffer, new, count);
	buffer_len = count;
	mutex_unlock(&buffer_lock);
	kfree(new);

	/* Like a file just rewritten: the position is at the end of it. */
	*ppos = count;
	return count;
}

#ifdef HAVE_PROC_OPS
static const struct proc_ops buffer_proc_ops = {
	.proc_read	= buffer_read,
	.proc_write	= buffer_write,
	.proc_lseek	= default_llseek,
};
#else
static const struct file_operations buffer_proc_ops = {
	.owner		= THIS_MODULE,
	.read		= buffer_read,
	.write		= buffer_write,
	.llseek		= default_llseek,
};
#endif

static int __init procfs2_init(void)
{
	int err;

	buffer = kzalloc(BUFFER_SIZE, GFP_KERNEL);
	if (!buffer)
		return -ENOMEM;

	buffer_entry = proc_create(PROCFS_NAME, 0644, NULL, &buffer_proc_ops);
	if (!buffer_entry) {
		pr_err("could not create /proc/%s\n", PROCFS_NAME);
		err = -ENOMEM;
		goto out_free;
	}
	pr_info("/proc/%s created (%d bytes)\n", PROCFS_NAME, BUFFER_SIZE);
	return 0;

out_free:
	kfree(buffer);
	return err;
}

static void __exit procfs2_exit(void)
{
	/* Waits for running handlers; open files get EIO from now on. */
	proc_remove(buffer_entry);
	kfree(buffer);
	pr_info("/proc/%s removed\n", PROCFS_NAME);
}

module_init(procfs2_init);
module_exit(procfs2_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("/proc/buffer1k: a /proc file that keeps the last write, up to 1 KiB");
