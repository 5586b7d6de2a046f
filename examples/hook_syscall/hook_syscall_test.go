//go:build modlab_guest

// Package hook_syscall_test checks, inside the lab's VM, that hook_syscall
// reports exactly the opens it should: those of processes whose uid is
// the module's parameter, through open, openat and openat2, with uid, pid,
// command and path; none for root, none with no uid set; a new uid written
// to /sys/module/hook_syscall/parameters/uid counts from the next call on.
// Paths that are relative, at the length limit, behind a bad pointer or
// in a page that is not mapped yet are each reported (or reported as
// unreadable), never a crash; bad values of the parameter are refused.
// Last, the module is unloaded and loaded 50 times while 4 processes open
// files in a loop. `modlab test hook_syscall` runs it.
//
// The opening processes are cmd/hookopen, started as root; with -uid it
// drops to that uid before its first open. A test that wants an open NOT
// to be reported checks that after a later open that must be: the hook
// logs in the order of the calls, so when the later report is there, the
// earlier one would be too.
//
// The tests do not run in parallel: they share one kernel, and the module
// can only be loaded once at a time. Each test loads the module afresh, so
// each starts with the rate limit's full burst of 10 reports.
package hook_syscall_test

import (
	"bufio"
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
	"time"

	"golang.org/x/sys/unix"

	"github.com/modlab/modlab/lab/guesttest"
)

const (
	module    = "hook_syscall"
	prefix    = module + ": "
	paramPath = "/sys/module/hook_syscall/parameters/uid"
	pathLen   = 256 // HOOK_PATH_LEN in hook_syscall.c: the longest path reported, with its NUL
)

// seq makes file names unique within the run.
var seq int

// tmpFile creates an empty file under /tmp that uid 1000 may read, with a
// name of its own, and returns its path.
func tmpFile(t *testing.T, tag string) string {
	t.Helper()
	seq++
	p := fmt.Sprintf("/tmp/hook-%s-%d-%d", tag, os.Getpid(), seq)
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(p) })
	return p
}

// opened is what one run of hookopen did.
type opened struct {
	pid int
	out string
}

var pidLine = regexp.MustCompile(`(?m)^hookopen: pid (\d+) uid (\d+)$`)

