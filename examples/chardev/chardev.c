// SPDX-License-Identifier: GPL-2.0
/*
 * chardev.c: a character device that counts how often it has been opened.
 *
 * The module asks the kernel for a free major number, and makes a class
 * and a device so that devtmpfs (and udev, where there is one) creates
 * /dev/chardev by itself. Each open writes a fresh message,
 *
 *	I already told you N times Hello world!
 *
 * where N is the number of successful opens since the module was loaded,
 * and read returns it from the file's offset on. Only one process may
 * hold the device open at a time; a second open fails with EBUSY. Writing
 * is refused with EINVAL.
 *
 * Try it:
 *	modlab run examples/chardev --exec 'cat /dev/chardev; cat /dev/chardev'
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/minmax.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/uaccess.h>
#include <linux/version.h>

/* class_create() lost its owner argument in 6.4; the class needs none. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0)
#define chardev_class_create(name) class_create(name)
#else
#define chardev_class_create(name) class_create(THIS_MODULE, name)
#endif

#define DEVICE_NAME "chardev"	/* in /proc/devices, /sys/class and /dev */
#define MSG_LEN 64		/* room for the message with any N */

enum {
	CDEV_NOT_USED,
	CDEV_EXCLUSIVE_OPEN,
};

static int major;		/* given by register_chrdev() */
static struct class *cls;

/* CDEV_EXCLUSIVE_OPEN while a struct file of ours exists. */
static atomic_t already_open = ATOMIC_INIT(CDEV_NOT_USED);

/*
 * Only the holder of already_open touches these: open writes them, and
 * read and llseek of that same open file read them until its release.
 */
static unsigned int opens;
static char msg[MSG_LEN];
static size_t msg_len;

static int device_open(struct inode *inode, struct file *file)
{
	/* Take the device, or tell the caller it is taken. */
	if (atomic_cmpxchg(&already_open, CDEV_NOT_USED, CDEV_EXCLUSIVE_OPEN) != CDEV_NOT_USED)
		return -EBUSY;

	opens++;
	msg_len = scnprintf(msg, sizeof(msg), "I already told you %u times Hello world!\n", opens);
	return 0;
}

static int device_release(struct inode *inode, struct file *file)
{
	/*
	 * Release ordering: the next opener, whose cmpxchg sees
	 * CDEV_NOT_USED, also sees our update of opens.
	 */
	atomic_set_release(&already_open, CDEV_NOT_USED);
	return 0;
}

/*
 * Copy the message from *ppos on into the user's buffer. copy_to_user()
 * returns how many bytes it could NOT copy: a buffer that is not the
 * caller's to write gives -EFAULT, a buffer that ends in an unmapped page
 * a short read.
 */
static ssize_t device_read(struct file *file, char __user *buf, size_t len, loff_t *ppos)
{
	loff_t pos = *ppos;
	size_t n, left;

	if (pos < 0)
		return -EINVAL;
	if (pos >= msg_len || len == 0)
		return 0;
	n = min_t(size_t, len, msg_len - pos);
	left = copy_to_user(buf, msg + pos, n);
	if (left == n)
		return -EFAULT;
	n -= left;
	*ppos = pos + n;
	return n;
}

static ssize_t device_write(struct file *file, const char __user *buf, size_t len, loff_t *ppos)
{
	pr_info_ratelimited("writing is not supported (%s[%d] tried %zu bytes)\n",
			    current->comm, task_tgid_nr(current), len);
	return -EINVAL;
}

/* Seeking works within the message: SEEK_END is its end. */
static loff_t device_llseek(struct file *file, loff_t offset, int whence)
{
	return fixed_size_llseek(file, offset, whence, msg_len);
}

/*
 * .owner makes the VFS take a reference on this module for as long as a
 * file of ours is open (fops_get() in chrdev_open(), fops_put() after the
 * release): rmmod fails until the last close.
 */
static const struct file_operations chardev_fops = {
	.owner = THIS_MODULE,
	.open = device_open,
	.release = device_release,
	.read = device_read,
	.write = device_write,
	.llseek = device_llseek,
};

static int __init chardev_init(void)
{
	struct device *dev;
	int err;

	major = register_chrdev(0, DEVICE_NAME, &chardev_fops);
	if (major < 0) {
		pr_err("registering the character device failed: %d\n", major);
		return major;
	}

	cls = chardev_class_create(DEVICE_NAME);
	if (IS_ERR(cls)) {
		err = PTR_ERR(cls);
		pr_err("creating the class failed: %d\n", err);
		goto out_unregister;
	}

	dev = device_create(cls, NULL, MKDEV(major, 0), NULL, DEVICE_NAME);
	if (IS_ERR(dev)) {
		err = PTR_ERR(dev);
		pr_err("creating the device failed: %d\n", err);
		goto out_destroy_class;
	}

	pr_info("loaded: major %d, device /dev/%s\n", major, DEVICE_NAME);
	return 0;

out_destroy_class:
	class_destroy(cls);
out_unregister:
	unregister_chrdev(major, DEVICE_NAME);
	return err;
}

static void __exit chardev_exit(void)
{
	device_destroy(cls, MKDEV(major, 0));
	class_destroy(cls);
	unregister_chrdev(major, DEVICE_NAME);
	pr_info("unloaded after %u opens\n", opens);
}

module_init(chardev_init);
module_exit(chardev_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("The modlab authors");
MODULE_DESCRIPTION("A character device that counts its opens, one opener at a time");
