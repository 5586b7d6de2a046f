package lab_test

// In-VM tests of what the debug kernel (modlab kernels build-debug) sees
// that Debian's kernels do not: the bug modules in lab/testdata fail on it
// with the kernel's report and the line of their source that did it, and
// pass on Debian's kernels; kmemleak's reports go to the unit whose module
// leaked and to no other; a kernel that is unhealthy before the first unit
// never passes one. Like vm_test.go, they boot the real kernels (skipped
// in -short mode).

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/modlab/modlab/lab"
	"github.com/modlab/modlab/lab/proto"
)

// debugKernel returns the debug kernel built into the cache, if there is
// one.
func debugKernel(t *testing.T, cache string) (lab.Kernel, bool) {
	t.Helper()
	ks, err := lab.CachedKernels(cache)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range ks {
		if k.Origin == lab.OriginDebug {
			return k, true
		}
	}
	return lab.Kernel{}, false
}

// noDebugKernel is why a test of the debug kernel did not run.
const noDebugKernel = "the debug kernel is not built: run 'modlab kernels build-debug' (make test builds it first)"

// bugModules are the test modules with a bug on purpose, the report the
// debug kernel prints for each, and the comment that marks the line the
// report must name (see each one's README.md). lockdep stops after its
// first report, and when another report taints the kernel (KASAN's do):
// then the guest asks for a fresh boot for the units after.
var bugModules = []struct{ name, report, mark string }{
	{"lockinv", "WARNING: possible circular locking dependency detected", "/* SECOND ORDER"},
	{"atomicsleep", "BUG: sleeping function called from invalid context at ", "/* MIGHT SLEEP"},
	{"uaf", "BUG: KASAN: slab-use-after-free in uaf_init+", "/* USE-AFTER-FREE"},
	{"oob", "BUG: KASAN: slab-out-of-bounds in oob_init+", "/* OUT-OF-BOUNDS"},
	{"leak", "unreferenced object 0x", "/* LEAK"},
}

// debugChains are the debug kernel's units, in two runs at the same time
// (one boot chain each). A report of KASAN or lockdep turns lockdep off
// for the rest of the boot, so a unit after one costs a fresh boot (the
// guest asks for it); each chain ends with the one KASAN report it has,
// but the second goes on after it to lockinv, whose report shows lockdep
// working again in the fresh boot. Three boots in all, the least for
// three units whose reports each turn lockdep off:
//   - leak first, so that the clean module and the leak module's later
//     units come after an object was lost in the same boot;
//   - atomicsleep's report is a warning that leaves lockdep on.
var debugChains = [][]string{
	{"leak", "clean", "leak-again", "leak-reload", "uaf"},
	{"atomicsleep", "oob", "lockinv"},
}

// debianOnly are the units the debug kernel leaves out, as it would only
// repeat them at the cost of one more boot each:
//   - oob-slab is oob again, where SLUB's red zone sees it (KASAN reports
//     it like oob);
//   - proprietary and untainted check where the lab runs a unit that
//     taints P (last), the same on every kernel; after a chain's KASAN
//     report lockdep is off, so they would need a fresh boot of their own.
var debianOnly = map[string]bool{"oob-slab": true, "proprietary": true, "untainted": true}

