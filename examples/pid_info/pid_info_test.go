//go:build modlab_guest

// Package pid_info_test checks, inside the lab's VM, that pid_info tells the
// truth about a process: it starts pidwait (cmd/pidwait), loads pid_info
// with its pid, and compares every field the module logs with what
// /proc/PID/stat and /proc/PID/status say; then a pid in a new pid
// namespace (level 1), pids that no process has (ESRCH) and numbers that
// cannot be pids (EINVAL), and 100 loads and unloads. `modlab test
// pid_info` runs it.
//
// The tests do not run in parallel: they share one kernel, and a module
// can only be loaded once at a time.
package pid_info_test

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/modlab/modlab/kmod/modfile"
	"github.com/modlab/modlab/lab/guesttest"
)

// The fields pid_info logs, one per line, in this order.
var labels = []string{"pid", "level", "nspid", "comm", "state", "ppid", "uid", "start_time", "start_time_ns"}

// pidPrefix starts every line pid_info logs.
const pidPrefix = "pid_info: "

// fieldRe is a field line: "pid_info: label=value".
var fieldRe = regexp.MustCompile(`^pid_info: ([a-z_]+)=(.*)$`)

// pidwait is a running cmd/pidwait.
type pidwait struct {
	cmd   *exec.Cmd
	pid   int // as this test (the initial pid namespace) sees it
	saysp int // what it printed: its pid in its own namespace
}

// startPidwait starts pidwait with the given attributes and waits for it
// to print its pid. It is killed at the end of the test.
func startPidwait(t *testing.T, attr *syscall.SysProcAttr) *pidwait {
	t.Helper()
	path, err := exec.LookPath("pidwait")
	if err != nil {
		t.Fatalf("pidwait is not on the PATH: %v", err)
	}
	cmd := exec.Command(path)
	cmd.SysProcAttr = attr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start pidwait: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	first := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sc.Scan()
		first <- sc.Text()
		for sc.Scan() {
		}
	}()
	var line string
	wait := time.Duration(guesttest.Slowdown()) * 10 * time.Second
	select {
	case line = <-first:
	case <-time.After(wait):
		t.Fatalf("pidwait printed nothing in %v", wait)
	}
	n, err := strconv.Atoi(strings.TrimPrefix(line, "My PID is: "))
	if err != nil {
		t.Fatalf("pidwait's first line %q is not \"My PID is: N\"", line)
	}
	p := &pidwait{cmd: cmd, pid: cmd.Process.Pid, saysp: n}
	waitSleeping(t, p.pid)
	return p
}

// waitSleeping waits until the task is asleep (state S): pidwait prints its
// pid just before it goes to sleep in pause(2). It allows 5 s, times the
// kernel's slowdown.
func waitSleeping(t *testing.T, pid int) {
	t.Helper()
	wait := time.Duration(guesttest.Slowdown()) * 5 * time.Second
	deadline := time.Now().Add(wait)
	for {
		st := stat(t, pid)
		if st.state == "S" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %d is in state %s, not S, after %v", pid, st.state, wait)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// procStat is what /proc/PID/stat says, the fields we check.
type procStat struct {
	comm, state string
	ppid        int
	startTime   uint64 // clock ticks after boot (field 22)
}

// stat parses /proc/PID/stat: "pid (comm) state ppid ... starttime ...".
// comm may hold spaces and parentheses, so the fields after it are found
// from the last ')'.
func stat(t *testing.T, pid int) procStat {
	t.Helper()
	s := strings.TrimSpace(guesttest.ReadFile(t, fmt.Sprintf("/proc/%d/stat", pid)))
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		t.Fatalf("/proc/%d/stat: %q", pid, s)
	}
	f := strings.Fields(s[end+1:]) // f[0] is field 3
	if len(f) < 20 {
		t.Fatalf("/proc/%d/stat has %d fields after comm: %q", pid, len(f), s)
	}
	ppid, err1 := strconv.Atoi(f[1])
	start, err2 := strconv.ParseUint(f[19], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatalf("/proc/%d/stat: %v", pid, err)
	}
	return procStat{comm: s[open+1 : end], state: f[0], ppid: ppid, startTime: start}
}

// status returns /proc/PID/status as key to value.
func status(t *testing.T, pid int) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, l := range strings.Split(guesttest.ReadFile(t, fmt.Sprintf("/proc/%d/status", pid)), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok {
			out[k] = strings.TrimSpace(v)
		}
	}
	return out
}

