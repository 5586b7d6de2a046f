//go:build modlab_guest

// Package chardev_test checks, inside the lab's VM, what a user of
// chardev.ko sees: /dev/chardev appears with the major in /proc/devices and
// goes with the module; each open gets a new message whose count is the
// number of opens; reads honour the offset, at any size and through pread
// and lseek; a bad buffer gives EFAULT; writes give EINVAL; one opener at a
// time, even with 8 processes racing; rmmod fails while the device is open
// and works after the close; 100 load/unload cycles (stress loops run
// fewer rounds on the slower debug kernel: guesttest.Rounds). It also runs
// `modlab uevent` on the real kernel: the monitor shows the device's add
// and remove events, and the example's rules file (99-chardev.rules) runs
// its trigger when the module is loaded and unloaded. `modlab test chardev`
// runs it.
//
// The tests do not run in parallel: they share one kernel, and the module
// can only be loaded once at a time.
package chardev_test

import (
	"bufio"
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/modlab/modlab/internal/cli"
	"github.com/modlab/modlab/lab/guesttest"
)

const (
	dev     = "/dev/chardev"
	sysDev  = "/sys/class/chardev/chardev"
	devPath = "/devices/virtual/chardev/chardev"
)

//go:embed 99-chardev.rules
var chardevRules string

// triggerLog is where 99-chardev.rules's commands write (the spec's log).
const triggerLog = "/tmp/chardev_trigger.log"

func msg(n int) string { return fmt.Sprintf("I already told you %d times Hello world!\n", n) }

// load loads chardev.ko; it is unloaded at the end of the test if still
// loaded.
func load(t *testing.T) *guesttest.Module {
	t.Helper()
	return guesttest.Load(t, "chardev")
}

// devFile is an open descriptor that the test's end closes if the test
// did not (a failed test must not leave the device busy, nor the module
// held, for the next one).
type devFile struct {
	fd   int
	open bool
}

func closeAtEnd(t *testing.T, fd int) *devFile {
	f := &devFile{fd: fd, open: true}
	t.Cleanup(f.Close)
	return f
}

func (f *devFile) Close() {
	if f.open {
		unix.Close(f.fd)
		f.open = false
	}
}

// openDev opens /dev/chardev read-only.
func openDev(t *testing.T) *devFile {
	t.Helper()
	fd, err := unix.Open(dev, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open %s: %v", dev, err)
	}
	return closeAtEnd(t, fd)
}

// readAll reads fd to the end in chunks of size bytes.
func readAll(t *testing.T, fd, size int) string {
	t.Helper()
	var out []byte
	buf := make([]byte, size)
	for {
		n, err := unix.Read(fd, buf)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if n == 0 {
			return string(out)
		}
		out = append(out, buf[:n]...)
	}
}

// readOnce opens the device, reads all of it and closes it.
func readOnce(t *testing.T) string {
	t.Helper()
	f := openDev(t)
	defer f.Close()
	return readAll(t, f.fd, 4096)
}

// procMajor is the major number /proc/devices gives the driver name among
// the character devices, or -1.
func procMajor(t *testing.T, name string) int {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(guesttest.ReadFile(t, "/proc/devices")))
	inChar := false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "Character devices:":
			inChar = true
		case line == "" || strings.HasSuffix(line, "devices:"):
			inChar = false
		case inChar:
			f := strings.Fields(line)
			if len(f) == 2 && f[1] == name {
				n, err := strconv.Atoi(f[0])
				if err != nil {
					t.Fatalf("/proc/devices line %q", line)
				}
				return n
			}
		}
	}
	return -1
}

// run runs one of modlab's commands in this process and returns what it
// printed and its exit status.
func run(argv ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	env := &cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: os.Getenv}
	code = cli.Main(env, append([]string{"modlab"}, argv...))
	return out.String(), errb.String(), code
}

