// SPDX-License-Identifier: GPL-2.0
/*
 * majorhold: holds a character-device major number and does nothing else.
 * It is chardev2's sparring partner: with the major taken, chardev2's load
 * must fail with EBUSY.
 *
 *   insmod majorhold.ko major=100   # /proc/devices: "100 majorhold"
 *   insmod chardev2.ko              # EBUSY; chardev2 logs why
 *
 * With the default major=0 the kernel picks a free major, so loading every
 * module of this folder at once (as `modlab run` does) does not get in
 * chardev2's way.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/init.h>
#include <linux/kdev_t.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/printk.h>

static int major;
module_param(major, int, 0444);
MODULE_PARM_DESC(major, "Major number to hold (0: let the kernel choose a free one)");

static dev_t held;

static int __init majorhold_init(void)
{
	int ret;

	/* One minor is enough: a region that overlaps ours cannot be registered. */
	if (major) {
		held = MKDEV(major, 0);
		ret = register_chrdev_region(held, 1, KBUILD_MODNAME);
	} else {
		ret = alloc_chrdev_region(&held, 0, 1, KBUILD_MODNAME);
	}
	if (ret) {
		pr_err("cannot hold major %d: %d\n", major, ret);
		return ret;
	}
	major = MAJOR(held);
	pr_info("holding major %d\n", major);
	return 0;
}

static void __exit majorhold_exit(void)
{
	unregister_chrdev_region(held, 1);
	pr_info("released major %d\n", MAJOR(held));
}

module_init(majorhold_init);
module_exit(majorhold_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Holds a character-device major number, to show what a taken major does");
