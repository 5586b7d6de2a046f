//go:build modlab_guest

// Package chardev2_test checks, inside the lab's VM, what a user of
// chardev2 sees: the node at major 100, the message through its three
// ioctls and through read and write with offsets, every misuse (a message
// too long, an index out of range, bad pointers, unknown commands), that
// nothing past the message ever comes back, that concurrent setters and
// getters never see a torn message (concurrency_test.go), the EBUSY load
// when major 100 is taken, 100 load/unload cycles, and the chardev2ctl
// client. `modlab test chardev2` runs it.
//
// The tests do not run in parallel: they share one kernel and one device.
package chardev2_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/modlab/modlab/examples/chardev2/uapi"
	"github.com/modlab/modlab/lab/guesttest"
)

// TestMain doubles as the writer process of TestConcurrentSetGet: with
// writerEnv set, the binary sets its messages in a loop instead of
// running tests.
func TestMain(m *testing.M) {
	if spec := os.Getenv(writerEnv); spec != "" {
		os.Exit(writerProcess(spec))
	}
	os.Exit(m.Run())
}

// load loads chardev2 for the test (unloaded at its end).
func load(t *testing.T) *guesttest.Module {
	t.Helper()
	return guesttest.Load(t, "chardev2")
}

// open opens the device read-write, closed at the end of the test.
func open(t *testing.T) int {
	t.Helper()
	fd, err := unix.Open(uapi.DevicePath, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open %s: %v", uapi.DevicePath, err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

func set(t *testing.T, fd int, msg string) {
	t.Helper()
	if err := uapi.SetMsg(fd, msg); err != nil {
		t.Fatalf("IOCTL_SET_MSG %q: %v", msg, err)
	}
}

// wantMsg fails the test unless IOCTL_GET_MSG and a read from offset 0
// both give want.
func wantMsg(t *testing.T, fd int, want string) {
	t.Helper()
	got, err := uapi.GetMsg(fd)
	if err != nil || got != want {
		t.Fatalf("IOCTL_GET_MSG = %q, %v; want %q", got, err, want)
	}
	buf := make([]byte, 4*uapi.BufLen)
	n, err := unix.Pread(fd, buf, 0)
	if err != nil || string(buf[:n]) != want {
		t.Fatalf("pread at 0 = %q, %v; want %q", buf[:max(n, 0)], err, want)
	}
}

// ioctl calls ioctl(2) with a raw argument: an address or a number.
func ioctl(fd int, cmd, arg uintptr) (uintptr, error) {
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), cmd, arg)
	if errno != 0 {
		return r, errno
	}
	return r, nil
}

// ioc builds an ioctl number as asm-generic/ioctl.h's _IOC does.
func ioc(dir, typ, nr, size uintptr) uintptr { return dir<<30 | size<<16 | typ<<8 | nr }

// TestNode: the load makes /dev/char_dev at 100:0 through the class, lists
// the major in /proc/devices and says so; the unload takes it all away.
func TestNode(t *testing.T) {
	log := guesttest.KernelLog(t)
	m := load(t)
	log.Want(t, "chardev2: /dev/char_dev is major 100, minor 0; messages of up to 80 bytes")

	var st unix.Stat_t
	if err := unix.Stat(uapi.DevicePath, &st); err != nil {
		t.Fatalf("stat %s: %v", uapi.DevicePath, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || unix.Major(st.Rdev) != uapi.Major || unix.Minor(st.Rdev) != 0 {
		t.Errorf("%s: mode %#o, device %d:%d; want a character device 100:0",
			uapi.DevicePath, st.Mode, unix.Major(st.Rdev), unix.Minor(st.Rdev))
	}
	if got := guesttest.ReadFile(t, "/sys/class/chardev2/char_dev/dev"); got != "100:0\n" {
		t.Errorf("/sys/class/chardev2/char_dev/dev = %q, want 100:0", got)
	}
	if got := charMajors(t)[uapi.Major]; got != uapi.DeviceName {
		t.Errorf("/proc/devices: major 100 is %q, want %q", got, uapi.DeviceName)
	}

	m.Unload(t)
	log.Want(t, "chardev2: unloaded")
	for _, p := range []string{uapi.DevicePath, "/sys/class/chardev2"} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("after rmmod, stat %s: %v; want it gone", p, err)
		}
	}
	if got, ok := charMajors(t)[uapi.Major]; ok {
		t.Errorf("after rmmod /proc/devices still lists 100 %s", got)
	}
}

