// SPDX-License-Identifier: GPL-2.0
/*
 * hello-5: module parameters, given at load time.
 *
 *   insmod hello-5.ko myint=7 mystring='"foo bar"' myintarray=-1,3
 *
 * Each module_param() names a variable, its type and the mode of its file
 * under /sys/module/hello_5/parameters/ (0 means no file). A value the
 * type cannot parse makes the load fail with EINVAL before init runs.
 * module_param_array() takes a comma-separated list and stores how many
 * values were given in a counter of our own. Writable parameters can be
 * changed while the module is loaded: the exit function shows myint's
 * value at the end.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/printk.h>

static short myshort = 1;
module_param(myshort, short, 0660);
MODULE_PARM_DESC(myshort, "A short integer (owner and group may change it in sysfs)");

static int myint = 420;
module_param(myint, int, 0644);
MODULE_PARM_DESC(myint, "An integer (everyone may read it, root may change it in sysfs)");

static long mylong = 9999;
module_param(mylong, long, 0400);
MODULE_PARM_DESC(mylong, "A long integer (only root may read it in sysfs)");

static char *mystring = "blah";
module_param(mystring, charp, 0000);
MODULE_PARM_DESC(mystring, "A character string (not in sysfs)");

static int myintarray[2] = { 420, 420 };
static unsigned int myintarray_count;
module_param_array(myintarray, int, &myintarray_count, 0000);
MODULE_PARM_DESC(myintarray, "Up to two integers, comma-separated (not in sysfs)");

static int __init hello_5_init(void)
{
	size_t i;

	pr_info("Hello, world 5\n");
	pr_info("myshort = %hd\n", myshort);
	pr_info("myint = %d\n", myint);
	pr_info("mylong = %ld\n", mylong);
	pr_info("mystring = \"%s\"\n", mystring);
	for (i = 0; i < ARRAY_SIZE(myintarray); i++)
		pr_info("myintarray[%zu] = %d\n", i, myintarray[i]);
	pr_info("myintarray: %u of %zu values given\n",
		myintarray_count, ARRAY_SIZE(myintarray));
	return 0;
}

static void __exit hello_5_exit(void)
{
	int last;

	/*
	 * myint may have been changed through sysfs since init. Take the
	 * parameter lock, as a sysfs write could be running right now.
	 */
	kernel_param_lock(THIS_MODULE);
	last = myint;
	kernel_param_unlock(THIS_MODULE);
	pr_info("Goodbye, world 5 (myint = %d)\n", last);
}

module_init(hello_5_init);
module_exit(hello_5_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("The modlab authors");
MODULE_DESCRIPTION("Module parameters of every common kind");