// runBugUnits runs units on Debian's kernels ks and, when there is one, on
// the debug kernel, whose units run as debugChains say, at the same time;
// the debug kernel's results are merged into one, in the units' order,
// after Debian's. Each unit but debianOnly's must be in a chain.
func runBugUnits(t *testing.T, ks []lab.Kernel, debug lab.Kernel, haveDebug bool, root, cache string, units []lab.UnitSpec) []lab.KernelResult {
	t.Helper()
	byName := map[string]lab.UnitSpec{}
	for _, u := range units {
		byName[u.Name] = u
	}
	type run struct {
		kernels []lab.Kernel
		units   []lab.UnitSpec
		res     []lab.KernelResult
		err     error
	}
	runs := []*run{{kernels: ks, units: units}}
	if haveDebug {
		chained := 0
		for _, names := range debugChains {
			r := &run{kernels: []lab.Kernel{debug}}
			for _, n := range names {
				u, ok := byName[n]
				if !ok {
					t.Fatalf("debugChains names unit %q, which the test does not have", n)
				}
				r.units = append(r.units, u)
			}
			chained += len(names)
			runs = append(runs, r)
		}
		if want := len(units) - len(debianOnly); chained != want {
			t.Fatalf("debugChains have %d units, want the %d that are not debianOnly", chained, want)
		}
	}
	var wg sync.WaitGroup
	for _, r := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.res, r.err = lab.Run(context.Background(), lab.Options{Kernels: r.kernels, CacheDir: cache, SrcRoot: root}, r.units)
		}()
	}
	wg.Wait()
	for _, r := range runs {
		if r.err != nil {
			t.Fatal(r.err)
		}
	}
	results := runs[0].res
	if !haveDebug {
		return results
	}
	merged := runs[1].res[0]
	for _, r := range runs[2:] {
		d := r.res[0]
		merged.Units = append(merged.Units, d.Units...)
		merged.Fresh = append(merged.Fresh, d.Fresh...)
		if merged.Infra == "" {
			merged.Infra = d.Infra
		}
	}
	got := map[string]lab.UnitResult{}
	for _, u := range merged.Units {
		got[u.Name] = u
	}
	merged.Units = merged.Units[:0]
	for _, u := range units {
		if x, ok := got[u.Name]; ok {
			merged.Units = append(merged.Units, x)
		}
	}
	return append(results, merged)
}

// clockCommand prints the kernel's clock source and its timer interrupts
// device.
const clockCommand = "cat /sys/devices/system/clocksource/clocksource0/current_clocksource " +
	"/sys/devices/system/clockevents/clockevent0/current_device"

// cleanAlloc allocates in init and frees in exit: no report anywhere.
const cleanAlloc = `
#include <linux/slab.h>
static void *buf;
static int __init m_init(void) { buf = kmalloc(200, GFP_KERNEL); return buf ? 0 : -ENOMEM; }
static void __exit m_exit(void) { kfree(buf); }
module_init(m_init);
module_exit(m_exit);`

// proprietaryModule is not GPL-compatible: loading it taints the kernel P,
// which turns lockdep off for the rest of the boot.
const proprietaryModule = `// SPDX-License-Identifier: GPL-2.0
#include <linux/module.h>
static int __init m_init(void) { return 0; }
static void __exit m_exit(void) { }
module_init(m_init);
module_exit(m_exit);
MODULE_LICENSE("Proprietary");
`

