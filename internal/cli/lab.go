package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/modlab/modlab/lab"
	"github.com/modlab/modlab/lab/accel"
	"github.com/modlab/modlab/lab/debugkernel"
	"github.com/modlab/modlab/lab/proto"
	labreport "github.com/modlab/modlab/lab/report"
	"github.com/modlab/modlab/scripts"
)

// labFlags are the options every lab command shares.
type labFlags struct {
	kernel      string
	memory      int
	cache       string
	format      string
	append      string
	bootTimeout time.Duration
	accel       string
	coldBoot    bool
}

func (lf *labFlags) register(fs *pflag.FlagSet, defFormat string) {
	fs.StringVarP(&lf.kernel, "kernel", "k", "all", "kernels: all, debian, debug (the debug kernel, once built), a release, a prefix\n"+
		"(6.1, 6.12: Debian's kernels; a prefix reaches the debug kernel only if no\n"+
		"Debian kernel matches, as 6.12.117 does), or a comma list")
	fs.IntVar(&lf.memory, "memory", 512, "guest memory in MiB")
	fs.StringVar(&lf.cache, "cache", "", "build and image cache (default $MODLAB_CACHE or ~/.cache/modlab)")
	fs.StringVar(&lf.append, "append", "", "more kernel command-line arguments for the guest")
	fs.DurationVar(&lf.bootTimeout, "boot-timeout", 120*time.Second, "time a boot may take to reach /init's ready (it is retried once)")
	fs.BoolVar(&lf.coldBoot, "cold-boot", false, "boot every kernel; by default (under TCG) a kernel's first boot saves the guest at\n"+
		"/init's ready in the cache, and later runs restore it")
	fs.StringVar(&lf.accel, "accel", "", "accelerator: kvm, tcg, or auto (KVM when it works here) (default $"+accel.EnvVar+", else auto)")
	if defFormat != "" {
		fs.StringVar(&lf.format, "format", defFormat, "report format: table, ktap, json or junit")
	}
}

func newFlagSet(name, usage string, out io.Writer) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(out)
	fs.SortFlags = false
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: modlab %s\n\nOptions:\n", usage)
		fs.PrintDefaults()
	}
	return fs
}

// parse handles --help and turns flag errors into usage errors.
func parse(fs *pflag.FlagSet, args []string) (help bool, err error) {
	if err := fs.Parse(args); err != nil {
		if err == pflag.ErrHelp {
			return true, nil
		}
		return false, usagef("%v", err)
	}
	return false, nil
}

func cacheDir(env *Env, flag string) string {
	if flag != "" {
		return flag
	}
	return lab.DefaultCacheDir(env.Getenv)
}

// listKernels lists Debian's kernels and those built into the cache.
func listKernels(env *Env, cache string) ([]lab.Kernel, error) {
	return lab.AllKernels(env.Path("/"), cacheDir(env, cache))
}

func selectKernels(env *Env, spec, cache string) ([]lab.Kernel, error) {
	ks, err := listKernels(env, cache)
	if err != nil {
		return nil, err
	}
	return lab.Select(ks, spec)
}

func runKernels(env *Env, args []string) error {
	if len(args) > 0 && args[0] == "build-debug" {
		return runBuildDebug(env, args[1:])
	}
	fs := newFlagSet("kernels", "kernels [--json] [--cache DIR]\n       modlab kernels build-debug [--from 6.12] [--jobs N] [--cache DIR]\n\n"+
		"Lists the kernels the lab can use, and where each comes from: Debian's\n"+
		"packages (/boot, /lib/modules), or modlab's cache (the debug kernel that\n"+
		"'modlab kernels build-debug' builds; 'modlab kernels build-debug --help').", env.Stdout)
	asJSON := fs.Bool("json", false, "print JSON")
	cache := fs.String("cache", "", "build and image cache (default $MODLAB_CACHE or ~/.cache/modlab)")
	if help, err := parse(fs, args); help || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("kernels: unknown argument %q (the subcommand is build-debug)", fs.Arg(0))
	}
	ks, err := listKernels(env, *cache)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if ks == nil {
			ks = []lab.Kernel{}
		}
		return enc.Encode(ks)
	}
	if len(ks) == 0 {
		return fmt.Errorf("no usable kernel: one needs /boot/vmlinuz-<release> and /lib/modules/<release>/build (run 'modlab setup')")
	}
	fmt.Fprintf(env.Stdout, "%-27s %-13s %s\n", "RELEASE", "ORIGIN", "FROM")
	debug := false
	for _, k := range ks {
		from := "Debian package, " + k.Vmlinuz
		if k.Origin != lab.OriginDebian {
			from = "built by modlab from " + k.Source + ", " + filepath.Dir(k.Vmlinuz)
		}
		debug = debug || k.Origin == lab.OriginDebug
		fmt.Fprintf(env.Stdout, "%-27s %-13s %s\n", k.Release, k.Origin, from)
	}
	if !debug {
		fmt.Fprintln(env.Stderr, "modlab: no debug kernel (KASAN, lockdep, kmemleak) yet: 'modlab kernels build-debug' builds one (about 15 minutes on 2 cores)")
	}
	return nil
}

