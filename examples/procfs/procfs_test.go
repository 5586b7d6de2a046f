//go:build modlab_guest

// Package procfs_test checks, inside the lab's VM, what a user of the four
// /proc files sees: the exact content; the same bytes whether the file is
// read at once, a byte at a time, in odd chunks or with pread at odd
// offsets; 0 at and past the end; a write that replaces the content, a
// write too long for the buffer refused with EFBIG and nothing changed;
// bad user pointers refused with EFAULT; readers and writers at the same
// time that never see half of one value and half of another; who may
// write /proc/buffer2k (the mode bits and the module's own check, each
// shown to work alone); seq_file's walks over several pages; files that
// stay open while their module goes; and 100 load/unload cycles of each
// module. `modlab test procfs` runs it.
//
// The tests do not run in parallel: they share one kernel, and a module
// can only be loaded once at a time.
package procfs_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/modlab/modlab/kmod/loader"
	"github.com/modlab/modlab/lab/guesttest"
)

const (
	helloPath = "/proc/helloworld"
	buf1kPath = "/proc/buffer1k"
	buf2kPath = "/proc/buffer2k"
	iterPath  = "/proc/iter"

	helloText = "HelloWorld!\n"
)

// nobody is the unprivileged user the child processes run as.
var nobody = &syscall.Credential{Uid: 1000, Gid: 1000}

func TestMain(m *testing.M) {
	if req := os.Getenv(childEnv); req != "" {
		os.Exit(childMain(req))
	}
	code := m.Run()
	if childDir != "" {
		os.RemoveAll(childDir)
	}
	os.Exit(code)
}

