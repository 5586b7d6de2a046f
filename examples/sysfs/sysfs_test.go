//go:build modlab_guest

// Package sysfs_test checks, inside the lab's VM, what a user of
// /sys/kernel/mymodule sees: hello-sysfs's myvariable reads back what was
// written, refuses what is not an int and keeps its value, lets only root
// write, and never shows a value nobody wrote while readers and writers
// race; simple-sysfs makes the bare directory; and the two modules, which
// want the same name, cannot be loaded together: the second load fails with
// EEXIST, the first module keeps working, nothing of the second stays
// behind, and the kernel's "cannot create duplicate filename" report that
// this provokes is there and is no bug report for the lab. `modlab test
// sysfs` runs it.
//
// The tests do not run in parallel: they share one kernel and one name in
// /sys/kernel.
package sysfs_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/modlab/modlab/lab/guesttest"
	"github.com/modlab/modlab/lab/kcheck"
)

const (
	dir  = "/sys/kernel/mymodule"
	file = dir + "/myvariable"

	// helperEnv makes the test binary, started again as another user,
	// do one thing to file and say how it went (see TestMain).
	helperEnv = "SYSFS_TEST_HELPER"
	nobody    = 65534
)

func TestMain(m *testing.M) {
	if op := os.Getenv(helperEnv); op != "" {
		os.Exit(helper(op))
	}
	os.Exit(m.Run())
}

// helper reads or writes file and prints "ok" or "errno=N".
func helper(op string) int {
	var err error
	switch op {
	case "read":
		_, err = os.ReadFile(file)
	case "write":
		err = write("5\n")
	default:
		err = fmt.Errorf("unknown helper operation %q", op)
	}
	var errno syscall.Errno
	switch {
	case err == nil:
		fmt.Println("ok")
		return 0
	case errors.As(err, &errno):
		fmt.Printf("errno=%d\n", int(errno))
	default:
		fmt.Println(err)
	}
	return 1
}

// asNobody runs helper op as uid and gid 65534 and returns what it printed.
func asNobody(t *testing.T, op string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+op)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, _ := cmd.Output()
	return strings.TrimSpace(string(out))
}

