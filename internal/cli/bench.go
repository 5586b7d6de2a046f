package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/modlab/modlab/lab"
)

// runBench times, per kernel and in the same run, a bare boot (an /init
// that powers off at once) against `modlab run examples/hello`, split into
// phases, and `modlab test hello` on all the selected kernels together;
// then the debug kernel against Debian's kernel of its series: boot to
// ready and the examples' suite (benchDebug).
func runBench(env *Env, args []string) error {
	fs := newFlagSet("bench", "bench [--kernel K] [--runs N] [DIR]", env.Stdout)
	var lf labFlags
	lf.register(fs, "")
	runs := fs.IntP("runs", "n", 3, "timed runs of each measurement (the median is shown)")
	if help, err := parse(fs, args); help || err != nil {
		return err
	}
	o, stop, err := labOptions(env, &lf)
	if err != nil {
		return err
	}
	stop()
	o.Progress = nil
	o.Parallel = 1 // one VM at a time: the numbers are per boot
	// Boots, not restored guests, except in the "restored" column: the
	// numbers stay comparable with a bare boot and with earlier benches.
	wantCold := o.ColdBoot
	o.ColdBoot = true
	if o.SrcRoot == "" && fs.NArg() == 0 {
		return usagef("bench needs a module folder (modlab's source tree, with examples/hello, was not found)")
	}
	src := filepath.Join(o.SrcRoot, "examples", "hello")
	if fs.NArg() > 0 {
		src = fs.Arg(0)
	}
	unit := lab.UnitSpec{Name: filepath.Base(src), Src: src, Exec: "true"}
	ctx := context.Background()
	fmt.Fprintf(env.Stdout, "modlab bench: median of %d runs, one VM at a time; run = modlab run %s\n\n", *runs, src)
	fmt.Fprintf(env.Stdout, "%-27s %8s %8s %8s %8s %8s %8s %8s %8s %7s %9s\n", "KERNEL", "bare", "run", "build",
		"image", "to-init", "ready", "tests", "shutdown", "ratio", "restored")
	accelUsed := ""
	for _, k := range o.Kernels {
		ko := o
		ko.Kernels = []lab.Kernel{k}
		// Warm the caches (guest init, image, kbuild) once, untimed.
		warm, err := lab.Run(ctx, ko, []lab.UnitSpec{unit})
		if err != nil {
			return err
		}
		accelUsed = warm[0].Accel
		var bare, total []time.Duration
		var phases []lab.Phases
		for i := 0; i < *runs; i++ {
			d, err := lab.BareBoot(ctx, ko, k)
			if err != nil {
				return fmt.Errorf("%s: %w", k.Release, err)
			}
			bare = append(bare, d)
			t0 := time.Now()
			res, err := lab.Run(ctx, ko, []lab.UnitSpec{unit})
			if err != nil {
				return err
			}
			total = append(total, time.Since(t0))
			if !res[0].OK() {
				lab.WriteTable(env.Stdout, res)
				return fmt.Errorf("%s: the benchmarked run failed", k.Release)
			}
			phases = append(phases, res[0].Phases)
		}
		p := medianPhases(phases)
		b, t := median(bare), median(total)
		restored := "-"
		if !wantCold {
			d, err := timeRestored(ctx, env, ko, unit, *runs)
			if err != nil {
				return fmt.Errorf("%s: %w", k.Release, err)
			}
			restored = fmt.Sprintf("%.2fs", d.Seconds())
		}
		fmt.Fprintf(env.Stdout, "%-27s %7.2fs %7.2fs %7.2fs %7.2fs %7.2fs %7.2fs %7.2fs %7.2fs %6.2fx %9s\n",
			k.Release, b.Seconds(), t.Seconds(), p.Build.Seconds(), p.Image.Seconds(),
			p.BootToInit.Seconds(), p.Ready.Seconds(), p.Work.Seconds(), p.Shutdown.Seconds(),
			t.Seconds()/b.Seconds(), restored)
	}
	fmt.Fprintf(env.Stdout, "accelerator: %s\n", accelUsed)
	if o.SrcRoot == "" {
		return nil // the examples' suite needs modlab's source tree
	}
	// The whole hello suite on every selected kernel, as `modlab test hello`.
	to := o
	to.Parallel = 0
	tunit := lab.UnitSpec{Name: "hello", Src: filepath.Join(o.SrcRoot, "examples", "hello"), TestPkg: "examples/hello"}
	if _, err := lab.Run(ctx, to, []lab.UnitSpec{tunit}); err != nil {
		return err
	}
	var suite []time.Duration
	for i := 0; i < *runs; i++ {
		t0 := time.Now()
		res, err := lab.Run(ctx, to, []lab.UnitSpec{tunit})
		if err != nil {
			return err
		}
		suite = append(suite, time.Since(t0))
		for _, r := range res {
			if !r.OK() {
				lab.WriteTable(env.Stdout, res)
				return fmt.Errorf("modlab test hello failed during the benchmark")
			}
		}
	}
	fmt.Fprintf(env.Stdout, "\nmodlab test hello on %d kernels at once: %.2fs (median of %d)\n", len(o.Kernels), median(suite).Seconds(), *runs)
	fmt.Fprintln(env.Stdout, "columns: bare = QEMU start to exit with an /init that powers off at once;")
	fmt.Fprintln(env.Stdout, "run = the whole modlab run (host work included); build = kbuild check, overlapped with the boot;")
	fmt.Fprintln(env.Stdout, "to-init = QEMU start to /init; ready = boot drivers; tests = load, command, unload; ratio = run / bare;")
	fmt.Fprintln(env.Stdout, "restored = the whole run with the guest saved at ready restored instead of booted (the default under TCG)")
	all, err := listKernels(env, lf.cache)
	if err != nil {
		return err
	}
	return benchDebug(ctx, env, o, all, *runs)
}