// open opens path with flags through the raw system call, so that errors
// come back as bare errnos.
func open(t *testing.T, path string, flags int) int {
	t.Helper()
	fd, err := unix.Open(path, flags|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// readChunks reads path from the start to the end with read() calls of
// size bytes on one descriptor, and returns what they gave and how many
// calls it took (the last one, which returns 0, included).
func readChunks(t *testing.T, path string, size int) ([]byte, int) {
	t.Helper()
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer unix.Close(fd)
	return readRest(t, fd, size)
}

// readRest reads fd to its end with read() calls of size bytes.
func readRest(t *testing.T, fd, size int) ([]byte, int) {
	t.Helper()
	var out []byte
	buf := make([]byte, size)
	for calls := 1; ; calls++ {
		n, err := unix.Read(fd, buf)
		if err != nil {
			t.Fatalf("read of %d bytes after %d bytes: %v", size, len(out), err)
		}
		if n == 0 {
			return out, calls
		}
		if n > size {
			t.Fatalf("read of %d bytes returned %d", size, n)
		}
		out = append(out, buf[:n]...)
		if len(out) > 1<<20 {
			t.Fatalf("%d bytes and no end of file", len(out))
		}
	}
}

// readOnce returns what a single read() of a buffer larger than any of
// the files returns: for procfs1..3 the whole content, taken at once.
func readOnce(t *testing.T, path string) string {
	t.Helper()
	fd := open(t, path, unix.O_RDONLY)
	buf := make([]byte, 8192)
	n, err := unix.Read(fd, buf)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return string(buf[:n])
}

// write1 writes data to path with one write() call on a fresh descriptor.
func write1(path string, data []byte) (int, error) {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("open: %w", err)
	}
	defer unix.Close(fd)
	return unix.Write(fd, data)
}

func mustWrite(t *testing.T, path string, data []byte) {
	t.Helper()
	n, err := write1(path, data)
	if err != nil || n != len(data) {
		t.Fatalf("write of %d bytes to %s: %d, %v", len(data), path, n, err)
	}
}

// wantContent checks that one read of path returns want.
func wantContent(t *testing.T, path, want string) {
	t.Helper()
	if got := readOnce(t, path); got != want {
		t.Fatalf("%s reads %s, want %s", path, abbrev(got), abbrev(want))
	}
}

// abbrev quotes s, shortened when it is long.
func abbrev(s string) string {
	if len(s) <= 80 {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%q...%q (%d bytes)", s[:40], s[len(s)-20:], len(s))
}

// checkReads reads path in every way a user might and checks each gives
// the bytes of want at the place asked for: to the end in chunks of one
// byte and of odd sizes, and with pread at odd offsets, at the end and
// past it (0 bytes there). A seq_file (seq) may return less than asked
// for, a prefix, when the rest is not in its buffer yet; the others return
// all there is.
func checkReads(t *testing.T, path, want string, seq bool) {
	t.Helper()
	for _, size := range []int{1, 2, 7, 100, 1000, 4095, 4097, 65536} {
		if got, _ := readChunks(t, path, size); string(got) != want {
			t.Fatalf("reading %s in chunks of %d bytes gave %s, want %s", path, size, abbrev(string(got)), abbrev(want))
		}
	}
	fd := open(t, path, unix.O_RDONLY)
	n := len(want)
	offsets := []int{0, 1, 2, 3, 5, n / 3, n / 2, n - 7, n - 2, n - 1, n, n + 1, n + 4096, 1 << 30}
	for off := 4093; off < n; off += 4096 {
		offsets = append(offsets, off, off+3)
	}
	buf := make([]byte, 65536)
	for _, off := range offsets {
		if off < 0 {
			continue
		}
		for _, size := range []int{1, 3, 13, 4096, 65536} {
			got, err := unix.Pread(fd, buf[:size], int64(off))
			if err != nil {
				t.Fatalf("pread(%s, %d bytes at %d): %v", path, size, off, err)
			}
			exp := ""
			if off < n {
				exp = want[off:min(n, off+size)]
			}
			short := seq && got > 0 && got < len(exp)
			if got > len(exp) || string(buf[:got]) != exp[:got] || (got != len(exp) && !short) {
				t.Fatalf("pread(%s, %d bytes at %d) = %q, want %s", path, size, off, buf[:got], abbrev(exp))
			}
		}
	}
	if _, err := unix.Pread(fd, buf[:1], -1); !errors.Is(err, unix.EINVAL) {
		t.Errorf("pread at offset -1: %v, want EINVAL", err)
	}
}

// checkBadPointer reads from fd into an address that is not mapped: the
// kernel must say EFAULT, not crash and not report success.
func checkBadPointer(t *testing.T, path string) {
	t.Helper()
	fd := open(t, path, unix.O_RDONLY)
	_, _, e := unix.Syscall(unix.SYS_READ, uintptr(fd), 1, 16)
	if e != unix.EFAULT {
		t.Errorf("read(%s) into address 0x1: %v, want EFAULT", path, e)
	}
}

func TestHelloWorld(t *testing.T) {
	log := guesttest.KernelLog(t)
	m := guesttest.Load(t, "procfs1")
	log.Want(t, "procfs1: /proc/helloworld created")

	wantContent(t, helloPath, helloText)
	checkReads(t, helloPath, helloText, false)
	checkBadPointer(t, helloPath)

	// lseek moves the position the next read() starts from.
	fd := open(t, helloPath, unix.O_RDONLY)
	if off, err := unix.Seek(fd, 5, io.SeekStart); off != 5 || err != nil {
		t.Fatalf("lseek to 5: %d, %v", off, err)
	}
	if got, _ := readRest(t, fd, 3); string(got) != "World!\n" {
		t.Errorf("reading from offset 5 gave %q, want \"World!\\n\"", got)
	}

	var st unix.Stat_t
	if err := unix.Stat(helloPath, &st); err != nil || st.Mode&0o7777 != 0o444 || !isReg(st) {
		t.Errorf("stat %s: mode %o, %v; want a regular file, 0444", helloPath, st.Mode, err)
	}
	// A non-root user reads it; nobody may open it for writing; root may
	// (root passes the mode bits) but the file has no write handler.
	if r := runChild(t, nobody, childRequest{Op: "read", Path: helloPath}); r.Errno != "" || r.Data != helloText {
		t.Errorf("uid 1000 reading %s: %+v", helloPath, r)
	}
	if r := runChild(t, nobody, childRequest{Op: "write", Path: helloPath, Data: "x"}); r.Errno != "EACCES" || r.Stage != "open" {
		t.Errorf("uid 1000 writing %s: %+v, want EACCES from open", helloPath, r)
	}
	if _, err := write1(helloPath, []byte("x")); !errors.Is(err, unix.EIO) {
		t.Errorf("root writing %s: %v, want EIO (no write handler)", helloPath, err)
	}

	m.Unload(t)
	log.Want(t, "procfs1: /proc/helloworld removed")
	if _, err := os.Stat(helloPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s after unload: %v, want it gone", helloPath, err)
	}
	log.Clean(t)
}

func isReg(st unix.Stat_t) bool { return st.Mode&unix.S_IFMT == unix.S_IFREG }

// buffers are the two read/write files; their write rules are the same.
var buffers = []struct {
	module, kname, path string
	size                int
	// keepsSize: procfs3 sets the file's size to the content's length
	// (what stat reports and SEEK_END counts from); procfs2 leaves it 0.
	keepsSize bool
}{
	{"procfs2", "procfs2", buf1kPath, 1024, false},
	{"procfs3", "procfs3", buf2kPath, 2048, true},
}

// pattern returns n bytes that differ at every offset that matters, so a
// read from the wrong place shows.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'A' + byte((i*7+i/26+int(seed))%58)
	}
	return b
}

