// SPDX-License-Identifier: GPL-2.0
/*
 * uaf: a test-only module whose init reads a buffer after kfree()ing it.
 *
 * A kernel built with KASAN reports "BUG: KASAN: slab-use-after-free in
 * uaf_init" and names the line below marked USE-AFTER-FREE. Debian's
 * kernels cannot see it, by choice of the buffer's size: more than a page,
 * which KFENCE never guards, and a read, which SLUB's poisoning never
 * checks (see README.md). The module then loads and unloads normally.
 *
 * Only ever load it in the lab's VM.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/module.h>
#include <linux/printk.h>
#include <linux/slab.h>
#include <linux/string.h>

/*
 * A slab object (kmalloc-8k) that KFENCE never serves: it guards
 * allocations of at most a page.
 */
static unsigned int size = PAGE_SIZE + 64;
module_param(size, uint, 0444);
MODULE_PARM_DESC(size, "bytes to allocate, at least 2 (default: a page and 64 bytes, out of KFENCE's reach)");

static int __init uaf_init(void)
{
	char *buf;
	char c;

	if (size < 2)
		return -EINVAL;
	buf = kmalloc(size, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	memset(buf, 'u', size);
	kfree(buf);
	c = READ_ONCE(buf[1]); /* USE-AFTER-FREE: buf was freed above */
	pr_info("read %#x from a freed buffer of %u bytes\n", c, size);
	return 0;
}

static void __exit uaf_exit(void)
{
	pr_info("unloaded\n");
}

module_init(uaf_init);
module_exit(uaf_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Test-only: reads freed memory in init, for KASAN to report");
