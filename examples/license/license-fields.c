// SPDX-License-Identifier: GPL-2.0
/*
 * license-fields: a module that declares every MODULE_* field the kernel
 * knows (include/linux/module.h), each one a "key=value" string in the
 * .modinfo section that modinfo prints without loading the module.
 *
 *   modinfo license-fields.ko
 *   cat /sys/module/license_fields/version /sys/module/license_fields/srcversion
 *
 * MODULE_VERSION makes modpost add "srcversion", a digest of the sources;
 * the kernel shows both in /sys/module. MODULE_IMPORT_NS is needed to use a
 * symbol exported into a namespace (dma_buf_get is in DMA_BUF): without it
 * modpost fails the build and the kernel refuses the module.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dma-buf.h>
#include <linux/err.h>
#include <linux/init.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/printk.h>
#include <linux/version.h>

static int fd = -1;
module_param(fd, int, 0444);
MODULE_PARM_DESC(fd, "A file descriptor handed to dma_buf_get() (default -1: none)");

static int __init license_fields_init(void)
{
	struct dma_buf *buf = dma_buf_get(fd);

	if (!IS_ERR(buf)) {
		dma_buf_put(buf);
		pr_info("loaded; fd %d is a dma-buf\n", fd);
		return 0;
	}
	pr_info("loaded; dma_buf_get(%d) = %ld, from namespace DMA_BUF\n", fd, PTR_ERR(buf));
	return 0;
}

static void __exit license_fields_exit(void)
{
	pr_info("unloaded\n");
}

module_init(license_fields_init);
module_exit(license_fields_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("The modlab authors");
MODULE_AUTHOR("A second author <second@example.org>");
MODULE_DESCRIPTION("Every MODULE_* field the kernel knows");
MODULE_VERSION("1.2.3");
MODULE_ALIAS("modlab-fields");
MODULE_ALIAS("char-major-240-*");
MODULE_SOFTDEP("pre: license-gpl post: license-proprietary");
#ifdef MODULE_WEAKDEP
MODULE_WEAKDEP("license-gpl");
#endif
MODULE_FIRMWARE("modlab/fields.bin");
MODULE_INFO(room, "examples/license");
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 13, 0)
MODULE_IMPORT_NS("DMA_BUF");
#else
MODULE_IMPORT_NS(DMA_BUF);
#endif
