package guest

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/modlab/modlab/lab/kcheck"
	"github.com/modlab/modlab/lab/modtext"
	"github.com/modlab/modlab/lab/proto"
)

// Leaks. On a kernel with kmemleak (CONFIG_DEBUG_KMEMLEAK), the guest asks
// it for the memory the units' modules allocated and lost. kmemleak lists
// every unreferenced object with the backtrace of its allocation and the
// time it was allocated (in jiffies). An object is a unit's when it was
// allocated while the unit ran and a frame of its backtrace lies in the
// code of one of the unit's modules. By then the modules are unloaded and
// the kernel prints their frames as bare addresses, so where each module's
// code lay is recorded while it is loaded (lab/modtext), and the frames
// are named from that record.
//
// kmemleak reports an object only when it is at least 5 seconds old and a
// scan found it unreferenced and unchanged since the scan before (it
// checksums objects, so that one being filled in is not taken for a leak).
// A scan of the debug kernel's memory takes seconds under TCG, so the
// guest does not scan after every unit: it records each unit's code and
// time, and after the last unit scans, waits until the last unit's end is
// 5 seconds old, scans again, reads the report and sends each unit its
// leaks (proto.EvLeaks). On kernels without kmemleak nothing of this runs.
//
// Like kmemleak itself, the check can miss a leak: an object counts as
// referenced when any memory kmemleak scans holds its address, stale
// pointers included. Seen here: a driver whose init failed at boot left
// its struct device_driver pointing at its freed private data
// (eeepc_acpi_driver.drv.p, a kmalloc-256 object); a module's lost buffer
// that reused that memory was never reported.

const (
	// kmemleakFile is kmemleak's control and report file.
	kmemleakFile = "/sys/kernel/debug/kmemleak"
	// leakMinAge is the age kmemleak wants of an object before it reports
	// it (MSECS_MIN_AGE in mm/kmemleak.c), and a margin for the jiffies.
	leakMinAge = 5*time.Second + 100*time.Millisecond
	// timerList shows the kernel's jiffies ("jiffies: N"), the clock of
	// kmemleak's reports.
	timerList = "/proc/timer_list"
)

// leakFamily is kcheck's family of kmemleak's reports.
const leakFamily = "unreferenced object"

// kmemleak is the kernel's leak detector.
type kmemleak struct{ file string }

// openKmemleak returns the kernel's leak detector, or nil when the kernel
// has none. It stops kmemleak's own periodic scan, so that objects are
// reported only when the guest asks. An error means kmemleak is built in
// but off (it turns itself off when it runs out of memory for its own
// records): leaks would go unseen.
func openKmemleak(file string) (*kmemleak, error) {
	if _, err := os.Stat(file); err != nil {
		return nil, nil
	}
	k := &kmemleak{file: file}
	if err := k.command("scan=off"); err != nil {
		return nil, fmt.Errorf("kmemleak is built in but off (%w)", err)
	}
	// Nor does it scan the tasks' kernel stacks. A stack is scanned
	// whole, below the live frames too, so the pointer a module's init
	// lost stays "referenced" from the loading thread's stack until a
	// deeper call overwrites it (seen in TestBugModules: of a unit's two
	// loads of the leak module, the one made by /init went unreported).
	// By the time the guest scans, the units' modules are gone and none
	// of their code runs on any stack: an object of theirs that only a
	// stack points to is lost all the same.
	if err := k.command("stack=off"); err != nil {
		return nil, err
	}
	return k, nil
}

// command writes one of kmemleak's commands ("scan", "clear", "scan=off").
// A scan runs in the write and returns when it is over.
func (k *kmemleak) command(cmd string) error {
	f, err := os.OpenFile(k.file, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(cmd)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("kmemleak %q: %w", cmd, err)
	}
	return nil
}

// report scans twice, the second time once the objects allocated before
// last are old enough to be reported, and returns what kmemleak lists. It
// clears the list afterwards. An object is reported only if it looked
// unreferenced to both scans.
func (k *kmemleak) report(last time.Time) (string, error) {
	if err := k.command("scan"); err != nil {
		return "", err
	}
	time.Sleep(time.Until(last.Add(leakMinAge)))
	if err := k.command("scan"); err != nil {
		return "", err
	}
	b, err := os.ReadFile(k.file)
	if err != nil {
		return "", fmt.Errorf("read kmemleak: %w", err)
	}
	if err := k.command("clear"); err != nil {
		return "", err
	}
	return string(b), nil
}

// unitCode is where a unit's modules' code lay, and when the unit ran.
type unitCode struct {
	unit   string
	ranges []modtext.Range
	start  uint64 // in jiffies; 0 when the kernel does not show them
	ended  time.Time
}

// leakWatch follows one unit: its modules are recorded as they are
// loaded.
type leakWatch struct {
	unit  string
	start uint64
	stop  func()
}

// watchLeaks starts recording the modules of the unit in dir. It returns
// nil when the kernel has no kmemleak.
func (g *guest) watchLeaks(unit, dir string) *leakWatch {
	if g.leaks == nil {
		return nil
	}
	os.RemoveAll(modtext.Dir)
	if err := os.MkdirAll(modtext.Dir, 0o755); err != nil {
		return nil
	}
	files := map[string]string{}
	kos, _ := filepath.Glob(filepath.Join(dir, "*.ko"))
	for _, f := range kos {
		files[moduleName(f)] = f
	}
	w := &leakWatch{unit: unit, start: jiffies(), stop: func() {}}
	if stop, err := modtext.Watch(files); err == nil {
		w.stop = stop
	}
	return w
}