// TestDeviceNode: loading makes /dev/chardev (devtmpfs, no mknod) with the
// major /proc/devices shows and minor 0, root's only; the class is in
// /sys/class; unloading takes all of it away again.
func TestDeviceNode(t *testing.T) {
	log := guesttest.KernelLog(t)
	m := load(t)
	major := procMajor(t, "chardev")
	if major <= 0 {
		t.Fatalf("/proc/devices has no character device chardev:\n%s", guesttest.ReadFile(t, "/proc/devices"))
	}
	log.Want(t, fmt.Sprintf("chardev: loaded: major %d, device /dev/chardev", major))

	var st unix.Stat_t
	if err := unix.Stat(dev, &st); err != nil {
		t.Fatalf("stat %s: %v", dev, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || unix.Major(st.Rdev) != uint32(major) || unix.Minor(st.Rdev) != 0 {
		t.Errorf("%s: mode %o, device %d:%d; want a character device %d:0", dev, st.Mode, unix.Major(st.Rdev), unix.Minor(st.Rdev), major)
	}
	if st.Mode&0o777 != 0o600 || st.Uid != 0 || st.Gid != 0 {
		t.Errorf("%s: permissions %o, owner %d:%d; want devtmpfs's default 600 root:root", dev, st.Mode&0o777, st.Uid, st.Gid)
	}
	if got := guesttest.ReadFile(t, sysDev+"/dev"); got != fmt.Sprintf("%d:0\n", major) {
		t.Errorf("%s/dev = %q", sysDev, got)
	}
	if got, want := guesttest.ReadFile(t, sysDev+"/uevent"), fmt.Sprintf("MAJOR=%d\nMINOR=0\nDEVNAME=chardev\n", major); got != want {
		t.Errorf("%s/uevent = %q, want %q", sysDev, got, want)
	}
	if target, err := os.Readlink(sysDev); err != nil || !strings.HasSuffix(target, devPath) {
		t.Errorf("%s links to %q (%v), want .../%s", sysDev, target, err, devPath)
	}

	// A user other than root may not open it (devtmpfs made it 0600).
	if out, err := worker(t, "open", 65534).CombinedOutput(); err != nil || string(out) != "permission denied\n" {
		t.Errorf("open as uid 65534: %q, %v; want permission denied", out, err)
	}

	m.Unload(t)
	for _, p := range []string{dev, sysDev, "/sys/class/chardev"} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s after unload: %v; want it gone", p, err)
		}
	}
	if procMajor(t, "chardev") != -1 {
		t.Errorf("/proc/devices still lists chardev after unload")
	}
	log.Want(t, "chardev: unloaded after 0 opens")
}

// TestMessage: each open writes the next message; the count starts again
// at each load; read at the end gives 0 bytes, again and again.
func TestMessage(t *testing.T) {
	log := guesttest.KernelLog(t)
	m := load(t)
	for i := 1; i <= 3; i++ {
		if got := readOnce(t); got != msg(i) {
			t.Fatalf("open %d read %q, want %q", i, got, msg(i))
		}
	}
	f := openDev(t)
	fd := f.fd
	if got := readAll(t, fd, 4096); got != msg(4) {
		t.Errorf("read %q, want %q", got, msg(4))
	}
	buf := make([]byte, 16)
	for i := 0; i < 3; i++ {
		if n, err := unix.Read(fd, buf); n != 0 || err != nil {
			t.Errorf("read at the end: %d, %v; want 0, nil", n, err)
		}
	}
	f.Close()
	m.Unload(t)
	log.Want(t, "chardev: unloaded after 4 opens")

	load(t)
	if got := readOnce(t); got != msg(1) {
		t.Errorf("after a reload: %q, want %q", got, msg(1))
	}
}

