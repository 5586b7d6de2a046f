// Package guesttest is what an example's behavioural test uses inside the
// lab's VM: find the example's built modules, load and unload them, read
// their parameters and follow the kernel log.
//
// Example tests carry the build tag modlab_guest: they run only in the
// guest, where `modlab test` ships them with the modules built for that
// kernel. The guest's /init also checks the whole log and the taint flags
// around every example, so a test need not repeat that.
package guesttest

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modlab/modlab/kmod/kmsg"
	"github.com/modlab/modlab/kmod/loader"
	"github.com/modlab/modlab/kmod/modname"
	"github.com/modlab/modlab/lab/kcheck"
	"github.com/modlab/modlab/lab/modtext"
	"github.com/modlab/modlab/lab/proto"
)

// Environment variables set by the guest's /init for a test binary.
const (
	EnvDir    = "MODLAB_DIR"    // the example's files: built modules, helpers
	EnvKernel = "MODLAB_KERNEL" // the running kernel's release
)

// Dir is the directory holding the example's built modules.
func Dir() string {
	if d := os.Getenv(EnvDir); d != "" {
		return d
	}
	return "."
}

// KernelName turns a module file's name into the kernel's name for it
// ("hello-5" and "hello-5.ko" are "hello_5"; see kmod/modname).
func KernelName(name string) string { return modname.FromPath(name) }

// ModulePath is the built module named name ("hello-5" or "hello-5.ko").
func ModulePath(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(Dir(), strings.TrimSuffix(name, ".ko")+".ko")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("module %s was not built: %v", name, err)
	}
	return p
}

var ld loader.Loader

// Module is a module this test loaded.
type Module struct {
	Name string // the kernel's name, e.g. hello_5
}

// TryLoad loads a module and returns the kernel's error, for tests that
// expect a load to fail. params are "name=value" strings.
func TryLoad(t testing.TB, name string, params ...string) error {
	t.Helper()
	path := ModulePath(t, name)
	err := ld.LoadFile(path, strings.Join(params, " "))
	if err == nil {
		m := &Module{Name: KernelName(name)}
		modtext.Record(m.Name, path) // for the guest's leak check, on kernels with kmemleak
		t.Cleanup(func() {
			if m.Loaded() {
				if err := ld.Unload(m.Name, 0); err != nil {
					t.Errorf("cleanup: %v", err)
				}
			}
		})
	}
	return err
}

// Load loads a module with parameters, failing the test if the kernel says
// no. The module is unloaded at the end of the test if it is still loaded.
func Load(t testing.TB, name string, params ...string) *Module {
	t.Helper()
	if err := TryLoad(t, name, params...); err != nil {
		t.Fatalf("insmod %s %s: %v", name, strings.Join(params, " "), err)
	}
	return &Module{Name: KernelName(name)}
}

// Unload removes the module, failing the test if the kernel says no.
func (m *Module) Unload(t testing.TB) {
	t.Helper()
	if err := ld.Unload(m.Name, 0); err != nil {
		t.Fatalf("rmmod %s: %v", m.Name, err)
	}
}

// TryUnload removes the module and returns the kernel's error.
func (m *Module) TryUnload() error { return ld.Unload(m.Name, 0) }

// Loaded reports whether the module is in the kernel (live or coming).
func (m *Module) Loaded() bool {
	_, err := os.Stat(filepath.Join("/sys/module", m.Name, "initstate"))
	return err == nil
}

// SysDir is the module's /sys/module directory.
func (m *Module) SysDir() string { return filepath.Join("/sys/module", m.Name) }

// Param reads /sys/module/NAME/parameters/PARAM, without the newline.
func (m *Module) Param(t testing.TB, param string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(m.SysDir(), "parameters", param))
	if err != nil {
		t.Fatalf("read parameter %s of %s: %v", param, m.Name, err)
	}
	return strings.TrimSuffix(string(b), "\n")
}

// IsErrno reports whether err carries the given errno.
func IsErrno(err error, errno error) bool { return errors.Is(err, errno) }

// Log is a cursor into the kernel log: it sees the records that arrive
// after it was made.
type Log struct {
	r *kmsg.Reader
	// Records read so far.
	Records []kmsg.Record
}