// write writes s to file with one write(2) on a new descriptor, the way
// `echo s > file` does, and returns what the kernel said.
func write(s string) error {
	fd, err := unix.Open(file, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer unix.Close(fd)
	n, err := unix.Write(fd, []byte(s))
	if err != nil {
		return err
	}
	if n != len(s) {
		return fmt.Errorf("wrote %d of %d bytes", n, len(s))
	}
	return nil
}

// read returns the content of file, read with one read(2).
func read() (string, error) {
	fd, err := unix.Open(file, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	buf := make([]byte, 64)
	n, err := unix.Read(fd, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

func wantValue(t *testing.T, want string) {
	t.Helper()
	got, err := read()
	if err != nil {
		t.Fatalf("read %s: %v", file, err)
	}
	if got != want {
		t.Fatalf("%s reads %q, want %q", file, got, want)
	}
}

func set(t *testing.T, s string) {
	t.Helper()
	if err := write(s); err != nil {
		t.Fatalf("write %q to %s: %v", s, file, err)
	}
}

// entries lists a directory's names.
func entries(t *testing.T, path string) []string {
	t.Helper()
	des, err := os.ReadDir(path)
	if err != nil {
		t.Fatalf("list %s: %v", path, err)
	}
	var out []string
	for _, de := range des {
		out = append(out, de.Name())
	}
	return out
}

func wantGone(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s: %v, want it gone", path, err)
	}
}

func TestReadWrite(t *testing.T) {
	log := guesttest.KernelLog(t)
	m := guesttest.Load(t, "hello-sysfs")
	log.Want(t, "hello_sysfs: created /sys/kernel/mymodule/myvariable")

	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() {
		t.Fatalf("%s: %v, want a directory", dir, err)
	}
	if got := entries(t, dir); !slices.Equal(got, []string{"myvariable"}) {
		t.Errorf("%s holds %q, want only myvariable", dir, got)
	}
	st, err = os.Stat(file)
	if err != nil || !st.Mode().IsRegular() || st.Mode().Perm() != 0o644 {
		t.Fatalf("%s: %v, mode %v; want a regular file, mode 0644", file, err, st.Mode())
	}
	// A sysfs file shows the size of a page, whatever it holds.
	if st.Size() != int64(os.Getpagesize()) {
		t.Errorf("%s has size %d, want %d (sysfs's page)", file, st.Size(), os.Getpagesize())
	}

	wantValue(t, "0\n")
	for _, tc := range []struct{ write, read string }{
		{"42\n", "42\n"}, // what echo writes
		{"-7", "-7\n"},   // no newline is fine too
		{"+5\n", "5\n"},
		{"2147483647\n", "2147483647\n"},
		{"-2147483648\n", "-2147483648\n"},
		{"007\n", "7\n"}, // decimal: a leading zero is not octal
		{"0\n", "0\n"},
	} {
		set(t, tc.write)
		wantValue(t, tc.read)
	}

	// Reading in small pieces gives the same bytes as one read.
	set(t, "123456\n")
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	one := make([]byte, 1)
	for {
		n, err := f.Read(one)
		got = append(got, one[:n]...)
		if err != nil || n == 0 {
			break
		}
	}
	f.Close()
	if string(got) != "123456\n" {
		t.Errorf("byte-at-a-time read = %q, want %q", got, "123456\n")
	}

	m.Unload(t)
	log.Want(t, "hello_sysfs: removed /sys/kernel/mymodule")
	wantGone(t, dir)
	log.Clean(t)
}

// TestBadInput: what is not a whole decimal int is refused with EINVAL and
// the value stays as it was.
func TestBadInput(t *testing.T) {
	guesttest.Load(t, "hello-sysfs")
	set(t, "1234\n")
	for _, in := range []string{
		"abc\n",                   // not a number
		"abc",                     //
		"2147483648\n",            // one more than the largest int
		"-2147483649\n",           // one less than the smallest
		"99999999999999999999\n",  // far too big
		"\n",                      // an empty line: `echo > myvariable`
		"42abc\n",                 // trailing garbage
		"42 \n",                   // a space after the number
		" 42\n",                   // a space before it
		"42\n\n",                  // two newlines
		"4 2\n",                   //
		"0x10\n",                  // hexadecimal: decimal only
		"-\n",                     //
		"12\x0034\n",              // a NUL inside
		strings.Repeat("9", 4000), // long
		strings.Repeat("1", 8192), // more than a page: store sees the first page
	} {
		err := write(in)
		if !errors.Is(err, unix.EINVAL) {
			t.Errorf("write %q: %v, want EINVAL", in, err)
		}
		wantValue(t, "1234\n")
	}

	// A write of no bytes at all never reaches the module: sysfs answers
	// 0 (nothing written) itself. The value stays.
	fd, err := unix.Open(file, unix.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	n, err := unix.Write(fd, nil)
	unix.Close(fd)
	if n != 0 || err != nil {
		t.Errorf("zero-length write = %d, %v; want 0, nil", n, err)
	}
	wantValue(t, "1234\n")
}

// TestPermissions: mode 0644, so another user reads but may not write; the
// kernel refuses at open, before the module is asked.
func TestPermissions(t *testing.T) {
	guesttest.Load(t, "hello-sysfs")
	set(t, "77\n")
	if got := asNobody(t, "read"); got != "ok" {
		t.Errorf("read as uid %d: %s, want ok", nobody, got)
	}
	if got, want := asNobody(t, "write"), fmt.Sprintf("errno=%d", int(unix.EACCES)); got != want {
		t.Errorf("write as uid %d: %s, want %s (EACCES)", nobody, got, want)
	}
	wantValue(t, "77\n")
}

func TestSimpleSysfs(t *testing.T) {
	log := guesttest.KernelLog(t)
	m := guesttest.Load(t, "simple-sysfs")
	log.Want(t, "simple_sysfs: created /sys/kernel/mymodule")
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() {
		t.Fatalf("%s: %v, want a directory", dir, err)
	}
	if got := entries(t, dir); len(got) != 0 {
		t.Errorf("%s holds %q, want nothing", dir, got)
	}
	m.Unload(t)
	log.Want(t, "simple_sysfs: removed /sys/kernel/mymodule")
	wantGone(t, dir)
	log.Clean(t)
}

// dupReport is what the kernel logs when a kobject's directory exists
// already (fs/sysfs/dir.c sysfs_warn_dup, then lib/kobject.c): a warning,
// a stack dump (dump_stack: no WARNING: line, no taint), and the kobject
// core's own complaint, which 6.12 prefixes with "kobject: ".
var dupReport = []string{
	"sysfs: cannot create duplicate filename '/kernel/mymodule'",
	"Call Trace:",
	"kobject_init_and_add+",
	"</TASK>",
	"kobject_add_internal failed for mymodule with -EEXIST, don't try to register things with the same name in the same directory.",
}

// TestBothModules loads one module, then the other, in both orders: the
// second fails with EEXIST and leaves nothing behind, the first keeps
// working, and the kernel's duplicate-name report is there but is not a
// bug report for the lab (no WARNING:, no taint).
func TestBothModules(t *testing.T) {
	for _, tc := range []struct{ first, second string }{
		{"hello-sysfs", "simple-sysfs"},
		{"simple-sysfs", "hello-sysfs"},
	} {
		t.Run(tc.first+"-then-"+tc.second, func(t *testing.T) {
			before := entries(t, "/sys/kernel")
			taint := guesttest.Tainted(t)
			log := guesttest.KernelLog(t)
			first := guesttest.Load(t, tc.first)
			inDir := entries(t, dir)
			if tc.first == "hello-sysfs" {
				set(t, "7\n")
			}

			err := guesttest.TryLoad(t, tc.second)
			if !errors.Is(err, unix.EEXIST) {
				t.Fatalf("loading %s after %s: %v, want EEXIST", tc.second, tc.first, err)
			}
			second := guesttest.KernelName(tc.second)
			log.Want(t, append(dupReport, second+": cannot create /sys/kernel/mymodule: error -17")...)

			// The report is a warning with a stack dump, not a bug: the
			// lab's check finds no bug report in it, and no taint flag
			// came with it.
			if s := kcheck.FindSplats(log.Lines()); len(s) > 0 {
				t.Errorf("the lab takes the duplicate-name report for a bug:\n%s", s[0].Text())
			}
			if now := guesttest.Tainted(t); now != taint {
				t.Errorf("taint went from %v to %v", taint, now)
			}

			// Nothing of the second module stays: not loaded, and
			// /sys/kernel holds what it held with the first alone.
			if _, err := os.Stat("/sys/module/" + second); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("/sys/module/%s: %v, want it gone", second, err)
			}
			if got, want := entries(t, "/sys/kernel"), append(slices.Clone(before), "mymodule"); !sameSet(got, want) {
				t.Errorf("/sys/kernel holds %q, want %q", got, want)
			}
			if got := entries(t, dir); !slices.Equal(got, inDir) {
				t.Errorf("%s holds %q after the failed load, %q before", dir, got, inDir)
			}

			// The first module still works.
			if tc.first == "hello-sysfs" {
				wantValue(t, "7\n")
				set(t, "8\n")
				wantValue(t, "8\n")
			}
			first.Unload(t)
			wantGone(t, dir)
			if got := entries(t, "/sys/kernel"); !sameSet(got, before) {
				t.Errorf("/sys/kernel holds %q after unloading, %q before", got, before)
			}

			// And the name is free again for the second.
			m := guesttest.Load(t, tc.second)
			m.Unload(t)
		})
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// The writers of TestConcurrent write multiples of step, a prime, so a read
// that mixed two values would, almost always, be none.
const step = 1000003

// TestConcurrent runs 4 readers and 4 writers on myvariable for 2 seconds
// (a second on the debug kernel: guesttest.StressTime): every read is one
// whole "%d\n" of a value some writer wrote, and bad writes among the good
// ones are still refused.
func TestConcurrent(t *testing.T) {
	guesttest.Load(t, "hello-sysfs")
	set(t, "0\n")
	var (
		stop          atomic.Bool
		reads, writes atomic.Int64
		wg            sync.WaitGroup
		mu            sync.Mutex
		problems      []string
	)
	report := func(format string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(problems) < 10 {
			problems = append(problems, fmt.Sprintf(format, a...))
		}
		stop.Store(true)
	}
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				v := ((w*1000+i)%4001 - 2000) * step // -2000*step .. 2000*step
				if err := write(strconv.Itoa(v) + "\n"); err != nil {
					report("writer %d: write %d: %v", w, v, err)
					return
				}
				writes.Add(1)
				if i%10 == 0 {
					if err := write("12x\n"); !errors.Is(err, unix.EINVAL) {
						report("writer %d: bad write: %v, want EINVAL", w, err)
						return
					}
				}
			}
		}()
	}
	for r := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				s, err := read()
				if err != nil {
					report("reader %d: %v", r, err)
					return
				}
				num, ok := strings.CutSuffix(s, "\n")
				v, err := strconv.Atoi(num)
				if !ok || err != nil || v%step != 0 || v/step < -2000 || v/step > 2000 {
					report("reader %d read %q, which no writer wrote", r, s)
					return
				}
				reads.Add(1)
			}
		}()
	}
	runFor := guesttest.StressTime(2 * time.Second)
	time.Sleep(runFor)
	stop.Store(true)
	wg.Wait()
	for _, p := range problems {
		t.Error(p)
	}
	t.Logf("%d reads, %d writes in %v", reads.Load(), writes.Load(), runFor)
	// At least 100 of each in the time (fewer on the slower debug kernel).
	if least := int64(guesttest.Rounds(100)); reads.Load() < least || writes.Load() < least {
		t.Errorf("only %d reads and %d writes: the race was hardly run", reads.Load(), writes.Load())
	}
}

// TestLoadUnloadCycles loads and unloads each module 100 times (fewer on
// the debug kernel: guesttest.Rounds); hello-sysfs starts at 0 each time (a
// fresh struct) and takes a write.
func TestLoadUnloadCycles(t *testing.T) {
	for _, mod := range []string{"hello-sysfs", "simple-sysfs"} {
		t.Run(mod, func(t *testing.T) {
			log := guesttest.KernelLog(t)
			for i := range guesttest.Rounds(100) {
				m := guesttest.Load(t, mod)
				if _, err := os.Stat(dir); err != nil {
					t.Fatalf("cycle %d: %v", i, err)
				}
				if mod == "hello-sysfs" {
					wantValue(t, "0\n")
					set(t, strconv.Itoa(i)+"\n")
					wantValue(t, strconv.Itoa(i)+"\n")
				}
				m.Unload(t)
				wantGone(t, dir)
			}
			log.Clean(t)
		})
	}
}
