package guest

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/modlab/modlab/kmod/kmsg"
	"github.com/modlab/modlab/lab/kcheck"
	"github.com/modlab/modlab/lab/proto"
)

// The kernel's health before the first unit. A kernel that already
// reported a bug while it booted, or whose checkers turned themselves off,
// cannot vouch for the units: lockdep stops after its first report and
// when the kernel is tainted, so a lock inversion would pass unseen. The
// guest says so in its ready event and the host boots again.

// lockdepStats is where lockdep (CONFIG_LOCKDEP) shows whether lock
// debugging is still on (" debug_locks: 1").
const lockdepStats = "/proc/lockdep_stats"

// testTaintEnv is a kernel command-line word only the lab's tests use
// (modlab_taint=W: the kernel passes words it does not know to /init's
// environment): /init taints the kernel with those flags, through the
// kernel's own /proc/sys/kernel/tainted, before it checks its health.
const testTaintEnv = "modlab_taint"

// health is what the guest found wrong with the kernel at ready.
type health struct {
	problems []string // one line each
	splats   []string // the bug reports in the log since boot
}

// ok reports whether nothing was found.
func (h health) ok() bool { return len(h.problems) == 0 }

// event fills in the ready event: the problems in one line, and the
// reports.
func (h health) event(e *proto.Event) {
	e.Unhealthy = strings.Join(h.problems, "; ")
	e.Splats = h.splats
}

// ready is the ready event, with the kernel's health: the leak detector
// is set up (it has its say in the health), and the tests' taint, if they
// asked for one, applied first.
func (g *guest) ready() proto.Event {
	e := proto.Event{Ev: proto.EvReady}
	var taintErr error
	if letters := os.Getenv(testTaintEnv); letters != "" {
		taintErr = applyTestTaint(letters)
	}
	var kmemleakErr error
	g.leaks, kmemleakErr = openKmemleak(kmemleakFile)
	h := checkHealth(kmemleakErr)
	if taintErr != nil {
		h.problems = append(h.problems, taintErr.Error())
	}
	h.event(&e)
	return e
}

// checkHealth reads the kernel's log since boot, its taint flags and
// lockdep's state, and judges them. kmemleakErr is why kmemleak, built
// in, is off.
func checkHealth(kmemleakErr error) health {
	var msgs []string
	if klog, err := kmsg.Open("/dev/kmsg", false); err == nil {
		for {
			r, err := klog.Next()
			if err != nil {
				break
			}
			msgs = append(msgs, r.Message)
		}
		klog.Close()
	}
	stats, _ := os.ReadFile(lockdepStats)
	h := judgeHealth(msgs, readTaint(), string(stats))
	if kmemleakErr != nil {
		h.problems = append(h.problems, kmemleakErr.Error()+": leaks would go unseen")
	}
	return h
}

// judgeHealth is checkHealth's verdict on what it read: the log's messages
// since boot, the taint flags and /proc/lockdep_stats ("" without lockdep).
func judgeHealth(msgs []string, taint kcheck.Taint, stats string) health {
	var h health
	for _, s := range kcheck.FindSplats(msgs) {
		h.splats = append(h.splats, s.Text())
	}
	if n := len(h.splats); n > 0 {
		first, _, _ := strings.Cut(h.splats[0], "\n")
		h.problems = append(h.problems, fmt.Sprintf("the kernel reported %d bug(s) while booting, first %q", n, first))
	}
	if bad := kcheck.NewBad(0, taint); bad != "" {
		h.problems = append(h.problems, fmt.Sprintf("the kernel is tainted (%s) before any module was loaded", taint.Letters()))
	}
	if on, ok := debugLocks(stats); ok && !on {
		h.problems = append(h.problems, "lock debugging is off (debug_locks: 0 in "+lockdepStats+"): lockdep would not see the units' locking bugs")
	}
	return h
}

// debugLocks reads debug_locks from /proc/lockdep_stats; ok is false when
// the file does not say (no lockdep).
func debugLocks(stats string) (on, ok bool) {
	for _, l := range strings.Split(stats, "\n") {
		k, v, found := strings.Cut(l, ":")
		if !found || strings.TrimSpace(k) != "debug_locks" {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return false, false
		}
		return n != 0, true
	}
	return false, false
}

// applyTestTaint taints the kernel with the flags the lab's tests asked
// for on the command line (testTaintEnv), the way root can: by writing
// their bits to /proc/sys/kernel/tainted.
func applyTestTaint(letters string) error {
	if letters == "" {
		return nil
	}
	t, err := kcheck.ParseLetters(letters)
	if err != nil {
		return fmt.Errorf("%s: %w", testTaintEnv, err)
	}
	if err := os.WriteFile("/proc/sys/kernel/tainted", []byte(strconv.FormatUint(uint64(t), 10)), 0); err != nil {
		return fmt.Errorf("%s: %w", testTaintEnv, err)
	}
	return nil
}

// The kernel's health between units. Lockdep turns itself off for good
// after its first report, and when the kernel is tainted in most ways (a
// proprietary module's P among them: "Disabling lock debugging due to
// kernel taint"). The units after that would run without it and pass
// where they should not; so the guest stops there and asks the host for
// a fresh boot for the rest (proto.EvFresh).

// lockdepOn reports whether lockdep is on (false without lockdep).
func lockdepOn() bool {
	stats, _ := os.ReadFile(lockdepStats)
	on, ok := debugLocks(string(stats))
	return ok && on
}

// lostChecks says why the units after unit can no longer be vouched for:
// lockdep was on before (before) and is off now (now); "" when nothing was
// lost.
func lostChecks(before, now bool, unit string) string {
	if before && !now {
		return "lock debugging turned itself off during unit " + unit + " (debug_locks: 0 in " + lockdepStats + ")"
	}
	return ""
}

// startAt checks the unit number a boot starts at (proto.Plan.From, 0
// for the first boot) against a plan of n units.
func startAt(from, n int) (int, error) {
	if from < 0 || (from > 0 && from >= n) {
		return 0, fmt.Errorf("the plan starts at unit %d: not a unit number of a plan of %d units", from, n)
	}
	return from, nil
}
