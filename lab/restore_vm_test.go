package lab_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modlab/modlab/lab"
	"github.com/modlab/modlab/lab/proto"
)

// savedRun is one run of TestSavedGuests: what it said, and its result.
type savedRun struct {
	said []string
	res  lab.KernelResult
}

func (s savedRun) saidAny(prefix string) bool {
	for _, l := range s.said {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

// output is the unit's command output: the guest's clock (Unix seconds)
// and 16 random bytes in hex.
func (s savedRun) output(t *testing.T) (clock int64, random string) {
	t.Helper()
	u := s.res.Units[0]
	if s.res.Infra != "" || u.Status != proto.Pass || len(u.Output) != 2 {
		t.Fatalf("lab error %q, unit %s, output %q; want a pass with two lines", s.res.Infra, u.Status, u.Output)
	}
	clock, err := strconv.ParseInt(strings.TrimSpace(u.Output[0]), 10, 64)
	if err != nil {
		t.Fatalf("guest clock %q: %v", u.Output[0], err)
	}
	return clock, strings.TrimSpace(u.Output[1])
}

// TestSavedGuests: with a store of saved guests of its own, two runs at
// once of a Debian kernel boot it once: one boots and saves the guest at ready, the other
// waits for it and restores. Later runs restore it, with the host's clock
// and random numbers of their own, and a console log that starts with the
// saved boot's. A saved guest that does not restore (cut in half here) is
// replaced by a boot that saves it again; --cold-boot always boots.
func TestSavedGuests(t *testing.T) {
	t.Parallel() // VM tests overlap: one VM rarely keeps both CPUs busy
	ks, root, cache := labSetup(t)
	k := ks[len(ks)-1]
	store := t.TempDir()
	units := []lab.UnitSpec{{Name: "usermod", Src: writeModule(t, "usermod", paramModule),
		Exec: "date +%s; head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \\n'"}}
	var onRestored func() // called when a run that restored says it builds
	run := func(cold bool) savedRun {
		t.Helper()
		var mu sync.Mutex
		var s savedRun
		progress := func(_, status string) {
			mu.Lock()
			s.said = append(s.said, status)
			restored := s.saidAny("restoring")
			mu.Unlock()
			if status == "building" && restored && onRestored != nil {
				onRestored() // before the run goes on to "go"
			}
		}
		res, err := lab.Run(context.Background(), lab.Options{Kernels: []lab.Kernel{k}, CacheDir: cache, SnapshotDir: store,
			SrcRoot: root, Accel: "tcg", ColdBoot: cold, Progress: progress}, units)
		if err != nil {
			t.Fatal(err)
		}
		s.res = res[0]
		return s
	}
	booted := func(s savedRun) bool { return s.saidAny("booting") }
	restored := func(s savedRun) bool {
		return s.saidAny("restoring the guest saved at ready") && s.res.Phases.Restore > 0 && s.res.Phases.BootToInit == 0
	}

	// Two at once: one boot between them.
	var first [2]savedRun
	var wg sync.WaitGroup
	for i := range first {
		wg.Add(1)
		go func() {
			defer wg.Done()
			first[i] = run(false)
		}()
	}
	wg.Wait()
	saver, waiter := first[0], first[1]
	if booted(waiter) {
		saver, waiter = waiter, saver
	}
	if !booted(saver) || !saver.saidAny("saved the booted guest for later runs") || saver.res.Phases.BootToInit == 0 {
		t.Errorf("the first run did not boot and save: said %q", saver.said)
	}
	if booted(waiter) || !waiter.saidAny("waiting for another run's boot of this kernel") || !restored(waiter) {
		t.Errorf("the second run did not wait and restore: said %q, phases %+v", waiter.said, waiter.res.Phases)
	}
	saver.output(t)
	waiter.output(t)

	// Later runs restore: the host's time (the saved guest's clock is 3 s
	// behind by then), random numbers of their own, the saved boot's
	// console first.
	time.Sleep(3 * time.Second)
	var a, b savedRun
	for _, s := range []*savedRun{&a, &b} {
		start := time.Now().Unix()
		*s = run(false)
		if !restored(*s) || booted(*s) {
			t.Errorf("a later run did not restore: said %q, phases %+v", s.said, s.res.Phases)
		}
		if clock, _ := s.output(t); clock < start-1 || clock > time.Now().Unix()+1 {
			t.Errorf("the restored guest's clock says %d, outside the run's %d to %d", clock, start, time.Now().Unix())
		}
	}
	if _, ra := a.output(t); ra == func() string { _, rb := b.output(t); return rb }() {
		t.Errorf("two restored guests drew the same random bytes %s", ra)
	}
	savedLog, _ := os.ReadFile(saver.res.ConsoleLog)
	bootLines := strings.SplitAfter(string(savedLog), "\n")[:3]
	restoredLog, _ := os.ReadFile(a.res.ConsoleLog)
	if !strings.HasPrefix(string(restoredLog), strings.Join(bootLines, "")) {
		t.Errorf("the restored run's console log does not start with the saved boot's %q:\n%.500s", bootLines, restoredLog)
	}

	// A saved guest that does not restore is booted and saved again.
	states, _ := filepath.Glob(filepath.Join(store, k.Release+"@*.state"))
	if len(states) != 1 {
		t.Fatalf("saved guests %q, want one", states)
	}
	st, err := os.Stat(states[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(states[0], st.Size()/2); err != nil {
		t.Fatal(err)
	}
	c := run(false)
	if !booted(c) || !strings.HasPrefix(c.res.Retried, "the saved guest did not restore, booted instead") {
		t.Errorf("a broken saved guest: said %q, retried %q; want a boot, and the reason", c.said, c.res.Retried)
	}
	c.output(t)
	if st2, err := os.Stat(states[0]); err != nil || st2.Size() < st.Size()/2+1 {
		t.Errorf("the broken saved guest was not saved again: %v", err)
	}

	// --cold-boot boots.
	if d := run(true); !booted(d) || d.saidAny("restoring") || d.saidAny("saved") {
		t.Errorf("a cold boot: said %q; want a boot, no restore and no save", d.said)
	}

	// A restored guest that dies before it says a word after "go" is not
	// restored again: the run is a lab error, the saved guest is
	// removed, and the next run boots.
	onRestored = func() { killQEMU(t, states[0]) }
	e := run(false)
	onRestored = nil
	if !strings.Contains(e.res.Infra, "which is removed: the next run boots") || e.res.Units[0].Status == proto.Pass {
		t.Errorf("QEMU killed after the restore: lab error %q, unit %s; want a lab error that removes the saved guest", e.res.Infra, e.res.Units[0].Status)
	}
	if f := run(false); !booted(f) || f.saidAny("restoring") {
		t.Errorf("after a restored guest died, the next run said %q; want a boot", f.said)
	} else {
		f.output(t)
	}
}

// killQEMU kills the QEMU that restored the state file and waits until
// it is gone (10 s at most).
func killQEMU(t *testing.T, state string) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
		for _, p := range procs {
			b, err := os.ReadFile(p)
			if err != nil || !strings.Contains(string(b), "file:"+state) {
				continue
			}
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			if proc, err := os.FindProcess(pid); err == nil {
				proc.Kill()
				for time.Now().Before(deadline) {
					if _, err := os.Stat(filepath.Dir(p)); err != nil {
						return
					}
					time.Sleep(10 * time.Millisecond)
				}
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("no QEMU restored %s", state)
}