func TestBuffers(t *testing.T) {
	for _, tc := range buffers {
		t.Run(tc.module, func(t *testing.T) {
			log := guesttest.KernelLog(t)
			m := guesttest.Load(t, tc.module)
			log.Want(t, fmt.Sprintf("%s: %s created (%d bytes", tc.kname, tc.path, tc.size))

			wantSize := func(n int) {
				t.Helper()
				if !tc.keepsSize {
					n = 0
				}
				var st unix.Stat_t
				if err := unix.Stat(tc.path, &st); err != nil || st.Size != int64(n) {
					t.Fatalf("stat %s: size %d, %v; want %d", tc.path, st.Size, err, n)
				}
				fd := open(t, tc.path, unix.O_RDONLY)
				if off, err := unix.Seek(fd, 0, io.SeekEnd); off != int64(n) || err != nil {
					t.Fatalf("lseek(%s, 0, SEEK_END) = %d, %v; want %d", tc.path, off, err, n)
				}
			}

			// It starts empty: the first read() is the end of the file.
			wantContent(t, tc.path, "")
			checkReads(t, tc.path, "", false)
			wantSize(0)

			// Each write replaces the whole content.
			mustWrite(t, tc.path, []byte("hello, world\n"))
			wantContent(t, tc.path, "hello, world\n")
			wantSize(13)
			mustWrite(t, tc.path, []byte("x"))
			wantContent(t, tc.path, "x")
			wantSize(1)

			// A full buffer reads back the same in every way.
			full := pattern(tc.size, 3)
			mustWrite(t, tc.path, full)
			checkReads(t, tc.path, string(full), false)
			checkBadPointer(t, tc.path)
			wantSize(tc.size)

			// One byte more, or much more: EFBIG, and the content stays.
			for _, n := range []int{tc.size + 1, tc.size * 2, 1 << 16} {
				if _, err := write1(tc.path, pattern(n, 9)); !errors.Is(err, unix.EFBIG) {
					t.Errorf("write of %d bytes: %v, want EFBIG", n, err)
				}
				wantContent(t, tc.path, string(full))
			}
			wantSize(tc.size)

			// A write from an address that is not mapped: EFAULT, and the
			// content stays whole.
			fd := open(t, tc.path, unix.O_WRONLY)
			if _, _, e := unix.Syscall(unix.SYS_WRITE, uintptr(fd), 1, 10); e != unix.EFAULT {
				t.Errorf("write from address 0x1: %v, want EFAULT", e)
			}
			wantContent(t, tc.path, string(full))

			// The file position does not matter: pwrite at 100 also
			// replaces everything. The write leaves the position at the
			// end of what it wrote.
			rw := open(t, tc.path, unix.O_RDWR)
			if n, err := unix.Pwrite(rw, []byte("abc"), 100); n != 3 || err != nil {
				t.Fatalf("pwrite at 100: %d, %v", n, err)
			}
			wantContent(t, tc.path, "abc")
			if n, err := unix.Write(rw, []byte("abcdef")); n != 6 || err != nil {
				t.Fatalf("write: %d, %v", n, err)
			}
			if off, _ := unix.Seek(rw, 0, io.SeekCurrent); off != 6 {
				t.Errorf("position after writing 6 bytes: %d, want 6", off)
			}
			if got, _ := readRest(t, rw, 100); len(got) != 0 {
				t.Errorf("read after the write on the same descriptor gave %q, want the end of the file", got)
			}
			if off, err := unix.Seek(rw, 2, io.SeekStart); off != 2 || err != nil {
				t.Fatalf("lseek to 2: %d, %v", off, err)
			}
			if got, _ := readRest(t, rw, 100); string(got) != "cdef" {
				t.Errorf("read from offset 2 gave %q, want \"cdef\"", got)
			}

			// An empty write empties it.
			if n, err := write1(tc.path, nil); n != 0 || err != nil {
				t.Fatalf("empty write: %d, %v", n, err)
			}
			wantContent(t, tc.path, "")
			wantSize(0)

			// Exactly full, once more, then unload with the file open: an
			// open /proc file does not keep its module, and it reads EIO
			// once the module is gone.
			mustWrite(t, tc.path, full)
			held := open(t, tc.path, unix.O_RDWR)
			m.Unload(t)
			log.Want(t, fmt.Sprintf("%s: %s removed", tc.kname, tc.path))
			if _, err := unix.Read(held, make([]byte, 10)); !errors.Is(err, unix.EIO) {
				t.Errorf("read of a file whose module is gone: %v, want EIO", err)
			}
			if _, err := unix.Write(held, []byte("x")); !errors.Is(err, unix.EIO) {
				t.Errorf("write to a file whose module is gone: %v, want EIO", err)
			}
			if _, err := os.Stat(tc.path); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s after unload: %v, want it gone", tc.path, err)
			}
			// Loaded again, it starts empty.
			guesttest.Load(t, tc.module)
			wantContent(t, tc.path, "")
			wantSize(0)
			log.Clean(t)
		})
	}
}