// writeProprietary writes a folder with proprietaryModule in it.
func writeProprietary(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "proprietary")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"proprietary.c": proprietaryModule, "Kbuild": "obj-m := proprietary.o\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestBugModules runs the bug modules on Debian's kernels and the debug
// kernel in one run, with a module that allocates and frees after them:
//   - on the debug kernel each fails with its report, which names its
//     marked line, and with no other unit's report; lockinv's comes from
//     a fresh boot, after oob's KASAN report turned lockdep off (see
//     debugChains); the clean module passes
//     (kmemleak blames nobody else, and nothing from the boot), and the leak
//     module loaded again in a later unit is blamed for its own object
//     only, and for two when the unit's command loads it a second time;
//   - on Debian's kernels each passes: they cannot see these bugs; but the
//     out-of-bounds write into a 64-byte slab object (oob size=64) fails
//     there, caught by slub_debug's red zone (or, when KFENCE happened to
//     serve that allocation on 6.12, by KFENCE); the debug kernel skips
//     that unit (debianOnly);
//   - the table shows the difference, row by row.
//
// Without the debug kernel, the test checks Debian's kernels and then
// skips.
func TestBugModules(t *testing.T) {
	t.Parallel() // VM tests overlap: one VM rarely keeps both CPUs busy
	ks, root, cache := labSetup(t)
	debug, haveDebug := debugKernel(t, cache)
	var units []lab.UnitSpec
	for _, m := range bugModules {
		units = append(units, lab.UnitSpec{Name: m.name, Src: filepath.Join(root, "lab/testdata", m.name)})
	}
	// A proprietary module's unit comes first in the list, but the lab
	// runs it after every other unit: the unit after it in the list sees
	// no P taint, and on the debug kernel it costs no fresh boot.
	units = append([]lab.UnitSpec{
		{Name: "proprietary", Src: writeProprietary(t)},
		{Name: "untainted", Src: writeModule(t, "untainted", cleanAlloc), Exec: "cat /proc/sys/kernel/tainted"},
	}, units...)
	units = append(units,
		lab.UnitSpec{Name: "oob-slab", Src: filepath.Join(root, "lab/testdata/oob"), Params: []string{"size=64"}},
		// It also shows the clocks: every kernel keeps time with the TSC
		// and its timer interrupts come from the local APIC (see
		// debugKernelArgs for the debug kernel without ACPI, which lost
		// both when the host was busy).
		lab.UnitSpec{Name: "clean", Src: writeModule(t, "cleanalloc", cleanAlloc), Exec: clockCommand},
		lab.UnitSpec{Name: "leak-again", Src: filepath.Join(root, "lab/testdata/leak")},
		// The command loads it again; where that lies elsewhere, the
		// guest learns of it from the kernel's uevent.
		lab.UnitSpec{Name: "leak-reload", Src: filepath.Join(root, "lab/testdata/leak"), Exec: "rmmod leak && insmod leak.ko"})
	results := runBugUnits(t, ks, debug, haveDebug, root, cache, units)
	var table bytes.Buffer
	lab.WriteTable(&table, results)
	t.Logf("the report:\n%s", table.String()) // with -v: the reports of each kernel
	for _, r := range results {
		if r.Infra != "" {
			t.Fatalf("%s: lab error: %s", r.Kernel, r.Infra)
		}
		u := map[string]lab.UnitResult{}
		for _, x := range r.Units {
			u[x.Name] = x
		}
		if !haveDebug || r.Kernel != debug.Release {
			if p := u["proprietary"]; p.Status != proto.Pass {
				t.Errorf("%s: the proprietary module = %s (%s); want a pass", r.Kernel, p.Status, p.Reason)
			}
			if x := u["untainted"]; x.Status != proto.Pass || len(x.Output) != 1 {
				t.Errorf("%s: untainted = %s, output %q; want a pass and the taint flags", r.Kernel, x.Status, x.Output)
			} else if flags, err := strconv.Atoi(x.Output[0]); err != nil || flags&1 != 0 {
				t.Errorf("%s: /proc/sys/kernel/tainted = %q in the unit after the proprietary one in the list; want bit 0 (P) clear: the lab runs that one last", r.Kernel, x.Output[0])
			}
		}
		if c := u["clean"]; c.Status != proto.Pass {
			t.Errorf("%s: the clean module = %s, splats %q; want a pass", r.Kernel, c.Status, c.Splats)
		} else if got := strings.Join(c.Output, " "); got != "tsc lapic" {
			t.Errorf("%s: clock source and clock event device %q, want \"tsc lapic\"", r.Kernel, got)
		}
		leaks := 1 // each load of leak loses one object, found by kmemleak
		if !haveDebug || r.Kernel != debug.Release {
			leaks = 0
		}
		for name, n := range map[string]int{"leak": leaks, "leak-again": leaks, "leak-reload": 2 * leaks} {
			// The module lies at the same place in each unit, most
			// likely: each unit gets its own objects, no other's.
			if x := u[name]; len(x.Splats) != n {
				t.Errorf("%s: %s has %d reports, want %d: %q", r.Kernel, name, len(x.Splats), n, x.Splats)
			}
		}
		// On the debug kernel, oob's KASAN report turned lockdep off and
		// the guest asked for a fresh boot, where lockinv's inversion is
		// seen (checked with the bug modules below): one fresh boot, and
		// none on Debian's kernels, which have no lockdep to lose.
		wantFresh := 0
		if haveDebug && r.Kernel == debug.Release {
			wantFresh = 1
		}
		if len(r.Fresh) != wantFresh || (wantFresh == 1 && !strings.Contains(r.Fresh[0], "from unit lockinv: lock debugging turned itself off during unit oob")) {
			t.Errorf("%s: fresh boots %q; want %d (after oob, for lockinv, on the debug kernel)", r.Kernel, r.Fresh, wantFresh)
		}
		if !haveDebug || r.Kernel != debug.Release {
			for _, m := range bugModules {
				if x := u[m.name]; x.Status != proto.Pass {
					t.Errorf("%s: %s = %s, splats %q; Debian's kernels cannot see its bug, want a pass", r.Kernel, m.name, x.Status, x.Splats)
				}
			}
			o := u["oob-slab"]
			if o.Status != proto.Fail || len(o.Splats) == 0 ||
				!(strings.HasPrefix(o.Splats[0], "BUG kmalloc-64 ") || strings.HasPrefix(o.Splats[0], "BUG: KFENCE: ")) {
				t.Errorf("%s: oob size=64 = %s, splats %q; want slub_debug's (or KFENCE's) report", r.Kernel, o.Status, o.Splats)
			}
			continue
		}
		for _, m := range bugModules {
			x := u[m.name]
			src := filepath.Join(root, "lab/testdata", m.name, m.name+".c")
			line := m.name + ".c:" + lineOf(t, src, m.mark)
			if x.Status != proto.Fail || len(x.Splats) == 0 {
				t.Errorf("%s: %s = %s with no report; want %q", r.Kernel, m.name, x.Status, m.report)
				continue
			}
			for _, s := range x.Splats {
				if !strings.HasPrefix(s, m.report) {
					t.Errorf("%s: %s has a report that is not %q:\n%s", r.Kernel, m.name, m.report, s)
				}
			}
			if !strings.Contains(x.Splats[0], line) {
				t.Errorf("%s: %s's report does not name %s:\n%s", r.Kernel, m.name, line, x.Splats[0])
			}
		}
	}
	if t.Failed() {
		return
	}
	if !haveDebug {
		t.Skip(noDebugKernel + "; Debian's kernels passed")
	}
	// One column per kernel, in the order of kernels: PASS on Debian's,
	// FAIL on the debug kernel.
	for _, m := range bugModules {
		var row []string
		for _, l := range strings.Split(table.String(), "\n") {
			if f := strings.Fields(l); len(f) > 0 && f[0] == m.name {
				row = f[1:]
				break
			}
		}
		want := append(strings.Fields(strings.Repeat("PASS ", len(ks))), "FAIL")
		if strings.Join(row, " ") != strings.Join(want, " ") {
			t.Errorf("table row of %s = %q, want %q:\n%s", m.name, row, want, table.String())
		}
	}
}