// benchDebug times the debug kernel against Debian's kernel of its series
// (6.12.117-modlab-debug against 6.12.95+deb12-cloud-amd64), one VM at a
// time, in the same run: boot to ready (QEMU start to /init's ready, the
// boot drivers loaded) and the examples' whole suite (modlab test, every
// example), the median of runs. It says so when there is no debug kernel
// to compare.
func benchDebug(ctx context.Context, env *Env, o lab.Options, all []lab.Kernel, runs int) error {
	var debug []lab.Kernel
	for _, k := range o.Kernels {
		if k.Origin == lab.OriginDebug {
			debug = append(debug, k)
		}
	}
	if len(debug) == 0 {
		built := false
		for _, k := range all {
			built = built || k.Origin == lab.OriginDebug
		}
		if built {
			fmt.Fprintln(env.Stdout, "\ndebug kernel: not selected (--kernel all or debug compares it with Debian's)")
		} else {
			fmt.Fprintln(env.Stdout, "\ndebug kernel: not built ('modlab kernels build-debug' builds it): no comparison")
		}
		return nil
	}
	names, err := lab.Examples(o.SrcRoot)
	if err != nil {
		return fmt.Errorf("the examples' suite: %w", err)
	}
	var units []lab.UnitSpec
	for _, n := range names {
		units = append(units, lab.UnitSpec{Name: n, Src: filepath.Join(o.SrcRoot, "examples", n), TestPkg: "examples/" + n})
	}
	fmt.Fprintf(env.Stdout, "\ndebug kernel against Debian's, one VM at a time, median of %d runs; suite = modlab test (%s)\n",
		runs, strings.Join(names, ", "))
	fmt.Fprintf(env.Stdout, "%-27s %8s %8s %8s %8s\n", "KERNEL", "to-init", "ready", "boot", "suite")
	for _, dk := range debug {
		pair := []lab.Kernel{dk}
		if base, ok := debianCounterpart(all, dk); ok {
			pair = []lab.Kernel{base, dk}
		} else {
			fmt.Fprintf(env.Stdout, "(no Debian kernel of %s's series to compare it with)\n", dk.Release)
		}
		var boot, suite []time.Duration
		for _, k := range pair {
			ko := o
			ko.Kernels = []lab.Kernel{k}
			ko.Parallel = 1
			b, s, p, err := timeSuite(ctx, env, ko, units, runs)
			if err != nil {
				return fmt.Errorf("%s: %w", k.Release, err)
			}
			boot, suite = append(boot, b), append(suite, s)
			fmt.Fprintf(env.Stdout, "%-27s %7.2fs %7.2fs %7.2fs %7.2fs\n", k.Release,
				p.BootToInit.Seconds(), p.Ready.Seconds(), b.Seconds(), s.Seconds())
		}
		if len(pair) == 2 {
			fmt.Fprintf(env.Stdout, "%-27s %8s %8s %7.2fx %7.2fx\n", "debug / Debian", "", "",
				boot[1].Seconds()/boot[0].Seconds(), suite[1].Seconds()/suite[0].Seconds())
		}
	}
	fmt.Fprintln(env.Stdout, "columns: boot = to-init + ready (QEMU start to /init ready, the boot drivers loaded);")
	fmt.Fprintln(env.Stdout, "suite = the whole modlab test of every example on that kernel alone, host work included")
	return nil
}