// finishLeaks ends the watch, once the unit's modules are unloaded, and keeps
// the unit's code for the check after the last unit. A unit none of whose
// modules was loaded cannot have leaked: it is not kept.
func (g *guest) finishLeaks(w *leakWatch) {
	if w == nil {
		return
	}
	w.stop()
	ranges := modtext.Ranges()
	os.RemoveAll(modtext.Dir)
	if len(ranges) > 0 {
		g.leakUnits = append(g.leakUnits, unitCode{unit: w.unit, ranges: ranges, start: w.start, ended: time.Now()})
	}
}

// sendLeaks asks kmemleak, after the last unit, for what the units lost,
// and sends each unit that lost memory the reports (proto.EvLeaks).
func (g *guest) sendLeaks() error {
	if g.leaks == nil || len(g.leakUnits) == 0 {
		return nil
	}
	report, err := g.leaks.report(g.leakUnits[len(g.leakUnits)-1].ended)
	if err != nil {
		return fmt.Errorf("leak check: %w", err)
	}
	byUnit := attributeLeaks(report, g.leakUnits)
	for _, u := range g.leakUnits {
		if s := byUnit[u.unit]; len(s) > 0 {
			g.send(proto.Event{Ev: proto.EvLeaks, Unit: u.unit, Splats: s})
		}
	}
	return nil
}

// jiffies is the kernel's jiffies counter, from /proc/timer_list; 0 when
// it does not show it.
func jiffies() uint64 {
	b, err := os.ReadFile(timerList)
	if err != nil {
		return 0
	}
	m := jiffiesLine.FindSubmatch(b)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseUint(string(m[1]), 10, 64)
	return v
}

var (
	jiffiesLine = regexp.MustCompile(`(?m)^jiffies: ([0-9]+)$`)
	// allocatedAt reads the time of the allocation in a report's
	// second line: `  comm "insmod", pid 141, jiffies 4294681632`.
	allocatedAt = regexp.MustCompile(`^\s*comm ".*", pid -?[0-9]+, jiffies ([0-9]+)$`)
)

// attributeLeaks reads kmemleak's report and gives each unit the objects
// its modules allocated: an object whose allocation backtrace has a frame
// in one of the unit's ranges. Several units' modules may have lain at the
// same place in turn (the kernel reuses the space of an unloaded module);
// the object then goes to the last of them that had started when it was
// allocated. An object allocated before any of them started is nobody's
// (a load the guest did not see). The frames in the unit's code are named as the kernel would
// have named them had the module still been loaded:
//
//	0xffffffffc0a0201c leak_init+0x1c/0x40 [leak]
func attributeLeaks(report string, units []unitCode) map[string][]string {
	out := map[string][]string{}
	for _, s := range kcheck.FindSplats(strings.Split(report, "\n")) {
		if f, _ := kcheck.Match(s.First); f.Family != leakFamily {
			continue
		}
		var at uint64
		if len(s.Lines) > 1 {
			if m := allocatedAt.FindStringSubmatch(s.Lines[1]); m != nil {
				at, _ = strconv.ParseUint(m[1], 10, 64)
			}
		}
		owner := -1
		for i, u := range units {
			if (at == 0 || u.start == 0 || u.start <= at) && frameIn(s.Lines, u.ranges) {
				owner = i
			}
		}
		if owner < 0 {
			continue
		}
		lines := append([]string(nil), s.Lines...)
		nameFrames(lines, units[owner].ranges)
		out[units[owner].unit] = append(out[units[owner].unit], strings.TrimRight(strings.Join(lines, "\n"), "\n"))
	}
	return out
}

// backtrace returns the indexes of the backtrace lines of one report.
func backtrace(lines []string) []int {
	var idx []int
	in := false
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "backtrace") {
			in = true
			continue
		}
		if in {
			idx = append(idx, i)
		}
	}
	return idx
}

// frameIn reports whether a frame of the report's backtrace lies in
// ranges.
func frameIn(lines []string, ranges []modtext.Range) bool {
	for _, i := range backtrace(lines) {
		if addr, ok := frameAddr(lines[i]); ok {
			for _, r := range ranges {
				if r.Contains(addr) {
					return true
				}
			}
		}
	}
	return false
}

// nameFrames appends "func+off/size [module]" to the backtrace lines that
// are bare addresses in ranges.
func nameFrames(lines []string, ranges []modtext.Range) {
	for _, i := range backtrace(lines) {
		l := lines[i]
		addr, ok := frameAddr(l)
		if !ok || strings.HasSuffix(strings.TrimSpace(l), "]") {
			continue
		}
		for _, r := range ranges {
			if r.Contains(addr) {
				if name := r.Name(addr); name != "" {
					lines[i] = strings.TrimRight(l, " ") + " " + name
				}
				break
			}
		}
	}
}

// frameAddr reads the address of a backtrace line of kmemleak's report:
// "    0xffffffffc0a0201c" (6.12, code no longer loaded),
// "    [<ffffffffc0a0201c>] 0xffffffffc0a0201c" or
// "    [<ffffffffc0a0201c>] leak_init+0x1c/0x40 [leak]" (older kernels).
func frameAddr(line string) (uint64, bool) {
	f := strings.Fields(line)
	if len(f) == 0 {
		return 0, false
	}
	s := f[0]
	switch {
	case strings.HasPrefix(s, "[<") && strings.HasSuffix(s, ">]"):
		s = s[2 : len(s)-2]
	case strings.HasPrefix(s, "0x") && len(f) == 1:
		s = s[2:]
	default:
		return 0, false
	}
	v, err := strconv.ParseUint(s, 16, 64)
	return v, err == nil && v != 0
}