// charMajors reads the character-device section of /proc/devices.
func charMajors(t *testing.T) map[uint32]string {
	t.Helper()
	out := map[uint32]string{}
	chars := false
	for _, line := range strings.Split(guesttest.ReadFile(t, "/proc/devices"), "\n") {
		switch {
		case line == "Character devices:":
			chars = true
		case line == "" || strings.HasSuffix(line, ":"):
			chars = false
		case chars:
			var major uint32
			var name string
			if _, err := fmt.Sscan(line, &major, &name); err == nil {
				out[major] = name
			}
		}
	}
	return out
}

// TestSetGet: what IOCTL_SET_MSG sets, IOCTL_GET_MSG and read return, from
// the same open file and from another; a new load starts empty.
func TestSetGet(t *testing.T) {
	load(t)
	fd, other := open(t), open(t)
	wantMsg(t, fd, "")
	for _, msg := range []string{
		"Message passed by ioctl\n",
		"hi",
		"",
		strings.Repeat("0123456789", 8), // exactly 80 bytes
		"bytes \x01\x7f\x80\xfe\xff",
	} {
		set(t, fd, msg)
		wantMsg(t, fd, msg)
		wantMsg(t, other, msg)
	}
}

// TestNthByte: byte n for n below the length, 0 at the length (the
// original program reads until that 0), EINVAL after it; bytes above 127
// come back as 128-255, not as errors.
func TestNthByte(t *testing.T) {
	load(t)
	fd := open(t)
	msg := "Hello\xff"
	set(t, fd, msg)
	for i := 0; i < len(msg); i++ {
		if b, err := uapi.GetNthByte(fd, i); err != nil || b != msg[i] {
			t.Errorf("IOCTL_GET_NTH_BYTE %d = %d, %v; want %d", i, b, err, msg[i])
		}
	}
	if r, err := ioctl(fd, uapi.IoctlGetNthByte, 5); err != nil || r != 255 {
		t.Errorf("IOCTL_GET_NTH_BYTE 5 returned %d, %v; want 255", r, err)
	}
	if b, err := uapi.GetNthByte(fd, len(msg)); err != nil || b != 0 {
		t.Errorf("IOCTL_GET_NTH_BYTE at the length = %d, %v; want the terminating 0", b, err)
	}
	// The original user-space loop: byte after byte until the 0.
	var got []byte
	for i := 0; ; i++ {
		b, err := uapi.GetNthByte(fd, i)
		if err != nil {
			t.Fatalf("IOCTL_GET_NTH_BYTE %d: %v", i, err)
		}
		if b == 0 {
			break
		}
		got = append(got, b)
	}
	if string(got) != msg {
		t.Errorf("byte by byte: %q, want %q", got, msg)
	}
	for _, n := range []int{len(msg) + 1, uapi.BufLen - 1, uapi.BufLen, uapi.BufLen + 1, 1 << 40, -1} {
		if b, err := uapi.GetNthByte(fd, n); !errors.Is(err, unix.EINVAL) {
			t.Errorf("IOCTL_GET_NTH_BYTE %d = %d, %v; want EINVAL", n, b, err)
		}
	}
	set(t, fd, "")
	if b, err := uapi.GetNthByte(fd, 0); err != nil || b != 0 {
		t.Errorf("IOCTL_GET_NTH_BYTE 0 of the empty message = %d, %v; want 0", b, err)
	}
	if _, err := uapi.GetNthByte(fd, 1); !errors.Is(err, unix.EINVAL) {
		t.Errorf("IOCTL_GET_NTH_BYTE 1 of the empty message: %v, want EINVAL", err)
	}
}

