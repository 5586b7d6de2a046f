// SPDX-License-Identifier: GPL-2.0
/*
 * oob: a test-only module whose init writes one byte past the end of a
 * kmalloc'd buffer.
 *
 * A kernel built with KASAN reports "BUG: KASAN: slab-out-of-bounds in
 * oob_init" and names the line below marked OUT-OF-BOUNDS. By default the
 * buffer is larger than any kmalloc cache, so it comes from the page
 * allocator, where neither SLUB's red zones nor KFENCE look: Debian's
 * kernels cannot see the write. With size=64 it is a slab object, and
 * slub_debug's red zone check reports it on Debian's kernels too when the
 * buffer is freed (see README.md). The module then loads and unloads
 * normally.
 *
 * Only ever load it in the lab's VM.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/module.h>
#include <linux/printk.h>
#include <linux/slab.h>
#include <linux/string.h>

/* Bigger than the largest kmalloc cache: pages, not a slab object. */
static unsigned int size = KMALLOC_MAX_CACHE_SIZE + 64;
module_param(size, uint, 0444);
MODULE_PARM_DESC(size, "bytes to allocate, at least 1 (default: past the kmalloc caches, out of slub_debug's and KFENCE's reach)");

static int __init oob_init(void)
{
	char *buf;

	if (!size)
		return -EINVAL;
	buf = kmalloc(size, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	memset(buf, 'o', size);
	buf[size] = '!'; /* OUT-OF-BOUNDS: one past the end */
	pr_info("wrote one byte past a buffer of %u bytes\n", size);
	kfree(buf);
	return 0;
}

static void __exit oob_exit(void)
{
	pr_info("unloaded\n");
}

module_init(oob_init);
module_exit(oob_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Test-only: writes one byte past a kmalloc'd buffer, for KASAN to report");