// hookopen runs cmd/hookopen with args to the end and returns its pid and
// output; a failure of the program fails the test.
func hookopen(t *testing.T, args ...string) opened {
	t.Helper()
	out, err := exec.Command("hookopen", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("hookopen %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	m := pidLine.FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("hookopen %s printed no pid line:\n%s", strings.Join(args, " "), out)
	}
	pid, _ := strconv.Atoi(m[1])
	return opened{pid: pid, out: string(out)}
}

// asUID opens paths through openat as uid, and returns hookopen's pid.
func asUID(t *testing.T, uid int, paths ...string) int {
	t.Helper()
	o := hookopen(t, append([]string{"-uid", strconv.Itoa(uid)}, paths...)...)
	for _, p := range paths {
		if !strings.Contains(o.out, fmt.Sprintf("openat %q: fd ", p)) {
			t.Fatalf("uid %d could not open %s:\n%s", uid, p, o.out)
		}
	}
	return o.pid
}

// report is the line hook_syscall logs for one open.
func report(call string, uid, pid int, path string) string {
	return fmt.Sprintf("%s%s: uid=%d pid=%d comm=hookopen path=%s", prefix, call, uid, pid, path)
}

// wantNoReport fails the test if any line of the log reports path.
func wantNoReport(t *testing.T, log *guesttest.Log, path string) {
	t.Helper()
	for _, l := range log.Lines() {
		if strings.HasPrefix(l, prefix) && strings.HasSuffix(l, " path="+path) {
			t.Fatalf("%s was reported: %q", path, l)
		}
	}
}

// setUID writes the parameter through sysfs.
func setUID(t *testing.T, v string) {
	t.Helper()
	if err := os.WriteFile(paramPath, []byte(v+"\n"), 0); err != nil {
		t.Fatalf("write %q to %s: %v", v, paramPath, err)
	}
}

// TestReportsUid1000: an open by a uid-1000 process is reported with its
// uid, pid, command name and path, once.
func TestReportsUid1000(t *testing.T) {
	log := guesttest.KernelLog(t)
	m := guesttest.Load(t, module, "uid=1000")
	if v := m.Param(t, "uid"); v != "1000" {
		t.Errorf("uid reads %q, want 1000", v)
	}
	p := tmpFile(t, "uid1000")
	pid := asUID(t, 1000, p)
	want := report("openat", 1000, pid, p)
	log.Want(t, prefix+"watching open, openat and openat2", want)
	n := 0
	for _, l := range log.Lines() {
		if strings.HasSuffix(l, " path="+p) {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the open was reported %d times, want once", n)
	}
	m.Unload(t)
	log.Want(t, prefix+"unloaded")
}

// TestRootNotReported: with uid=1000, root's opens (the test's and a root
// hookopen's) are not reported.
func TestRootNotReported(t *testing.T) {
	log := guesttest.KernelLog(t)
	guesttest.Load(t, module, "uid=1000")
	root := tmpFile(t, "root")
	if _, err := os.ReadFile(root); err != nil { // this test, as root, through Go's os
		t.Fatal(err)
	}
	asUID(t, 0, root)
	marker := tmpFile(t, "marker")
	pid := asUID(t, 1000, marker)
	log.Want(t, report("openat", 1000, pid, marker))
	wantNoReport(t, log, root)
}

// TestNothingWithoutUid: loaded with no uid, the module reports nobody's
// opens, and its parameter reads -1; set through sysfs, the uid counts
// from the next open on.
func TestNothingWithoutUid(t *testing.T) {
	log := guesttest.KernelLog(t)
	m := guesttest.Load(t, module)
	if v := m.Param(t, "uid"); v != "-1" {
		t.Errorf("uid reads %q with no uid given, want -1", v)
	}
	before := tmpFile(t, "nouid")
	asUID(t, 1000, before)
	asUID(t, 0, before)
	asUID(t, 65534, before)
	setUID(t, "1000")
	after := tmpFile(t, "set")
	pid := asUID(t, 1000, after)
	log.Want(t, report("openat", 1000, pid, after))
	wantNoReport(t, log, before)
	for _, l := range log.Lines() {
		if strings.Contains(l, " path") && !strings.HasSuffix(l, " path="+after) {
			t.Errorf("unexpected report: %q", l)
		}
	}
}

// TestParamTakesEffectAtOnce: each write to /sys/module/hook_syscall/
// parameters/uid holds from the very next open, with no delay.
func TestParamTakesEffectAtOnce(t *testing.T) {
	log := guesttest.KernelLog(t)
	m := guesttest.Load(t, module, "uid=1000")
	type step struct {
		set      string // written first, "" for nothing
		uid      int    // the opener
		reported bool
	}
	steps := []step{
		{"", 1000, true},
		{"2000", 1000, false},
		{"", 2000, true},
		{"-1", 2000, false},
		{"-1", 1000, false},
		{"65534", 65534, true},
		{"1000", 1000, true},
		{"", 0, false},
	}
	var wants, silent []string
	for i, s := range steps {
		if s.set != "" {
			setUID(t, s.set)
			if v := m.Param(t, "uid"); v != s.set {
				t.Fatalf("step %d: uid reads %q after writing %q", i, v, s.set)
			}
		}
		p := tmpFile(t, "step"+strconv.Itoa(i))
		pid := asUID(t, s.uid, p)
		if s.reported {
			wants = append(wants, report("openat", s.uid, pid, p))
		} else {
			silent = append(silent, p)
		}
	}
	// The last reported open comes after every silent one but the last;
	// one more reported open closes the sequence.
	setUID(t, "1000")
	end := tmpFile(t, "end")
	wants = append(wants, report("openat", 1000, asUID(t, 1000, end), end))
	log.Want(t, wants...)
	for _, p := range silent {
		wantNoReport(t, log, p)
	}
}

// TestParamRefusesBadValues: a value that is neither -1 nor a uid (0 to
// 4294967294) is refused with EINVAL, at load and through sysfs, and the
// old value stays.
func TestParamRefusesBadValues(t *testing.T) {
	bad := []string{"abc", "-2", "4294967295", "4294967296", "99999999999999999999", "1.5", "12x", ""}
	for _, v := range bad {
		t.Run("load uid="+v, func(t *testing.T) {
			log := guesttest.KernelLog(t)
			err := guesttest.TryLoad(t, module, "uid="+v)
			if !errors.Is(err, unix.EINVAL) {
				t.Fatalf("uid=%s: %v, want EINVAL", v, err)
			}
			log.Want(t, prefix+"uid: want -1 (nobody) or a uid from 0 to 4294967294")
		})
	}
	m := guesttest.Load(t, module, "uid=1000")
	for _, v := range bad {
		err := os.WriteFile(paramPath, []byte(v+"\n"), 0)
		if !errors.Is(err, unix.EINVAL) {
			t.Errorf("write %q: %v, want EINVAL", v, err)
		}
		if got := m.Param(t, "uid"); got != "1000" {
			t.Errorf("after writing %q the uid reads %q, want 1000 still", v, got)
		}
	}
	for _, v := range []string{"0", "4294967294", "-1", "65534"} {
		setUID(t, v)
		if got := m.Param(t, "uid"); got != v {
			t.Errorf("wrote %q, uid reads %q", v, got)
		}
	}
}

// TestEverySyscall: open, openat and openat2 are each reported under
// their own name; relative paths as the caller gave them.
func TestEverySyscall(t *testing.T) {
	log := guesttest.KernelLog(t)
	guesttest.Load(t, module, "uid=1000")
	var wants []string
	for _, call := range []string{"open", "openat", "openat2"} {
		p := tmpFile(t, call)
		for _, arg := range []string{p, filepath.Base(p)} { // absolute, then relative to /tmp
			args := []string{"-uid", "1000", "-call", call, arg}
			if arg != p {
				args = append([]string{"-dir", "/tmp"}, args...)
			}
			o := hookopen(t, args...)
			if !strings.Contains(o.out, fmt.Sprintf("%s %q: fd ", call, arg)) {
				t.Fatalf("%s %s failed:\n%s", call, arg, o.out)
			}
			wants = append(wants, report(call, 1000, o.pid, arg))
		}
	}
	log.Want(t, wants...)
}

// TestPathLengths: a path as long as the hook reports in full (255 bytes)
// is reported whole; longer ones up to PATH_MAX-1 (4095), which the kernel
// opens, are reported cut to 255 bytes and marked; one of PATH_MAX bytes,
// which the kernel refuses (ENAMETOOLONG), too.
func TestPathLengths(t *testing.T) {
	log := guesttest.KernelLog(t)
	guesttest.Load(t, module, "uid=1000")
	name := tmpFile(t, "long")
	// "/tmp" + slashes + "/hook-long-...": the kernel reads "//" as "/".
	long := func(n int) string {
		base := filepath.Base(name)
		return "/tmp" + strings.Repeat("/", n-len("/tmp")-len(base)) + base
	}
	var wants []string
	for _, n := range []int{pathLen - 1, pathLen, unix.PathMax - 1} {
		p := long(n)
		pid := asUID(t, 1000, p)
		if n < pathLen {
			wants = append(wants, report("openat", 1000, pid, p))
		} else {
			wants = append(wants, report("openat", 1000, pid, p[:pathLen-1])+" (truncated)")
		}
	}
	p := long(unix.PathMax)
	o := hookopen(t, "-uid", "1000", p)
	if !strings.Contains(o.out, ": ENAMETOOLONG") {
		t.Errorf("a path of %d bytes: want ENAMETOOLONG:\n%s", unix.PathMax, o.out)
	}
	wants = append(wants, report("openat", 1000, o.pid, p[:pathLen-1])+" (truncated)")
	log.Want(t, wants...)
}

// TestBadPointer: a path at 0x1 or in an unmapped page fails with EFAULT
// (hookopen checks) and is reported as unreadable, through every call.
func TestBadPointer(t *testing.T) {
	log := guesttest.KernelLog(t)
	guesttest.Load(t, module, "uid=1000")
	var wants []string
	for _, call := range []string{"open", "openat", "openat2"} {
		o := hookopen(t, "-uid", "1000", "-call", call, "-bad")
		line := fmt.Sprintf("%s%s: uid=1000 pid=%d comm=hookopen path unreadable (error -14)", prefix, call, o.pid)
		wants = append(wants, line, line)
	}
	log.Want(t, wants...)
}

// TestUnfaultedPath: a path in a page the process mapped but never
// touched. The kernel's own copy of the path may sleep to fault the page
// in, so the open succeeds; the hook, which must not sleep, finds no page
// and reports the path as unreadable. The README explains.
func TestUnfaultedPath(t *testing.T) {
	log := guesttest.KernelLog(t)
	guesttest.Load(t, module, "uid=1000")
	p := tmpFile(t, "unfaulted")
	o := hookopen(t, "-uid", "1000", "-unfaulted", p)
	if !strings.Contains(o.out, fmt.Sprintf("openat %q (unfaulted): fd ", p)) {
		t.Fatalf("the kernel did not open %s from an unfaulted page:\n%s", p, o.out)
	}
	// First hookopen's own open of its temporary file, then ours.
	log.Want(t, fmt.Sprintf("%sopenat: uid=1000 pid=%d comm=hookopen path unreadable (error -14)", prefix, o.pid))
}

// TestRateLimit: 200 opens in a burst give at most 10 reports.
func TestRateLimit(t *testing.T) {
	log := guesttest.KernelLog(t)
	guesttest.Load(t, module, "uid=1000")
	p := tmpFile(t, "burst")
	paths := make([]string, 200)
	for i := range paths {
		paths[i] = p
	}
	start := time.Now()
	pid := asUID(t, 1000, paths...)
	log.Want(t, report("openat", 1000, pid, p))
	time.Sleep(200 * time.Millisecond) // let any further report arrive
	n := 0
	for _, l := range log.Lines() {
		if strings.HasSuffix(l, " path="+p) {
			n++
		}
	}
	if time.Since(start) < 4*time.Second && (n < 1 || n > 10) {
		t.Errorf("200 opens in %v gave %d reports, want 1 to 10", time.Since(start), n)
	}
}

// TestUnloadWhileOpening: the module is unloaded and loaded 50 times (5 on
// the debug kernel) while 4 uid-1000 processes open files as fast as they
// can. unregister_kprobes() must wait for the handlers that are running;
// the guest fails the test on any kernel bug report or taint.
func TestUnloadWhileOpening(t *testing.T) {
	p := tmpFile(t, "stress")
	var wg sync.WaitGroup
	var procs []*exec.Cmd
	stopped := false
	for range 4 {
		// At nice 10 they take the CPU whenever the loads and unloads
		// leave it, but do not slow those fivefold (the guest has one CPU).
		cmd := exec.Command("hookopen", "-nice", "10", "-uid", "1000", "-for", "1h", p, "/tmp/hook-no-such-file", "relative")
		cmd.Dir = "/tmp"
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs = append(procs, cmd)
		wg.Add(1)
		go func() {
			defer wg.Done()
			sc := bufio.NewScanner(out)
			for sc.Scan() {
			}
		}()
	}
	// stop kills the openers and fails the test if one had ended before.
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		for _, c := range procs {
			c.Process.Kill()
		}
		wg.Wait()
		for _, c := range procs {
			err := c.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Errorf("opener %d ended before it was killed: %v", c.Process.Pid, err)
			}
		}
	}
	defer stop()
	log := guesttest.KernelLog(t)
	rounds := guesttest.Rounds(50)
	reported := 0
	for i := range rounds {
		m := guesttest.Load(t, module, "uid=1000")
		// Let the handlers run (and report) for a moment.
		time.Sleep(20 * time.Millisecond)
		m.Unload(t)
		if m.Loaded() {
			t.Fatalf("round %d: still loaded after rmmod", i)
		}
	}
	stop()
	for _, l := range log.Lines() {
		if strings.HasPrefix(l, prefix+"openat: uid=1000 ") {
			reported++
		}
	}
	if reported == 0 {
		t.Errorf("%d loads while 4 processes opened files gave no report", rounds)
	}
	t.Logf("%d loads and unloads, %d reports", rounds, reported)
	log.Clean(t)
}