func runBuildDebug(env *Env, args []string) error {
	fs := newFlagSet("kernels build-debug", "kernels build-debug [--from 6.12] [--jobs N] [--cache DIR]\n\n"+
		"Builds the lab's debug kernel from Debian's linux-source-SERIES package:\n"+
		"x86_64_defconfig + kvm_guest.config + modlab's debug.config (KASAN, lockdep,\n"+
		"kmemleak, UBSAN, list debugging, gcov, and what the lab needs), bzImage and\n"+
		"modules, out of tree in the cache, and registers it as a lab kernel\n"+
		"(RELEASE-modlab-debug; select it with --kernel debug). Installs the build's\n"+
		"packages when missing (as root). Nothing goes to /boot or /lib/modules.\n"+
		"A second run with the same source and configuration does nothing.", env.Stdout)
	from := fs.String("from", debugkernel.DefaultSeries, "the kernel source series: the Debian package linux-source-SERIES")
	jobs := fs.IntP("jobs", "j", runtime.NumCPU(), "parallel make jobs")
	cache := fs.String("cache", "", "build and image cache (default $MODLAB_CACHE or ~/.cache/modlab)")
	if help, err := parse(fs, args); help || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("kernels build-debug takes no arguments")
	}
	return buildDebugKernel(env, *from, *jobs, cacheDir(env, *cache))
}

func buildDebugKernel(env *Env, series string, jobs int, cache string) error {
	ctx, cancel := signalContext()
	defer cancel()
	start := time.Now()
	res, err := debugkernel.Build(ctx, debugkernel.Options{CacheDir: cache, Series: series, Jobs: jobs,
		Progress: func(msg string) {
			fmt.Fprintf(env.Stderr, "[%6.1fs] %s\n", time.Since(start).Seconds(), msg)
		}})
	var se *debugkernel.StepError
	if errors.As(err, &se) && se.Tail != "" {
		fmt.Fprintf(env.Stderr, "-- the log's last lines (%s):\n%s\n", se.Log, se.Tail)
	}
	if err != nil {
		return err
	}
	state := fmt.Sprintf("built in %s", (time.Duration(res.Record.BuildSeconds) * time.Second).String())
	if res.Cached {
		state = "up to date"
	}
	fmt.Fprintf(env.Stdout, "%s: %s (%s %s); select it with --kernel debug\n  image   %s\n  modules %s\n  headers %s\n",
		res.Record.Release, state, res.Record.SourcePackage, res.Record.SourceVersion,
		res.Record.Image, res.Record.ModDir, res.Record.BuildDir)
	return nil
}

