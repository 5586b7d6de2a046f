package guest

import (
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/modlab/modlab/internal/uevent"
	"github.com/modlab/modlab/lab/kcheck"
	"github.com/modlab/modlab/lab/proto"
)

// Leaks. On a kernel with kmemleak (CONFIG_DEBUG_KMEMLEAK), the guest asks
// it for the memory the units' modules allocated and lost. kmemleak lists
// every unreferenced object with the backtrace of its allocation and the
// time it was allocated (in jiffies). An object is a unit's when it was
// allocated while the unit ran and a frame of its backtrace lies in the
// code of one of the unit's modules. By then the modules are unloaded and
// the kernel prints their frames as bare addresses, so where each module's
// code lay is recorded while it is loaded (/sys/module/NAME/sections, with
// the sections' sizes and symbols from its .ko), and the frames are named
// from that record.
//
// kmemleak reports an object only when it is at least 5 seconds old and a
// scan found it unreferenced and unchanged since the scan before (it
// checksums objects, so that one being filled in is not taken for a leak).
// A scan of the debug kernel's memory takes seconds under TCG, so the
// guest does not scan after every unit: it records each unit's code and
// time, and after the last unit scans, waits until the last unit's end is
// 5 seconds old, scans again, reads the report and sends each unit its
// leaks (proto.EvLeaks). On kernels without kmemleak nothing of this runs.

const (
	// kmemleakFile is kmemleak's control and report file.
	kmemleakFile = "/sys/kernel/debug/kmemleak"
	// leakMinAge is the age kmemleak wants of an object before it reports
	// it (MSECS_MIN_AGE in mm/kmemleak.c), and a margin for the jiffies.
	leakMinAge = 5*time.Second + 100*time.Millisecond
	// modTextDir holds the running unit's module records (modText), one
	// JSON file per module, written by whoever saw the module loaded.
	modTextDir = "/run/modlab/modtext"
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
// clears the list afterwards.
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
	unit       string
	ranges     []codeRange
	start, end uint64 // jiffies; 0 when the kernel does not show them
	ended      time.Time
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
	os.RemoveAll(modTextDir)
	if err := os.MkdirAll(modTextDir, 0o755); err != nil {
		return nil
	}
	files := map[string]string{}
	kos, _ := filepath.Glob(filepath.Join(dir, "*.ko"))
	for _, f := range kos {
		files[moduleName(f)] = f
	}
	w := &leakWatch{unit: unit, start: jiffies(), stop: func() {}}
	if stop, err := watchModules(files); err == nil {
		w.stop = stop
	}
	return w
}

