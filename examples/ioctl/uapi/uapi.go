// Package uapi is the Go side of examples/ioctl/include/ioctltest.h: the
// ioctl command numbers of the ioctltest device, the argument struct, and
// thin wrappers that issue the commands on an open file descriptor.
//
// The numbers are spelled out the way the kernel's _IOW/_IOR macros build
// them (direction, argument size, type byte, sequence number); a host test
// compiles a C program with the header and checks that they are equal.
package uapi

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Name is what the module registers its device numbers under: its line in
// /proc/devices.
const Name = "ioctltest"

// Magic is the commands' type byte (IOCTLTEST_MAGIC).
const Magic = 0x66

// Arg is struct ioctl_arg: the argument of ValSet and ValGet.
type Arg struct {
	Val uint8
}

// The fields of an ioctl number on x86 and most architectures
// (include/uapi/asm-generic/ioctl.h): 8 bits of sequence number, 8 of type,
// 14 of argument size, 2 of direction.
const (
	iocWrite = 1 // user space writes, the kernel reads (_IOW)
	iocRead  = 2 // the kernel writes, user space reads (_IOR)

	iocNrShift   = 0
	iocTypeShift = 8
	iocSizeShift = 16
	iocDirShift  = 30

	argSize = 1 // sizeof(struct ioctl_arg); the host test checks unsafe.Sizeof(Arg{})
	intSize = 4 // sizeof(int)
)

// The commands (see the header for what each does).
const (
	ValSet    = iocWrite<<iocDirShift | argSize<<iocSizeShift | Magic<<iocTypeShift | 0<<iocNrShift
	ValGet    = iocRead<<iocDirShift | argSize<<iocSizeShift | Magic<<iocTypeShift | 1<<iocNrShift
	ValGetNum = iocRead<<iocDirShift | intSize<<iocSizeShift | Magic<<iocTypeShift | 2<<iocNrShift
	ValSetNum = iocWrite<<iocDirShift | intSize<<iocSizeShift | Magic<<iocTypeShift | 3<<iocNrShift
)

// ioctl issues cmd with a pointer argument. The error is a unix.Errno.
func ioctl(fd int, cmd uint, p unsafe.Pointer) error {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(cmd), uintptr(p))
	if e != 0 {
		return e
	}
	return nil
}

// Set sets the open file's byte (IOCTL_VALSET).
func Set(fd int, val byte) error {
	a := Arg{Val: val}
	return ioctl(fd, ValSet, unsafe.Pointer(&a))
}

// Get returns the open file's byte (IOCTL_VALGET).
func Get(fd int) (byte, error) {
	var a Arg
	err := ioctl(fd, ValGet, unsafe.Pointer(&a))
	return a.Val, err
}

// SetNum sets the byte from an int (IOCTL_VALSET_NUM): EINVAL unless
// 0 <= n <= 255.
func SetNum(fd int, n int32) error {
	return ioctl(fd, ValSetNum, unsafe.Pointer(&n))
}

// GetNum returns the byte as an int (IOCTL_VALGET_NUM).
func GetNum(fd int) (int32, error) {
	var n int32
	err := ioctl(fd, ValGetNum, unsafe.Pointer(&n))
	return n, err
}