// KernelLog starts following the kernel log from now on.
func KernelLog(t testing.TB) *Log {
	t.Helper()
	r, err := kmsg.Open("/dev/kmsg", false)
	if err != nil {
		t.Fatalf("kernel log: %v", err)
	}
	if err := r.SeekEnd(); err != nil {
		t.Fatalf("kernel log: seek: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return &Log{r: r}
}

func (l *Log) poll() {
	for {
		rec, err := l.r.Next()
		if err != nil {
			return
		}
		l.Records = append(l.Records, rec)
	}
}

// Lines returns the messages logged since the cursor was made.
func (l *Log) Lines() []string {
	l.poll()
	out := make([]string, len(l.Records))
	for i, r := range l.Records {
		out[i] = r.Message
	}
	return out
}

// Want fails the test unless each of wants appears in a line of the log,
// in order (each after the previous one's line). It waits up to a second
// (times Slowdown()) for lines still being written.
func (l *Log) Want(t testing.TB, wants ...string) {
	t.Helper()
	deadline := time.Now().Add(time.Duration(Slowdown()) * time.Second)
	for {
		lines := l.Lines()
		missing := firstMissing(lines, wants)
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("kernel log lacks %q; it has:\n\t%s", missing, strings.Join(lines, "\n\t"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WantNot fails the test if any line of the log contains s.
func (l *Log) WantNot(t testing.TB, s string) {
	t.Helper()
	for _, line := range l.Lines() {
		if strings.Contains(line, s) {
			t.Fatalf("kernel log has unexpected line %q", line)
		}
	}
}

func firstMissing(lines, wants []string) string {
	i := 0
	for _, w := range wants {
		for i < len(lines) && !strings.Contains(lines[i], w) {
			i++
		}
		if i == len(lines) {
			return w
		}
		i++
	}
	return ""
}

// Clean fails the test if the log since the cursor shows a kernel bug.
func (l *Log) Clean(t testing.TB) {
	t.Helper()
	if s := kcheck.FindSplats(l.Lines()); len(s) > 0 {
		t.Fatalf("kernel log shows a bug:\n%s", s[0].Text())
	}
}

// Tainted reads /proc/sys/kernel/tainted.
func Tainted(t testing.TB) kcheck.Taint {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/kernel/tainted")
	if err != nil {
		t.Fatalf("taint: %v", err)
	}
	v, err := kcheck.ParseTaint(string(b))
	if err != nil {
		t.Fatalf("taint: %v", err)
	}
	return v
}

// ReadFile reads a file (a /sys attribute, a /proc file, a device) and fails
// the test on error.
func ReadFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return string(b)
}

// Slowdown is how many times longer the same work takes on the running
// kernel than on a production one: 1 on Debian's kernels, more on the
// lab's debug kernel, where KASAN checks every memory access, lockdep
// every lock and kmemleak every allocation (the guest sets
// MODLAB_SLOWDOWN).
func Slowdown() int {
	n, err := strconv.Atoi(os.Getenv(proto.EnvSlowdown))
	if err != nil || n < 1 {
		return 1
	}
	return n
}

// minRounds is the fewest rounds Rounds gives a loop that asked for more.
const minRounds = 5

// Rounds sizes a stress loop: n rounds on a production kernel, n divided
// by three times Slowdown() on a slower one (at least 5, or n if that is
// less). A debug kernel is there to see bugs, which it reports from one
// bad access or one lock taken in the wrong order: the sanitizers do not
// need the volume a race needs on a fast kernel, which Debian's kernels
// give every loop, and the suite keeps its time. Three times: a round of
// loading and unloading, or of opening and closing a device, is 7 to 12
// times slower on the debug kernel under TCG, more than the slowdown of
// the whole suite (measured on examples/chardev and the load/unload
// cycles of every example), and the debug kernel's suite is the longest
// part of make test.
func Rounds(n int) int { return scaled(n, minRounds) }

// minStress is the least time StressTime gives a test that asked for more:
// enough for the writer processes some tests start (a Go program takes
// about 0.3 s to start on the debug kernel under TCG) to overlap the test's
// own readers.
const minStress = time.Second

// StressTime sizes a stress test that runs for a time rather than a number
// of rounds: d on a production kernel, d divided by three times
// Slowdown() on a slower one (at least a second, or d if that is less), for
// Rounds' reasons. A slower kernel also does fewer rounds in that time: the
// test's least count of rounds should come from Rounds.
func StressTime(d time.Duration) time.Duration { return scaled(d, minStress) }

// scaled is Rounds' and StressTime's rule: n on a production kernel, n
// divided by three times Slowdown() on a slower one, but not below least
// (nor above n).
func scaled[T int | time.Duration](n, least T) T {
	s := Slowdown()
	if s == 1 || n <= least {
		return n
	}
	return max(n/T(3*s), least)
}
