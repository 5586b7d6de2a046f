// Package uapi is chardev2's user-space interface in Go: the numbers of
// include/chardev2.h, and the three ioctls as functions.
//
// The ioctl numbers are computed the way the kernel's _IOW, _IOR and _IOWR
// macros compute them (asm-generic/ioctl.h, which x86 uses): the direction
// in the top two bits, then the size of the argument's type in 14 bits,
// the type byte and the command number. The package's test compiles the C
// header with the host's compiler and checks that both agree.
package uapi

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The device, as include/chardev2.h describes it.
const (
	Major      = 100             // CHARDEV2_MAJOR
	DeviceName = "char_dev"      // CHARDEV2_DEVICE_NAME
	DevicePath = "/dev/char_dev" // CHARDEV2_DEVICE_PATH
	BufLen     = 80              // CHARDEV2_BUF_LEN: the longest message
)

// asm-generic/ioctl.h: the fields of an ioctl number.
const (
	iocNRShift   = 0
	iocTypeShift = 8
	iocSizeShift = 16
	iocDirShift  = 30

	iocWrite = 1 // user space writes, the driver reads the argument
	iocRead  = 2 // the driver writes the argument back
)

// The sizes the macros take from their type argument: char * and int.
const (
	sizeofCharPtr = unsafe.Sizeof((*byte)(nil))
	sizeofInt     = unsafe.Sizeof(int32(0))
)

// The ioctl numbers.
const (
	// IoctlSetMsg is _IOW(100, 0, char *).
	IoctlSetMsg = iocWrite<<iocDirShift | sizeofCharPtr<<iocSizeShift | Major<<iocTypeShift | 0<<iocNRShift
	// IoctlGetMsg is _IOR(100, 1, char *).
	IoctlGetMsg = iocRead<<iocDirShift | sizeofCharPtr<<iocSizeShift | Major<<iocTypeShift | 1<<iocNRShift
	// IoctlGetNthByte is _IOWR(100, 2, int).
	IoctlGetNthByte = (iocRead|iocWrite)<<iocDirShift | sizeofInt<<iocSizeShift | Major<<iocTypeShift | 2<<iocNRShift
)

// SetMsg makes msg the device's message (IOCTL_SET_MSG). The kernel
// refuses a message longer than BufLen bytes with EINVAL; a message cannot
// hold a NUL byte (EINVAL here, before any system call).
func SetMsg(fd int, msg string) error {
	p, err := unix.BytePtrFromString(msg)
	if err != nil {
		return err
	}
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), IoctlSetMsg, uintptr(unsafe.Pointer(p)))
	if errno != 0 {
		return errno
	}
	return nil
}

// GetMsg returns the device's message (IOCTL_GET_MSG).
func GetMsg(fd int) (string, error) {
	buf := make([]byte, BufLen+1)
	n, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), IoctlGetMsg, uintptr(unsafe.Pointer(&buf[0])))
	if errno != 0 {
		return "", errno
	}
	if n >= uintptr(len(buf)) {
		return "", fmt.Errorf("IOCTL_GET_MSG returned length %d, more than %d", n, BufLen)
	}
	return string(buf[:n]), nil
}

// GetNthByte returns byte n of the message (IOCTL_GET_NTH_BYTE); n equal
// to the message's length gives 0, the terminator; beyond that, EINVAL.
func GetNthByte(fd int, n int) (byte, error) {
	b, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), IoctlGetNthByte, uintptr(n))
	if errno != 0 {
		return 0, errno
	}
	return byte(b), nil
}