// TestReadOffsets: any read size gives the same bytes, the offset moves
// by what was read, pread reads at an offset without moving it, lseek
// works within the message.
func TestReadOffsets(t *testing.T) {
	load(t)
	whole := msg(1)
	if got := readOnce(t); got != whole {
		t.Fatalf("one big read: %q", got)
	}
	sizes := []int{1, 2, 3, 7, len(whole) - 1, len(whole), len(whole) + 1}
	for i, size := range sizes {
		f := openDev(t)
		fd := f.fd
		want := msg(i + 2)
		if got := readAll(t, fd, size); got != want {
			t.Errorf("reads of %d bytes: %q, want %q", size, got, want)
		}
		f.Close()
	}

	f := openDev(t)
	fd := f.fd
	defer f.Close()
	whole = msg(len(sizes) + 2)
	buf := make([]byte, 100)
	// A short read, then the rest.
	if n, err := unix.Read(fd, buf[:5]); n != 5 || err != nil || string(buf[:5]) != whole[:5] {
		t.Errorf("read of 5: %d %v %q", n, err, buf[:5])
	}
	if got := readAll(t, fd, 100); got != whole[5:] {
		t.Errorf("the rest: %q, want %q", got, whole[5:])
	}
	// pread at offsets, the file offset untouched.
	for _, off := range []int{0, 1, 10, len(whole) - 1, len(whole), len(whole) + 100} {
		n, err := unix.Pread(fd, buf, int64(off))
		want := ""
		if off < len(whole) {
			want = whole[off:]
		}
		if err != nil || string(buf[:n]) != want {
			t.Errorf("pread at %d: %q, %v; want %q", off, buf[:n], err, want)
		}
	}
	if n, err := unix.Pread(fd, buf[:3], 2); n != 3 || err != nil || string(buf[:3]) != whole[2:5] {
		t.Errorf("pread of 3 at 2: %q, %v", buf[:n], err)
	}
	if _, err := unix.Pread(fd, buf, -1); !errors.Is(err, unix.EINVAL) {
		t.Errorf("pread at -1: %v, want EINVAL", err)
	}
	if n, err := unix.Read(fd, buf); n != 0 || err != nil {
		t.Errorf("read after the preads: %d, %v; want 0 (the offset is still at the end)", n, err)
	}
	// lseek: SEEK_SET, SEEK_CUR, SEEK_END (the message's end).
	for _, tc := range []struct {
		off    int64
		whence int
		pos    int64
	}{
		// Each read goes to the end: SEEK_CUR counts back from there.
		{7, io.SeekStart, 7}, {-3, io.SeekCurrent, int64(len(whole) - 3)}, {-1, io.SeekEnd, int64(len(whole) - 1)}, {0, io.SeekStart, 0},
	} {
		pos, err := unix.Seek(fd, tc.off, tc.whence)
		if err != nil || pos != tc.pos {
			t.Errorf("lseek(%d, %d) = %d, %v; want %d", tc.off, tc.whence, pos, err, tc.pos)
			continue
		}
		if got := readAll(t, fd, 100); got != whole[pos:] {
			t.Errorf("read after lseek to %d: %q", pos, got)
		}
	}
	for _, off := range []int64{-1, int64(len(whole) + 1)} {
		if _, err := unix.Seek(fd, off, io.SeekStart); !errors.Is(err, unix.EINVAL) {
			t.Errorf("lseek to %d: %v, want EINVAL", off, err)
		}
	}
	if n, err := unix.Read(fd, buf[:0]); n != 0 || err != nil {
		t.Errorf("read of 0 bytes: %d, %v", n, err)
	}
}

// TestReadBadBuffer: a buffer the process cannot write gives EFAULT and
// leaves the offset alone; a buffer that runs into an unmapped page gets
// the bytes that fit, and the next read goes on from there.
func TestReadBadBuffer(t *testing.T) {
	load(t)
	f := openDev(t)
	fd := f.fd
	defer f.Close()
	whole := msg(1)
	for _, addr := range []uintptr{1, 0xffff800000000000} { // unmapped; kernel space
		_, _, errno := unix.Syscall(unix.SYS_READ, uintptr(fd), addr, 10)
		if errno != unix.EFAULT {
			t.Errorf("read into %#x: %v, want EFAULT", addr, errno)
		}
	}
	page := os.Getpagesize()
	mem, err := unix.Mmap(-1, 0, 2*page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(mem)
	// The second page goes (unix.Munmap only takes whole mappings).
	if _, _, errno := unix.Syscall(unix.SYS_MUNMAP, uintptr(unsafe.Pointer(&mem[page])), uintptr(page), 0); errno != 0 {
		t.Fatalf("munmap: %v", errno)
	}
	// 4 writable bytes, then the hole.
	n, _, errno := unix.Syscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&mem[page-4])), 10)
	if errno != 0 || n < 1 || n > 4 || string(mem[page-4:page-4+int(n)]) != whole[:n] {
		t.Fatalf("read across the end of a mapping: %d, %v, %q; want 1 to 4 bytes of %q", n, errno, mem[page-4:page], whole)
	}
	if got := readAll(t, fd, 100); got != whole[n:] {
		t.Errorf("after the short read: %q, want %q", got, whole[n:])
	}
}