// TestLongMessage: IOCTL_SET_MSG refuses more than 80 bytes with EINVAL
// and keeps the old message; write takes what fits (a short write), and a
// write at the end of the buffer gets ENOSPC.
func TestLongMessage(t *testing.T) {
	load(t)
	fd := open(t)
	full := strings.Repeat("x", uapi.BufLen)
	set(t, fd, full)
	for _, n := range []int{uapi.BufLen + 1, 200, 4096} {
		if err := uapi.SetMsg(fd, strings.Repeat("y", n)); !errors.Is(err, unix.EINVAL) {
			t.Errorf("IOCTL_SET_MSG of %d bytes: %v, want EINVAL", n, err)
		}
	}
	wantMsg(t, fd, full)

	long := []byte(strings.Repeat("0123456789", 10))
	if n, err := unix.Write(fd, long); n != uapi.BufLen || err != nil {
		t.Errorf("write of 100 bytes = %d, %v; want 80 (a short write)", n, err)
	}
	wantMsg(t, fd, string(long[:uapi.BufLen]))
	if n, err := unix.Write(fd, long[uapi.BufLen:]); !errors.Is(err, unix.ENOSPC) {
		t.Errorf("write at offset 80 = %d, %v; want ENOSPC", n, err)
	}
	if n, err := unix.Pwrite(fd, []byte("abc"), 79); n != 1 || err != nil {
		t.Errorf("pwrite of 3 bytes at 79 = %d, %v; want 1", n, err)
	}
	wantMsg(t, fd, string(long[:79])+"a")

	// Go's os.File.Write retries a short write, and reports the ENOSPC.
	f, err := os.OpenFile(uapi.DevicePath, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if n, err := f.Write(long); n != uapi.BufLen || !errors.Is(err, unix.ENOSPC) {
		t.Errorf("os.File.Write of 100 bytes = %d, %v; want 80, ENOSPC", n, err)
	}
}

// TestReadWriteOffsets: read honours the file position and pread's
// offset, a write replaces the message from its offset on, consecutive
// writes build it up, lseek works within the buffer with SEEK_END at the
// message's end.
func TestReadWriteOffsets(t *testing.T) {
	load(t)
	fd := open(t)

	// echo's way: open, write, close.
	if err := os.WriteFile(uapi.DevicePath, []byte("hello world\n"), 0); err != nil {
		t.Fatal(err)
	}
	wantMsg(t, fd, "hello world\n")
	if b, err := os.ReadFile(uapi.DevicePath); err != nil || string(b) != "hello world\n" {
		t.Errorf("os.ReadFile = %q, %v", b, err)
	}

	// One byte at a time gives what one big read gives, then 0 for ever.
	rd := open(t)
	var got []byte
	one := make([]byte, 1)
	for range 100 {
		n, err := unix.Read(rd, one)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		got = append(got, one[0])
	}
	if string(got) != "hello world\n" {
		t.Errorf("byte-at-a-time read = %q", got)
	}
	if n, err := unix.Read(rd, make([]byte, 10)); n != 0 || err != nil {
		t.Errorf("read at the end = %d, %v; want 0 (end of file)", n, err)
	}

	buf := make([]byte, 5)
	if n, err := unix.Pread(fd, buf, 6); err != nil || string(buf[:n]) != "world" {
		t.Errorf("pread 5 at 6 = %q, %v; want world", buf[:max(n, 0)], err)
	}
	for _, off := range []int64{12, 50, 79, 80, 1000, 1 << 40} {
		if n, err := unix.Pread(fd, buf, off); n != 0 || err != nil {
			t.Errorf("pread at %d = %d, %v; want 0", off, n, err)
		}
	}

	// A write from offset 1 keeps byte 0 and ends the message after it.
	if n, err := unix.Pwrite(fd, []byte("XY"), 1); n != 2 || err != nil {
		t.Errorf("pwrite XY at 1 = %d, %v", n, err)
	}
	wantMsg(t, fd, "hXY")
	// A write past the end leaves zeros in the gap.
	if n, err := unix.Pwrite(fd, []byte("Z"), 6); n != 1 || err != nil {
		t.Errorf("pwrite Z at 6 = %d, %v", n, err)
	}
	b := make([]byte, 100)
	if n, err := unix.Pread(fd, b, 0); err != nil || string(b[:n]) != "hXY\x00\x00\x00Z" {
		t.Errorf("after a write past the end: %q, %v", b[:max(n, 0)], err)
	}
	// ...which IOCTL_GET_MSG, handing out a C string, also copies whole.
	if got, err := uapi.GetMsg(fd); err != nil || got != "hXY\x00\x00\x00Z" {
		t.Errorf("IOCTL_GET_MSG = %q, %v", got, err)
	}

	// Consecutive writes on one open file build the message up.
	w := open(t)
	for _, part := range []string{"ab", "cd", "ef"} {
		if n, err := unix.Write(w, []byte(part)); n != 2 || err != nil {
			t.Fatalf("write %q = %d, %v", part, n, err)
		}
	}
	wantMsg(t, fd, "abcdef")

	// lseek: anywhere in the 80-byte buffer; SEEK_END is the message's end.
	for _, tc := range []struct {
		off    int64
		whence int
		want   int64
		err    error
	}{
		{0, unix.SEEK_END, 6, nil},
		{-2, unix.SEEK_END, 4, nil},
		{2, unix.SEEK_SET, 2, nil},
		{3, unix.SEEK_CUR, 5, nil},
		{80, unix.SEEK_SET, 80, nil},
		{81, unix.SEEK_SET, 0, unix.EINVAL},
		{-1, unix.SEEK_SET, 0, unix.EINVAL},
	} {
		got, err := unix.Seek(w, tc.off, tc.whence)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("lseek(%d, %d) = %d, %v; want %v", tc.off, tc.whence, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("lseek(%d, %d) = %d, %v; want %d", tc.off, tc.whence, got, err, tc.want)
		}
	}
	if _, err := unix.Seek(w, 4, unix.SEEK_SET); err != nil {
		t.Fatal(err)
	}
	if n, err := unix.Read(w, buf); err != nil || string(buf[:n]) != "ef" {
		t.Errorf("read after lseek to 4 = %q, %v; want ef", buf[:max(n, 0)], err)
	}
}

// TestNothingPastTheMessage: after a long message and a short one, every
// way of reading returns the short one and leaves the rest of the caller's
// buffer untouched: no stale bytes, no kernel memory.
func TestNothingPastTheMessage(t *testing.T) {
	load(t)
	fd := open(t)
	const fill = 0xEE
	filled := func(n int) []byte { return bytes.Repeat([]byte{fill}, n) }
	untouched := func(b []byte) bool { return bytes.Count(b, []byte{fill}) == len(b) }

	for _, how := range []string{"ioctl", "write"} {
		if how == "ioctl" {
			set(t, fd, strings.Repeat("A", uapi.BufLen))
			set(t, fd, "hi")
		} else {
			for _, m := range []string{strings.Repeat("B", uapi.BufLen), "hi"} {
				if _, err := unix.Pwrite(fd, []byte(m), 0); err != nil {
					t.Fatal(err)
				}
			}
		}
		buf := filled(4096)
		n, err := unix.Pread(fd, buf, 0)
		if err != nil || n != 2 || string(buf[:2]) != "hi" || !untouched(buf[2:]) {
			t.Errorf("%s: pread of 4096 after a long and a short message: %d, %v, %q...", how, n, err, buf[:8])
		}
		for off := int64(2); off <= uapi.BufLen; off++ {
			if n, err := unix.Pread(fd, buf, off); n != 0 || err != nil {
				t.Fatalf("%s: pread at %d = %d, %v; want 0", how, off, n, err)
			}
		}
		buf = filled(256)
		r, err := ioctl(fd, uapi.IoctlGetMsg, uintptr(unsafe.Pointer(&buf[0])))
		if err != nil || r != 2 || string(buf[:3]) != "hi\x00" || !untouched(buf[3:]) {
			t.Errorf("%s: IOCTL_GET_MSG = %d, %v, buffer %q...; want 2 and only \"hi\\x00\" written", how, r, err, buf[:8])
		}
		for _, i := range []int{3, 4, 40, 79} {
			if b, err := uapi.GetNthByte(fd, i); !errors.Is(err, unix.EINVAL) {
				t.Errorf("%s: IOCTL_GET_NTH_BYTE %d = %q, %v; want EINVAL", how, i, b, err)
			}
		}
	}
}

// pages is four pages of our own: read-write, no access, read-only, and
// one that is unmapped again at once.
type pages struct {
	mem  []byte // all four; only the first three may be touched
	size int
}

func (p pages) addr(off int) uintptr { return uintptr(unsafe.Pointer(&p.mem[0])) + uintptr(off) }
func (p pages) none() uintptr        { return p.addr(p.size) }
func (p pages) ro() uintptr          { return p.addr(2 * p.size) }
func (p pages) unmapped() uintptr    { return p.addr(3 * p.size) }

// beforeNone is the read-write memory just before the no-access page.
func (p pages) beforeNone(n int) []byte { return p.mem[p.size-n : p.size] }

func mapPages(t *testing.T) pages {
	t.Helper()
	size := os.Getpagesize()
	ptr, err := unix.MmapPtr(-1, 0, nil, uintptr(4*size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	p := pages{mem: unsafe.Slice((*byte)(ptr), 4*size), size: size}
	if err := unix.Mprotect(p.mem[size:2*size], unix.PROT_NONE); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mprotect(p.mem[2*size:3*size], unix.PROT_READ); err != nil {
		t.Fatal(err)
	}
	if err := unix.MunmapPtr(unsafe.Add(ptr, 3*size), uintptr(size)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.MunmapPtr(ptr, uintptr(3*size)) })
	return p
}

// TestBadPointers: each ioctl that takes a pointer, and read and write,
// answer EFAULT for memory the caller cannot use, and the message stays as
// it was. IOCTL_GET_NTH_BYTE takes its index by value: an "address" there
// is just a number.
func TestBadPointers(t *testing.T) {
	load(t)
	fd := open(t)
	p := mapPages(t)
	const msg = "a good message"
	set(t, fd, msg)

	// A string that fits before the inaccessible page is fine...
	copy(p.beforeNone(4), "abc\x00")
	if _, err := ioctl(fd, uapi.IoctlSetMsg, p.none()-4); err != nil {
		t.Fatalf("IOCTL_SET_MSG of a string ending just before a PROT_NONE page: %v", err)
	}
	wantMsg(t, fd, "abc")
	set(t, fd, msg)
	// ...one that runs into it is not.
	copy(p.beforeNone(4), "abcd")

	for _, tc := range []struct {
		what      string
		cmd, addr uintptr
	}{
		{"IOCTL_SET_MSG from address 0x1", uapi.IoctlSetMsg, 1},
		{"IOCTL_SET_MSG from an unmapped page", uapi.IoctlSetMsg, p.unmapped()},
		{"IOCTL_SET_MSG from a PROT_NONE page", uapi.IoctlSetMsg, p.none()},
		{"IOCTL_SET_MSG of a string running into a PROT_NONE page", uapi.IoctlSetMsg, p.none() - 4},
		{"IOCTL_GET_MSG to address 0x1", uapi.IoctlGetMsg, 1},
		{"IOCTL_GET_MSG to an unmapped page", uapi.IoctlGetMsg, p.unmapped()},
		{"IOCTL_GET_MSG to a read-only page", uapi.IoctlGetMsg, p.ro()},
		{"IOCTL_GET_MSG to a buffer running into a PROT_NONE page", uapi.IoctlGetMsg, p.none() - 4},
	} {
		if r, err := ioctl(fd, tc.cmd, tc.addr); !errors.Is(err, unix.EFAULT) {
			t.Errorf("%s: %d, %v; want EFAULT", tc.what, r, err)
		}
		wantMsg(t, fd, msg)
	}
	for _, tc := range []struct {
		what string
		nr   uintptr
		addr uintptr
	}{
		{"read to address 0x1", unix.SYS_PREAD64, 1},
		{"read to an unmapped page", unix.SYS_PREAD64, p.unmapped()},
		{"read to a read-only page", unix.SYS_PREAD64, p.ro()},
		{"write from address 0x1", unix.SYS_PWRITE64, 1},
		{"write from an unmapped page", unix.SYS_PWRITE64, p.unmapped()},
		{"write from a PROT_NONE page", unix.SYS_PWRITE64, p.none()},
	} {
		n, _, errno := unix.Syscall6(tc.nr, uintptr(fd), tc.addr, 10, 0, 0, 0)
		if errno != unix.EFAULT {
			t.Errorf("%s: %d, %v; want EFAULT", tc.what, int(n), errno)
		}
		wantMsg(t, fd, msg)
	}

	if r, err := ioctl(fd, uapi.IoctlGetNthByte, 1); err != nil || r != uintptr(msg[1]) {
		t.Errorf("IOCTL_GET_NTH_BYTE with argument 1 = %d, %v; want byte 1, %d", r, err, msg[1])
	}
	if _, err := ioctl(fd, uapi.IoctlGetNthByte, p.unmapped()); !errors.Is(err, unix.EINVAL) {
		t.Errorf("IOCTL_GET_NTH_BYTE with an address as index: %v, want EINVAL (out of range)", err)
	}
}

// TestUnknownCommands: any number other than the three is ENOTTY,
// including the original user-space program's raw 3 and near misses of
// the real numbers (another size, direction, type or number), and none of
// them touches the message.
func TestUnknownCommands(t *testing.T) {
	load(t)
	fd := open(t)
	set(t, fd, "kept")
	arg := []byte("not for you\x00")
	ptr := uintptr(unsafe.Pointer(&arg[0]))
	const w, r = 1, 2
	for _, tc := range []struct {
		what string
		cmd  uintptr
	}{
		{"the raw number 3", 3},
		{"the raw number 0", 0},
		{"_IO(100, 0)", ioc(0, 100, 0, 0)},
		{"_IOW(100, 0, int)", ioc(w, 100, 0, 4)},
		{"_IOR(100, 0, char *)", ioc(r, 100, 0, 8)},
		{"_IOWR(100, 0, char *)", ioc(w|r, 100, 0, 8)},
		{"_IOW(101, 0, char *)", ioc(w, 101, 0, 8)},
		{"_IOW(100, 3, char *)", ioc(w, 100, 3, 8)},
		{"_IOWR(100, 2, long)", ioc(w|r, 100, 2, 8)},
	} {
		if got, err := ioctl(fd, tc.cmd, ptr); !errors.Is(err, unix.ENOTTY) {
			t.Errorf("ioctl %s (%#x): %d, %v; want ENOTTY", tc.what, tc.cmd, got, err)
		}
	}
	wantMsg(t, fd, "kept")
}

// TestOpenPinsModule: .owner = THIS_MODULE makes each open file hold
// references to the module, so rmmod fails until the last close. An open
// file holds two: chrdev_open takes one for the cdev (its owner is the
// fops' owner) and one for the fops.
func TestOpenPinsModule(t *testing.T) {
	m := load(t)
	refcnt := func() string {
		return strings.TrimSpace(guesttest.ReadFile(t, filepath.Join(m.SysDir(), "refcnt")))
	}
	if got := refcnt(); got != "0" {
		t.Errorf("refcnt before open = %s, want 0", got)
	}
	fd, err := unix.Open(uapi.DevicePath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := refcnt(); got != "2" {
		t.Errorf("refcnt while open = %s, want 2", got)
	}
	if err := m.TryUnload(); !errors.Is(err, unix.EWOULDBLOCK) {
		t.Errorf("rmmod while open: %v, want EWOULDBLOCK (in use)", err)
	}
	if _, err := uapi.GetMsg(fd); err != nil {
		t.Errorf("the device after the refused rmmod: %v", err)
	}
	unix.Close(fd)
	if got := refcnt(); got != "0" {
		t.Errorf("refcnt after close = %s, want 0", got)
	}
	m.Unload(t)
}

// TestMajorTaken: with major 100 held by another module (majorhold), the
// load fails with EBUSY and a message that says so, and leaves nothing
// behind; the other way round majorhold gets the EBUSY. With its default
// major=0, majorhold takes a free major and both live together.
func TestMajorTaken(t *testing.T) {
	log := guesttest.KernelLog(t)
	hold := guesttest.Load(t, "majorhold", "major=100")
	log.Want(t, "majorhold: holding major 100")
	if got := charMajors(t)[uapi.Major]; got != "majorhold" {
		t.Fatalf("/proc/devices: major 100 is %q, want majorhold", got)
	}

	if err := guesttest.TryLoad(t, "chardev2"); !errors.Is(err, unix.EBUSY) {
		t.Fatalf("loading chardev2 with major 100 taken: %v, want EBUSY", err)
	}
	log.Want(t, "chardev2: major 100 is already taken by another driver (see /proc/devices)")
	if (&guesttest.Module{Name: "chardev2"}).Loaded() {
		t.Error("chardev2 is loaded after its init failed")
	}
	for _, p := range []string{uapi.DevicePath, "/sys/class/chardev2"} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("after the failed load, stat %s: %v; want nothing there", p, err)
		}
	}
	if got := charMajors(t)[uapi.Major]; got != "majorhold" {
		t.Errorf("/proc/devices after the failed load: major 100 is %q, want majorhold", got)
	}
	hold.Unload(t)

	m := load(t)
	fd, err := unix.Open(uapi.DevicePath, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	set(t, fd, "works")
	unix.Close(fd)
	log = guesttest.KernelLog(t)
	if err := guesttest.TryLoad(t, "majorhold", "major=100"); !errors.Is(err, unix.EBUSY) {
		t.Errorf("loading majorhold major=100 while chardev2 holds it: %v, want EBUSY", err)
	}
	log.Want(t, "majorhold: cannot hold major 100: -16")

	// The default: a major the kernel picks, next to chardev2.
	hold = guesttest.Load(t, "majorhold")
	picked := hold.Param(t, "major")
	if picked == "0" || picked == "100" {
		t.Errorf("majorhold without a major holds %s, want one the kernel chose", picked)
	}
	if got := charMajors(t)[uapi.Major]; got != uapi.DeviceName {
		t.Errorf("/proc/devices: major 100 is %q, want %q", got, uapi.DeviceName)
	}
	hold.Unload(t)
	m.Unload(t)
}

// TestLoadUnloadCycles loads and unloads chardev2 100 times (fewer on the
// debug kernel: guesttest.Rounds); each time the node is there and works,
// starts empty, and is gone after the unload.
func TestLoadUnloadCycles(t *testing.T) {
	cycles := guesttest.Rounds(100)
	start := time.Now()
	for i := range cycles {
		m := load(t)
		fd, err := unix.Open(uapi.DevicePath, unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatalf("cycle %d: open: %v", i, err)
		}
		got, err := uapi.GetMsg(fd)
		if err != nil || got != "" {
			t.Fatalf("cycle %d: the message after a fresh load is %q, %v; want empty", i, got, err)
		}
		msg := fmt.Sprintf("cycle %d", i)
		if err := uapi.SetMsg(fd, msg); err != nil {
			t.Fatalf("cycle %d: IOCTL_SET_MSG: %v", i, err)
		}
		if got, err := uapi.GetMsg(fd); err != nil || got != msg {
			t.Fatalf("cycle %d: IOCTL_GET_MSG = %q, %v", i, got, err)
		}
		unix.Close(fd)
		m.Unload(t)
		if _, err := os.Stat(uapi.DevicePath); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("cycle %d: after rmmod, stat %s: %v", i, uapi.DevicePath, err)
		}
	}
	t.Logf("%d cycles in %v", cycles, time.Since(start).Round(time.Millisecond))
}

// ctl runs chardev2ctl (on the PATH the lab gives tests) and returns its
// output and exit status.
func ctl(t *testing.T, cred *syscall.Credential, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	path, err := exec.LookPath("chardev2ctl")
	if err != nil {
		t.Fatalf("chardev2ctl is not on the PATH: %v", err)
	}
	cmd := exec.Command(path, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatalf("chardev2ctl %q: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// TestChardev2ctl runs the client as a user would: what it prints, on
// which stream, and its exit status.
func TestChardev2ctl(t *testing.T) {
	m := load(t)
	long := strings.Repeat("z", uapi.BufLen+1)
	for _, tc := range []struct {
		args           []string
		stdout, stderr string
		code           int
	}{
		{[]string{"set", "hi"}, "", "", 0},
		{[]string{"get"}, "hi\n", "", 0},
		{[]string{"-d", uapi.DevicePath, "get"}, "hi\n", "", 0},
		{[]string{"nth", "0"}, "104 \"h\"\n", "", 0},
		{[]string{"nth", "2"}, "0 \"\\x00\"\n", "", 0},
		{[]string{"nth", "3"}, "", "chardev2ctl: IOCTL_GET_NTH_BYTE: Invalid argument\n", 1},
		{[]string{"nth", "--", "-1"}, "", "chardev2ctl: IOCTL_GET_NTH_BYTE: Invalid argument\n", 1},
		{[]string{"set", long}, "", "chardev2ctl: IOCTL_SET_MSG: Invalid argument\n", 1},
		{[]string{"get"}, "hi\n", "", 0},
		{[]string{"set", "line\n"}, "", "", 0},
		{[]string{"get"}, "line\n", "", 0}, // no second newline
		{[]string{"-d", "/dev/null", "get"}, "", "chardev2ctl: IOCTL_GET_MSG: Inappropriate ioctl for device\n", 1},
	} {
		stdout, stderr, code := ctl(t, nil, tc.args...)
		if stdout != tc.stdout || stderr != tc.stderr || code != tc.code {
			t.Errorf("chardev2ctl %q: exit %d, stdout %q, stderr %q; want exit %d, stdout %q, stderr %q",
				tc.args, code, stdout, stderr, tc.code, tc.stdout, tc.stderr)
		}
	}
	for _, args := range [][]string{{}, {"frob"}, {"set"}, {"nth", "x"}, {"get", "more"}} {
		stdout, stderr, code := ctl(t, nil, args...)
		if code != 2 || stdout != "" || !strings.Contains(stderr, "usage: chardev2ctl") {
			t.Errorf("chardev2ctl %q: exit %d, stdout %q, stderr %q; want exit 2 and the usage", args, code, stdout, stderr)
		}
	}

	// The node is root's (0600): another user cannot open it.
	_, stderr, code := ctl(t, &syscall.Credential{Uid: 65534, Gid: 65534}, "get")
	if code != 1 || stderr != "chardev2ctl: open /dev/char_dev: Permission denied\n" {
		t.Errorf("chardev2ctl get as nobody: exit %d, stderr %q", code, stderr)
	}

	m.Unload(t)
	_, stderr, code = ctl(t, nil, "get")
	if code != 1 || stderr != "chardev2ctl: open /dev/char_dev: No such file or directory\n" {
		t.Errorf("chardev2ctl get without the module: exit %d, stderr %q", code, stderr)
	}
}
