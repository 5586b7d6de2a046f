// SPDX-License-Identifier: GPL-2.0
/*
 * ioctl.c - a character device whose every open has a byte of its own.
 *
 * The device numbers come from alloc_chrdev_region() under the name
 * "ioctltest", and a cdev connects them to our file operations. There is
 * no class, so no node appears in /dev by itself: find the major in
 * /proc/devices (or in the line this module logs when it loads) and make
 * the node yourself:
 *
 *	mknod /dev/ioctltest c $(awk '$2 == "ioctltest" {print $1}' /proc/devices) 0
 *
 * Each open starts with the byte 0xff; read(2) fills the whole buffer with
 * that byte, every time (it never reaches an end), and the ioctls in
 * include/ioctltest.h set and get it. Two opens never see each other's
 * byte: the state hangs off file->private_data.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cdev.h>
#include <linux/fs.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/minmax.h>
#include <linux/module.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include <ioctltest.h>

/* The one minor number we serve; opening any other gives ENXIO. */
#define IOCTLTEST_MINORS 1

/* What one open of the device knows: its byte, under a reader/writer lock. */
struct ioctltest_file {
	rwlock_t lock;
	u8 val;
};

static dev_t ioctltest_devt;
static struct cdev ioctltest_cdev;

static int ioctltest_open(struct inode *inode, struct file *file)
{
	struct ioctltest_file *f;

	f = kzalloc(sizeof(*f), GFP_KERNEL);
	if (!f)
		return -ENOMEM;
	rwlock_init(&f->lock);
	f->val = 0xff;
	file->private_data = f;
	return 0;
}

static int ioctltest_release(struct inode *inode, struct file *file)
{
	kfree(file->private_data);
	return 0;
}

static u8 ioctltest_get(struct ioctltest_file *f)
{
	u8 val;

	read_lock(&f->lock);
	val = f->val;
	read_unlock(&f->lock);
	return val;
}

static void ioctltest_set(struct ioctltest_file *f, u8 val)
{
	write_lock(&f->lock);
	f->val = val;
	write_unlock(&f->lock);
}

/*
 * Store n copies of val in user memory at to, a word at a time once the
 * address is aligned. Returns how many bytes could not be stored (0 when
 * all were), as copy_to_user() and clear_user() do: a fault stops it at
 * the first word it could not store.
 *
 * Nothing is copied: a copy from a kernel buffer filled with the byte
 * (copy_to_user()) reads as much memory as it writes, and this only
 * writes, like clear_user() does for /dev/zero. user_access_begin()
 * checks the whole range once and opens user access; the
 * unsafe_put_user() calls that follow skip the per-call checks of
 * put_user(). Until user_access_end() the code may call no function
 * (objtool checks that); a page fault is still served as usual.
 */
static unsigned long ioctltest_fill_user(char __user *to, u8 val,
					 unsigned long n)
{
	unsigned long word = REPEAT_BYTE(val);
	char __user *end = to + n;

	if (!user_access_begin(to, n))
		return n;
	while (to < end && !IS_ALIGNED((unsigned long)to, sizeof(word))) {
		unsafe_put_user(val, to, fault);
		to++;
	}
	while (end - to >= sizeof(word)) {
		unsafe_put_user(word, (unsigned long __user *)to, fault);
		to += sizeof(word);
	}
	while (to < end) {
		unsafe_put_user(val, to, fault);
		to++;
	}
	user_access_end();
	return 0;

fault:
	user_access_end();
	return end - to;
}

/*
 * Fill the whole user buffer with the byte. The byte is read once, under
 * the lock, so one read never mixes two values; the lock is not held while
 * user memory is written, since that may fault and sleep, which a spinning
 * rwlock forbids. Like /dev/zero, the file position is neither used nor
 * moved, the buffer is filled a page at a time with a look for signals and
 * a chance to reschedule in between (a signal ends a long read early with
 * what was filled so far), and a buffer that stops being writable part way
 * gives a short read: EFAULT if not one byte could be stored.
 */
static ssize_t ioctltest_read(struct file *file, char __user *buf,
			      size_t count, loff_t *ppos)
{
	struct ioctltest_file *f = file->private_data;
	u8 val = ioctltest_get(f);
	size_t done = 0;

	if (!count)
		return 0;
	while (done < count) {
		size_t chunk = min_t(size_t, count - done, PAGE_SIZE);
		size_t left = ioctltest_fill_user(buf + done, val, chunk);

		done += chunk - left;
		if (left || signal_pending(current))
			break;
		cond_resched();
	}
	return done ? done : -EFAULT;
}

static long ioctltest_ioctl(struct file *file, unsigned int cmd,
			    unsigned long arg)
{
	struct ioctltest_file *f = file->private_data;
	void __user *uarg = (void __user *)arg;
	struct ioctl_arg data;
	int num;

	switch (cmd) {
	case IOCTL_VALSET:
		if (copy_from_user(&data, uarg, sizeof(data)))
			return -EFAULT;
		ioctltest_set(f, data.val);
		return 0;
	case IOCTL_VALGET:
		memset(&data, 0, sizeof(data));
		data.val = ioctltest_get(f);
		if (copy_to_user(uarg, &data, sizeof(data)))
			return -EFAULT;
		return 0;
	case IOCTL_VALGET_NUM:
		return put_user((int)ioctltest_get(f), (int __user *)uarg);
	case IOCTL_VALSET_NUM:
		if (get_user(num, (int __user *)uarg))
			return -EFAULT;
		if (num < 0 || num > U8_MAX)
			return -EINVAL;
		ioctltest_set(f, num);
		return 0;
	default:
		return -ENOTTY;
	}
}

static const struct file_operations ioctltest_fops = {
	.owner = THIS_MODULE,
	.open = ioctltest_open,
	.release = ioctltest_release,
	.read = ioctltest_read,
	.llseek = noop_llseek,
	.unlocked_ioctl = ioctltest_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

static int __init ioctltest_init(void)
{
	int ret;

	ret = alloc_chrdev_region(&ioctltest_devt, 0, IOCTLTEST_MINORS,
				  IOCTLTEST_NAME);
	if (ret) {
		pr_err("no device numbers: %d\n", ret);
		return ret;
	}

	cdev_init(&ioctltest_cdev, &ioctltest_fops);
	ioctltest_cdev.owner = THIS_MODULE;
	ret = cdev_add(&ioctltest_cdev, ioctltest_devt, IOCTLTEST_MINORS);
	if (ret) {
		pr_err("cdev_add: %d\n", ret);
		goto out_unregister;
	}

	pr_info("registered %s: major %d, make the node with: mknod NODE c %d 0\n",
		IOCTLTEST_NAME, MAJOR(ioctltest_devt), MAJOR(ioctltest_devt));
	return 0;

out_unregister:
	unregister_chrdev_region(ioctltest_devt, IOCTLTEST_MINORS);
	return ret;
}

static void __exit ioctltest_exit(void)
{
	cdev_del(&ioctltest_cdev);
	unregister_chrdev_region(ioctltest_devt, IOCTLTEST_MINORS);
	pr_info("unregistered %s\n", IOCTLTEST_NAME);
}

module_init(ioctltest_init);
module_exit(ioctltest_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("A character device with a byte per open, set and read through ioctl(2)");
