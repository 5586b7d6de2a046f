package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/modlab/modlab/lab/proto"
)

// UnitSpec is one module folder to run in every selected kernel.
type UnitSpec struct {
	Name   string   // shown in reports ("hello", or the folder's name)
	Src    string   // the kbuild folder
	Params []string // "name=value" or "module.name=value"
	Exec   string   // a busybox sh command run with the modules loaded
	Shell  bool     // an interactive shell with the modules loaded
	// TestPkg is a Go package (relative to the source root) whose
	// modlab_guest tests run in the guest; the test loads modules itself.
	TestPkg string
	Timeout time.Duration
}

// NotRun is the status of a unit the guest has not reported on: it counts
// as a failure.
const NotRun = "not-run"

// Options configure a Run.
type Options struct {
	Kernels  []Kernel
	CacheDir string
	SrcRoot  string // modlab's source tree (guest /init, tests)
	Busybox  string // default /bin/busybox
	QEMU     string
	MemoryMB int
	Append   string // more kernel arguments
	Build    BuildOptions
	// Parallel bounds how many kernels boot at once (default: CPUs).
	Parallel int
	// Progress receives a short status per kernel as things happen.
	Progress func(kernel, status string)
	// Interactive shell plumbing (Shell units).
	Stdin  *os.File
	Stdout *os.File
	// BootTimeout bounds the boot to "ready" (default 120s).
	BootTimeout time.Duration
	// Trace, if set, receives every guest event as it arrives, with the
	// guest's clock (MODLAB_TRACE=1 in the CLI).
	Trace func(kernel string, e proto.Event)
}

// Phases is where a kernel's time went.
type Phases struct {
	Build      time.Duration `json:"build"`        // kbuild, while the kernel boots
	Image      time.Duration `json:"image"`        // guest init and initramfs
	BootToInit time.Duration `json:"boot_to_init"` // QEMU start to /init's first event
	Ready      time.Duration `json:"ready"`        // /init start to ready (boot drivers)
	Work       time.Duration `json:"work"`         // go to done
	Shutdown   time.Duration `json:"shutdown"`     // done to QEMU's exit
	Total      time.Duration `json:"total"`
}

// TestResult is one Go test function run in the guest.
type TestResult struct {
	Name    string  `json:"name"`
	Status  string  `json:"status"`
	Elapsed float64 `json:"elapsed"`
	Output  string  `json:"output,omitempty"`
}

// UnitResult is one unit in one kernel.
type UnitResult struct {
	Name     string          `json:"name"`
	Status   string          `json:"status"` // pass or fail
	Reason   string          `json:"reason,omitempty"`
	Build    string          `json:"build_output,omitempty"`
	Warnings []string        `json:"warnings,omitempty"`
	Steps    []proto.Event   `json:"steps,omitempty"`
	Tests    []TestResult    `json:"tests,omitempty"`
	Output   []string        `json:"output,omitempty"`
	Log      []proto.LogLine `json:"log,omitempty"`
	Splats   []string        `json:"splats,omitempty"`
	Taint    string          `json:"taint,omitempty"`
	BadTaint string          `json:"bad_taint,omitempty"`
	Duration float64         `json:"duration"`
}

// KernelResult is everything that happened in one kernel.
type KernelResult struct {
	Kernel     string       `json:"kernel"`
	Units      []UnitResult `json:"units"`
	Infra      string       `json:"infra_error,omitempty"` // the lab failed, not the module
	Retried    string       `json:"retried,omitempty"`     // why the first boot was retried
	ConsoleLog string       `json:"console_log"`
	QEMU       string       `json:"qemu_command"`
	Phases     Phases       `json:"phases"`
}

// OK reports whether every unit passed and the lab worked.
func (r *KernelResult) OK() bool {
	if r.Infra != "" {
		return false
	}
	for _, u := range r.Units {
		if u.Status != proto.Pass {
			return false
		}
	}
	return len(r.Units) > 0
}

func (o *Options) progress(k, format string, a ...any) {
	if o.Progress != nil {
		o.Progress(k, fmt.Sprintf(format, a...))
	}
}

