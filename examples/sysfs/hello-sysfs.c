// SPDX-License-Identifier: GPL-2.0
/*
 * hello-sysfs: an int in /sys/kernel/mymodule/myvariable that anyone may
 * read and root may write.
 *
 *   echo 42 > /sys/kernel/mymodule/myvariable
 *   cat /sys/kernel/mymodule/myvariable          # 42
 *   echo abc > /sys/kernel/mymodule/myvariable   # Invalid argument
 *
 * The directory /sys/kernel/mymodule is a kobject whose parent is
 * kernel_kobj, the kobject of /sys/kernel; the file is an attribute of
 * that kobject. The kobject is embedded in struct mymodule with the value,
 * so show() and store() find the value from the kobject they are given.
 * The attribute comes with the kobject's type (default_groups): the
 * directory never exists without its file, and there is one step to undo.
 *
 * Anything that is not a whole decimal int (a word, a number too big for
 * an int, an empty line, a number followed by other characters) is refused
 * with EINVAL and leaves the value as it was; the newline echo adds is
 * accepted.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/compiler.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/kobject.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/sysfs.h>

struct mymodule {
	struct kobject kobj;
	/*
	 * Read and written by any number of tasks at once: READ_ONCE and
	 * WRITE_ONCE make each access one whole load or store, so a reader
	 * sees an int some writer stored, never a mix.
	 */
	int myvariable;
};

static struct mymodule *mymodule;

static struct mymodule *to_mymodule(struct kobject *kobj)
{
	return container_of(kobj, struct mymodule, kobj);
}

static ssize_t myvariable_show(struct kobject *kobj, struct kobj_attribute *attr,
			       char *buf)
{
	return sysfs_emit(buf, "%d\n", READ_ONCE(to_mymodule(kobj)->myvariable));
}

/*
 * buf holds what user space wrote, copied into the kernel and ended with a
 * NUL by sysfs: it is a kernel buffer, const, with no __user.
 */
static ssize_t myvariable_store(struct kobject *kobj, struct kobj_attribute *attr,
				const char *buf, size_t count)
{
	int val;

	/*
	 * kstrtoint takes the whole string or nothing, and allows one
	 * trailing newline. It says -ERANGE for a number that does not fit
	 * an int; we answer every kind of "not an int" with -EINVAL. It stops
	 * at a NUL, so a NUL among the count bytes would hide what follows.
	 */
	if (strnlen(buf, count) != count || kstrtoint(buf, 10, &val))
		return -EINVAL;
	WRITE_ONCE(to_mymodule(kobj)->myvariable, val);
	return count;
}

/* 0644: myvariable_show and myvariable_store, root alone may write. */
static struct kobj_attribute myvariable_attr = __ATTR_RW(myvariable);

static struct attribute *mymodule_attrs[] = {
	&myvariable_attr.attr,
	NULL,
};
ATTRIBUTE_GROUPS(mymodule);

/* Called when the last reference to the kobject goes. */
static void mymodule_release(struct kobject *kobj)
{
	kfree(to_mymodule(kobj));
}

static const struct kobj_type mymodule_ktype = {
	.release = mymodule_release,
	.sysfs_ops = &kobj_sysfs_ops,
	.default_groups = mymodule_groups,
};

static int __init hello_sysfs_init(void)
{
	int err;

	mymodule = kzalloc(sizeof(*mymodule), GFP_KERNEL);
	if (!mymodule)
		return -ENOMEM;

	/*
	 * Unlike kobject_create_and_add(), which returns NULL whatever went
	 * wrong, kobject_init_and_add() returns the error: -EEXIST when
	 * /sys/kernel/mymodule exists already.
	 */
	err = kobject_init_and_add(&mymodule->kobj, &mymodule_ktype, kernel_kobj, "mymodule");
	if (err)
		goto out_put;

	pr_info("created /sys/kernel/mymodule/myvariable\n");
	return 0;

out_put:
	/* The kobject was initialised even though adding it failed: its
	 * release frees it.
	 */
	kobject_put(&mymodule->kobj);
	pr_err("cannot create /sys/kernel/mymodule: error %d\n", err);
	return err;
}

static void __exit hello_sysfs_exit(void)
{
	/*
	 * The last reference: the directory and its file go (after any
	 * show() or store() still running has returned), then the release
	 * frees the struct.
	 */
	kobject_put(&mymodule->kobj);
	pr_info("removed /sys/kernel/mymodule\n");
}

module_init(hello_sysfs_init);
module_exit(hello_sysfs_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("The modlab authors");
MODULE_DESCRIPTION("An int in /sys/kernel/mymodule/myvariable, read and written through sysfs");