// logged loads pid_info with pid=PID and returns the fields it logged, and
// the module.
func logged(t *testing.T, pid int) (map[string]string, *guesttest.Module) {
	t.Helper()
	log := guesttest.KernelLog(t)
	m := guesttest.Load(t, "pid_info", fmt.Sprintf("pid=%d", pid))
	log.Want(t, pidPrefix+"start_time_ns=")
	got := map[string]string{}
	var order []string
	for _, l := range log.Lines() {
		// The module's own lines; the kernel's about the module (the
		// taint on the first load of an out-of-tree module) have no "=".
		m := fieldRe.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		k, v := m[1], m[2]
		if _, dup := got[k]; dup {
			t.Fatalf("pid_info logged %s twice", k)
		}
		got[k] = v
		order = append(order, k)
	}
	if strings.Join(order, " ") != strings.Join(labels, " ") {
		t.Fatalf("pid_info logged the labels %q, want %q", order, labels)
	}
	log.Clean(t)
	return got, m
}

// check compares what pid_info logged about pid with /proc.
func check(t *testing.T, pid int, got map[string]string, level, nspid int) {
	t.Helper()
	st := stat(t, pid)
	sts := status(t, pid)
	ns := strings.Fields(sts["NSpid"]) // the pid in each namespace, outermost first
	uid := strings.Fields(sts["Uid"])  // real, effective, saved, fs
	if len(ns) == 0 || len(uid) == 0 {
		t.Fatalf("/proc/%d/status lacks NSpid or Uid: %v", pid, sts)
	}
	want := map[string]string{
		"pid":        strconv.Itoa(pid),
		"level":      strconv.Itoa(level),
		"nspid":      strconv.Itoa(nspid),
		"comm":       st.comm,
		"state":      st.state,
		"ppid":       strconv.Itoa(st.ppid),
		"uid":        uid[0],
		"start_time": strconv.FormatUint(st.startTime, 10),
	}
	for _, k := range labels[:len(labels)-1] {
		if got[k] != want[k] {
			t.Errorf("%s=%s, /proc says %s", k, got[k], want[k])
		}
	}
	// /proc/PID/status agrees with /proc/PID/stat, and NSpid with the level.
	if sts["Name"] != st.comm || !strings.HasPrefix(sts["State"], st.state+" ") ||
		sts["PPid"] != strconv.Itoa(st.ppid) || len(ns)-1 != level || ns[0] != strconv.Itoa(pid) ||
		ns[len(ns)-1] != strconv.Itoa(nspid) {
		t.Errorf("/proc/%d/status disagrees: Name %q State %q PPid %q NSpid %q; stat %+v, level %d",
			pid, sts["Name"], sts["State"], sts["PPid"], sts["NSpid"], st, level)
	}
	// start_time is start_time_ns in clock ticks of 1/100 s (USER_HZ).
	ns64, err := strconv.ParseUint(got["start_time_ns"], 10, 64)
	if err != nil || strconv.FormatUint(ns64/10_000_000, 10) != got["start_time"] {
		t.Errorf("start_time_ns=%s does not give start_time=%s", got["start_time_ns"], got["start_time"])
	}
}

// TestPidwait: every field about a process run as uid and gid 4242.
func TestPidwait(t *testing.T) {
	p := startPidwait(t, &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 4242, Gid: 4242}})
	if p.saysp != p.pid {
		t.Errorf("pidwait says its pid is %d; it is %d", p.saysp, p.pid)
	}
	got, m := logged(t, p.pid)
	check(t, p.pid, got, 0, p.pid)
	// The things we know without /proc.
	for k, v := range map[string]string{"comm": "pidwait", "state": "S", "ppid": strconv.Itoa(os.Getpid()), "uid": "4242"} {
		if got[k] != v {
			t.Errorf("%s=%s, want %s", k, got[k], v)
		}
	}
	if v := m.Param(t, "pid"); v != strconv.Itoa(p.pid) {
		t.Errorf("parameter pid reads %q, want %d", v, p.pid)
	}
	log := guesttest.KernelLog(t)
	m.Unload(t)
	log.Want(t, "pid_info: unloaded")
}

