package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"time"

	"github.com/modlab/modlab/lab"
)

// runBench times, per kernel and in the same run, a bare boot (an /init
// that powers off at once) against `modlab run examples/hello`, split into
// phases, and `modlab test hello` on all the selected kernels together.
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
	fmt.Fprintf(env.Stdout, "%-27s %8s %8s %8s %8s %8s %8s %8s %8s %7s\n", "KERNEL", "bare", "run", "build",
		"image", "to-init", "ready", "tests", "shutdown", "ratio")
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
		fmt.Fprintf(env.Stdout, "%-27s %7.2fs %7.2fs %7.2fs %7.2fs %7.2fs %7.2fs %7.2fs %7.2fs %6.2fx\n",
			k.Release, b.Seconds(), t.Seconds(), p.Build.Seconds(), p.Image.Seconds(),
			p.BootToInit.Seconds(), p.Ready.Seconds(), p.Work.Seconds(), p.Shutdown.Seconds(),
			t.Seconds()/b.Seconds())
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
	fmt.Fprintln(env.Stdout, "to-init = QEMU start to /init; ready = boot drivers; tests = load, command, unload; ratio = run / bare")
	return nil
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
