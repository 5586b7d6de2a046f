//go:build modlab_guest

package chardev2_test

// The concurrency tests: many users at once, and system calls stopped in
// the middle of a copy.

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/modlab/modlab/examples/chardev2/uapi"
	"github.com/modlab/modlab/lab/guesttest"
)

// The concurrency test's messages: full-length ones of distinct bytes and
// shorter ones, so that any mix of two (bytes of one and the length or
// bytes of another) is none of them.
func concurrentMessages() []string {
	var msgs []string
	for _, c := range "abcdef" {
		msgs = append(msgs, strings.Repeat(string(c), uapi.BufLen))
	}
	return append(msgs, strings.Repeat("g", 40), strings.Repeat("h", 79), "i")
}

const writerEnv = "CHARDEV2_TEST_WRITER"

// writerProcess sets the messages named by spec ("i,j,...:millis") in turn
// until the time is up, alternating IOCTL_SET_MSG and a write at 0.
func writerProcess(spec string) int {
	var idx []int
	var ms int
	list, dur, _ := strings.Cut(spec, ":")
	for _, s := range strings.Split(list, ",") {
		var i int
		fmt.Sscan(s, &i)
		idx = append(idx, i)
	}
	fmt.Sscan(dur, &ms)
	msgs := concurrentMessages()
	fd, err := unix.Open(uapi.DevicePath, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	end := time.Now().Add(time.Duration(ms) * time.Millisecond)
	for n := 0; time.Now().Before(end); n++ {
		m := msgs[idx[n%len(idx)]]
		if n%2 == 0 {
			err = uapi.SetMsg(fd, m)
		} else {
			_, err = unix.Pwrite(fd, []byte(m), 0)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return 0
}

// TestConcurrentSetGet: goroutines and two other processes set different
// messages as fast as they can for 3 seconds (a second on the debug kernel:
// guesttest.StressTime) while readers get it with IOCTL_GET_MSG and read;
// every message read must be exactly one of those written.
func TestConcurrentSetGet(t *testing.T) {
	load(t)
	msgs := concurrentMessages()
	valid := map[string]bool{}
	for _, m := range msgs {
		valid[m] = true
	}
	set(t, open(t), msgs[0])

	runFor := guesttest.StressTime(3 * time.Second)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var procs []*exec.Cmd
	for _, list := range []string{"0,6,8", "5,7,1"} {
		cmd := exec.Command(self)
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s:%d", writerEnv, list, runFor.Milliseconds()))
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs = append(procs, cmd)
	}

	end := time.Now().Add(runFor)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var torn []string
	var reads, writes int
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fd, err := unix.Open(uapi.DevicePath, unix.O_RDWR|unix.O_CLOEXEC, 0)
			if err != nil {
				t.Error(err)
				return
			}
			defer unix.Close(fd)
			n := 0
			for ; time.Now().Before(end); n++ {
				m := msgs[(w*3+n)%len(msgs)]
				if n%2 == 0 {
					err = uapi.SetMsg(fd, m)
				} else {
					_, err = unix.Pwrite(fd, []byte(m), 0)
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
			mu.Lock()
			writes += n
			mu.Unlock()
		}()
	}
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fd, err := unix.Open(uapi.DevicePath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				t.Error(err)
				return
			}
			defer unix.Close(fd)
			buf := make([]byte, 2*uapi.BufLen)
			n := 0
			var bad []string
			for ; time.Now().Before(end); n++ {
				var got string
				if n%2 == 0 {
					got, err = uapi.GetMsg(fd)
				} else {
					var k int
					k, err = unix.Pread(fd, buf, 0)
					got = string(buf[:max(k, 0)])
				}
				if err != nil {
					t.Error(err)
					return
				}
				if !valid[got] && len(bad) < 5 {
					bad = append(bad, got)
				}
			}
			mu.Lock()
			reads += n
			torn = append(torn, bad...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	for _, cmd := range procs {
		if err := cmd.Wait(); err != nil {
			t.Errorf("writer process: %v", err)
		}
	}
	t.Logf("%d reads, %d writes in this process (and two writer processes) in %v", reads, writes, runFor)
	if len(torn) > 0 {
		t.Errorf("%d torn messages, e.g. %q", len(torn), torn[0])
	}
	if reads < 100 {
		t.Errorf("only %d reads in %v: the readers did not run", reads, runFor)
	}
}

// stall is two pages whose second faults until the test releases it: a
// userfaultfd(2) holds any access there, from user space or from the
// kernel's copy_from_user, until UFFDIO_COPY fills the page. It stops a
// system call in the middle of copying a buffer that straddles the two
// pages, which on the lab's one CPU no amount of hammering does reliably.
type stall struct {
	uffd     int
	mem      []byte // both pages; touch only the first until release
	size     int
	released bool
}

// userfaultfd's interface (linux/userfaultfd.h).
const (
	uffdAPI              = 0xAA
	uffdEventPagefault   = 0x12
	uffdRegisterMissing  = 1
	sizeofUffdioAPI      = 24
	sizeofUffdioRegister = 32
	sizeofUffdioCopy     = 40
	sizeofUffdMsg        = 32
)

var (
	uffdioAPI      = ioc(3, 0xAA, 0x3F, sizeofUffdioAPI)
	uffdioRegister = ioc(3, 0xAA, 0x00, sizeofUffdioRegister)
	uffdioCopy     = ioc(3, 0xAA, 0x03, sizeofUffdioCopy)
)

func newStall(t *testing.T) *stall {
	t.Helper()
	size := os.Getpagesize()
	ptr, err := unix.MmapPtr(-1, 0, nil, uintptr(2*size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.MunmapPtr(ptr, uintptr(2*size)) })
	s := &stall{mem: unsafe.Slice((*byte)(ptr), 2*size), size: size}
	fd, _, errno := unix.Syscall(unix.SYS_USERFAULTFD, unix.O_CLOEXEC, 0, 0)
	if errno == unix.ENOSYS {
		t.Skip("this kernel has no userfaultfd (CONFIG_USERFAULTFD is off)")
	}
	if errno != 0 {
		t.Fatalf("userfaultfd: %v", errno)
	}
	s.uffd = int(fd)
	t.Cleanup(func() { unix.Close(s.uffd) })
	api := struct{ API, Features, Ioctls uint64 }{API: uffdAPI}
	if _, err := ioctl(s.uffd, uffdioAPI, uintptr(unsafe.Pointer(&api))); err != nil {
		t.Fatalf("UFFDIO_API: %v", err)
	}
	reg := struct{ Start, Len, Mode, Ioctls uint64 }{Start: uint64(s.page2()), Len: uint64(size), Mode: uffdRegisterMissing}
	if _, err := ioctl(s.uffd, uffdioRegister, uintptr(unsafe.Pointer(&reg))); err != nil {
		t.Fatalf("UFFDIO_REGISTER: %v", err)
	}
	return s
}

// page2 is the address of the page that stalls.
func (s *stall) page2() uintptr { return uintptr(unsafe.Pointer(&s.mem[0])) + uintptr(s.size) }

// wait returns once something has faulted on the second page.
func (s *stall) wait(t *testing.T) {
	t.Helper()
	fds := []unix.PollFd{{Fd: int32(s.uffd), Events: unix.POLLIN}}
	wait := time.Duration(guesttest.Slowdown()) * 10 * time.Second
	if n, err := unix.Poll(fds, int(wait.Milliseconds())); n != 1 || err != nil {
		t.Fatalf("no fault on the stalled page within %v (poll: %d, %v)", wait, n, err)
	}
	msg := make([]byte, sizeofUffdMsg)
	if n, err := unix.Read(s.uffd, msg); n != sizeofUffdMsg || err != nil {
		t.Fatalf("read userfaultfd: %d, %v", n, err)
	}
	addr := uintptr(*(*uint64)(unsafe.Pointer(&msg[16]))) &^ uintptr(s.size-1)
	if msg[0] != uffdEventPagefault || addr != s.page2() {
		t.Fatalf("userfaultfd event %#x at %#x, want a page fault at %#x", msg[0], addr, s.page2())
	}
}

// release fills the second page with content (zeros after it), which lets
// the stalled access go on. Only the first call does anything.
func (s *stall) release(t *testing.T, content []byte) {
	t.Helper()
	if s.released {
		return
	}
	s.released = true
	src := make([]byte, s.size)
	copy(src, content)
	cp := struct {
		Dst, Src, Len, Mode uint64
		Copy                int64
	}{Dst: uint64(s.page2()), Src: uint64(uintptr(unsafe.Pointer(&src[0]))), Len: uint64(s.size)}
	_, err := ioctl(s.uffd, uffdioCopy, uintptr(unsafe.Pointer(&cp)))
	runtime.KeepAlive(src)
	if err != nil || cp.Copy != int64(s.size) {
		t.Fatalf("UFFDIO_COPY: %v (copied %d)", err, cp.Copy)
	}
}

// within runs f and fails the test if it has not returned in 2 seconds
// (times the kernel's slowdown); it then waits for f anyway (after
// unstall, which lets it finish).
func within(t *testing.T, what string, f func(), unstall func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
		return
	case <-time.After(time.Duration(guesttest.Slowdown()) * 2 * time.Second):
		t.Errorf("%s waited for a system call stalled in a page fault: a lock is held across a user copy", what)
	}
	unstall()
	<-done
}

// TestStalledCopyNeverTears stops each operation that copies a message
// between user and kernel in the middle of the copy (the user's buffer
// straddles a page held by userfaultfd) and meanwhile uses the device from
// another file: the others see whole messages only, old or new, and are
// not held up. A driver that copied straight into or out of the shared
// message, as the original did byte by byte, fails here even on one CPU.
func TestStalledCopyNeverTears(t *testing.T) {
	load(t)
	fd, other := open(t), open(t)
	const half = uapi.BufLen / 2
	oldMsg := strings.Repeat("A", uapi.BufLen)
	newMsg := strings.Repeat("B", uapi.BufLen)
	valid := map[string]bool{oldMsg: true, newMsg: true}
	buf := make([]byte, 2*uapi.BufLen)
	// look reads the message from the other file both ways: whole ones only.
	look := func(when string, want map[string]bool) {
		got, err := uapi.GetMsg(other)
		if err != nil || !want[got] {
			t.Errorf("%s: IOCTL_GET_MSG = %q, %v", when, got, err)
		}
		n, err := unix.Pread(other, buf, 0)
		if err != nil || !want[string(buf[:max(n, 0)])] {
			t.Errorf("%s: pread = %q, %v", when, buf[:max(n, 0)], err)
		}
	}

	// Setting: the new message's first half is in memory, its second
	// half stalls.
	for _, how := range []string{"IOCTL_SET_MSG", "write"} {
		set(t, fd, oldMsg)
		s := newStall(t)
		start := s.page2() - half
		copy(s.mem[s.size-half:], newMsg[:half])
		done := make(chan error, 1)
		go func() {
			var err error
			if how == "write" {
				_, _, errno := unix.Syscall6(unix.SYS_PWRITE64, uintptr(fd), start, uapi.BufLen, 0, 0, 0)
				if errno != 0 {
					err = errno
				}
			} else {
				_, err = ioctl(fd, uapi.IoctlSetMsg, start)
			}
			done <- err
		}()
		s.wait(t)
		rest := []byte(newMsg[half:] + "\x00")
		within(t, how+" stalled: the other file", func() {
			look(how+" stalled halfway", map[string]bool{oldMsg: true})
		}, func() { s.release(t, rest) })
		s.release(t, rest)
		if err := <-done; err != nil {
			t.Errorf("%s after the stall: %v", how, err)
		}
		look(how+" done", map[string]bool{newMsg: true})
	}

	// Getting: the reader's buffer stalls halfway while another file sets
	// a new message; the reader gets one message whole.
	for _, how := range []string{"IOCTL_GET_MSG", "read"} {
		set(t, fd, oldMsg)
		s := newStall(t)
		start := s.page2() - half
		done := make(chan error, 1)
		go func() {
			var err error
			if how == "read" {
				_, _, errno := unix.Syscall6(unix.SYS_PREAD64, uintptr(fd), start, uapi.BufLen, 0, 0, 0)
				if errno != 0 {
					err = errno
				}
			} else {
				_, err = ioctl(fd, uapi.IoctlGetMsg, start)
			}
			done <- err
		}()
		s.wait(t)
		within(t, how+" stalled: IOCTL_SET_MSG on the other file", func() {
			if err := uapi.SetMsg(other, newMsg); err != nil {
				t.Errorf("IOCTL_SET_MSG while %s was stalled: %v", how, err)
			}
		}, func() { s.release(t, nil) })
		s.release(t, nil)
		if err := <-done; err != nil {
			t.Fatalf("%s after the stall: %v", how, err)
		}
		got := string(s.mem[s.size-half : s.size+half])
		if !valid[got] {
			t.Errorf("%s stalled halfway while the message changed got %q, want one message whole", how, got)
		}
		look(how+" done", map[string]bool{newMsg: true})
	}
}