// TestWritePermission: who may write /proc/buffer2k. The mode bits turn a
// non-root user away at open (EACCES); the module's own check turns away
// whoever lacks CAP_SYS_ADMIN (EPERM), and each is shown to work where
// the other lets the writer through. procfs2's buffer1k, which has no
// check of its own, is the control: the same writers get through there.
func TestWritePermission(t *testing.T) {
	guesttest.Load(t, "procfs2")
	guesttest.Load(t, "procfs3")
	mustWrite(t, buf2kPath, []byte("root wrote this\n"))
	const kept = "root wrote this\n"

	var st unix.Stat_t
	if err := unix.Stat(buf2kPath, &st); err != nil || st.Mode&0o7777 != 0o644 || st.Uid != 0 || st.Gid != 0 {
		t.Fatalf("stat %s: mode %o, owner %d:%d, %v; want 0644 root:root", buf2kPath, st.Mode&0o7777, st.Uid, st.Gid, err)
	}

	// Everyone may read.
	if r := runChild(t, nobody, childRequest{Op: "read", Path: buf2kPath}); r.Errno != "" || r.Data != kept {
		t.Errorf("uid 1000 reading %s: %+v, want %q", buf2kPath, r, kept)
	}

	tests := []struct {
		name    string
		cred    *syscall.Credential
		dropCap bool
		mode    uint32
		path    string
		errno   string // "" for success
		comment string
	}{
		{"nobody/0644", nobody, false, 0o644, buf2kPath, "EACCES", "the mode bits refuse before the module is asked"},
		{"nobody/0644/control", nobody, false, 0o644, buf1kPath, "EACCES", "the same mode bits on buffer1k"},
		{"root-without-CAP_SYS_ADMIN/0644", nil, true, 0o644, buf2kPath, "EPERM", "root owns the file, so the mode bits let it through; the module refuses"},
		{"root-without-CAP_SYS_ADMIN/0644/control", nil, true, 0o644, buf1kPath, "", "buffer1k has no check of its own"},
		{"nobody/0666", nobody, false, 0o666, buf2kPath, "EPERM", "after chmod 0666 the mode bits let anyone through; the module refuses"},
		{"nobody/0666/control", nobody, false, 0o666, buf1kPath, "", "buffer1k has no check of its own"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, p := range []string{buf1kPath, buf2kPath} {
				if err := os.Chmod(p, os.FileMode(tc.mode)); err != nil {
					t.Fatalf("chmod %o %s: %v", tc.mode, p, err)
				}
			}
			r := runChild(t, tc.cred, childRequest{Op: "write", Path: tc.path, Data: "child wrote this\n", DropSysAdmin: tc.dropCap})
			if tc.errno == "" {
				if r.Errno != "" || r.N != len("child wrote this\n") {
					t.Fatalf("%s: write to %s: %+v, want success", tc.comment, tc.path, r)
				}
				wantContent(t, tc.path, "child wrote this\n")
				return
			}
			if r.Errno != tc.errno || r.Stage != "open" {
				t.Fatalf("%s: write to %s: %+v, want %s from open", tc.comment, tc.path, r, tc.errno)
			}
			if tc.path == buf2kPath {
				wantContent(t, buf2kPath, kept)
			}
		})
	}
	for _, p := range []string{buf1kPath, buf2kPath} {
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Root with all its capabilities passes both.
	if r := runChild(t, nil, childRequest{Op: "write", Path: buf2kPath, Data: "root again\n"}); r.Errno != "" {
		t.Errorf("root writing %s: %+v", buf2kPath, r)
	}
	wantContent(t, buf2kPath, "root again\n")
}

