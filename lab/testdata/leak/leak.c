// SPDX-License-Identifier: GPL-2.0
/*
 * leak: a test-only module whose init allocates a buffer, fills it and
 * loses the only pointer to it.
 *
 * Nothing frees the buffer, ever. A kernel built with kmemleak finds it
 * when it scans memory for pointers: "unreferenced object ... (size 96)",
 * with the allocation's backtrace, which the lab resolves to the line
 * below marked LEAK. Debian's kernels have no kmemleak and cannot see it
 * (see README.md).
 *
 * Only ever load it in the lab's VM.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/module.h>
#include <linux/printk.h>
#include <linux/slab.h>

#define NOTE_SIZE 96

/* Makes a note and forgets to hand it back or free it. */
static int make_note(void)
{
	char *note;

	note = kmalloc(NOTE_SIZE, GFP_KERNEL); /* LEAK: never freed */
	if (!note)
		return -ENOMEM;
	return snprintf(note, NOTE_SIZE, "%s was here", KBUILD_MODNAME);
}

static int __init leak_init(void)
{
	int n = make_note();

	if (n < 0)
		return n;
	pr_info("wrote a note of %d bytes and lost it\n", n);
	return 0;
}

static void __exit leak_exit(void)
{
	pr_info("unloaded\n");
}

module_init(leak_init);
module_exit(leak_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Test-only: leaks a kmalloc'd buffer, for kmemleak to report");
