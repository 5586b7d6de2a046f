//go:build modlab_guest

// Package ioctl_test checks, inside the lab's VM, what a user of the
// ioctltest device sees: the major appears in /proc/devices and nowhere
// else, a node made from it reads the open's byte forever, every open has
// a byte of its own that the ioctls set and get, and misuse gets the
// kernel's usual answers (ENOTTY, EFAULT, EINVAL). It also loads and
// unloads the module 100 times, runs openers side by side, and drives the
// ioctlctl client. `modlab test ioctl` runs it.
//
// The tests do not run in parallel with each other: the module can be
// loaded only once at a time.
package ioctl_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/modlab/modlab/examples/ioctl/uapi"
	"github.com/modlab/modlab/lab/guesttest"
)

const module = "ioctl"

// major reads the major number of ioctltest from the character devices
// of /proc/devices; ok is false when it is not there.
func major(t *testing.T) (m uint32, ok bool) {
	t.Helper()
	f, err := os.Open("/proc/devices")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	inChar := false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasSuffix(line, ":") {
			inChar = line == "Character devices:"
			continue
		}
		if f := strings.Fields(line); inChar && len(f) == 2 && f[1] == uapi.Name {
			n, err := strconv.ParseUint(f[0], 10, 32)
			if err != nil {
				t.Fatalf("/proc/devices: %q", line)
			}
			return uint32(n), true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return 0, false
}

// mknod makes a character node for the device's major and the given minor
// in a temporary directory.
func mknod(t *testing.T, minor uint32) string {
	t.Helper()
	m, ok := major(t)
	if !ok {
		t.Fatal("/proc/devices has no ioctltest")
	}
	p := filepath.Join(t.TempDir(), fmt.Sprintf("ioctltest%d", minor))
	if err := unix.Mknod(p, unix.S_IFCHR|0o600, int(unix.Mkdev(m, minor))); err != nil {
		t.Fatalf("mknod %s: %v", p, err)
	}
	return p
}

// setup loads the module and makes a node for minor 0.
func setup(t *testing.T) (*guesttest.Module, string) {
	t.Helper()
	m := guesttest.Load(t, module)
	return m, mknod(t, 0)
}

// open opens the node (read-only unless flags say otherwise) and closes it
// at the end of the test.
func open(t *testing.T, path string, flags ...int) int {
	t.Helper()
	fl := unix.O_RDONLY
	for _, f := range flags {
		fl = f
	}
	fd, err := unix.Open(path, fl|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// uniform reports whether every byte of b is v.
func uniform(b []byte, v byte) bool {
	for _, c := range b {
		if c != v {
			return false
		}
	}
	return true
}

// wantByte checks the open's byte through both get commands.
func wantByte(t *testing.T, fd int, want byte) {
	t.Helper()
	if got, err := uapi.Get(fd); err != nil || got != want {
		t.Errorf("IOCTL_VALGET = %#x, %v; want %#x", got, err, want)
	}
	if got, err := uapi.GetNum(fd); err != nil || got != int32(want) {
		t.Errorf("IOCTL_VALGET_NUM = %d, %v; want %d", got, err, want)
	}
}

// wantRead reads n bytes in one read(2) and checks they are all v.
func wantRead(t *testing.T, fd, n int, v byte) {
	t.Helper()
	buf := bytes.Repeat([]byte{^v}, n)
	got, err := unix.Read(fd, buf)
	if err != nil || got != n {
		t.Fatalf("read(%d bytes) = %d, %v; want %d", n, got, err, n)
	}
	if !uniform(buf, v) {
		t.Errorf("read(%d bytes) is not all %#x: starts % x", n, v, buf[:min(n, 16)])
	}
}

// TestNodeFromProcDevices: the module takes a dynamic major under the name
// ioctltest; no node appears by itself (there is no class); a node made
// with that major and minor 0 opens, minor 1 does not exist; after the
// unload the number is gone and the old node leads nowhere.
func TestNodeFromProcDevices(t *testing.T) {
	log := guesttest.KernelLog(t)
	m, node := setup(t)
	maj, _ := major(t)
	log.Want(t, fmt.Sprintf("ioctl: registered ioctltest: major %d, make the node with: mknod NODE c %d 0", maj, maj))

	if _, err := os.Stat("/dev/ioctltest"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("/dev/ioctltest exists without mknod (stat: %v); the module has no class", err)
	}
	if _, err := os.Stat("/sys/class/ioctltest"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("/sys/class/ioctltest exists (stat: %v); the module has no class", err)
	}
	if b, err := os.ReadFile(fmt.Sprintf("/sys/dev/char/%d:0/uevent", maj)); err == nil {
		t.Errorf("a device %d:0 is known to sysfs: %s", maj, b)
	}

	fd := open(t, node)
	wantByte(t, fd, 0xff)
	unix.Close(fd)

	if _, err := unix.Open(mknod(t, 1), unix.O_RDONLY, 0); !errors.Is(err, unix.ENXIO) {
		t.Errorf("open of minor 1: %v, want ENXIO (the cdev covers minor 0 only)", err)
	}

	m.Unload(t)
	log.Want(t, "ioctl: unregistered ioctltest")
	if _, ok := major(t); ok {
		t.Error("/proc/devices still lists ioctltest after the unload")
	}
	if _, err := unix.Open(node, unix.O_RDONLY, 0); !errors.Is(err, unix.ENXIO) {
		t.Errorf("open of the node after the unload: %v, want ENXIO", err)
	}
	log.Clean(t)
}

// TestReadFillsTheBuffer: a fresh open has the byte 0xff and every read
// fills the whole buffer with it, whatever its size or alignment, at any
// offset, and never comes to an end; the position does not move; writing
// is not supported.
func TestReadFillsTheBuffer(t *testing.T) {
	_, node := setup(t)
	fd := open(t, node)
	wantByte(t, fd, 0xff)

	if n, err := unix.Read(fd, nil); n != 0 || err != nil {
		t.Errorf("read of 0 bytes = %d, %v; want 0", n, err)
	}
	for _, n := range []int{1, 2, 7, 8, 9, 63, 64, 65, 4095, 4096, 4097, 3*4096 + 5, 1 << 20} {
		wantRead(t, fd, n, 0xff)
	}
	// Every alignment of the buffer's start and end: the module stores a
	// word at a time once aligned, a byte at a time at the edges.
	big := make([]byte, 4096+64)
	for start := 0; start < 16; start++ {
		for _, n := range []int{1, 15, 16, 17, 4096 + 3} {
			clear(big)
			got, err := unix.Read(fd, big[start:start+n])
			if err != nil || got != n {
				t.Fatalf("read of %d bytes at buffer offset %d = %d, %v", n, start, got, err)
			}
			if !uniform(big[start:start+n], 0xff) || !uniform(big[:start], 0) || !uniform(big[start+n:], 0) {
				t.Fatalf("read of %d bytes at buffer offset %d wrote outside its buffer or left gaps", n, start)
			}
		}
	}
	// Forever: a thousand reads later (guesttest.Rounds: fewer on the
	// debug kernel) it still fills the buffer.
	buf := make([]byte, 64<<10)
	for i := range guesttest.Rounds(1000) {
		if n, err := unix.Read(fd, buf); n != len(buf) || err != nil {
			t.Fatalf("read %d = %d, %v; want %d", i, n, err, len(buf))
		}
	}
	if !uniform(buf, 0xff) {
		t.Error("the last read is not all 0xff")
	}
	// pread at any offset gives the same bytes; the position stays 0.
	for _, off := range []int64{0, 1, 4095, 1 << 20, 1 << 40} {
		clear(buf[:100])
		if n, err := unix.Pread(fd, buf[:100], off); n != 100 || err != nil || !uniform(buf[:100], 0xff) {
			t.Errorf("pread(100 bytes at %d) = %d, %v, % x...", off, n, err, buf[:4])
		}
	}
	if pos, err := unix.Seek(fd, 0, unix.SEEK_CUR); pos != 0 || err != nil {
		t.Errorf("position after reading = %d, %v; want 0", pos, err)
	}

	// Writing is not supported: the file has no write operation.
	wfd := open(t, node, unix.O_RDWR)
	if n, err := unix.Write(wfd, []byte("x")); !errors.Is(err, unix.EINVAL) {
		t.Errorf("write = %d, %v; want EINVAL", n, err)
	}
}

// TestSetGet: both ways of setting round-trip through both ways of
// getting and through read; VALSET_NUM refuses ints that are no byte and
// leaves the byte alone.
func TestSetGet(t *testing.T) {
	_, node := setup(t)
	fd := open(t, node)
	for _, v := range []byte{0x00, 0x01, 0x41, 0x7f, 0x80, 0xa5, 0xfe, 0xff} {
		if err := uapi.Set(fd, v); err != nil {
			t.Fatalf("IOCTL_VALSET %#x: %v", v, err)
		}
		wantByte(t, fd, v)
		wantRead(t, fd, 4099, v)

		w := ^v
		if err := uapi.SetNum(fd, int32(w)); err != nil {
			t.Fatalf("IOCTL_VALSET_NUM %d: %v", w, err)
		}
		wantByte(t, fd, w)
		wantRead(t, fd, 100, w)
	}

	if err := uapi.Set(fd, 0x3c); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int32{-1, 256, 257, 1 << 30, -1 << 31, 1<<31 - 1} {
		if err := uapi.SetNum(fd, n); !errors.Is(err, unix.EINVAL) {
			t.Errorf("IOCTL_VALSET_NUM %d: %v, want EINVAL", n, err)
		}
	}
	wantByte(t, fd, 0x3c)
}

// TestOpensAreIndependent: the byte belongs to the open file, not to the
// device: two opens never see each other's, a dup shares its file's, and a
// new open starts at 0xff again.
func TestOpensAreIndependent(t *testing.T) {
	_, node := setup(t)
	a, b := open(t, node), open(t, node)
	if err := uapi.Set(a, 0x11); err != nil {
		t.Fatal(err)
	}
	wantByte(t, b, 0xff)
	if err := uapi.SetNum(b, 0x22); err != nil {
		t.Fatal(err)
	}
	wantByte(t, a, 0x11)
	wantRead(t, a, 8192, 0x11)
	wantRead(t, b, 8192, 0x22)

	d, err := unix.Dup(a)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(d)
	if err := uapi.Set(d, 0x33); err != nil {
		t.Fatal(err)
	}
	wantByte(t, a, 0x33) // the same struct file
	wantByte(t, b, 0x22)

	unix.Close(a)
	unix.Close(d)
	wantByte(t, b, 0x22)
	wantByte(t, open(t, node), 0xff)
}

// TestUnknownCommands: anything but our four commands is ENOTTY and
// changes nothing: the spec's raw number 3, our numbers with another size,
// direction or type byte, and other drivers' commands. Commands the VFS
// itself handles (FIOCLEX) never reach the driver.
func TestUnknownCommands(t *testing.T) {
	_, node := setup(t)
	fd := open(t, node)
	if err := uapi.Set(fd, 0x5a); err != nil {
		t.Fatal(err)
	}
	const (
		dirW, dirR = 1 << 30, 2 << 30
		magic      = uapi.Magic << 8
	)
	var arg [8]byte
	for _, tc := range []struct {
		name string
		cmd  uintptr
	}{
		{"raw 3 (the spec's userland)", 3},
		{"0", 0},
		{"_IO(magic, 0)", magic},
		{"VALSET with an int size", dirW | 4<<16 | magic | 0},
		{"VALGET with direction write", dirW | 1<<16 | magic | 1},
		{"VALGET_NUM with a long size", dirR | 8<<16 | magic | 2},
		{"number 4", dirW | 4<<16 | magic | 4},
		{"VALSET with type 'g'", dirW | 1<<16 | 'g'<<8 | 0},
		{"FS_IOC_GETFLAGS", dirR | 8<<16 | 'f'<<8 | 1},
		{"TCGETS", unix.TCGETS},
		{"FIONREAD", 0x541b},
	} {
		_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), tc.cmd, uintptr(unsafe.Pointer(&arg)))
		if e != unix.ENOTTY {
			t.Errorf("ioctl %s (%#x): %v, want ENOTTY", tc.name, tc.cmd, e)
		}
	}
	if arg != [8]byte{} {
		t.Errorf("an unknown command wrote to its argument: % x", arg)
	}
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), 0x5451, 0); e != 0 {
		t.Errorf("FIOCLEX, which the VFS answers: %v", e)
	}
	wantByte(t, fd, 0x5a)
}