// TestOwner: proc_set_user makes uid 1000 the file's owner. The owner
// passes the mode bits (0644: the owner may write), and the module still
// refuses: owning the file is not the privilege it asks for.
func TestOwner(t *testing.T) {
	log := guesttest.KernelLog(t)
	m := guesttest.Load(t, "procfs3", "uid=1000", "gid=1000")
	log.Want(t, "procfs3: /proc/buffer2k created (2048 bytes, owner 1000:1000)")
	if got := m.Param(t, "uid") + ":" + m.Param(t, "gid"); got != "1000:1000" {
		t.Errorf("parameters uid:gid = %s", got)
	}
	var st unix.Stat_t
	if err := unix.Stat(buf2kPath, &st); err != nil || st.Uid != 1000 || st.Gid != 1000 || st.Mode&0o7777 != 0o644 {
		t.Fatalf("stat %s: mode %o, owner %d:%d, %v; want 0644 1000:1000", buf2kPath, st.Mode&0o7777, st.Uid, st.Gid, err)
	}
	mustWrite(t, buf2kPath, []byte("set by root\n"))
	if r := runChild(t, nobody, childRequest{Op: "write", Path: buf2kPath, Data: "owner"}); r.Errno != "EPERM" || r.Stage != "open" {
		t.Errorf("the owner, uid 1000, writing: %+v, want EPERM from open", r)
	}
	if r := runChild(t, nobody, childRequest{Op: "read", Path: buf2kPath}); r.Errno != "" || r.Data != "set by root\n" {
		t.Errorf("the owner reading: %+v", r)
	}
	m.Unload(t)

	// An id that is no id ((uid_t)-1) is refused before anything is made.
	log = guesttest.KernelLog(t)
	if err := guesttest.TryLoad(t, "procfs3", "uid=4294967295"); !errors.Is(err, unix.EINVAL) {
		t.Errorf("load with uid=4294967295: %v, want EINVAL", err)
	}
	log.Want(t, "procfs3: uid 4294967295 or gid 0 is not a valid id")
	if _, err := os.Stat(buf2kPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s after the failed load: %v, want it absent", buf2kPath, err)
	}
	log.Clean(t)
}

// iterText is what /proc/iter holds.
func iterText() string {
	var b strings.Builder
	for n := 0; n < 1000; n++ {
		fmt.Fprintf(&b, "%d squared is %d\n", n, n*n)
	}
	return b.String()
}

func counters(t *testing.T, m *guesttest.Module) (starts, stops int) {
	t.Helper()
	if _, err := fmt.Sscan(m.Param(t, "starts")+" "+m.Param(t, "stops"), &starts, &stops); err != nil {
		t.Fatalf("counters: %v", err)
	}
	return starts, stops
}

