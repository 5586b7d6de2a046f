/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * ioctltest.h - the ioctl interface of examples/ioctl, shared by the module
 * and by user space (C programs include it; the Go constants in
 * examples/ioctl/uapi are checked against it by a host test).
 *
 * Every open of the device has its own byte (0xff after open); read(2)
 * returns that byte over and over, and these ioctls set and get it. Each
 * command's argument is a pointer, as the _IOW/_IOR macros declare:
 *
 *   IOCTL_VALSET      struct ioctl_arg *   set the byte from arg->val
 *   IOCTL_VALGET      struct ioctl_arg *   store the byte in arg->val
 *   IOCTL_VALGET_NUM  int *                store the byte as an int (0..255)
 *   IOCTL_VALSET_NUM  int *                set the byte from an int; EINVAL
 *                                          unless 0 <= *arg <= 255
 *
 * Errors: EFAULT for an argument pointer the kernel cannot read or write,
 * ENOTTY for any other command.
 */
#ifndef _UAPI_IOCTLTEST_H
#define _UAPI_IOCTLTEST_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* The name the module registers its device numbers under (/proc/devices). */
#define IOCTLTEST_NAME "ioctltest"

/* The "type" (magic) byte of our commands, as in LKMPG's ioctl example. */
#define IOCTLTEST_MAGIC 0x66

struct ioctl_arg {
	__u8 val;
};

#define IOCTL_VALSET _IOW(IOCTLTEST_MAGIC, 0, struct ioctl_arg)
#define IOCTL_VALGET _IOR(IOCTLTEST_MAGIC, 1, struct ioctl_arg)
#define IOCTL_VALGET_NUM _IOR(IOCTLTEST_MAGIC, 2, int)
#define IOCTL_VALSET_NUM _IOW(IOCTLTEST_MAGIC, 3, int)

#endif /* _UAPI_IOCTLTEST_H */