// timeRestored is the median wall time of runs of unit that restore the
// guest saved at ready: a first run, untimed, saves it if none is.
func timeRestored(ctx context.Context, env *Env, o lab.Options, unit lab.UnitSpec, runs int) (time.Duration, error) {
	o.ColdBoot = false
	if _, err := lab.Run(ctx, o, []lab.UnitSpec{unit}); err != nil {
		return 0, err
	}
	var total []time.Duration
	for i := 0; i < runs; i++ {
		t0 := time.Now()
		res, err := lab.Run(ctx, o, []lab.UnitSpec{unit})
		if err != nil {
			return 0, err
		}
		total = append(total, time.Since(t0))
		if !res[0].OK() {
			lab.WriteTable(env.Stdout, res)
			return 0, fmt.Errorf("the benchmarked run failed")
		}
		if res[0].Phases.Restore == 0 {
			return 0, fmt.Errorf("a run meant to restore the saved guest booted")
		}
	}
	return median(total), nil
}

// debianCounterpart is the newest Debian kernel of k's series (6.12 for
// 6.12.117-modlab-debug).
func debianCounterpart(all []lab.Kernel, k lab.Kernel) (lab.Kernel, bool) {
	series := k.Release
	if i := strings.Index(series, "."); i >= 0 {
		if j := strings.IndexAny(series[i+1:], ".-+"); j >= 0 {
			series = series[:i+1+j]
		}
	}
	for _, d := range all { // newest first
		if d.Origin == lab.OriginDebian && (d.Release == series || strings.HasPrefix(d.Release, series+".") ||
			strings.HasPrefix(d.Release, series+"-")) {
			return d, true
		}
	}
	return lab.Kernel{}, false
}

// timeSuite runs units on o's one kernel, once untimed to warm the caches,
// then runs times: the median boot to ready, wall time and phases.
func timeSuite(ctx context.Context, env *Env, o lab.Options, units []lab.UnitSpec, runs int) (boot, total time.Duration, p lab.Phases, err error) {
	if _, err := lab.Run(ctx, o, units); err != nil {
		return 0, 0, p, err
	}
	var boots, totals []time.Duration
	var phases []lab.Phases
	for i := 0; i < runs; i++ {
		t0 := time.Now()
		res, err := lab.Run(ctx, o, units)
		if err != nil {
			return 0, 0, p, err
		}
		totals = append(totals, time.Since(t0))
		if !res[0].OK() {
			lab.WriteTable(env.Stdout, res)
			return 0, 0, p, fmt.Errorf("the examples' suite failed during the benchmark")
		}
		phases = append(phases, res[0].Phases)
		boots = append(boots, res[0].Phases.BootToInit+res[0].Phases.Ready)
	}
	return median(boots), median(totals), medianPhases(phases), nil
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func medianPhases(ps []lab.Phases) lab.Phases {
	pick := func(f func(lab.Phases) time.Duration) time.Duration {
		var ds []time.Duration
		for _, p := range ps {
			ds = append(ds, f(p))
		}
		return median(ds)
	}
	return lab.Phases{
		Build:      pick(func(p lab.Phases) time.Duration { return p.Build }),
		Image:      pick(func(p lab.Phases) time.Duration { return p.Image }),
		BootToInit: pick(func(p lab.Phases) time.Duration { return p.BootToInit }),
		Ready:      pick(func(p lab.Phases) time.Duration { return p.Ready }),
		Work:       pick(func(p lab.Phases) time.Duration { return p.Work }),
		Shutdown:   pick(func(p lab.Phases) time.Duration { return p.Shutdown }),
		Total:      pick(func(p lab.Phases) time.Duration { return p.Total }),
	}
}