// finish ends the watch, once the unit's modules are unloaded, and keeps
// the unit's code for the check after the last unit. A unit none of whose
// modules was loaded cannot have leaked: it is not kept.
func (g *guest) finishLeaks(w *leakWatch) {
	if w == nil {
		return
	}
	w.stop()
	ranges := unitRanges()
	os.RemoveAll(modTextDir)
	if len(ranges) > 0 {
		g.leakUnits = append(g.leakUnits, unitCode{unit: w.unit, ranges: ranges,
			start: w.start, end: jiffies(), ended: time.Now()})
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
// allocated. The frames in the unit's code are named as the kernel would
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
			if frameIn(s.Lines, u.ranges) && (owner < 0 || at == 0 || u.start <= at) {
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
func frameIn(lines []string, ranges []codeRange) bool {
	for _, i := range backtrace(lines) {
		if addr, ok := frameAddr(lines[i]); ok {
			for _, r := range ranges {
				if addr >= r.Start && addr < r.End {
					return true
				}
			}
		}
	}
	return false
}

// nameFrames appends "func+off/size [module]" to the backtrace lines that
// are bare addresses in ranges.
func nameFrames(lines []string, ranges []codeRange) {
	for _, i := range backtrace(lines) {
		l := lines[i]
		addr, ok := frameAddr(l)
		if !ok || strings.HasSuffix(strings.TrimSpace(l), "]") {
			continue
		}
		for _, r := range ranges {
			if addr >= r.Start && addr < r.End {
				if name := r.name(addr); name != "" {
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

// modText is where a loaded module's sections lie, kept for after it is
// unloaded.
type modText struct {
	Name     string            `json:"name"`     // the kernel's name for it
	File     string            `json:"file"`     // the .ko it was loaded from
	Sections map[string]uint64 `json:"sections"` // section name to address
}

// recordModText records where module name, loaded from file, lies, if the
// unit's leak check asked for it (modTextDir exists). It reads
// /sys/module/NAME/sections, so the module must still be loaded.
func recordModText(name, file string) error {
	if _, err := os.Stat(modTextDir); err != nil {
		return nil
	}
	dir := filepath.Join("/sys/module", name, "sections")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("sections of %s: %w", name, err)
	}
	m := modText{Name: name, File: file, Sections: map[string]uint64{}}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		if v, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(string(b)), "0x"), 16, 64); err == nil && v != 0 {
			m.Sections[e.Name()] = v
		}
	}
	if len(m.Sections) == 0 {
		return fmt.Errorf("sections of %s: no address (are addresses hidden?)", name)
	}
	data, _ := json.Marshal(m)
	// Two processes may record the same module: each writes whole.
	tmp := filepath.Join(modTextDir, fmt.Sprintf(".%s.%d", name, os.Getpid()))
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(modTextDir, name+".json"))
}

// unitModTexts reads the records of the unit's modules.
func unitModTexts() []modText {
	files, _ := filepath.Glob(filepath.Join(modTextDir, "*.json"))
	var out []modText
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var m modText
		if json.Unmarshal(b, &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// codeRange is the code of one section of a module: [Start, End), with
// the section's functions.
type codeRange struct {
	Start, End uint64
	Module     string
	funcs      []elfFunc // by offset in the section
}

type elfFunc struct {
	name      string
	off, size uint64
}

// ranges returns where the module's code lay: its executable sections, at
// the addresses the kernel gave them, with their sizes and functions from
// the .ko.
func (m modText) ranges() ([]codeRange, error) {
	f, err := elf.Open(m.File)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	syms, _ := f.Symbols() // a module without symbols still has ranges
	var out []codeRange
	for i, s := range f.Sections {
		addr, ok := m.Sections[s.Name]
		if s.Flags&elf.SHF_EXECINSTR == 0 || s.Size == 0 || !ok {
			continue
		}
		r := codeRange{Start: addr, End: addr + s.Size, Module: m.Name, funcs: sectionFuncs(syms, i, s.Size)}
		out = append(out, r)
	}
	if len(out) == 0 {
		return nil, errors.New(m.File + ": no loaded code section")
	}
	return out, nil
}

// sectionFuncs lists the functions of section i (of size size), by
// offset, each with its size counted as the kernel's kallsyms counts it for
// a module: up to the next function, or the section's end. Where two
// names share an address, the first in the symbol table wins, as in
// kallsyms: a module's static init function rather than the init_module
// alias module_init() makes of it.
func sectionFuncs(syms []elf.Symbol, i int, size uint64) []elfFunc {
	var fs []elfFunc
	for _, sy := range syms {
		if int(sy.Section) == i && elf.ST_TYPE(sy.Info) == elf.STT_FUNC && sy.Value < size {
			fs = append(fs, elfFunc{name: sy.Name, off: sy.Value})
		}
	}
	sort.SliceStable(fs, func(a, b int) bool { return fs[a].off < fs[b].off })
	var out []elfFunc
	for j, f := range fs {
		if j > 0 && f.off == fs[j-1].off {
			continue
		}
		out = append(out, f)
	}
	for j := range out {
		out[j].size = size - out[j].off
		if j+1 < len(out) {
			out[j].size = out[j+1].off - out[j].off
		}
	}
	return out
}

// name spells addr as %pS does for a loaded module: "func+0x1c/0x40
// [mod]"; "" when no function holds it.
func (r codeRange) name(addr uint64) string {
	off := addr - r.Start
	i := sort.Search(len(r.funcs), func(i int) bool { return r.funcs[i].off > off }) - 1
	if i < 0 || off >= r.funcs[i].off+r.funcs[i].size {
		return ""
	}
	fn := r.funcs[i]
	return fmt.Sprintf("%s+%#x/%#x [%s]", fn.name, off-fn.off, fn.size, r.Module)
}

// unitRanges is the code of every module the running unit loaded.
func unitRanges() []codeRange {
	var out []codeRange
	for _, m := range unitModTexts() {
		if rs, err := m.ranges(); err == nil {
			out = append(out, rs...)
		}
	}
	return out
}

// watchModules records where each module in files (the kernel's name to
// its .ko) lies when the kernel loads it, whoever loads it: the unit's
// command or Go test as well as its list of modules. The kernel announces
// a module with a uevent ("add@/module/NAME") once its init has run. stop
// ends the watch.
func watchModules(files map[string]string) (stop func(), err error) {
	c, err := uevent.Listen()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		defer c.Close()
		for {
			e, err := c.Receive(ctx)
			switch {
			case ctx.Err() != nil:
				return
			case errors.Is(err, uevent.ErrLost):
				continue
			case err != nil:
				return
			}
			if e.Action != "add" || e.Subsystem() != "module" {
				continue
			}
			if file, ok := files[e.Kernel()]; ok {
				recordModText(e.Kernel(), file)
			}
		}
	}()
	return cancel, nil
}