// mapping is some pages of anonymous memory.
type mapping struct {
	p    unsafe.Pointer
	size uintptr
}

var page = uintptr(os.Getpagesize())

// mapPages maps n pages with the given protection; unmapped at the end of
// the test.
func mapPages(t *testing.T, n int, prot int) mapping {
	t.Helper()
	size := uintptr(n) * page
	p, err := unix.MmapPtr(-1, 0, nil, size, prot, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatalf("mmap: %v", err)
	}
	t.Cleanup(func() { unix.MunmapPtr(p, size) })
	return mapping{p, size}
}

// mapped reports whether the page at addr is mapped (mincore says ENOMEM
// for an unmapped one).
func mapped(addr uintptr) bool {
	var vec [1]byte
	_, _, e := unix.Syscall(unix.SYS_MINCORE, addr, page, uintptr(unsafe.Pointer(&vec[0])))
	return e != unix.ENOMEM
}

// withHole calls f with an address where nothing is mapped: a page that
// was mapped and unmapped again. Since a later mmap (the Go runtime's, say)
// may take the page again, it checks afterwards that it was still a hole,
// and tries again if not.
func withHole(t *testing.T, f func(addr uintptr)) {
	t.Helper()
	for range 5 {
		p, err := unix.MmapPtr(-1, 0, nil, page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
		if err != nil {
			t.Fatalf("mmap: %v", err)
		}
		if err := unix.MunmapPtr(p, page); err != nil {
			t.Fatal(err)
		}
		addr := uintptr(p)
		if mapped(addr) {
			continue
		}
		f(addr)
		if !mapped(addr) {
			return
		}
	}
	t.Fatal("could not keep an unmapped page unmapped")
}

// TestBadPointers: each command given an address it cannot use fails
// with EFAULT and changes nothing: nothing mapped (address 1, an unmapped
// page), a read-only page where the kernel must write, a page without
// access where it must read, a kernel address. read(2) into such memory
// fails the same way, and a buffer that runs into an unmapped page gives a
// short read of exactly the bytes before it.
func TestBadPointers(t *testing.T) {
	_, node := setup(t)
	fd := open(t, node)
	if err := uapi.Set(fd, 0x77); err != nil {
		t.Fatal(err)
	}
	ro := mapPages(t, 1, unix.PROT_READ)
	none := mapPages(t, 1, unix.PROT_NONE)
	const kernelAddr = 0xffff888000000000

	type badArg struct {
		name string
		addr uintptr
	}
	everywhere := []badArg{{"address 1", 1}, {"a kernel address", kernelAddr}}
	for _, tc := range []struct {
		name string
		cmd  uintptr
		bad  []badArg
	}{
		{"IOCTL_VALSET", uapi.ValSet, append(everywhere, badArg{"a PROT_NONE page", uintptr(none.p)})},
		{"IOCTL_VALSET_NUM", uapi.ValSetNum, append(everywhere, badArg{"a PROT_NONE page", uintptr(none.p)})},
		{"IOCTL_VALGET", uapi.ValGet, append(everywhere, badArg{"a read-only page", uintptr(ro.p)})},
		{"IOCTL_VALGET_NUM", uapi.ValGetNum, append(everywhere, badArg{"a read-only page", uintptr(ro.p)})},
	} {
		for _, b := range tc.bad {
			_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), tc.cmd, b.addr)
			if e != unix.EFAULT {
				t.Errorf("%s with %s (%#x): %v, want EFAULT", tc.name, b.name, b.addr, e)
			}
		}
		withHole(t, func(addr uintptr) {
			if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), tc.cmd, addr); e != unix.EFAULT {
				t.Errorf("%s with an unmapped page (%#x): %v, want EFAULT", tc.name, addr, e)
			}
		})
	}
	wantByte(t, fd, 0x77)

	for _, b := range append(everywhere, badArg{"a read-only page", uintptr(ro.p)}) {
		n, _, e := unix.Syscall(unix.SYS_READ, uintptr(fd), b.addr, 4096)
		if e != unix.EFAULT {
			t.Errorf("read into %s (%#x): %d, %v; want EFAULT", b.name, b.addr, int(n), e)
		}
	}
	withHole(t, func(addr uintptr) {
		if n, _, e := unix.Syscall(unix.SYS_READ, uintptr(fd), addr, 4096); e != unix.EFAULT {
			t.Errorf("read into an unmapped page (%#x): %d, %v; want EFAULT", addr, int(n), e)
		}
	})

	// A buffer whose end runs into an unmapped page: the read stops at
	// the page boundary and says how much it stored.
	two := mapPages(t, 2, unix.PROT_READ|unix.PROT_WRITE)
	if err := unix.MunmapPtr(unsafe.Add(two.p, page), page); err != nil {
		t.Fatal(err)
	}
	first := unsafe.Slice((*byte)(two.p), page)
	for _, start := range []uintptr{0, 3, page - 5, page - 1} {
		clear(first)
		n, _, e := unix.Syscall(unix.SYS_READ, uintptr(fd), uintptr(two.p)+start, 2*page)
		if e != 0 || uintptr(n) != page-start {
			t.Errorf("read of %d bytes from %d bytes before a hole = %d, %v; want %d", 2*page, page-start, int(n), e, page-start)
			continue
		}
		if !uniform(first[start:], 0x77) || !uniform(first[:start], 0) {
			t.Errorf("the short read from offset %d did not fill exactly its part of the page", start)
		}
	}
}