func TestIterSeqFile(t *testing.T) {
	log := guesttest.KernelLog(t)
	m := guesttest.Load(t, "procfs4")
	log.Want(t, "procfs4: /proc/iter created (1000 records)")
	want := iterText()
	page := os.Getpagesize()
	if len(want) < 3*page {
		t.Fatalf("the expected text is %d bytes, fewer than 3 pages", len(want))
	}

	// One pass with a buffer larger than the file: seq_file hands out at
	// most one page of whole records per read(), and each read() is one
	// walk, start() to stop().
	s0, p0 := counters(t, m)
	fd := open(t, iterPath, unix.O_RDONLY)
	var got []byte
	calls := 0
	buf := make([]byte, 65536)
	for {
		n, err := unix.Read(fd, buf)
		calls++
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if n == 0 {
			break
		}
		if n > page || buf[n-1] != '\n' {
			t.Errorf("read %d returned %d bytes ending in %q: want at most a page of whole lines", calls, n, buf[n-1])
		}
		got = append(got, buf[:n]...)
	}
	if string(got) != want {
		t.Fatalf("/proc/iter reads %s, want %s", abbrev(string(got)), abbrev(want))
	}
	s1, p1 := counters(t, m)
	if calls < 4 || s1-s0 != calls || p1-p0 != calls {
		t.Errorf("%d read() calls made %d start() and %d stop() calls; want one of each per read(), at least 4", calls, s1-s0, p1-p0)
	}
	t.Logf("%d bytes in %d read() calls, %d walks", len(got), calls, s1-s0)

	checkReads(t, iterPath, want, true)
	checkBadPointer(t, iterPath)

	// lseek into the middle (of a page, of a line) and read on from there.
	for _, off := range []int{1, 7, page - 1, page, page + 1, 12345, len(want) / 2, len(want) - 1, len(want), len(want) + 10} {
		fd := open(t, iterPath, unix.O_RDONLY)
		// A read first, so that seq_file has a position of its own to leave.
		if _, err := unix.Read(fd, buf[:100]); err != nil {
			t.Fatal(err)
		}
		if pos, err := unix.Seek(fd, int64(off), io.SeekStart); pos != int64(off) || err != nil {
			t.Fatalf("lseek to %d: %d, %v", off, pos, err)
		}
		rest, _ := readRest(t, fd, 999)
		exp := ""
		if off < len(want) {
			exp = want[off:]
		}
		if string(rest) != exp {
			t.Errorf("after lseek to %d: read %s, want %s", off, abbrev(string(rest)), abbrev(exp))
		}
	}
	// SEEK_CUR works; seq_file knows no size, so SEEK_END does not.
	if pos, err := unix.Seek(fd, 0, io.SeekStart); pos != 0 || err != nil {
		t.Fatalf("lseek to 0: %d, %v", pos, err)
	}
	if pos, err := unix.Seek(fd, 100, io.SeekCurrent); pos != 100 || err != nil {
		t.Errorf("lseek(100, SEEK_CUR) from 0: %d, %v", pos, err)
	}
	if n, _ := unix.Read(fd, buf[:10]); string(buf[:n]) != want[100:110] {
		t.Errorf("read after SEEK_CUR: %q, want %q", buf[:n], want[100:110])
	}
	if _, err := unix.Seek(fd, 0, io.SeekEnd); !errors.Is(err, unix.EINVAL) {
		t.Errorf("lseek(SEEK_END): %v, want EINVAL", err)
	}

	// Everyone may read; no one may write.
	if r := runChild(t, nobody, childRequest{Op: "read", Path: iterPath}); r.Errno != "" || r.Data != want {
		t.Errorf("uid 1000 reading %s: errno %q, %d bytes", iterPath, r.Errno, len(r.Data))
	}
	if _, err := write1(iterPath, []byte("x")); !errors.Is(err, unix.EIO) {
		t.Errorf("root writing %s: %v, want EIO", iterPath, err)
	}

	// An open file whose module goes: /proc releases its seq_file as the
	// module unloads; reads then fail with EIO.
	held := open(t, iterPath, unix.O_RDONLY)
	if _, err := unix.Read(held, buf[:10]); err != nil {
		t.Fatal(err)
	}
	m.Unload(t)
	log.Want(t, "procfs4: /proc/iter removed")
	if _, err := unix.Read(held, buf[:10]); !errors.Is(err, unix.EIO) {
		t.Errorf("read of /proc/iter after unload: %v, want EIO", err)
	}

	// The counters are the module's: they cannot be set.
	if err := guesttest.TryLoad(t, "procfs4", "starts=5"); !errors.Is(err, unix.EINVAL) {
		t.Errorf("load with starts=5: %v, want EINVAL", err)
	}
	log.Clean(t)
}

// TestConcurrentReadersWriters: 4 readers and 4 writers on buffer1k for 2
// seconds (a second on the debug kernel: guesttest.StressTime). Every value
// written says who wrote it and which one it was, so a reader can rebuild it
// and compare: a read (one read() call, a buffer larger than the file) must
// be exactly one written value, or the empty file it started as. One write
// in 8 is too long and must be refused; readers must never see it.
func TestConcurrentReadersWriters(t *testing.T) {
	const (
		readers, writers = 4, 4
		size             = 1024
	)
	duration := guesttest.StressTime(2 * time.Second)
	guesttest.Load(t, "procfs2")
	log := guesttest.KernelLog(t)
	fullPreemption(t)

	value := func(w, i int) []byte {
		head := fmt.Sprintf("w%d i%d ", w, i)
		if i%8 == 7 {
			return append([]byte(head), bytes.Repeat([]byte{'!'}, size+1+(i%100))...)
		}
		n := len(head) + (w*131+i*37)%(size-len(head)+1)
		return append([]byte(head), bytes.Repeat([]byte{'a' + byte((w*5+i)%26)}, n-len(head))...)
	}

	var (
		stop          atomic.Bool
		nreads, nwrit atomic.Int64
		errOnce       sync.Once
		firstErr      error
		wg            sync.WaitGroup
	)
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err })
		stop.Store(true)
	}
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Half the writers keep one descriptor, half open one per write.
			fd := -1
			if w%2 == 0 {
				var err error
				if fd, err = unix.Open(buf1kPath, unix.O_WRONLY|unix.O_CLOEXEC, 0); err != nil {
					fail(err)
					return
				}
				defer unix.Close(fd)
			}
			for i := 0; !stop.Load(); i++ {
				v := value(w, i)
				var n int
				var err error
				if fd >= 0 {
					n, err = unix.Write(fd, v)
				} else {
					n, err = write1(buf1kPath, v)
				}
				switch {
				case len(v) > size && !errors.Is(err, unix.EFBIG):
					fail(fmt.Errorf("writer %d: write of %d bytes: %d, %v; want EFBIG", w, len(v), n, err))
				case len(v) <= size && (err != nil || n != len(v)):
					fail(fmt.Errorf("writer %d: write of %d bytes: %d, %v", w, len(v), n, err))
				}
				nwrit.Add(1)
			}
		}()
	}
	for r := 0; r < readers; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fd, err := unix.Open(buf1kPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				fail(err)
				return
			}
			defer unix.Close(fd)
			buf := make([]byte, 2*size)
			for !stop.Load() {
				n, err := unix.Pread(fd, buf, 0)
				if err != nil {
					fail(fmt.Errorf("reader %d: %w", r, err))
					return
				}
				nreads.Add(1)
				if n == 0 {
					continue
				}
				got := buf[:n]
				var w, i int
				if _, err := fmt.Sscanf(string(got), "w%d i%d ", &w, &i); err != nil || w < 0 || w >= writers || i < 0 {
					fail(fmt.Errorf("reader %d: read %s, which no writer wrote", r, abbrev(string(got))))
					return
				}
				if want := value(w, i); !bytes.Equal(got, want) {
					fail(fmt.Errorf("reader %d: torn read %s, want %s", r, abbrev(string(got)), abbrev(string(want))))
					return
				}
			}
		}()
	}
	time.Sleep(duration)
	stop.Store(true)
	wg.Wait()
	if firstErr != nil {
		t.Fatal(firstErr)
	}
	t.Logf("%d reads and %d writes in %v", nreads.Load(), nwrit.Load(), duration)
	// At least 100 of each in the time (fewer on the slower debug kernel).
	if least := int64(guesttest.Rounds(100)); nreads.Load() < least || nwrit.Load() < least {
		t.Errorf("only %d reads and %d writes in %v: the test did not test much", nreads.Load(), nwrit.Load(), duration)
	}
	log.Clean(t)
}