// TestWriteRefused: writing fails with EINVAL, and the module says why.
func TestWriteRefused(t *testing.T) {
	log := guesttest.KernelLog(t)
	load(t)
	fd, err := unix.Open(dev, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open for writing: %v", err)
	}
	defer unix.Close(fd)
	if n, err := unix.Write(fd, []byte("hi\n")); !errors.Is(err, unix.EINVAL) {
		t.Errorf("write: %d, %v; want EINVAL", n, err)
	}
	log.Want(t, fmt.Sprintf("chardev: writing is not supported (chardev.test[%d] tried 3 bytes)", os.Getpid()))
}

// TestSingleOpener: while one open file exists, a second open fails with
// EBUSY and does not count; after the close the next open works.
func TestSingleOpener(t *testing.T) {
	load(t)
	a := openDev(t)
	for i := 0; i < 3; i++ {
		if fd, err := unix.Open(dev, unix.O_RDONLY|unix.O_CLOEXEC, 0); !errors.Is(err, unix.EBUSY) {
			if err == nil {
				unix.Close(fd)
			}
			t.Fatalf("second open: %v, want EBUSY", err)
		}
	}
	// Another process is refused as well.
	if out, err := worker(t, "open", 0).CombinedOutput(); err != nil || string(out) != "device or resource busy\n" {
		t.Errorf("open from another process: %q, %v; want device or resource busy", out, err)
	}
	// A duplicate of the descriptor is the same open file: no new open.
	fd, err := unix.Dup(a.fd)
	if err != nil {
		t.Fatal(err)
	}
	b := closeAtEnd(t, fd)
	if got := readAll(t, b.fd, 100); got != msg(1) {
		t.Errorf("read through dup: %q", got)
	}
	a.Close()
	if fd, err := unix.Open(dev, unix.O_RDONLY|unix.O_CLOEXEC, 0); !errors.Is(err, unix.EBUSY) {
		t.Errorf("open while the dup is open: %v, want EBUSY", err)
		if err == nil {
			unix.Close(fd)
		}
	}
	b.Close()
	if got := readOnce(t); got != msg(2) {
		t.Errorf("after the close: %q, want %q (refused opens do not count)", got, msg(2))
	}
}

// TestUnloadWhileOpen: .owner = THIS_MODULE makes an open file hold the
// module: two references, one for the cdev (register_chrdev copies the
// owner into it, and chrdev_open takes it with cdev_get) and one for the
// file operations (fops_get). delete_module(2) then fails (the kernel says
// EWOULDBLOCK, i.e. EAGAIN, not EBUSY), rmmod says the module is in use,
// and everything keeps working; after the close it unloads.
func TestUnloadWhileOpen(t *testing.T) {
	log := guesttest.KernelLog(t)
	m := load(t)
	refcnt := func() string { return strings.TrimSpace(guesttest.ReadFile(t, m.SysDir()+"/refcnt")) }
	if r := refcnt(); r != "0" {
		t.Errorf("refcnt before open = %s, want 0", r)
	}
	f := openDev(t)
	fd := f.fd
	if r := refcnt(); r != "2" {
		t.Errorf("refcnt while open = %s, want 2 (the cdev's and the file's)", r)
	}
	if err := m.TryUnload(); !errors.Is(err, unix.EWOULDBLOCK) {
		t.Errorf("delete_module while open: %v, want EWOULDBLOCK", err)
	}
	_, errOut, code := run("rmmod", "chardev")
	if code != 1 || errOut != "rmmod: ERROR: Module chardev is in use\n" {
		t.Errorf("modlab rmmod chardev while open: exit %d, stderr %q", code, errOut)
	}
	if !m.Loaded() {
		t.Fatal("the module went away while its device was open")
	}
	// Still working: the open file reads, the node is there, a second
	// open is refused as usual.
	if got := readAll(t, fd, 100); got != msg(1) {
		t.Errorf("read while rmmod was refused: %q", got)
	}
	if _, err := os.Stat(dev); err != nil {
		t.Errorf("%s: %v", dev, err)
	}
	if fd2, err := unix.Open(dev, unix.O_RDONLY|unix.O_CLOEXEC, 0); !errors.Is(err, unix.EBUSY) {
		t.Errorf("second open: %v, want EBUSY", err)
		if err == nil {
			unix.Close(fd2)
		}
	}
	f.Close()
	if r := refcnt(); r != "0" {
		t.Errorf("refcnt after close = %s, want 0", r)
	}
	if _, errOut, code := run("rmmod", "chardev"); code != 0 {
		t.Errorf("rmmod after close: exit %d, stderr %q", code, errOut)
	}
	if m.Loaded() {
		t.Error("still loaded after rmmod")
	}
	log.Want(t, "chardev: unloaded after 1 opens")
}