// Run builds the units for every kernel, boots each kernel once, runs all
// units there and returns one result per kernel, in the order of
// o.Kernels. An error means the lab could not start at all.
func Run(ctx context.Context, o Options, units []UnitSpec) ([]KernelResult, error) {
	if len(o.Kernels) == 0 {
		return nil, errors.New("no kernel selected")
	}
	if o.Busybox == "" {
		o.Busybox = "/bin/busybox"
	}
	if o.Parallel <= 0 {
		o.Parallel = runtime.NumCPU()
	}
	if o.BootTimeout == 0 {
		o.BootTimeout = 120 * time.Second
	}
	t0 := time.Now()
	initBin, err := GoBinary(ctx, o.SrcRoot, "lab/guest", false, o.CacheDir)
	if err != nil {
		return nil, fmt.Errorf("guest init: %w", err)
	}
	initTime := time.Since(t0)
	// The guest tests build while the kernels boot.
	tests := map[string]*future{}
	for _, u := range units {
		if u.TestPkg != "" && tests[u.TestPkg] == nil {
			pkg := u.TestPkg
			tests[pkg] = start(func() (string, error) {
				return GoBinary(ctx, o.SrcRoot, pkg, true, o.CacheDir)
			})
		}
	}
	results := make([]KernelResult, len(o.Kernels))
	sem := make(chan struct{}, o.Parallel)
	var wg sync.WaitGroup
	for i, k := range o.Kernels {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			results[i] = runKernel(ctx, &o, k, units, initBin, tests)
			results[i].Phases.Image += initTime
		}()
	}
	wg.Wait()
	return results, nil
}

type future struct {
	done chan struct{}
	val  string
	err  error
}

func start(f func() (string, error)) *future {
	fu := &future{done: make(chan struct{})}
	go func() {
		fu.val, fu.err = f()
		close(fu.done)
	}()
	return fu
}

func (f *future) get() (string, error) {
	<-f.done
	return f.val, f.err
}

type builtUnit struct {
	res *BuildResult
	err error
}

