// SPDX-License-Identifier: GPL-2.0
/*
 * procfs3: /proc/buffer2k, like procfs2's buffer but 2 KiB, with an owner
 * (proc_set_user), a size that stat() reports (proc_set_size), and a
 * permission check of the module's own.
 *
 *   insmod procfs3.ko [uid=N gid=N]
 *   echo hello > /proc/buffer2k && stat -c '%U %a %s' /proc/buffer2k
 *
 * Writing is guarded twice:
 *  - by the file's mode, 0644, and its owner (root unless uid= and gid=
 *    say otherwise). The VFS checks those against the opener before the
 *    module hears of the open (EACCES). Root passes them anyway
 *    (CAP_DAC_OVERRIDE), and root can chmod or chown a /proc file.
 *  - by the module: opening for writing needs CAP_SYS_ADMIN (EPERM),
 *    whatever the mode and owner are. It is checked in ->proc_open, against
 *    the process that opens the file, so a descriptor that an unprivileged
 *    process opened for reading cannot be handed to a privileged one to
 *    write with.
 *
 * The write rules are procfs2's: each write() replaces the whole content,
 * longer than 2 KiB fails with EFBIG and changes nothing. Each write also
 * sets the file's size to the new length, so stat() and lseek(SEEK_END)
 * know where the content ends.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/err.h>
#include <linux/fs.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/proc_fs.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/uidgid.h>
#include <linux/user_namespace.h>
#include <linux/version.h>

/* Since 5.6 /proc files take a struct proc_ops, not file_operations. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(5, 6, 0)
#define HAVE_PROC_OPS
#endif

#define PROCFS_NAME	"buffer2k"
#define BUFFER_SIZE	2048

static uint uid;
module_param(uid, uint, 0444);
MODULE_PARM_DESC(uid, "owner of /proc/buffer2k (default 0, root)");

static uint gid;
module_param(gid, uint, 0444);
MODULE_PARM_DESC(gid, "group of /proc/buffer2k (default 0, root)");

static struct proc_dir_entry *buffer_entry;

static DEFINE_MUTEX(buffer_lock);
static char *buffer;		/* BUFFER_SIZE bytes */
static size_t buffer_len;	/* how many of them hold the content */

static int buffer_open(struct inode *inode, struct file *file)
{
	if ((file->f_mode & FMODE_WRITE) && !capable(CAP_SYS_ADMIN))
		return -EPERM;
	return 0;
}

static ssize_t buffer_read(struct file *file, char __user *ubuf, size_t count,
			   loff_t *ppos)
{
	ssize_t ret;

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
	/*
	 * The entry's size is copied into each inode /proc makes for it;
	 * set it for inodes made from now on, and set the size of the inode
	 * in use, which stat() and SEEK_END read now. Only this function
	 * changes that size, under buffer_lock.
	 */
	proc_set_size(buffer_entry, count);
	i_size_write(file_inode(file), count);
	mutex_unlock(&buffer_lock);
	kfree(new);

	*ppos = count;
	return count;
}

#ifdef HAVE_PROC_OPS
static const struct proc_ops buffer_proc_ops = {
	.proc_open	= buffer_open,
	.proc_read	= buffer_read,
	.proc_write	= buffer_write,
	.proc_lseek	= default_llseek,
};
#else
static const struct file_operations buffer_proc_ops = {
	.owner		= THIS_MODULE,
	.open		= buffer_open,
	.read		= buffer_read,
	.write		= buffer_write,
	.llseek		= default_llseek,
};
#endif

static int __init procfs3_init(void)
{
	kuid_t owner = make_kuid(&init_user_ns, uid);
	kgid_t group = make_kgid(&init_user_ns, gid);
	int err;

	if (!uid_valid(owner) || !gid_valid(group)) {
		pr_err("uid %u or gid %u is not a valid id\n", uid, gid);
		return -EINVAL;
	}

	buffer = kzalloc(BUFFER_SIZE, GFP_KERNEL);
	if (!buffer)
		return -ENOMEM;

	/*
	 * The file can be opened as soon as proc_create() returns, before
	 * buffer_entry is set: holding buffer_lock until the entry is set up
	 * keeps a write that comes that early waiting.
	 */
	mutex_lock(&buffer_lock);
	buffer_entry = proc_create(PROCFS_NAME, 0644, NULL, &buffer_proc_ops);
	if (buffer_entry) {
		proc_set_user(buffer_entry, owner, group);
		proc_set_size(buffer_entry, 0);		/* it starts empty */
	}
	mutex_unlock(&buffer_lock);
	if (!buffer_entry) {
		pr_err("could not create /proc/%s\n", PROCFS_NAME);
		err = -ENOMEM;
		goto out_free;
	}
	pr_info("/proc/%s created (%d bytes, owner %u:%u)\n",
		PROCFS_NAME, BUFFER_SIZE, uid, gid);
	return 0;

out_free:
	kfree(buffer);
	return err;
}

static void __exit procfs3_exit(void)
{
	proc_remove(buffer_entry);
	kfree(buffer);
	pr_info("/proc/%s removed\n", PROCFS_NAME);
}

module_init(procfs3_init);
module_exit(procfs3_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("/proc/buffer2k: an owned, sized /proc buffer that only CAP_SYS_ADMIN may write");