func runSetup(env *Env, args []string) error {
	fs := newFlagSet("setup", "setup [--check] [--debug-kernel]", env.Stdout)
	check := fs.Bool("check", false, "only report what is missing")
	debug := fs.Bool("debug-kernel", false, "then build the lab's debug kernel (modlab kernels build-debug: about 15 minutes on 2 cores)")
	if help, err := parse(fs, args); help || err != nil {
		return err
	}
	// The script travels inside the binary (an installed modlab has no
	// source tree); bash runs a temporary copy, so that apt and dpkg, which
	// inherit stdin, cannot eat the script.
	f, err := os.CreateTemp("", "modlab-setup-*.sh")
	if err != nil {
		return fmt.Errorf("setup script: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString(scripts.Setup); err != nil {
		f.Close()
		return fmt.Errorf("setup script: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("setup script: %w", err)
	}
	sargs := []string{f.Name()}
	if *check {
		sargs = append(sargs, "--check")
	}
	cmd := exec.Command("bash", sargs...)
	cmd.Stdin = env.Stdin
	cmd.Stdout, cmd.Stderr = env.Stdout, env.Stderr
	if err := cmd.Run(); err != nil {
		return &ExitError{Code: 1}
	}
	if !*debug {
		return nil
	}
	if *check {
		ks, err := lab.CachedKernels(cacheDir(env, ""))
		if err != nil {
			return err
		}
		for _, k := range ks {
			if k.Origin == lab.OriginDebug {
				fmt.Fprintf(env.Stdout, "setup: debug kernel %s is built\n", k.Release)
				return nil
			}
		}
		fmt.Fprintln(env.Stdout, "setup: missing: the debug kernel (modlab kernels build-debug)")
		return &ExitError{Code: 1}
	}
	return buildDebugKernel(env, debugkernel.DefaultSeries, runtime.NumCPU(), cacheDir(env, ""))
}

func runBuild(env *Env, args []string) error {
	fs := newFlagSet("build", "build DIR [--kernel K] [--sparse] [-- MAKEVAR=value...]", env.Stdout)
	var lf labFlags
	lf.register(fs, "")
	sparse := fs.Bool("sparse", false, "run sparse on every file (make C=2)")
	if help, err := parse(fs, args); help || err != nil {
		return err
	}
	if fs.NArg() < 1 {
		return usagef("build needs a module folder")
	}
	src, makeArgs := fs.Arg(0), fs.Args()[1:]
	if err := lab.CheckFolder(src); err != nil {
		return usagef("%v", err)
	}
	ks, err := selectKernels(env, lf.kernel, lf.cache)
	if err != nil {
		return err
	}
	cache := cacheDir(env, lf.cache)
	type out struct {
		r   *lab.BuildResult
		err error
	}
	outs := make([]out, len(ks))
	var wg sync.WaitGroup
	for i, k := range ks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := lab.Build(context.Background(), src, k, cache, lab.BuildOptions{Sparse: *sparse, MakeArgs: makeArgs})
			outs[i] = out{r, err}
		}()
	}
	wg.Wait()
	failed := false
	for i, o := range outs {
		if o.err != nil {
			failed = true
			if be, ok := o.err.(*lab.BuildError); ok {
				fmt.Fprintf(env.Stderr, "== %s: build FAILED (%v)\n%s", ks[i].Release, be.Err, be.Output)
				continue
			}
			fmt.Fprintf(env.Stderr, "== %s: %v\n", ks[i].Release, o.err)
			continue
		}
		state := fmt.Sprintf("built in %.1fs", o.r.Duration.Seconds())
		if o.r.Cached {
			state = "up to date"
		}
		fmt.Fprintf(env.Stdout, "== %s: %s, %s\n", ks[i].Release, state, o.r.Dir)
		if !o.r.Cached {
			io.WriteString(env.Stdout, o.r.Output)
		} else if w := o.r.Warnings(); len(w) > 0 {
			fmt.Fprintf(env.Stdout, "%s\n", strings.Join(w, "\n"))
		}
		for _, m := range o.r.Modules {
			fmt.Fprintf(env.Stdout, "   %s\n", m)
		}
	}
	if failed {
		return &ExitError{Code: 1}
	}
	return nil
}

// labOptions turns the shared flags into lab options; the returned stop
// function ends the live progress display.
func labOptions(env *Env, lf *labFlags) (lab.Options, func(), error) {
	ks, err := selectKernels(env, lf.kernel, lf.cache)
	if err != nil {
		return lab.Options{}, nil, err
	}
	// The source tree is only needed for the examples' tests; an installed
	// modlab runs the user's folders without it.
	root, _ := lab.FindSourceRoot(env.Getenv)
	if _, err := labreport.ParseFormat(lf.format); err != nil {
		return lab.Options{}, nil, usagef("--format: %v", err)
	}
	mode := lf.accel
	if mode == "" {
		mode = accel.DefaultMode(env.Getenv)
	}
	if mode, err = accel.ParseMode(mode); err != nil {
		return lab.Options{}, nil, usagef("--accel: %v", err)
	}
	o := lab.Options{
		Accel:       mode,
		Notice:      onceEach(func(msg string) { fmt.Fprintf(env.Stderr, "modlab: %s\n", msg) }),
		Kernels:     ks,
		CacheDir:    cacheDir(env, lf.cache),
		SrcRoot:     root,
		MemoryMB:    lf.memory,
		Append:      lf.append,
		BootTimeout: lf.bootTimeout,
		ColdBoot:    lf.coldBoot,
	}
	prog := newProgress(env, ks)
	o.Progress = prog.update
	if env.Getenv("MODLAB_TRACE") != "" {
		var mu sync.Mutex
		o.Trace = func(k string, e proto.Event) {
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintf(env.Stderr, "trace %s %9.3f %s %s %s %s %s\n", k, e.Time, e.Ev, e.Unit, e.Name, e.Status, firstLineOf(e.Msg))
		}
	}
	return o, prog.stop, nil
}