// workers is how many processes TestConcurrentOpeners races.
const workers = 8

// TestConcurrentOpeners: 8 processes each do 1000 open/read/close rounds
// (guesttest.Rounds: fewer on the debug kernel), retrying an open that says
// EBUSY once a round has ended (see workerRounds). A counter the processes
// share in memory says how many hold the device: it must never exceed 1.
// Every successful open got a message with its own number: together they
// are exactly 1..8000 (workers times rounds), and the next open is the
// one after.
func TestConcurrentOpeners(t *testing.T) {
	rounds := guesttest.Rounds(1000)
	load(t)
	sharedFile := filepath.Join(t.TempDir(), "shared")
	if err := os.WriteFile(sharedFile, make([]byte, os.Getpagesize()), 0o600); err != nil {
		t.Fatal(err)
	}
	type result struct {
		counts []int
		busy   int
		err    error
	}
	results := make(chan result, workers)
	start := time.Now()
	for w := 0; w < workers; w++ {
		cmd := worker(t, "rounds", 0)
		cmd.Env = append(cmd.Env, "CHARDEV_SHARED="+sharedFile, fmt.Sprintf("CHARDEV_ROUNDS=%d", rounds))
		go func() {
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				results <- result{err: fmt.Errorf("%v: %s", err, stderr.String())}
				return
			}
			var r result
			for _, f := range strings.Fields(string(out)) {
				if b, ok := strings.CutPrefix(f, "busy="); ok {
					r.busy, _ = strconv.Atoi(b)
					continue
				}
				n, err := strconv.Atoi(f)
				if err != nil {
					r.err = fmt.Errorf("worker printed %q", f)
					break
				}
				r.counts = append(r.counts, n)
			}
			results <- r
		}()
	}
	var all []int
	busy := 0
	for w := 0; w < workers; w++ {
		r := <-results
		if r.err != nil {
			t.Errorf("worker: %v", r.err)
			continue
		}
		if len(r.counts) != rounds {
			t.Errorf("a worker did %d rounds, want %d", len(r.counts), rounds)
		}
		all = append(all, r.counts...)
		busy += r.busy
	}
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("%d rounds in %v, %d opens refused with EBUSY", len(all), time.Since(start).Round(time.Millisecond), busy)
	slices.Sort(all)
	for i, n := range all {
		if n != i+1 {
			t.Fatalf("the opens' numbers are not 1..%d: position %d holds %d (a number seen twice, or skipped)", workers*rounds, i, n)
		}
	}
	if got := readOnce(t); got != msg(workers*rounds+1) {
		t.Errorf("the next open: %q, want %q", got, msg(workers*rounds+1))
	}
	if r := strings.TrimSpace(guesttest.ReadFile(t, "/sys/module/chardev/refcnt")); r != "0" {
		t.Errorf("refcnt after the workers = %s, want 0", r)
	}
}

// TestLoadUnloadCycles: 100 times (fewer on the debug kernel:
// guesttest.Rounds) load, read, unload; the node and the /proc/devices
// entry come and go each time, and each load counts from 1.
func TestLoadUnloadCycles(t *testing.T) {
	cycles := guesttest.Rounds(100)
	start := time.Now()
	for i := 0; i < cycles; i++ {
		m := load(t)
		major := procMajor(t, "chardev")
		var st unix.Stat_t
		if err := unix.Stat(dev, &st); err != nil || major <= 0 || unix.Major(st.Rdev) != uint32(major) {
			t.Fatalf("cycle %d: %s: %v, major %d in /proc/devices, %d in the node", i, dev, err, major, unix.Major(st.Rdev))
		}
		if got := readOnce(t); got != msg(1) {
			t.Fatalf("cycle %d: read %q", i, got)
		}
		m.Unload(t)
		if _, err := os.Stat(dev); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("cycle %d: %s after unload: %v", i, dev, err)
		}
	}
	t.Logf("%d cycles in %v", cycles, time.Since(start).Round(time.Millisecond))
}