// TestChildNamespace: pidwait started in a new pid namespace is pid 1
// there. pid_info is given its pid as this test sees it (find_vpid looks
// in the namespace of the process that loads the module) and reports the
// task's namespace one level down, with its pid there: 1.
func TestChildNamespace(t *testing.T) {
	p := startPidwait(t, &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID})
	if p.saysp != 1 {
		t.Errorf("pidwait in a new pid namespace says its pid is %d, want 1", p.saysp)
	}
	got, _ := logged(t, p.pid)
	check(t, p.pid, got, 1, 1)
	if got["ppid"] != strconv.Itoa(os.Getpid()) {
		t.Errorf("ppid=%s, want this test's pid %d", got["ppid"], os.Getpid())
	}
}

// TestNoSuchProcess: a pid no process has fails the load with ESRCH and the
// spec's message; the kernel stays clean.
func TestNoSuchProcess(t *testing.T) {
	// A pid that was just freed: a process that ran and was reaped.
	done := exec.Command("pidwait")
	if err := done.Start(); err != nil {
		t.Fatal(err)
	}
	gone := done.Process.Pid
	done.Process.Kill()
	done.Wait()

	for _, pid := range []int{gone, 4194304} { // 4194304: PID_MAX_LIMIT, far above pid_max
		t.Run(strconv.Itoa(pid), func(t *testing.T) {
			log := guesttest.KernelLog(t)
			err := guesttest.TryLoad(t, "pid_info", fmt.Sprintf("pid=%d", pid))
			if !errors.Is(err, unix.ESRCH) {
				t.Fatalf("pid=%d: %v, want ESRCH", pid, err)
			}
			log.Want(t, fmt.Sprintf("pid_info: find_vpid(%d) failed.", pid))
			log.WantNot(t, "pid_info: pid=")
			log.Clean(t)
		})
	}
}

// TestNotAPid: numbers that cannot be pids are refused by the parameter
// with EINVAL, before init runs; no pid at all is refused by init.
func TestNotAPid(t *testing.T) {
	for _, v := range []string{"0", "-1", "-2147483648", "4194305", "2147483647", "99999999999", "abc", "12x", ""} {
		t.Run("pid="+v, func(t *testing.T) {
			log := guesttest.KernelLog(t)
			err := guesttest.TryLoad(t, "pid_info", "pid="+v)
			if !errors.Is(err, unix.EINVAL) {
				t.Fatalf("pid=%s: %v, want EINVAL", v, err)
			}
			log.Want(t,
				fmt.Sprintf("pid_info: pid=%s is not a process id (1 to 4194304)", v),
				fmt.Sprintf("pid_info: `%s' invalid for parameter `pid'", v))
			log.WantNot(t, "find_vpid")
			log.Clean(t)
		})
	}
	t.Run("no pid", func(t *testing.T) {
		log := guesttest.KernelLog(t)
		if err := guesttest.TryLoad(t, "pid_info"); !errors.Is(err, unix.EINVAL) {
			t.Fatalf("no pid: %v, want EINVAL", err)
		}
		log.Want(t, "pid_info: no pid given: load with pid=N")
		log.Clean(t)
	})
}

// TestModinfo: the parameter is described like one of module_param's,
// though it has a set function of its own.
func TestModinfo(t *testing.T) {
	f, err := modfile.Open(guesttest.ModulePath(t, "pid_info"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := f.Get("parmtype"); len(got) != 1 || got[0] != "pid:int" {
		t.Errorf("parmtype = %q, want [pid:int]", got)
	}
	if got := f.Get("parm"); len(got) != 1 || !strings.HasPrefix(got[0], "pid:The process to describe") {
		t.Errorf("parm = %q", got)
	}
}

// TestLoadUnloadCycles loads pid_info 100 times (fewer on the debug kernel:
// guesttest.Rounds) on a sleeping pidwait.
func TestLoadUnloadCycles(t *testing.T) {
	cycles := guesttest.Rounds(100)
	p := startPidwait(t, nil)
	log := guesttest.KernelLog(t)
	for i := range cycles {
		m := guesttest.Load(t, "pid_info", fmt.Sprintf("pid=%d", p.pid))
		m.Unload(t)
		if m.Loaded() {
			t.Fatalf("cycle %d: still loaded after rmmod", i)
		}
	}
	n := 0
	for _, l := range log.Lines() {
		if l == "pid_info: comm=pidwait" {
			n++
		}
	}
	if n != cycles {
		t.Errorf("pid_info logged comm=pidwait %d times in %d loads", n, cycles)
	}
	log.Clean(t)
}
