// SPDX-License-Identifier: GPL-2.0
/*
 * simple-sysfs: the directory /sys/kernel/mymodule and nothing in it.
 *
 *   insmod simple-sysfs.ko && ls -ld /sys/kernel/mymodule
 *
 * A kobject with kernel_kobj as its parent is a directory under
 * /sys/kernel. hello-sysfs wants the same name, so only one of the two
 * can be loaded at a time: the second fails with EEXIST (File exists),
 * and the kernel logs "sysfs: cannot create duplicate filename" with a
 * stack dump (see README.md).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/kobject.h>
#include <linux/module.h>
#include <linux/slab.h>

static struct kobject *mymodule;

static void simple_sysfs_release(struct kobject *kobj)
{
	kfree(kobj);
}

/* No attributes: a bare directory. */
static const struct kobj_type simple_sysfs_ktype = {
	.release = simple_sysfs_release,
};

static int __init simple_sysfs_init(void)
{
	int err;

	mymodule = kzalloc(sizeof(*mymodule), GFP_KERNEL);
	if (!mymodule)
		return -ENOMEM;

	/* kobject_init_and_add, not kobject_create_and_add: we want its errno. */
	err = kobject_init_and_add(mymodule, &simple_sysfs_ktype, kernel_kobj, "mymodule");
	if (err)
		goto out_put;

	pr_info("created /sys/kernel/mymodule\n");
	return 0;

out_put:
	kobject_put(mymodule); /* initialised, not added: the release frees it */
	pr_err("cannot create /sys/kernel/mymodule: error %d\n", err);
	return err;
}

static void __exit simple_sysfs_exit(void)
{
	kobject_put(mymodule);
	pr_info("removed /sys/kernel/mymodule\n");
}

module_init(simple_sysfs_init);
module_exit(simple_sysfs_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("The modlab authors");
MODULE_DESCRIPTION("The directory /sys/kernel/mymodule, a kobject under kernel_kobj");
