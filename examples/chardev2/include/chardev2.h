/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * chardev2.h: what user space needs to talk to chardev2.ko. The module and
 * C programs include this file; the Go package examples/chardev2/uapi
 * computes the same numbers (its host test compiles this file and checks).
 */
#ifndef _UAPI_CHARDEV2_H
#define _UAPI_CHARDEV2_H

#include <linux/ioctl.h>

/* The fixed major number chardev2 registers, and its device node. */
#define CHARDEV2_MAJOR		100
#define CHARDEV2_DEVICE_NAME	"char_dev"
#define CHARDEV2_DEVICE_PATH	"/dev/char_dev"

/*
 * The longest message the device holds, in bytes. IOCTL_GET_MSG writes the
 * message and a terminating NUL, so its buffer needs CHARDEV2_BUF_LEN + 1.
 */
#define CHARDEV2_BUF_LEN	80

/*
 * The ioctl type byte is the major number, as in the original example
 * (100 is 'd'); it need not be: it only has to make the numbers unlikely
 * to collide with another driver's.
 *
 * IOCTL_SET_MSG	arg: a NUL-terminated string of at most
 *			CHARDEV2_BUF_LEN bytes; a longer one is refused
 *			with EINVAL and the message stays as it was.
 * IOCTL_GET_MSG	arg: a buffer of CHARDEV2_BUF_LEN + 1 bytes (at least
 *			the message's length + 1); returns the length.
 * IOCTL_GET_NTH_BYTE	arg: an index, by value; returns the byte there
 *			(0 to 255; the index equal to the length gives the
 *			terminating 0), EINVAL past that.
 */
#define IOCTL_SET_MSG		_IOW(CHARDEV2_MAJOR, 0, char *)
#define IOCTL_GET_MSG		_IOR(CHARDEV2_MAJOR, 1, char *)
#define IOCTL_GET_NTH_BYTE	_IOWR(CHARDEV2_MAJOR, 2, int)

#endif /* _UAPI_CHARDEV2_H */