// preemptKnob chooses the preemption model of a PREEMPT_DYNAMIC kernel
// (Debian's are) while it runs.
const preemptKnob = "/sys/kernel/debug/sched/preempt"

// fullPreemption switches the kernel to full preemption until the test
// ends. The lab's guest has one CPU, and Debian's kernels preempt only
// where the kernel allows it ("voluntary"): a handler that does not sleep
// then runs to its end before any other task runs, and even a buffer
// without a lock would never be seen half written. With full preemption
// a timer tick can stop a writer in the middle of its copy and run a
// reader, so missing locking shows.
func fullPreemption(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile(preemptKnob)
	if err != nil {
		t.Logf("preemption model unchanged (%v): on one CPU, a missing lock may go unnoticed", err)
		return
	}
	// "none (voluntary) full": the current model is in parentheses.
	cur := regexp.MustCompile(`\((\w+)\)`).FindStringSubmatch(string(b))
	if cur == nil {
		t.Fatalf("%s reads %q: no current model", preemptKnob, b)
	}
	if cur[1] == "full" {
		return
	}
	set := func(model string) error {
		f, err := os.OpenFile(preemptKnob, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		_, err = f.WriteString(model)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	}
	if err := set("full"); err != nil {
		t.Fatalf("set %s to full: %v", preemptKnob, err)
	}
	t.Cleanup(func() {
		if err := set(cur[1]); err != nil {
			t.Errorf("set %s back to %s: %v", preemptKnob, cur[1], err)
		}
	})
	t.Logf("preemption: full for this test (was %s)", cur[1])
}

// TestLoadUnloadCycles loads and unloads each module 100 times (fewer on
// the debug kernel: guesttest.Rounds); each time its file must be there
// while it is loaded and gone after. The four modules cycle at the same
// time (they are independent): that is faster where unloading waits for
// RCU grace periods, and makes the kernel create and remove their /proc
// entries side by side.
func TestLoadUnloadCycles(t *testing.T) {
	cycles := guesttest.Rounds(100)
	log := guesttest.KernelLog(t)
	mods := []struct{ module, path string }{
		{"procfs1", helloPath},
		{"procfs2", buf1kPath},
		{"procfs3", buf2kPath},
		{"procfs4", iterPath},
	}
	// Resolve the files here: ModulePath may stop the test, which only
	// this goroutine may do.
	kos := make([]string, len(mods))
	for i, m := range mods {
		kos[i] = guesttest.ModulePath(t, m.module)
	}
	t.Cleanup(func() {
		for _, m := range mods {
			if mod := (&guesttest.Module{Name: guesttest.KernelName(m.module)}); mod.Loaded() {
				mod.TryUnload()
			}
		}
	})
	start := time.Now()
	errs := make([]error, len(mods))
	var wg sync.WaitGroup
	for i, m := range mods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = cycle(kos[i], guesttest.KernelName(m.module), m.path, cycles)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("%s: %v", mods[i].module, err)
		}
	}
	t.Logf("%d cycles of each module in %v", cycles, time.Since(start).Round(time.Millisecond))
	log.Clean(t)
}