// background is a modlab command running in the background with its
// output in lines.
type background struct {
	cmd    *exec.Cmd
	stdout chan string
	stderr chan string
	done   chan error
}

// modlabPath is modlab on the guest's PATH.
func modlabPath(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("modlab"); err == nil {
		return p
	}
	return "/usr/local/sbin/modlab"
}

func startModlab(t *testing.T, args ...string) *background {
	t.Helper()
	cmd := exec.Command(modlabPath(t), args...)
	outR, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	errR, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start modlab %s: %v", strings.Join(args, " "), err)
	}
	var drained sync.WaitGroup
	b := &background{cmd: cmd, stdout: lines(outR, &drained), stderr: lines(errR, &drained), done: make(chan error, 1)}
	go func() {
		// Wait closes the pipes: only once they are drained.
		drained.Wait()
		b.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-b.done
	})
	return b
}

// lines sends r's lines on a channel, closed at the end of r.
func lines(r io.Reader, drained *sync.WaitGroup) chan string {
	ch := make(chan string, 1000)
	drained.Add(1)
	go func() {
		defer drained.Done()
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			ch <- sc.Text()
		}
		close(ch)
	}()
	return ch
}

// patience is how long a test waits for what should come at once: 10 s,
// times the kernel's slowdown.
func patience() time.Duration { return time.Duration(guesttest.Slowdown()) * 10 * time.Second }

// waitLine waits up to patience() for a line of ch that satisfies ok, and
// returns the lines seen up to and including it.
func waitLine(t *testing.T, what string, ch chan string, ok func(string) bool) []string {
	t.Helper()
	var seen []string
	deadline := time.After(patience())
	for {
		select {
		case l, open := <-ch:
			if !open {
				t.Fatalf("waiting for %s: the output ended; it was:\n%s", what, strings.Join(seen, "\n"))
			}
			seen = append(seen, l)
			if ok(l) {
				return seen
			}
		case <-deadline:
			t.Fatalf("waiting for %s: nothing in %v; the output was:\n%s", what, patience(), strings.Join(seen, "\n"))
		}
	}
}

// stop sends SIGTERM and expects a prompt exit with status 0.
func (b *background) stop(t *testing.T) {
	t.Helper()
	b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-b.done:
		b.done <- err // for the cleanup
		if err != nil {
			t.Errorf("modlab %s after SIGTERM: %v", strings.Join(b.cmd.Args[1:], " "), err)
		}
	case <-time.After(patience()):
		t.Errorf("modlab %s did not stop on SIGTERM in %v", strings.Join(b.cmd.Args[1:], " "), patience())
	}
}