// writeReport prints the report and its closing line ("modlab: N passed,
// N failed"); a run that did not pass ends with exit status 1.
// onceEach wraps say so that each message is said once per command, however
// many runs (bench) it makes.
func onceEach(say func(string)) func(string) {
	var mu sync.Mutex
	said := map[string]bool{}
	return func(msg string) {
		mu.Lock()
		defer mu.Unlock()
		if !said[msg] {
			said[msg] = true
			say(msg)
		}
	}
}

func writeReport(env *Env, format string, results []lab.KernelResult) error {
	f, err := labreport.ParseFormat(format)
	if err != nil {
		return usagef("--format: %v", err)
	}
	if f == labreport.Table {
		fmt.Fprintln(env.Stdout)
	}
	sum, err := labreport.Write(env.Stdout, env.Stderr, f, results)
	if err != nil {
		return err
	}
	if !sum.OK() {
		return &ExitError{Code: 1}
	}
	return nil
}

func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt)
}

func runRun(env *Env, args []string) error {
	fs := newFlagSet("run", "run DIR [--kernel K] [--param name=value]... [--exec 'cmd'] [--shell]", env.Stdout)
	var lf labFlags
	lf.register(fs, "table")
	params := fs.StringArrayP("param", "p", nil, "module parameter name=value (or MODULE.name=value); repeatable")
	execCmd := fs.StringP("exec", "e", "", "busybox sh command to run with the module(s) loaded")
	shell := fs.Bool("shell", false, "interactive busybox shell on the console with the module(s) loaded")
	timeout := fs.Duration("timeout", 120*time.Second, "time limit for the command")
	files := fs.StringArray("file", nil, "copy a host file into the guest: HOSTPATH[:GUESTPATH] (default: files/BASENAME in the unit's directory); repeatable")
	var cov coverageFlags
	cov.register(fs)
	if help, err := parse(fs, args); help || err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("run needs one module folder")
	}
	src := fs.Arg(0)
	if err := lab.CheckFolder(src); err != nil {
		return usagef("%v", err)
	}
	var copies []lab.FileCopy
	for _, f := range *files {
		fc, err := lab.ParseFileCopy(f)
		if err != nil {
			return usagef("%v", err)
		}
		copies = append(copies, fc)
	}
	o, stop, err := labOptions(env, &lf)
	if err != nil {
		return err
	}
	defer stop()
	if err := cov.apply(env, &o); err != nil {
		return err
	}
	if *shell {
		stop()
		if len(o.Kernels) > 1 {
			return usagef("--shell needs one kernel (--kernel 6.1 or --kernel 6.12)")
		}
		o.Stdin, o.Stdout = os.Stdin, os.Stdout
		o.Progress = nil
	}
	abs, err := filepath.Abs(src)
	if err != nil {
		return err
	}
	unit := lab.UnitSpec{Name: filepath.Base(abs), Src: abs, Params: *params, Exec: *execCmd,
		Shell: *shell, Timeout: *timeout, Files: copies}
	ctx, cancel := signalContext()
	defer cancel()
	results, err := lab.Run(ctx, o, []lab.UnitSpec{unit})
	stop()
	var pe *lab.ParamError
	if errors.As(err, &pe) {
		return usagef("--param: %v", err)
	}
	if err != nil {
		return err
	}
	if lf.format == "table" || lf.format == "" {
		for _, r := range results {
			for _, u := range r.Units {
				fmt.Fprintf(env.Stdout, "== %s: %s\n", r.Kernel, u.Name)
				for _, s := range u.Steps {
					fmt.Fprintf(env.Stdout, "   %-4s %s", strings.ToUpper(s.Status), s.Name)
					if s.Msg != "" {
						fmt.Fprintf(env.Stdout, ": %s", s.Msg)
					}
					fmt.Fprintln(env.Stdout)
				}
				if len(u.Output) > 0 {
					fmt.Fprintf(env.Stdout, "-- output\n%s\n", strings.Join(u.Output, "\n"))
				}
				if len(u.Log) > 0 {
					fmt.Fprintln(env.Stdout, "-- kernel log")
					for _, l := range u.Log {
						fmt.Fprintf(env.Stdout, "[%12.6f] %s\n", l.Time, l.Msg)
					}
				}
			}
		}
	}
	printCoverage(env, lf.format, results)
	return writeReport(env, lf.format, results)
}