// TestConcurrentOpeners: several openers at once, each setting, getting
// and reading its own byte, never see another's; and readers sharing one
// open with a setter always get a read of one byte, never a mix.
func TestConcurrentOpeners(t *testing.T) {
	_, node := setup(t)
	const openers = 6
	rounds := guesttest.Rounds(300)
	var wg sync.WaitGroup
	for i := range openers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fd, err := unix.Open(node, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				t.Errorf("opener %d: %v", i, err)
				return
			}
			defer unix.Close(fd)
			buf := make([]byte, 8192+i)
			for r := range rounds {
				v := byte(i*40 + r%3) // distinct per opener
				set := uapi.Set
				if r%2 == 1 {
					set = func(fd int, v byte) error { return uapi.SetNum(fd, int32(v)) }
				}
				if err := set(fd, v); err != nil {
					t.Errorf("opener %d: set: %v", i, err)
					return
				}
				if n, err := unix.Read(fd, buf); n != len(buf) || err != nil || !uniform(buf, v) {
					t.Errorf("opener %d round %d: read %d, %v, want %d bytes of %#x (got % x...)", i, r, n, err, len(buf), v, buf[:4])
					return
				}
				if got, err := uapi.Get(fd); got != v || err != nil {
					t.Errorf("opener %d round %d: get %#x, %v; want %#x", i, r, got, err, v)
					return
				}
			}
		}()
	}
	wg.Wait()

	// One open shared by a setter and readers: each read sees one value.
	fd := open(t, node)
	stop := make(chan struct{})
	var setter sync.WaitGroup
	setter.Add(1)
	go func() {
		defer setter.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := uapi.Set(fd, byte(i&1)*0xff); err != nil {
				t.Errorf("setter: %v", err)
				return
			}
		}
	}()
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 256<<10)
			for r := range guesttest.Rounds(50) {
				n, err := unix.Read(fd, buf)
				if n != len(buf) || err != nil || !(uniform(buf, 0) || uniform(buf, 0xff)) {
					t.Errorf("reader %d round %d: %d, %v: a read mixed values or came short", i, r, n, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	setter.Wait()
}

// TestOpenPinsModule: while the device is open the module cannot go (the
// fops' owner holds a reference); the open keeps working; after the
// close the unload succeeds.
func TestOpenPinsModule(t *testing.T) {
	m, node := setup(t)
	fd := open(t, node)
	if err := uapi.Set(fd, 0x42); err != nil {
		t.Fatal(err)
	}
	if err := m.TryUnload(); !errors.Is(err, unix.EWOULDBLOCK) {
		t.Fatalf("rmmod while open: %v, want EWOULDBLOCK (in use)", err)
	}
	wantByte(t, fd, 0x42)
	wantRead(t, fd, 100, 0x42)
	unix.Close(fd)
	m.Unload(t)
}

// TestLoadUnloadCycles: 100 loads and unloads (fewer on the debug kernel:
// guesttest.Rounds), each used in between; the lab's log and taint checks
// around the test catch any kernel bug.
func TestLoadUnloadCycles(t *testing.T) {
	cycles := guesttest.Rounds(100)
	log := guesttest.KernelLog(t)
	buf := make([]byte, 4096)
	for i := range cycles {
		if err := guesttest.TryLoad(t, module); err != nil {
			t.Fatalf("cycle %d: load: %v", i, err)
		}
		m := &guesttest.Module{Name: module}
		maj, ok := major(t)
		if !ok {
			t.Fatalf("cycle %d: no ioctltest in /proc/devices", i)
		}
		node := filepath.Join(t.TempDir(), "n")
		if err := unix.Mknod(node, unix.S_IFCHR|0o600, int(unix.Mkdev(maj, 0))); err != nil {
			t.Fatal(err)
		}
		fd, err := unix.Open(node, unix.O_RDONLY, 0)
		if err != nil {
			t.Fatalf("cycle %d: open: %v", i, err)
		}
		v := byte(i)
		if err := uapi.Set(fd, v); err != nil {
			t.Fatalf("cycle %d: set: %v", i, err)
		}
		if n, err := unix.Read(fd, buf); n != len(buf) || err != nil || !uniform(buf, v) {
			t.Fatalf("cycle %d: read %d, %v", i, n, err)
		}
		unix.Close(fd)
		if err := m.TryUnload(); err != nil {
			t.Fatalf("cycle %d: unload: %v", i, err)
		}
		if _, ok := major(t); ok {
			t.Fatalf("cycle %d: ioctltest still in /proc/devices after the unload", i)
		}
	}
	n := 0
	for _, l := range log.Lines() {
		if strings.Contains(l, "ioctl: unregistered ioctltest") {
			n++
		}
	}
	if n != cycles {
		t.Errorf("the kernel log has %d unload lines, want %d", n, cycles)
	}
	log.Clean(t)
}

// ctl runs the ioctlctl client the lab built for the guest
// ($MODLAB_DIR/bin) as root, or as the user uid from a copy in a directory
// anyone may enter.
func ctl(t *testing.T, uid uint32, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	bin := filepath.Join(guesttest.Dir(), "bin", "ioctlctl")
	if uid != 0 {
		b, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		bin = filepath.Join(publicDir(t), "ioctlctl")
		if err := os.WriteFile(bin, b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(bin, args...)
	if uid != 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("ioctlctl: %v", err)
	}
	return out.String(), errb.String(), code
}

// publicDir makes a directory under /tmp that every user may enter
// (t.TempDir's parent is private to root), removed at the end of the test.
func publicDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("/tmp", "ioctltest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestIoctlctl drives the client: mknod from /proc/devices, get, set (and
// get on the same open), read with a set, the int commands, errors with
// the errno decoded (exit 1) and usage errors (exit 2).
func TestIoctlctl(t *testing.T) {
	m := guesttest.Load(t, module)
	maj, _ := major(t)
	dir := publicDir(t)
	node := filepath.Join(dir, "ioctltest")

	type want struct {
		code   int
		stdout string // exact
		stderr string // a regexp, must match all of stderr
	}
	check := func(uid uint32, w want, args ...string) {
		t.Helper()
		out, errOut, code := ctl(t, uid, args...)
		if code != w.code || out != w.stdout || !regexp.MustCompile(`^(?s)`+w.stderr+`$`).MatchString(errOut) {
			t.Errorf("ioctlctl %s (uid %d): exit %d, stdout %q, stderr %q; want exit %d, stdout %q, stderr matching %q",
				strings.Join(args, " "), uid, code, out, errOut, w.code, w.stdout, w.stderr)
		}
	}
	ok := func(stdout string) want { return want{0, stdout, ""} }
	fail := func(stderr string) want { return want{1, "", regexp.QuoteMeta(stderr)} }
	usage := func(msg string) want { return want{2, "", regexp.QuoteMeta("ioctlctl: "+msg+"\nUsage:") + ".*"} }

	check(0, ok(fmt.Sprintf("%s: c %d 0\n", node, maj)), "mknod", node)
	var st unix.Stat_t
	if err := unix.Stat(node, &st); err != nil || st.Mode != unix.S_IFCHR|0o666 || st.Rdev != unix.Mkdev(maj, 0) {
		t.Errorf("the node: mode %o, rdev %#x, %v; want a character device %d:0 with mode 0666", st.Mode, st.Rdev, err, maj)
	}
	check(0, fail("ioctlctl: mknod "+node+": EEXIST (file exists)\n"), "mknod", node)
	check(0, ok(fmt.Sprintf("%s: c %d 0\n", node, maj)), "mknod", "-f", node)

	check(0, ok("0xff\n"), "get", node)
	check(0, ok("0xff\n"), "get", "--num", node)
	check(0, ok("0x41\n"), "set", node, "0x41")
	check(0, ok("0xc8\n"), "set", "--num", node, "200")
	check(0, ok("0x07\n"), "set", node, "07")
	check(0, ok("0xff\n"), "get", node) // each command is a new open
	check(0, ok("00000000  41 41 41 41 41 41 41 41  41 41 41 41 41 41 41 41  |AAAAAAAAAAAAAAAA|\n"+
		"00000010  41 41 41 41                                       |AAAA|\n"), "read", node, "20", "--set", "0x41")
	check(0, ok("00000000  00 00 00                                          |...|\n"), "read", "--num", "--set", "0", node, "3")
	check(0, ok("00000000  ff ff                                             |..|\n"), "read", node, "2")
	check(0, ok(""), "read", node, "0")

	// Anyone may use a node ioctlctl made (mode 0666).
	check(1000, ok("0x10\n"), "set", node, "16")

	check(0, fail("ioctlctl: /dev/null: IOCTL_VALGET: ENOTTY (inappropriate ioctl for device)\n"), "get", "/dev/null")
	check(0, fail("ioctlctl: open "+dir+"/none: ENOENT (no such file or directory)\n"), "get", dir+"/none")
	check(0, usage(`"300" is not a byte (0..255, or 0x00..0xff)`), "set", node, "300")
	check(0, usage("get takes 1 argument(s), got 2"), "get", node, "x")
	check(0, usage(`unknown command "put"`), "put", node)
	check(0, usage("no command"))

	m.Unload(t)
	check(0, fail("ioctlctl: open "+node+": ENXIO (no such device or address)\n"), "get", node)
	check(0, fail("ioctlctl: mknod "+dir+"/again: /proc/devices: no character device \"ioctltest\" (is the module loaded?)\n"), "mknod", dir+"/again")
}

// TestIoctlctlSideBySide: several ioctlctl processes reading at once, each
// with its own byte, each dump shows only its own.
func TestIoctlctlSideBySide(t *testing.T) {
	guesttest.Load(t, module)
	node := filepath.Join(t.TempDir(), "ioctltest")
	if _, errOut, code := ctl(t, 0, "mknod", node); code != 0 {
		t.Fatalf("mknod: %s", errOut)
	}
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := fmt.Sprintf("%02x", 0x30+i)
			out, errOut, code := ctl(t, 0, "read", node, "4096", "--set", "0x"+v)
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			if code != 0 || len(lines) != 256 {
				t.Errorf("reader %s: exit %d, %d lines, stderr %q", v, code, len(lines), errOut)
				return
			}
			row := strings.TrimSpace(strings.Repeat(v+" ", 8) + " " + strings.Repeat(v+" ", 8))
			for _, l := range lines {
				if !strings.Contains(l, row) {
					t.Errorf("reader %s: line %q", v, l)
					return
				}
			}
		}()
	}
	wg.Wait()
}
