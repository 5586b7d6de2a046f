// SPDX-License-Identifier: GPL-2.0
/*
 * chardev2: a character device at the fixed major 100 that holds one
 * message of up to CHARDEV2_BUF_LEN bytes. User space sets and gets it
 * with ioctl(2) (include/chardev2.h) or with read(2) and write(2):
 *
 *   insmod chardev2.ko                  # /dev/char_dev appears (devtmpfs)
 *   chardev2ctl set hi; chardev2ctl get # prints: hi
 *   echo hello > /dev/char_dev; cat /dev/char_dev
 *
 * One mutex guards the message: every operation copies it whole, in or
 * out, under the lock, so no reader ever sees half of one message and half
 * of another. User memory is only touched outside the lock.
 *
 * If another driver holds major 100 the load fails with EBUSY and says so.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/device.h>
#include <linux/fs.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/minmax.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/printk.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/version.h>

#include "chardev2.h"

/* class_create() lost its owner argument in 6.4. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0)
#define chardev2_class_create(name) class_create(name)
#else
#define chardev2_class_create(name) class_create(THIS_MODULE, name)
#endif

#define CHARDEV2_CLASS "chardev2"

static DEFINE_MUTEX(msg_lock);
/* The message: msg_len bytes of msg, not NUL-terminated. */
static char msg[CHARDEV2_BUF_LEN];
static size_t msg_len;

static struct class *chardev2_class;

/* snapshot copies the message into buf (CHARDEV2_BUF_LEN bytes at least). */
static size_t snapshot(char *buf)
{
	size_t len;

	mutex_lock(&msg_lock);
	len = msg_len;
	memcpy(buf, msg, len);
	mutex_unlock(&msg_lock);
	return len;
}

/* read: the message from *ppos on; at or past its end, 0 (end of file). */
static ssize_t chardev2_read(struct file *file, char __user *buf,
			     size_t count, loff_t *ppos)
{
	char snap[CHARDEV2_BUF_LEN];
	size_t len = snapshot(snap);

	return simple_read_from_buffer(buf, count, ppos, snap, len);
}

/*
 * write: the message becomes its first *ppos bytes followed by what is
 * written (so a write at offset 0 replaces it, and consecutive writes on
 * one open file build it up). A gap between the old end and *ppos reads
 * as zeros. What does not fit in CHARDEV2_BUF_LEN bytes is not taken: the
 * write is short, and a write that starts at the end gets ENOSPC.
 */
static ssize_t chardev2_write(struct file *file, const char __user *buf,
			      size_t count, loff_t *ppos)
{
	char data[CHARDEV2_BUF_LEN];
	loff_t pos = *ppos;
	size_t n;

	if (pos < 0)
		return -EINVAL;
	if (!count)
		return 0;
	if (pos >= CHARDEV2_BUF_LEN)
		return -ENOSPC;
	n = min_t(size_t, count, CHARDEV2_BUF_LEN - pos);
	if (copy_from_user(data, buf, n))
		return -EFAULT;

	mutex_lock(&msg_lock);
	if (pos > msg_len)
		memset(msg + msg_len, 0, pos - msg_len);
	memcpy(msg + pos, data, n);
	msg_len = pos + n;
	mutex_unlock(&msg_lock);

	*ppos = pos + n;
	return n;
}

/* llseek: anywhere in the buffer; SEEK_END is the end of the message. */
static loff_t chardev2_llseek(struct file *file, loff_t offset, int whence)
{
	loff_t len;

	mutex_lock(&msg_lock);
	len = msg_len;
	mutex_unlock(&msg_lock);
	return generic_file_llseek_size(file, offset, whence, CHARDEV2_BUF_LEN, len);
}

static long set_msg(const char __user *umsg)
{
	char data[CHARDEV2_BUF_LEN + 1];
	long len;

	/* Returns sizeof(data) when no NUL came within it: too long. */
	len = strncpy_from_user(data, umsg, sizeof(data));
	if (len < 0)
		return len;
	if (len > CHARDEV2_BUF_LEN)
		return -EINVAL;

	mutex_lock(&msg_lock);
	memcpy(msg, data, len);
	msg_len = len;
	mutex_unlock(&msg_lock);
	return 0;
}

static long get_msg(char __user *ubuf)
{
	char snap[CHARDEV2_BUF_LEN + 1];
	size_t len = snapshot(snap);

	snap[len] = '\0';
	if (copy_to_user(ubuf, snap, len + 1))
		return -EFAULT;
	return len;
}

static long get_nth_byte(unsigned long n)
{
	long ret;

	mutex_lock(&msg_lock);
	if (n < msg_len)
		ret = (unsigned char)msg[n];
	else if (n == msg_len)
		ret = 0; /* the terminator, as a C string has it */
	else
		ret = -EINVAL;
	mutex_unlock(&msg_lock);
	return ret;
}

static long chardev2_ioctl(struct file *file, unsigned int cmd,
			   unsigned long arg)
{
	switch (cmd) {
	case IOCTL_SET_MSG:
		return set_msg((const char __user *)arg);
	case IOCTL_GET_MSG:
		return get_msg((char __user *)arg);
	case IOCTL_GET_NTH_BYTE:
		return get_nth_byte(arg);
	default:
		return -ENOTTY;
	}
}

/*
 * .owner pins the module while a file is open: rmmod fails with EBUSY
 * until the last close. No open or release of our own is needed.
 */
static const struct file_operations chardev2_fops = {
	.owner = THIS_MODULE,
	.read = chardev2_read,
	.write = chardev2_write,
	.llseek = chardev2_llseek,
	.unlocked_ioctl = chardev2_ioctl,
};

static int __init chardev2_init(void)
{
	struct device *dev;
	int ret;

	/* With a major given, register_chrdev returns 0 on success. */
	ret = register_chrdev(CHARDEV2_MAJOR, CHARDEV2_DEVICE_NAME, &chardev2_fops);
	if (ret == -EBUSY) {
		pr_err("major %d is already taken by another driver (see /proc/devices)\n",
		       CHARDEV2_MAJOR);
		return ret;
	}
	if (ret < 0) {
		pr_err("cannot register major %d: %d\n", CHARDEV2_MAJOR, ret);
		return ret;
	}

	chardev2_class = chardev2_class_create(CHARDEV2_CLASS);
	if (IS_ERR(chardev2_class)) {
		ret = PTR_ERR(chardev2_class);
		goto out_unregister;
	}
	dev = device_create(chardev2_class, NULL, MKDEV(CHARDEV2_MAJOR, 0), NULL,
			    CHARDEV2_DEVICE_NAME);
	if (IS_ERR(dev)) {
		ret = PTR_ERR(dev);
		goto out_class;
	}

	pr_info("/dev/%s is major %d, minor 0; messages of up to %d bytes\n",
		CHARDEV2_DEVICE_NAME, CHARDEV2_MAJOR, CHARDEV2_BUF_LEN);
	return 0;

out_class:
	class_destroy(chardev2_class);
out_unregister:
	unregister_chrdev(CHARDEV2_MAJOR, CHARDEV2_DEVICE_NAME);
	return ret;
}

static void __exit chardev2_exit(void)
{
	device_destroy(chardev2_class, MKDEV(CHARDEV2_MAJOR, 0));
	class_destroy(chardev2_class);
	unregister_chrdev(CHARDEV2_MAJOR, CHARDEV2_DEVICE_NAME);
	pr_info("unloaded\n");
}

module_init(chardev2_init);
module_exit(chardev2_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("A character device at major 100 with a message set and read by ioctl, read and write");