// waitFile waits up to patience() for the file to hold want.
func waitFile(t *testing.T, path, want string) {
	t.Helper()
	deadline := time.Now().Add(patience())
	for {
		b, _ := os.ReadFile(path)
		if string(b) == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s holds %q after %v, want %q", path, b, patience(), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// uevent is one event as `modlab uevent monitor` prints it.
type uevent struct {
	header string
	props  map[string]string
}

// nextEvent reads the monitor's next event (a header line, KEY=VALUE
// lines, a blank line).
func nextEvent(t *testing.T, ch chan string) uevent {
	t.Helper()
	header := waitLine(t, "an event header", ch, func(l string) bool { return strings.HasPrefix(l, "KERNEL[") })
	e := uevent{header: header[len(header)-1], props: map[string]string{}}
	for _, l := range waitLine(t, "the end of an event", ch, func(l string) bool { return l == "" }) {
		if k, v, ok := strings.Cut(l, "="); ok {
			e.props[k] = v
		}
	}
	return e
}

// TestUeventMonitor: `modlab uevent monitor` shows the device's add event
// with the numbers /proc/devices and the node have, and its remove event.
func TestUeventMonitor(t *testing.T) {
	mon := startModlab(t, "uevent", "monitor", "--subsystem-match", "chardev")
	waitLine(t, "the monitor's banner", mon.stdout, func(l string) bool { return l == "KERNEL - the kernel uevent" })
	m := load(t)
	add := nextEvent(t, mon.stdout)
	major := procMajor(t, "chardev")
	var st unix.Stat_t
	if err := unix.Stat(dev, &st); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(add.header, "] add      "+devPath+" (chardev)") {
		t.Errorf("header %q", add.header)
	}
	want := map[string]string{
		"ACTION": "add", "DEVPATH": devPath, "SUBSYSTEM": "chardev", "DEVNAME": "chardev",
		"MAJOR": strconv.Itoa(major), "MINOR": "0",
		"SEQNUM": add.props["SEQNUM"],
	}
	if fmt.Sprint(add.props) != fmt.Sprint(want) || add.props["SEQNUM"] == "" {
		t.Errorf("add event's properties: %v, want %v and a SEQNUM", add.props, want)
	}
	if add.props["MAJOR"] != fmt.Sprint(unix.Major(st.Rdev)) || add.props["MINOR"] != fmt.Sprint(unix.Minor(st.Rdev)) {
		t.Errorf("event says %s:%s, the node is %d:%d", add.props["MAJOR"], add.props["MINOR"], unix.Major(st.Rdev), unix.Minor(st.Rdev))
	}
	m.Unload(t)
	rm := nextEvent(t, mon.stdout)
	if rm.props["ACTION"] != "remove" || rm.props["DEVPATH"] != devPath || rm.props["DEVNAME"] != "chardev" {
		t.Errorf("after rmmod: %s %v, want the remove event", rm.header, rm.props)
	}
	a, errA := strconv.ParseUint(add.props["SEQNUM"], 10, 64)
	r, errR := strconv.ParseUint(rm.props["SEQNUM"], 10, 64)
	if errA != nil || errR != nil || r <= a {
		t.Errorf("SEQNUM %s then %s: want increasing numbers", add.props["SEQNUM"], rm.props["SEQNUM"])
	}
	mon.stop(t)
}

// TestUeventTrigger: the example's rules file, run by `modlab uevent run`,
// appends "chardev loaded" to the trigger log when the module is loaded
// and "chardev removed" when it is unloaded; a second rules file sees the
// event's properties in its command's environment.
func TestUeventTrigger(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "99-chardev.rules")
	if err := os.WriteFile(rules, []byte(chardevRules), 0o644); err != nil {
		t.Fatal(err)
	}
	envLog := filepath.Join(dir, "env.log")
	envRules := filepath.Join(dir, "50-env.rules")
	if err := os.WriteFile(envRules, []byte(`SUBSYSTEM=="chardev", DEVNAME=="/dev/chardev", \
    RUN+="echo $ACTION $DEVPATH $DEVNAME $MAJOR:$MINOR >>`+envLog+`"
`), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(triggerLog)
	t.Cleanup(func() { os.Remove(triggerLog) })

	trig := startModlab(t, "uevent", "run", rules)
	envRun := startModlab(t, "uevent", "run", "-v", envRules)
	for _, b := range []*background{trig, envRun} {
		waitLine(t, "uevent run's start", b.stderr, func(l string) bool { return strings.HasSuffix(l, "; waiting for kernel uevents") })
	}
	m := load(t)
	waitFile(t, triggerLog, "chardev loaded\n")
	major := procMajor(t, "chardev")
	m.Unload(t)
	waitFile(t, triggerLog, "chardev loaded\nchardev removed\n")
	waitFile(t, envLog, fmt.Sprintf("add %[1]s chardev %[2]d:0\nremove %[1]s chardev %[2]d:0\n", devPath, major))
	trig.stop(t)
	envRun.stop(t)
}

// TestUeventBadRules: a malformed rules file is refused with its file
// and line, exit status 2, and nothing runs, even when the module loads.
func TestUeventBadRules(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	rules := filepath.Join(dir, "bad.rules")
	if err := os.WriteFile(rules, []byte(`# one good rule, one bad
SUBSYSTEM=="chardev", ACTION=="add", RUN+="touch `+marker+`"
SUBSYSTEM="chardev", ACTION=="add", RUN+="touch `+marker+`"
`), 0o644); err != nil {
		t.Fatal(err)
	}
	b := startModlab(t, "uevent", "run", rules)
	load(t)
	var errLines []string
	for l := range b.stderr {
		errLines = append(errLines, l)
	}
	err := <-b.done
	b.done <- err
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Errorf("modlab uevent run of bad rules: %v, want exit status 2", err)
	}
	want := []string{
		rules + ":3: SUBSYSTEM= assigns, and only RUN can be assigned here: write SUBSYSTEM== to match",
		"uevent: ERROR: " + rules + ": 1 rule malformed: nothing runs",
	}
	if !slices.Equal(errLines, want) {
		t.Errorf("stderr:\n%s\nwant:\n%s", strings.Join(errLines, "\n"), strings.Join(want, "\n"))
	}
	time.Sleep(time.Duration(guesttest.Slowdown()) * 200 * time.Millisecond)
	if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a command ran: %v", err)
	}
}