func runKernel(ctx context.Context, o *Options, k Kernel, units []UnitSpec, initBin string, tests map[string]*future) KernelResult {
	t0 := time.Now()
	res := KernelResult{Kernel: k.Release}
	logDir := filepath.Join(o.CacheDir, "logs", k.Release)
	os.MkdirAll(logDir, 0o755)
	runDir, err := os.MkdirTemp(logDir, "run-")
	if err != nil {
		res.Infra = err.Error()
		return res
	}
	res.ConsoleLog = filepath.Join(runDir, "console.log")
	pruneRuns(logDir, keepRuns)

	o.progress(k.Release, "image")
	img, err := Initramfs(ImageSpec{Kernel: k, Init: initBin, Busybox: o.Busybox}, o.CacheDir)
	if err != nil {
		res.Infra = fmt.Sprintf("initramfs: %v", err)
		return res
	}
	kimg, err := BootImage(k, o.CacheDir)
	if err != nil {
		res.Infra = err.Error()
		return res
	}
	res.Phases.Image = time.Since(t0)

	// kbuild runs while the kernel boots.
	builds := make([]builtUnit, len(units))
	buildsDone := make(chan struct{})
	go func() {
		defer close(buildsDone)
		for i, u := range units {
			builds[i].res, builds[i].err = Build(ctx, u.Src, k, o.CacheDir, o.Build)
		}
	}()

	disk := filepath.Join(runDir, "work.img")
	defer os.Remove(disk)
	var vm *VM
	var hello, ready time.Time
	for attempt := 0; attempt < 2; attempt++ {
		if err := CreateDisk(disk); err != nil {
			res.Infra = err.Error()
			return res
		}
		o.progress(k.Release, "booting")
		vm, err = Boot(ctx, VMConfig{
			QEMU: o.QEMU, Kernel: k, Image: kimg, Initramfs: img, Disk: disk, MemoryMB: o.MemoryMB,
			Append: o.Append, ConsoleLog: res.ConsoleLog, TmpDir: runDir,
			Interactive: hasShell(units), Stdin: o.Stdin, Stdout: o.Stdout,
		})
		if err != nil {
			res.Infra = err.Error()
			return res
		}
		res.QEMU = vm.CommandLine()
		hello, ready, err = waitReady(vm, o.BootTimeout)
		if err == nil {
			break
		}
		vm.Kill()
		<-vm.Exited()
		why := fmt.Sprintf("boot %d failed before /init was ready: %v\n%s", attempt+1, err, ConsoleTail(res.ConsoleLog, 30))
		if attempt == 0 {
			res.Retried = why
			os.Rename(res.ConsoleLog, res.ConsoleLog+".1")
			continue
		}
		res.Infra = why
		return res
	}
	res.Phases.BootToInit = hello.Sub(vm.Started)
	res.Phases.Ready = ready.Sub(hello)

	o.progress(k.Release, "building")
	<-buildsDone
	var work Work
	plan := &proto.Plan{Kernel: k.Release}
	for i, u := range units {
		ur := UnitResult{Name: u.Name, Status: NotRun}
		b := builds[i]
		if b.res != nil {
			ur.Warnings = b.res.Warnings()
			ur.Build = b.res.Output
		}
		pu, err := unitPlan(u, b, tests, &work)
		if err != nil {
			ur.Status, ur.Reason = proto.Fail, err.Error()
		} else {
			plan.Units = append(plan.Units, pu)
		}
		res.Units = append(res.Units, ur)
	}
	results := map[string]*UnitResult{}
	for i := range res.Units {
		results[res.Units[i].Name] = &res.Units[i]
	}
	for _, b := range builds {
		if b.res != nil {
			res.Phases.Build += b.res.Duration
		}
	}
	if len(plan.Units) == 0 {
		// Nothing built: no need to let the guest run.
		vm.Kill()
		<-vm.Exited()
		res.Phases.Total = time.Since(t0)
		o.progress(k.Release, "finished (nothing to run)")
		return res
	}
	if err := work.WriteDisk(disk, plan); err != nil {
		vm.Kill()
		res.Infra = fmt.Sprintf("work disk: %v", err)
		return res
	}
	goAt := time.Now()
	if err := vm.Go(); err != nil {
		vm.Kill()
		res.Infra = fmt.Sprintf("control port: %v", err)
		return res
	}
	timeout := workTimeout(units)
	done, doneAt := collect(o, k.Release, vm, results, timeout)
	res.Phases.Work = doneAt.Sub(goAt)
	if err := vm.Wait(30 * time.Second); err != nil && done == "" {
		res.Infra = err.Error()
	}
	res.Phases.Shutdown = time.Since(doneAt)
	res.Phases.Total = time.Since(t0)
	if done != "" {
		// The guest died or gave up after it was ready: the unit running
		// then (or every unit) failed, with the console's account.
		tail := ConsoleTail(res.ConsoleLog, 40)
		failed := false
		for i := range res.Units {
			u := &res.Units[i]
			switch u.Status {
			case proto.Run:
				u.Status = proto.Fail
				u.Reason = done
				if tail != "" {
					u.Splats = append(u.Splats, tail)
				}
				failed = true
			case NotRun:
				u.Status = proto.Fail
				u.Reason = "not run: " + done
			}
		}
		if !failed {
			res.Infra = done
		}
	}
	o.progress(k.Release, "finished")
	return res
}

// keepRuns is how many run directories (console logs) are kept per kernel.
const keepRuns = 20

// pruneRuns removes all but the newest keep run directories in dir.
func pruneRuns(dir string, keep int) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	type run struct {
		path string
		mod  time.Time
	}
	var runs []run
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "run-") {
			continue
		}
		if info, err := e.Info(); err == nil {
			runs = append(runs, run{filepath.Join(dir, e.Name()), info.ModTime()})
		}
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].mod.After(runs[j].mod) })
	for i := keep; i < len(runs); i++ {
		os.RemoveAll(runs[i].path)
	}
}

func hasShell(units []UnitSpec) bool {
	for _, u := range units {
		if u.Shell {
			return true
		}
	}
	return false
}

func workTimeout(units []UnitSpec) time.Duration {
	d := 60 * time.Second
	for _, u := range units {
		if u.Shell {
			return 24 * time.Hour
		}
		if u.Timeout > 0 {
			d += u.Timeout
		} else {
			d += 120 * time.Second
		}
	}
	return d
}

// waitReady waits for /init's hello and ready events.
func waitReady(vm *VM, timeout time.Duration) (hello, ready time.Time, err error) {
	deadline := time.After(timeout)
	for {
		select {
		case e, ok := <-vm.Events():
			if !ok {
				return hello, ready, fmt.Errorf("the guest stopped (kernel crash or QEMU exit): %s", vm.ExitReason())
			}
			switch e.Ev {
			case proto.EvHello:
				hello = time.Now()
			case proto.EvReady:
				return hello, time.Now(), nil
			case proto.EvFatal:
				return hello, ready, fmt.Errorf("guest /init: %s", e.Msg)
			}
		case <-deadline:
			return hello, ready, fmt.Errorf("no ready signal within %v", timeout)
		}
	}
}