func runTest(env *Env, args []string) error {
	fs := newFlagSet("test", "test [NAME...] [--kernel K] [--format table|ktap|json|junit]", env.Stdout)
	var lf labFlags
	lf.register(fs, "table")
	list := fs.Bool("list", false, "list the examples that have tests")
	var cov coverageFlags
	cov.register(fs)
	if help, err := parse(fs, args); help || err != nil {
		return err
	}
	root, err := lab.FindSourceRoot(env.Getenv)
	if err != nil {
		return fmt.Errorf("'modlab test' runs the examples' Go tests, which are built from modlab's source tree: %w", err)
	}
	all, err := lab.Examples(root)
	if err != nil {
		return err
	}
	if *list {
		for _, e := range all {
			fmt.Fprintln(env.Stdout, e)
		}
		return nil
	}
	names := fs.Args()
	if len(names) == 0 {
		names = all
	}
	var units []lab.UnitSpec
	for _, n := range names {
		n = strings.TrimSuffix(strings.TrimPrefix(n, "examples/"), "/")
		if !contains(all, n) {
			return fmt.Errorf("no example %q with guest tests (have: %s)", n, strings.Join(all, ", "))
		}
		units = append(units, lab.UnitSpec{Name: n, Src: filepath.Join(root, "examples", n),
			TestPkg: "examples/" + n})
	}
	o, stop, err := labOptions(env, &lf)
	if err != nil {
		return err
	}
	if err := cov.apply(env, &o); err != nil {
		stop()
		return err
	}
	ctx, cancel := signalContext()
	defer cancel()
	results, err := lab.Run(ctx, o, units)
	stop()
	if err != nil {
		return err
	}
	printCoverage(env, lf.format, results)
	return writeReport(env, lf.format, results)
}

func firstLineOf(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

func contains(list []string, s string) bool {
	i := sort.SearchStrings(list, s)
	return i < len(list) && list[i] == s
}

// progress shows what each kernel is doing: one live line per kernel on a
// terminal, plain lines otherwise. It writes to Stderr.
type progress struct {
	mu     sync.Mutex
	env    *Env
	order  []string
	state  map[string]string
	since  map[string]time.Time
	drawn  int
	start  time.Time
	ticker *time.Ticker
	// stopped: the run is over; nothing is drawn any more.
	stopped bool
}

func newProgress(env *Env, ks []lab.Kernel) *progress {
	p := &progress{env: env, state: map[string]string{}, since: map[string]time.Time{}, start: time.Now()}
	for _, k := range ks {
		p.order = append(p.order, k.Release)
	}
	if env.IsTerminal {
		// Redraw twice a second so the clocks move between events.
		p.ticker = time.NewTicker(500 * time.Millisecond)
		go func() {
			for range p.ticker.C {
				p.mu.Lock()
				if !p.stopped {
					p.draw()
				}
				p.mu.Unlock()
			}
		}()
	}
	return p
}

// stop ends the redrawing.
func (p *progress) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopped = true
	if p.ticker != nil {
		p.ticker.Stop()
	}
}

func (p *progress) update(kernel, status string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	elapsed := time.Since(p.start).Seconds()
	if !p.env.IsTerminal {
		fmt.Fprintf(p.env.Stderr, "[%6.1fs] %s: %s\n", elapsed, kernel, status)
		return
	}
	p.state[kernel] = status
	p.since[kernel] = time.Now()
	if status == "finished" || strings.HasPrefix(status, "finished ") {
		p.since[kernel] = time.Time{}
	}
	p.draw()
}

// draw repaints one line per kernel: total time, the step, its own time.
func (p *progress) draw() {
	if p.drawn > 0 {
		fmt.Fprintf(p.env.Stderr, "\x1b[%dA", p.drawn)
	}
	for _, k := range p.order {
		step := ""
		if t := p.since[k]; !t.IsZero() {
			step = fmt.Sprintf(" (%.1fs)", time.Since(t).Seconds())
		}
		fmt.Fprintf(p.env.Stderr, "\r\x1b[K%-28s %6.1fs %s%s\n", k, time.Since(p.start).Seconds(), p.state[k], step)
	}
	p.drawn = len(p.order)
}