// worker runs this test binary again as a helper process (see TestMain):
// mode "open" opens the device once and prints the error; "rounds" does
// CHARDEV_ROUNDS open/read/close rounds and prints each message's count.
// uid, when not 0, is the user it runs as.
func worker(t *testing.T, mode string, uid int) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), "CHARDEV_WORKER="+mode)
	if uid != 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}}
	}
	return cmd
}

func TestMain(m *testing.M) {
	switch os.Getenv("CHARDEV_WORKER") {
	case "":
		os.Exit(m.Run())
	case "open":
		fd, err := unix.Open(dev, unix.O_RDONLY, 0)
		if err != nil {
			fmt.Println(err)
			os.Exit(0)
		}
		unix.Close(fd)
		fmt.Println("opened")
	case "rounds":
		if err := workerRounds(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	os.Exit(0)
}

// shared is the page TestConcurrentOpeners's processes share.
type shared struct {
	holders int32  // processes between a successful open and its close
	closes  uint32 // successful rounds so far: a futex word
	waiting int32  // processes asleep on closes
}

// The futex(2) operations on a word in memory shared between processes.
const (
	futexWait = 0
	futexWake = 1
)

// workerRounds is one of TestConcurrentOpeners's processes. On EBUSY it
// sleeps until a holder closes (a futex on the count of closes), so that
// it does not take the guest's one CPU from the holder; a process that
// closes while others sleep wakes one and lets it have a round. This
// only paces the processes, it excludes nobody: a process sleeps only
// after the kernel said EBUSY (so with a kernel that never says it, all
// 8 open at will), and it sleeps at most 250 ms before trying again.
func workerRounds() error {
	n, err := strconv.Atoi(os.Getenv("CHARDEV_ROUNDS"))
	if err != nil {
		return err
	}
	f, err := os.OpenFile(os.Getenv("CHARDEV_SHARED"), os.O_RDWR, 0)
	if err != nil {
		return err
	}
	mem, err := unix.Mmap(int(f.Fd()), 0, os.Getpagesize(), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	f.Close()
	if err != nil {
		return err
	}
	sh := (*shared)(unsafe.Pointer(&mem[0]))
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	buf := make([]byte, 128)
	busy := 0
	timeout := unix.NsecToTimespec(int64(250 * time.Millisecond)) // a safety net only
	for done := 0; done < n; {
		closes := atomic.LoadUint32(&sh.closes)
		fd, err := unix.Open(dev, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.EBUSY) {
			busy++
			// Sleep unless a round ended since closes was read.
			atomic.AddInt32(&sh.waiting, 1)
			unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(&sh.closes)), futexWait, uintptr(closes),
				uintptr(unsafe.Pointer(&timeout)), 0, 0)
			atomic.AddInt32(&sh.waiting, -1)
			continue
		}
		if err != nil {
			return fmt.Errorf("open: %w", err)
		}
		if h := atomic.AddInt32(&sh.holders, 1); h != 1 {
			return fmt.Errorf("%d processes hold the device at once", h)
		}
		r, err := unix.Read(fd, buf)
		atomic.AddInt32(&sh.holders, -1)
		unix.Close(fd)
		after := atomic.AddUint32(&sh.closes, 1)
		if atomic.LoadInt32(&sh.waiting) > 0 {
			// Hand over: wake a waiter and let it have a round before
			// trying again, rather than race it to the next open.
			unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(&sh.closes)), futexWake, 1, 0, 0, 0)
			unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(&sh.closes)), futexWait, uintptr(after),
				uintptr(unsafe.Pointer(&timeout)), 0, 0)
		}
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		var count int
		if _, err := fmt.Sscanf(string(buf[:r]), "I already told you %d times Hello world!\n", &count); err != nil || string(buf[:r]) != msg(count) {
			return fmt.Errorf("read %q", buf[:r])
		}
		fmt.Fprintln(out, count)
		done++
	}
	fmt.Fprintf(out, "busy=%d\n", busy)
	return nil
}
