package uevent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// KernelGroup is the netlink multicast group the kernel sends uevents to
// (udev re-sends them, after processing, to group 2).
const KernelGroup = 1

// ErrLost says that events were lost: the kernel sent them faster than the
// reader took them and the socket's receive buffer overflowed (ENOBUFS).
// Receive returns it once per overflow; the connection stays usable.
var ErrLost = errors.New("uevent: some kernel uevents were lost: the socket's receive buffer overflowed")

// Conn is a NETLINK_KOBJECT_UEVENT socket bound to the kernel's group.
type Conn struct {
	f   *os.File
	rc  syscall.RawConn
	buf []byte
}

// recvBuffer is the receive buffer Listen asks for: room for thousands of
// events while a slow command runs (SO_RCVBUFFORCE as root, else up to
// the system's limit).
const recvBuffer = 8 << 20

// Listen opens a socket that receives every kernel uevent from now on.
// Events sent before Listen returns are not seen.
func Listen() (*Conn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_KOBJECT_UEVENT)
	if err != nil {
		return nil, fmt.Errorf("uevent: netlink socket: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, recvBuffer); err != nil {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, recvBuffer)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: KernelGroup}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("uevent: bind to the kernel's group: %w", err)
	}
	// A non-blocking descriptor goes to Go's poller: Receive waits without
	// holding a thread, and a deadline can wake it.
	f := os.NewFile(uintptr(fd), "uevent")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("uevent: %w", err)
	}
	return &Conn{f: f, rc: rc, buf: make([]byte, MaxMessage+1)}, nil
}

// Receive waits for the next kernel uevent and returns it. It returns
// ctx's error once ctx is done, and ErrLost after an overflow. Messages
// that do not come from the kernel (netlink port 0) are skipped, as udev
// skips them; so are messages too long or malformed to parse.
func (c *Conn) Receive(ctx context.Context) (*Event, error) {
	// An earlier Receive's context may have set a deadline.
	c.f.SetReadDeadline(time.Time{})
	stop := context.AfterFunc(ctx, func() { c.f.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	for {
		var (
			n     int
			from  unix.Sockaddr
			flags int
			rerr  error
		)
		err := c.rc.Read(func(fd uintptr) bool {
			n, _, flags, from, rerr = unix.Recvmsg(int(fd), c.buf, nil, 0)
			return rerr != unix.EAGAIN
		})
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err == nil {
			err = rerr
		}
		if errors.Is(err, unix.ENOBUFS) {
			return nil, ErrLost
		}
		if err != nil {
			return nil, fmt.Errorf("uevent: receive: %w", err)
		}
		if sa, ok := from.(*unix.SockaddrNetlink); !ok || sa.Pid != 0 {
			continue
		}
		if flags&unix.MSG_TRUNC != 0 || n > MaxMessage {
			continue
		}
		e, err := Parse(c.buf[:n])
		if err != nil {
			continue
		}
		e.Received = monotonic()
		return e, nil
	}
}

// Close closes the socket; a Receive waiting on it returns an error.
func (c *Conn) Close() error { return c.f.Close() }

func monotonic() time.Duration {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts) != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}