// unitPlan puts a unit's built files into the work and describes it.
func unitPlan(u UnitSpec, b builtUnit, tests map[string]*future, work *Work) (proto.Unit, error) {
	pu := proto.Unit{Name: u.Name, Dir: "u/" + u.Name, Exec: u.Exec, Shell: u.Shell,
		Timeout: int(u.Timeout / time.Second)}
	if b.err != nil {
		return pu, b.err
	}
	mods := b.res.Ship
	for _, m := range mods {
		if err := work.AddFile(pu.Dir+"/"+filepath.Base(m), m, 0o644); err != nil {
			return pu, err
		}
	}
	if u.TestPkg != "" {
		bin, err := tests[u.TestPkg].get()
		if err != nil {
			return pu, err
		}
		pu.Test = u.Name + ".test"
		if err := work.AddFile(pu.Dir+"/"+pu.Test, bin, 0o755); err != nil {
			return pu, err
		}
		return pu, nil
	}
	order, err := loadOrder(mods)
	if err != nil {
		return pu, err
	}
	params, err := assignParams(order, u.Params)
	if err != nil {
		return pu, err
	}
	for _, m := range order {
		pu.Load = append(pu.Load, proto.Module{File: filepath.Base(m), Params: strings.Join(params[m], " ")})
	}
	return pu, nil
}

// collect files the guest's events into results until "done". It returns
// "" when the guest finished, or why it did not, and when it ended.
func collect(o *Options, kernel string, vm *VM, results map[string]*UnitResult, timeout time.Duration) (string, time.Time) {
	deadline := time.After(timeout)
	var unitStart time.Time
	for {
		select {
		case e, ok := <-vm.Events():
			if !ok {
				return "the guest stopped before it finished (kernel crash?)", time.Now()
			}
			if o.Trace != nil {
				o.Trace(kernel, e)
			}
			u := results[e.Unit]
			switch e.Ev {
			case proto.EvUnit:
				if u != nil {
					u.Status = proto.Run
					unitStart = time.Now()
				}
				o.progress(kernel, "%s", e.Unit)
			case proto.EvStep:
				if u != nil {
					u.Steps = append(u.Steps, e)
				}
				if e.Status == proto.Fail {
					o.progress(kernel, "%s: %s failed", e.Unit, e.Name)
				}
			case proto.EvTest:
				if u == nil {
					break
				}
				if e.Status == proto.Run {
					o.progress(kernel, "%s: %s", e.Unit, e.Name)
					break
				}
				u.Tests = append(u.Tests, TestResult{Name: e.Name, Status: e.Status, Elapsed: e.Elapsed, Output: e.Msg})
			case proto.EvOutput:
				if u != nil {
					u.Output = append(u.Output, e.Msg)
				}
			case proto.EvUnitEnd:
				if u != nil {
					u.Status = e.Status
					u.Log, u.Splats, u.Taint, u.BadTaint = e.Log, e.Splats, e.Taint, e.BadTaint
					u.Duration = time.Since(unitStart).Seconds()
					u.Reason = failReason(u)
				}
			case proto.EvFatal:
				return "guest /init failed: " + e.Msg, time.Now()
			case proto.EvDone:
				return "", time.Now()
			}
		case <-deadline:
			vm.Kill()
			return fmt.Sprintf("the guest did not finish within %v; killed", timeout), time.Now()
		}
	}
}

// failReason sums up why a unit failed.
func failReason(u *UnitResult) string {
	if u.Status == proto.Pass {
		return ""
	}
	var why []string
	for _, s := range u.Steps {
		if s.Status == proto.Fail {
			why = append(why, s.Name+": "+s.Msg)
		}
	}
	for _, t := range u.Tests {
		if t.Status == proto.Fail {
			why = append(why, t.Name+" failed")
		}
	}
	if len(u.Splats) > 0 {
		first, _, _ := strings.Cut(u.Splats[0], "\n")
		why = append(why, "kernel bug: "+first)
	}
	if u.BadTaint != "" {
		why = append(why, "new taint "+u.BadTaint)
	}
	return strings.Join(why, "; ")
}