// TestUnhealthyBootNeverPasses taints the kernel before /init says ready
// (modlab_taint=W on the command line makes /init do it, through the
// kernel's own /proc/sys/kernel/tainted): the boot is retried, the retry
// is as unhealthy, and the run is a lab error with both reasons; the unit
// is not run.
func TestUnhealthyBootNeverPasses(t *testing.T) {
	t.Parallel() // VM tests overlap: one VM rarely keeps both CPUs busy
	ks, root, cache := labSetup(t)
	k := ks[len(ks)-1] // the oldest boots fastest
	units := []lab.UnitSpec{{Name: "clean", Src: writeModule(t, "clean", paramModule)}}
	results, err := lab.Run(context.Background(), lab.Options{Kernels: []lab.Kernel{k}, CacheDir: cache,
		SrcRoot: root, Append: "modlab_taint=W"}, units)
	if err != nil {
		t.Fatal(err)
	}
	r := results[0]
	const why = "the kernel was unhealthy before the first unit: the kernel is tainted (W) before any module was loaded"
	if r.OK() || !strings.HasPrefix(r.Retried, "boot 1: "+why) || !strings.HasPrefix(r.Infra, "boot 2: "+why) {
		t.Errorf("ok = %v, retried = %q, infra = %q; want two unhealthy boots and a lab error", r.OK(), r.Retried, r.Infra)
	}
	if u := r.Units[0]; u.Status != lab.NotRun {
		t.Errorf("the unit = %s on an unhealthy kernel; want it not run", u.Status)
	}
}