// cycle loads and unloads the module ko n times.
func cycle(ko, name, path string, n int) error {
	var ld loader.Loader
	for i := 0; i < n; i++ {
		if err := ld.LoadFile(ko, ""); err != nil {
			return fmt.Errorf("cycle %d: load: %w", i, err)
		}
		_, statErr := os.Stat(path)
		if err := ld.Unload(name, 0); err != nil {
			return fmt.Errorf("cycle %d: unload: %w", i, err)
		}
		if statErr != nil {
			return fmt.Errorf("cycle %d: %s while loaded: %w", i, path, statErr)
		}
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("cycle %d: %s after unload: %v, want it gone", i, path, err)
		}
	}
	return nil
}

// A child process does one open and one read or write, as another user or
// with fewer capabilities, and reports the errno. It is this test binary,
// run again with childEnv set; TestMain sends it to childMain.

const childEnv = "PROCFS_TEST_CHILD"

type childRequest struct {
	Op           string // "read" or "write"
	Path         string
	Data         string
	DropSysAdmin bool // drop CAP_SYS_ADMIN before opening
}

type childResult struct {
	Stage string // where it failed: "caps", "open", "read" or "write"
	Errno string // the errno's name, "" on success
	Data  string // what a read returned
	N     int    // bytes written
}

var (
	childOnce sync.Once
	childDir  string
	childBin  string
	childErr  error
)

// childBinary copies this test binary to a directory every user may enter,
// so a child can run it whatever its uid.
func childBinary(t *testing.T) string {
	t.Helper()
	childOnce.Do(func() {
		exe, err := os.Executable()
		if err != nil {
			childErr = err
			return
		}
		data, err := os.ReadFile(exe)
		if err != nil {
			childErr = err
			return
		}
		if childDir, err = os.MkdirTemp("", "procfs-child-"); err != nil {
			childErr = err
			return
		}
		if err := os.Chmod(childDir, 0o755); err != nil {
			childErr = err
			return
		}
		childBin = filepath.Join(childDir, "procfs.test")
		childErr = os.WriteFile(childBin, data, 0o755)
	})
	if childErr != nil {
		t.Fatalf("child binary: %v", childErr)
	}
	return childBin
}

// runChild runs req in a child process with cred (nil: as root).
func runChild(t *testing.T, cred *syscall.Credential, req childRequest) childResult {
	t.Helper()
	js, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(childBinary(t))
	cmd.Dir = "/"
	cmd.Env = append(os.Environ(), childEnv+"="+string(js))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child %+v: %v\n%s", req, err, stderr.Bytes())
	}
	var res childResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("child %+v said %q: %v", req, out, err)
	}
	return res
}

func childMain(reqJSON string) int {
	var req childRequest
	if err := json.Unmarshal([]byte(reqJSON), &req); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	res := childDo(req)
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		return 2
	}
	return 0
}

func childDo(req childRequest) childResult {
	// Capabilities belong to a thread: drop CAP_SYS_ADMIN on this one and
	// make every system call below from it.
	runtime.LockOSThread()
	failed := func(stage string, err error) childResult {
		var errno unix.Errno
		if errors.As(err, &errno) {
			return childResult{Stage: stage, Errno: unix.ErrnoName(errno)}
		}
		return childResult{Stage: stage, Errno: err.Error()}
	}
	if req.DropSysAdmin {
		if err := dropCapability(unix.CAP_SYS_ADMIN); err != nil {
			return failed("caps", err)
		}
	}
	flags := unix.O_RDONLY
	if req.Op == "write" {
		flags = unix.O_WRONLY
	}
	fd, err := unix.Open(req.Path, flags|unix.O_CLOEXEC, 0)
	if err != nil {
		return failed("open", err)
	}
	defer unix.Close(fd)
	if req.Op == "write" {
		n, err := unix.Write(fd, []byte(req.Data))
		if err != nil {
			return failed("write", err)
		}
		return childResult{N: n}
	}
	var data []byte
	buf := make([]byte, 65536)
	for {
		n, err := unix.Read(fd, buf)
		if err != nil {
			return failed("read", err)
		}
		if n == 0 {
			return childResult{Data: string(data)}
		}
		data = append(data, buf[:n]...)
	}
}

// dropCapability removes c from the calling thread's effective and
// permitted sets.
func dropCapability(c int) error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capget: %w", err)
	}
	data[c/32].Effective &^= 1 << (c % 32)
	data[c/32].Permitted &^= 1 << (c % 32)
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	return nil
}
