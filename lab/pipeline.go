package lab

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/modlab/modlab/lab/accel"
	"github.com/modlab/modlab/lab/proto"
	"github.com/modlab/modlab/lab/qemu"
	"github.com/modlab/modlab/lab/report"
	"github.com/modlab/modlab/lab/snapshot"
	"github.com/modlab/modlab/lab/stacktrace"
	"github.com/modlab/modlab/lab/userland"
	"github.com/modlab/modlab/lab/vmslot"
)

// Run builds the units for every kernel, boots each kernel once, runs all
// units there and returns one result per kernel, in the order of
// o.Kernels. An error means the lab could not start at all, or the
// invocation was wrong (a *ParamError: nothing was run).
//
// What is shared by every kernel (the modlab binary for the guest, the Go
// test binaries, the units' Go programs) is prepared once, in the
// background; each kernel then goes through the stages of runKernel.
func Run(ctx context.Context, o Options, units []UnitSpec) ([]KernelResult, error) {
	if len(o.Kernels) == 0 {
		return nil, errors.New("no kernel selected")
	}
	o.setDefaults()
	sh, err := prepare(ctx, &o, units)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make([]KernelResult, len(o.Kernels))
	var mu sync.Mutex
	var usage error
	sem := make(chan struct{}, o.Parallel)
	var wg sync.WaitGroup
	for _, i := range slowestFirst(o.Kernels) {
		k := o.Kernels[i]
		sem <- struct{}{} // in this order: the slowest kernel starts first
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			r := runKernel(ctx, &o, k, niceness(k, o.Kernels), units, sh)
			results[i] = r.res
			if r.usage != nil {
				// The same mistake holds for every kernel: stop them all.
				mu.Lock()
				if usage == nil {
					usage = r.usage
				}
				mu.Unlock()
				cancel()
			}
		}()
	}
	wg.Wait()
	if usage != nil {
		return nil, usage
	}
	return results, nil
}

// slowestFirst orders the kernels' indexes by how long the same work
// takes on them, the slowest first (and otherwise as given): while the
// debug kernel, several times slower, runs, Debian's kernels run beside it
// one after the other, rather than it alone at the end.
func slowestFirst(ks []Kernel) []int {
	order := make([]int, len(ks))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return slowdown(ks[order[a]]) > slowdown(ks[order[b]]) })
	return order
}

// defaultParallel is how many kernels boot at once on a host with cpus
// CPUs: one more than CPUs. Under TCG each VM keeps a CPU busy for its
// whole run, and the kernels' runs differ in length (the debug kernel's
// is about twice a Debian kernel's). With one VM per CPU, the debug kernel
// holds a CPU while Debian's two kernels queue for the other, one after
// the other; with one VM more, the host's scheduler shares both CPUs
// among the three, and the run ends about when all their work is done
// (with the faster kernels yielding to the slowest: niceness). Measured
// on 2 CPUs, `modlab test --kernel all` alone: 188 s with 3 at once at
// equal priority, 133 s (the debug kernel's own time) with Debian's
// kernels yielding once booted; in make test, 203 s with 2 at once.
func defaultParallel(cpus int) int { return cpus + 1 }

// niceness is how much lower the CPU priority of kernel k's builds and,
// once it is booted, of its QEMU is when the kernels ks run together: a
// kernel faster than the slowest of them yields the CPU to it. Under TCG
// the slowest kernel's run (the debug kernel's) is the run's critical
// path, and a VM can use one CPU at most: at equal priority the host
// shares the CPUs evenly among the VMs, the faster kernels finish early
// and leave the slowest one alone on one CPU with the other idle.
// Yielding keeps it on a CPU of its own while the faster kernels share
// the rest, and all end at about the same time. At the start, the
// slowest kernel's units wait for their modules' builds, which share the
// CPUs with every kernel's boot: its builds go first. Not the faster
// kernels' boots, though: a kernel at nice 10 beside the builds missed
// its 2-minute boot timeout.
func niceness(k Kernel, ks []Kernel) int {
	for _, o := range ks {
		if slowdown(o) > slowdown(k) {
			return 10
		}
	}
	return 0
}

func (o *Options) setDefaults() {
	if o.Busybox == "" {
		o.Busybox = "/bin/busybox"
	}
	if o.Parallel <= 0 {
		o.Parallel = defaultParallel(runtime.NumCPU())
	}
	if o.HostVMs <= 0 {
		o.HostVMs = defaultParallel(runtime.NumCPU())
	}
	if o.BootTimeout == 0 {
		o.BootTimeout = 120 * time.Second
	}
}

// chooseAccel picks KVM or TCG for the run (a probe the first time after
// the host booted) and says once why KVM was not used.
func (o *Options) chooseAccel(ctx context.Context) (accel.Choice, error) {
	c, err := accel.Choose(ctx, accel.Options{Mode: o.Accel, QEMU: o.QEMU, CacheDir: o.CacheDir})
	if err != nil {
		return c, err
	}
	if c.Why != "" && o.Accel != accel.TCG && o.Notice != nil {
		o.Notice(c.Why + "; using TCG (software emulation)")
	}
	return c, nil
}

// shared is what every kernel's run uses, prepared once.
type shared struct {
	self     string                                // the modlab binary: /init and the tools
	selfTime time.Duration                         // what finding or building it cost
	tests    map[string]*future[string]            // Go test binaries by package
	userland map[string]*future[map[string]string] // the units' programs (name to binary) by folder
	accel    accel.Choice                          // KVM or TCG
}

// prepare finds the guest's modlab binary and starts building the Go test
// binaries and the units' own Go programs, which build while the kernels
// boot.
func prepare(ctx context.Context, o *Options, units []UnitSpec) (*shared, error) {
	t0 := time.Now()
	self := o.Self
	if self == "" {
		var err error
		if self, err = SelfBinary(ctx, o.SrcRoot, o.CacheDir); err != nil {
			return nil, fmt.Errorf("guest init: %w", err)
		}
	}
	choice, err := o.chooseAccel(ctx)
	if err != nil {
		return nil, err
	}
	sh := &shared{self: self, selfTime: time.Since(t0), accel: choice,
		tests: map[string]*future[string]{}, userland: map[string]*future[map[string]string]{}}
	for _, u := range units {
		if u.TestPkg != "" && sh.tests[u.TestPkg] == nil {
			pkg := u.TestPkg
			sh.tests[pkg] = goFuture(func() (string, error) {
				return GoBinary(ctx, o.SrcRoot, pkg, true, o.CacheDir)
			})
		}
		if sh.userland[u.Src] == nil {
			src := u.Src
			sh.userland[src] = goFuture(func() (map[string]string, error) {
				return buildUserland(ctx, src, o.CacheDir)
			})
		}
	}
	return sh, nil
}

// future is a value computed in the background.
type future[T any] struct {
	done chan struct{}
	val  T
	err  error
}

func goFuture[T any](f func() (T, error)) *future[T] {
	fu := &future[T]{done: make(chan struct{})}
	go func() {
		fu.val, fu.err = f()
		close(fu.done)
	}()
	return fu
}

func (f *future[T]) get() (T, error) {
	<-f.done
	return f.val, f.err
}

// kernelRun is one kernel's way through the stages.
type kernelRun struct {
	o     *Options
	k     Kernel
	units []UnitSpec
	sh    *shared
	res   KernelResult
	t0    time.Time

	runDir    string // the run's logs and work disk
	disk      string // the work disk image
	initramfs string
	image     string // the kernel file QEMU boots

	builds     []builtUnit
	buildsDone chan struct{} // closed when every unit's kbuild ended
	giveUp     chan struct{} // closed when no unit can run (all builds failed, or a usage error)
	usage      error         // a mistake in the invocation (*ParamError)

	vm      *qemu.VM
	plan    *proto.Plan
	work    *Work
	results map[string]*UnitResult
	goAt    time.Time
	doneAt  time.Time
	// ended says why the guest stopped before "done" ("" when it finished).
	ended string
	// fresh is the guest's request for a fresh boot for the rest of the
	// units (proto.EvFresh), nil when it made none; from is the unit the
	// current boot started at.
	fresh *proto.Event
	from  int
	cov   kernelCoverage // --coverage (lab/coverage.go)
	nice  int            // QEMU's lower CPU priority (see niceness)
	// slot is this kernel's place among the host's VMs, held from its
	// first boot until its last VM has exited (see hostSlot).
	slot *vmslot.Slot
	// restored is the saved guest the current VM was restored from (nil
	// when it booted), and heard whether that guest has said anything
	// since: one that ends without a word after "go" is removed.
	restored *snapshot.Entry
	heard    bool
	stateKey string // the saved guests' key of this kernel's boots (qemu.StateKey)
}

// builtUnit is one unit's kbuild for this kernel, with its parameters
// assigned to its modules.
type builtUnit struct {
	res    *BuildResult
	err    error
	order  []string            // modules in load order
	params map[string][]string // module file to its parameters
}

// stage is one named step of a kernel's run. An error ends the run as a
// lab error, except errNothingToRun, which ends it quietly.
type stage struct {
	name string
	run  func(*kernelRun, context.Context) error
}

var errNothingToRun = errors.New("nothing to run")

// stages is a kernel's run, top to bottom.
var stages = []stage{
	{"image", (*kernelRun).makeImage},   // the guest image and the kernel file to boot
	{"build", (*kernelRun).startBuilds}, // kbuild of every unit, in the background
	{"boot", (*kernelRun).boot},         // QEMU up to /init's "ready" (retried once)
	{"plan", (*kernelRun).makePlan},     // the built modules, tests and programs, and what to do with them
	{"work", (*kernelRun).startWork},    // the work disk written, the guest told to go
	{"collect", (*kernelRun).collect},   // the guest's events until "done", and QEMU's exit
	{"again", (*kernelRun).freshBoots},  // the rest of the units in a fresh boot, when the guest asked
	{"verdict", (*kernelRun).settle},    // units the guest did not finish, bug reports with source lines
}

// runKernel takes one kernel through every stage and always cleans up: no
// QEMU outlives it, and the work disk is removed.
func runKernel(ctx context.Context, o *Options, k Kernel, nice int, units []UnitSpec, sh *shared) *kernelRun {
	r := &kernelRun{o: o, k: k, nice: nice, units: units, sh: sh, t0: time.Now(),
		res: KernelResult{Kernel: k.Release, Accel: sh.accel.Accel}}
	// Every unit is "not run" until the guest says otherwise.
	r.res.Units = make([]UnitResult, len(units))
	r.results = map[string]*UnitResult{}
	for i, u := range units {
		r.res.Units[i] = UnitResult{Name: u.Name, Status: NotRun}
		r.results[u.Name] = &r.res.Units[i]
	}
	defer r.cleanup()
	for _, s := range stages {
		if err := s.run(r, ctx); err != nil {
			if !errors.Is(err, errNothingToRun) {
				r.res.Infra = err.Error() + r.forgetRestore()
			}
			break
		}
	}
	r.res.Phases.Total = time.Since(r.t0) + sh.selfTime
	return r
}

func (r *kernelRun) progress(format string, a ...any) { r.o.progress(r.k.Release, format, a...) }

// forgetRestore removes the saved guest the VM was restored from when the
// guest failed without a word since "go": the state may be at fault, and
// the next run boots instead. It returns what to add to the failure's
// account ("" when the guest was booted, or had spoken).
func (r *kernelRun) forgetRestore() string {
	if r.restored == nil || r.heard {
		return ""
	}
	r.restored.Discard()
	r.restored = nil
	return " (a guest restored from a saved state, which is removed: the next run boots)"
}

// cleanup stops QEMU if it still runs, waits for it to exit, and removes
// the work disk.
func (r *kernelRun) cleanup() {
	if r.buildsDone != nil {
		<-r.buildsDone // kbuild ends with the context
	}
	if r.vm != nil {
		select {
		case <-r.vm.Exited():
		default:
			r.vm.Kill()
			<-r.vm.Exited()
		}
	}
	r.releaseSlot()
	if r.disk != "" {
		os.Remove(r.disk)
	}
	switch {
	case r.usage != nil:
		r.progress("stopped: %v", r.usage)
	case r.res.Infra != "":
		r.progress("finished (lab error)")
	default:
		r.progress("finished")
	}
}

// makeImage makes the run's log directory, the guest image and the kernel
// file to boot.
func (r *kernelRun) makeImage(ctx context.Context) error {
	logDir := filepath.Join(r.o.CacheDir, "logs", r.k.Release)
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return err
	}
	dir, err := os.MkdirTemp(logDir, "run-")
	if err != nil {
		return err
	}
	r.runDir = dir
	r.res.ConsoleLog = filepath.Join(dir, "console.log")
	pruneRuns(logDir, keepRuns)

	r.progress("image")
	t0 := time.Now()
	if r.initramfs, err = Initramfs(ImageSpec{Kernel: r.k, Init: r.sh.self, Busybox: r.o.Busybox}, r.o.CacheDir); err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	if r.image, err = BootImage(r.k, r.o.CacheDir); err != nil {
		return err
	}
	r.res.Phases.Image = time.Since(t0) + r.sh.selfTime
	return nil
}

// startBuilds runs kbuild for every unit in the background (the kernel
// boots meanwhile) and checks the units' parameters against what the built
// modules declare. giveUp is closed as soon as it is clear that nothing can
// run, so the boot need not be waited for.
func (r *kernelRun) startBuilds(ctx context.Context) error {
	r.builds = make([]builtUnit, len(r.units))
	r.buildsDone = make(chan struct{})
	r.giveUp = make(chan struct{})
	go func() {
		defer close(r.buildsDone)
		failed := 0
		for i, u := range r.units {
			b := &r.builds[i]
			b.res, b.err = Build(ctx, u.Src, r.k, r.o.CacheDir, r.buildOptions())
			if b.err == nil && u.TestPkg == "" {
				b.err = b.assignParams(u)
				var pe *ParamError
				if errors.As(b.err, &pe) {
					r.usage = pe
					close(r.giveUp)
					return
				}
			}
			if b.err != nil {
				failed++
			}
		}
		if failed == len(r.units) {
			close(r.giveUp)
		}
	}()
	return nil
}

// assignParams orders the unit's modules for loading (only those its
// folder's modlab.load names, with their dependencies, when it has one)
// and gives each its parameters.
func (b *builtUnit) assignParams(u UnitSpec) error {
	order, err := loadOrder(b.res.Ship)
	if err != nil {
		return err
	}
	want, err := readLoadList(u.Src)
	if err != nil {
		return err
	}
	if want != nil {
		if order, err = selectModules(order, want, moduleDepends); err != nil {
			return err
		}
	}
	params, err := assignParams(order, u.Params)
	if err != nil {
		return err
	}
	b.order, b.params = order, params
	return nil
}

// boot starts QEMU and waits for /init's "ready", or restores a guest
// saved there (lab/restore.go). A boot that fails before that, or
// reaches it with a kernel unfit to test (unhealthyError), is retried
// once, with the first console log kept beside the second; a saved guest
// that does not restore is removed, and the kernel boots instead. When
// the builds show that nothing can run, the boot is abandoned.
func (r *kernelRun) boot(ctx context.Context) error {
	r.disk = filepath.Join(r.runDir, "work.img")
	restore := true
	for attempt := 1; ; attempt++ {
		if err := CreateDisk(r.disk); err != nil {
			return err
		}
		start, err := r.startFrom(ctx, restore)
		if err != nil {
			return err
		}
		if err := r.hostSlot(ctx); err != nil {
			start.done()
			return err
		}
		err = r.bootOnce(ctx, &start)
		start.done()
		if err == nil || errors.Is(err, errGaveUp) {
			return nil // on errGaveUp, makePlan reports the builds
		}
		if start.restore && ctx.Err() == nil {
			start.entry.Discard()
			r.res.Retried = fmt.Sprintf("the saved guest did not restore, booted instead: %v", err)
			restore = false
			attempt--
			continue
		}
		why := fmt.Sprintf("boot %d failed before /init was ready: %v\n%s", attempt, err, qemu.ConsoleTail(r.res.ConsoleLog, 30))
		var sick *unhealthyError
		if errors.As(err, &sick) {
			why = fmt.Sprintf("boot %d: %v", attempt, err) // the report says what the console would
		}
		if attempt == 2 || ctx.Err() != nil {
			return errors.New(why)
		}
		r.res.Retried = why
		os.Rename(r.res.ConsoleLog, r.res.ConsoleLog+".1")
	}
}

// bootOnce starts QEMU as start says and waits until the guest is
// ready: at once for a restored guest, which was saved there; after the
// kernel's boot otherwise, and then saves it when start holds the claim.
// On an error QEMU has exited.
func (r *kernelRun) bootOnce(ctx context.Context, start *guestStart) error {
	cfg := start.cfg
	if start.restore {
		if err := start.entry.Used(r.res.ConsoleLog); err != nil {
			return err
		}
		cfg.Restore = start.entry.State
		r.progress("restoring the guest saved at ready")
	} else {
		r.progress("booting")
	}
	vm, err := qemu.Boot(ctx, cfg)
	if err != nil {
		return err
	}
	r.vm, r.restored, r.heard = vm, nil, false
	if start.restore {
		r.restored = &start.entry
	}
	r.res.QEMU = vm.CommandLine()
	first := r.from == 0 // the phases are the first boot's
	if start.restore {
		if first {
			r.res.Phases.Restore = time.Since(vm.Started)
		}
		r.renice()
		return nil
	}
	hello, ready, err := waitReady(vm, r.o.BootTimeout, r.giveUp)
	if err != nil {
		vm.Kill()
		<-vm.Exited()
		return err
	}
	start.save(r, vm)
	r.renice()
	if first && !hello.IsZero() {
		r.res.Phases.BootToInit = hello.Sub(vm.Started)
		r.res.Phases.Ready = ready.Sub(hello)
	}
	return nil
}

// renice lowers the CPU priority of a kernel faster than the run's
// slowest (see niceness). Only once it is ready: the boot shares the
// CPUs with the builds, and at a lower priority it could miss its
// timeout.
func (r *kernelRun) renice() {
	if r.nice > 0 {
		if err := r.vm.Renice(r.nice); err != nil {
			r.progress("%v", err)
		}
	}
}

var errGaveUp = errors.New("nothing can run")

// hostSlot waits, unless this kernel holds one already (a fresh boot), for
// a free slot among the host's VMs (Options.HostVMs): the boot's timeout
// starts only once QEMU does.
func (r *kernelRun) hostSlot(ctx context.Context) error {
	if r.slot != nil {
		return nil
	}
	s, err := r.o.vmSlot(ctx, func() {
		r.progress("waiting for a VM slot (%d VMs at once on this host)", r.o.HostVMs)
	})
	r.slot = s
	return err
}

// vmSlot waits for a slot in the pool of VM slots that the runs with o's
// cache share (Options.HostVMs); waiting, if not nil, is called when none
// is free at first. Without a cache there is no pool: a nil slot.
func (o *Options) vmSlot(ctx context.Context, waiting func()) (*vmslot.Slot, error) {
	if o.CacheDir == "" {
		return nil, nil
	}
	pool := vmslot.Pool{Dir: filepath.Join(o.CacheDir, "vm-slots"), N: o.HostVMs}
	s, err := pool.Acquire(ctx, waiting)
	if err != nil {
		return nil, fmt.Errorf("waiting for a VM slot: %w", err)
	}
	return s, nil
}

// releaseSlot frees the kernel's slot once its VM has exited.
func (r *kernelRun) releaseSlot() {
	r.slot.Release()
	r.slot = nil
}

// debianKernelArgs are the memory checks the lab turns on in kernels
// without KASAN (Debian's): SLUB's red zones, poisoning and owner
// tracking, and KFENCE's sampled guard pages make a module's memory bugs
// show up as reports.
const debianKernelArgs = "slub_debug=FZPU kfence.sample_interval=10"

// debugKernelArgs are the debug kernel's own command-line arguments.
//   - kasan_multi_shot: KASAN reports every bad access, not only the
//     boot's first, so that each unit's bug is reported and not only the
//     first unit's.
//   - no5lvl: 4-level paging even where the CPU offers 5 (QEMU's -cpu max
//     does under TCG). With 5-level paging, KASAN's check misfires when
//     an interrupt comes while identify_cpu() has cleared the boot CPU's
//     feature bits (LA57 among them): "BUG: KASAN: wild-memory-access in
//     do_raw_spin_lock" in the interrupt, 8 boots in 24 of the bzImage
//     here, none in 24 with no5lvl: a kernel bug (KASAN's shadow of the
//     5-level address space), not the module's. The lab boots the ELF
//     vmlinux through its PVH entry, which never turns 5-level paging on
//     (0 in 24 boots); no5lvl covers the bzImage, which is booted when
//     that fails.
//   - ACPI stays on, though interpreting QEMU's ACPI tables under KASAN
//     and lockdep costs 3 to 6 s of the boot under TCG (acpi_init with the
//     PCI scan in it, pnpacpi), a cost paid once per saved guest: without
//     ACPI the kernel has no HPET nor PM timer to measure the TSC and the
//     local APIC timer against, only the PIT, and when the host is busy
//     that fails. Seen with acpi=off, three boots at once on 2 CPUs: two
//     of three marked the TSC unstable ("could not calculate TSC khz")
//     and kept time with jiffies, and all three lost the APIC timer
//     ("verification failure") for the PIT's 1000 interrupts a second,
//     idle or not; a guest saved from such a boot kept that clock in
//     every run restored from it. With ACPI, three of three had the TSC
//     and the APIC timer.
//   - 8250.nr_uarts=2 max_loop=0 audit=0 selinux=0: the lab's two serial
//     ports only, no loop devices made ahead of use, no audit records
//     nobody reads, no SELinux without a policy (x86_64_defconfig makes
//     it the first LSM, with hooks on every system call): 0.8 s of the
//     boot, and less work in every test.
//
// Not slub_debug nor KFENCE (debianKernelArgs): KASAN sees every bad
// access to a slab object when it happens, which SLUB's debugging sees
// later or not at all, and SLUB's debugging made the boot 2.7 s slower
// and every allocation dearer.
const debugKernelArgs = "kasan_multi_shot no5lvl 8250.nr_uarts=2 max_loop=0 audit=0 selinux=0"

// kernelArgs is what the lab adds to kernel k's command line (before the
// user's own, which may override it).
func kernelArgs(k Kernel, user string) string {
	args := debianKernelArgs
	if k.Origin == OriginDebug {
		args = debugKernelArgs
	}
	return strings.TrimSpace(args + " " + user)
}

// unhealthyError is a boot whose kernel reached /init's ready unfit to
// test (proto.Event.Unhealthy): it already reported a bug, or is tainted,
// or its lock or leak checking is off. No unit may pass on it: the boot
// counts as failed.
type unhealthyError struct{ ready proto.Event }

func (e *unhealthyError) Error() string {
	msg := "the kernel was unhealthy before the first unit: " + e.ready.Unhealthy
	if len(e.ready.Splats) > 0 {
		msg += "\n" + e.ready.Splats[0]
	}
	return msg
}

// waitReady waits for /init's hello and ready events, or for giveUp.
func waitReady(vm *qemu.VM, timeout time.Duration, giveUp <-chan struct{}) (hello, ready time.Time, err error) {
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
				if e.Unhealthy != "" {
					return hello, time.Now(), &unhealthyError{e}
				}
				return hello, time.Now(), nil
			case proto.EvFatal:
				return hello, ready, fmt.Errorf("guest /init: %s", e.Msg)
			}
		case <-giveUp:
			return hello, ready, errGaveUp
		case <-deadline:
			return hello, ready, fmt.Errorf("no ready signal within %v", timeout)
		}
	}
}

// makePlan waits for the builds and describes each unit that built: its
// modules with their parameters, or its Go test binary, its programs and
// files, all put into the work archive.
func (r *kernelRun) makePlan(ctx context.Context) error {
	r.progress("building")
	<-r.buildsDone
	if r.usage != nil {
		return errNothingToRun
	}
	r.plan = &proto.Plan{Kernel: r.k.Release}
	work := &Work{}
	proprietary := map[string]bool{}
	for i, u := range r.units {
		b := r.builds[i]
		ur := &r.res.Units[i]
		if b.res != nil {
			ur.Warnings = b.res.Warnings()
			ur.Build = b.res.Output
			r.res.Phases.Build += b.res.Duration
		}
		pu, err := r.unitPlan(u, b, work)
		if err != nil {
			ur.Status, ur.Reason, ur.Stage = proto.Fail, err.Error(), report.StagePlan
			var be *BuildError
			if errors.As(err, &be) {
				ur.Stage = report.StageBuild
			}
			continue
		}
		r.plan.Units = append(r.plan.Units, pu)
		if taintsProprietary(b.res.Ship) {
			proprietary[pu.Name] = true
		}
	}
	if len(r.plan.Units) == 0 {
		return errNothingToRun
	}
	// A module that is not GPL-compatible taints the kernel P, and that
	// turns lockdep off for the rest of the boot: such units run last, so
	// that the units after them need no fresh boot (on the debug kernel)
	// and get lockdep's checks. The report keeps the units' order.
	sort.SliceStable(r.plan.Units, func(i, j int) bool {
		return !proprietary[r.plan.Units[i].Name] && proprietary[r.plan.Units[j].Name]
	})
	r.work = work
	return nil
}

// unitPlan puts a unit's built files into the work and describes it.
func (r *kernelRun) unitPlan(u UnitSpec, b builtUnit, work *Work) (proto.Unit, error) {
	pu := proto.Unit{Name: u.Name, Dir: "u/" + u.Name, Exec: u.Exec, Shell: u.Shell,
		Timeout: int(unitTimeout(u, r.k) / time.Second), Slowdown: slowdown(r.k)}
	if b.err != nil {
		return pu, b.err
	}
	pu.Coverage = r.coveragePath(b)
	for _, m := range b.res.Ship {
		if err := work.AddFile(pu.Dir+"/"+filepath.Base(m), m, 0o644); err != nil {
			return pu, err
		}
	}
	if fu := r.sh.userland[u.Src]; fu != nil {
		progs, err := fu.get()
		if err != nil {
			return pu, err
		}
		names := make([]string, 0, len(progs))
		for n := range progs {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if err := work.AddFile(pu.Dir+"/"+proto.UnitBin+"/"+n, progs[n], 0o755); err != nil {
				return pu, err
			}
		}
	}
	for _, f := range u.Files {
		name, copyTo := f.inUnit()
		if err := work.AddFile(pu.Dir+"/"+name, f.Host, 0o755); err != nil {
			return pu, fmt.Errorf("--file %s: %w", f.Host, err)
		}
		if copyTo != "" {
			pu.Copies = append(pu.Copies, proto.Copy{From: name, To: copyTo})
		}
	}
	if u.TestPkg != "" {
		bin, err := r.sh.tests[u.TestPkg].get()
		if err != nil {
			return pu, err
		}
		pu.Test = u.Name + ".test"
		return pu, work.AddFile(pu.Dir+"/"+pu.Test, bin, 0o755)
	}
	for _, m := range b.order {
		pu.Load = append(pu.Load, proto.Module{File: filepath.Base(m), Params: strings.Join(b.params[m], " ")})
	}
	return pu, nil
}

// startWork writes the work disk and tells the guest to go. The plan
// says where this boot starts, and gives the guest the time and fresh
// entropy (a restored guest has the clock and random state of the boot
// that was saved).
func (r *kernelRun) startWork(ctx context.Context) error {
	r.plan.From = r.from
	r.plan.Time = time.Now().UnixNano()
	r.plan.Seed = make([]byte, 32)
	rand.Read(r.plan.Seed)
	if err := r.work.WriteDisk(r.disk, r.plan); err != nil {
		return fmt.Errorf("work disk: %w", err)
	}
	r.goAt = time.Now()
	if err := r.vm.Go(); err != nil {
		return fmt.Errorf("control port: %w", err)
	}
	return nil
}

// collect files the guest's events into the units' results until "done",
// then waits for QEMU to exit.
func (r *kernelRun) collect(ctx context.Context) error {
	r.ended, r.doneAt = r.events(workTimeout(r.units, r.k))
	if r.ended != "" {
		r.ended += r.forgetRestore()
	}
	r.res.Phases.Work += r.doneAt.Sub(r.goAt)
	err := r.vm.Wait(30 * time.Second)
	r.res.Phases.Shutdown = time.Since(r.doneAt)
	if err == nil && (r.fresh == nil || r.ended != "") { // QEMU exited, and no boot follows
		r.releaseSlot()
	}
	if err != nil && r.ended == "" {
		return err
	}
	return nil
}

// freshBoots boots the kernel again for the rest of the units, as often
// as the guest asks (proto.EvFresh): a unit left the kernel's checks off,
// and the units after it must not run without them. Each boot has a
// console log of its own; the report keeps the last one's path.
func (r *kernelRun) freshBoots(ctx context.Context) error {
	for n := 2; r.fresh != nil && r.ended == ""; n++ {
		e := r.fresh
		r.fresh = nil
		if e.From <= r.from || e.From >= len(r.plan.Units) {
			return fmt.Errorf("the guest asked for a fresh boot at unit %d of %d (this boot started at %d)", e.From, len(r.plan.Units), r.from)
		}
		r.from = e.From
		r.res.Fresh = append(r.res.Fresh, fmt.Sprintf("boot %d from unit %s: %s", n, r.plan.Units[e.From].Name, e.Msg))
		r.res.ConsoleLog = filepath.Join(r.runDir, fmt.Sprintf("console-%d.log", n))
		r.vm = nil
		for _, step := range []func(*kernelRun, context.Context) error{(*kernelRun).boot, (*kernelRun).startWork, (*kernelRun).collect} {
			if err := step(r, ctx); err != nil {
				// The units that ran keep their verdicts; settle gives
				// the rest this reason (and the kernel a lab error).
				r.ended = fmt.Sprintf("fresh boot %d: %v", n, err)
				return nil
			}
		}
	}
	return nil
}

// events reads the guest's events. It returns "" when the guest finished,
// or why it did not, and when it ended.
func (r *kernelRun) events(timeout time.Duration) (string, time.Time) {
	deadline := time.After(timeout)
	var unitStart time.Time
	for {
		select {
		case e, ok := <-r.vm.Events():
			if !ok {
				return "the guest stopped before it finished (kernel crash?)", time.Now()
			}
			r.heard = true
			if r.o.Trace != nil {
				r.o.Trace(r.k.Release, e)
			}
			u := r.results[e.Unit]
			switch e.Ev {
			case proto.EvUnit:
				if u != nil {
					u.Status = proto.Run
					unitStart = time.Now()
				}
				r.progress("%s", e.Unit)
			case proto.EvStep:
				if u != nil {
					u.Steps = append(u.Steps, e)
				}
				if e.Status == proto.Fail {
					r.progress("%s: %s failed", e.Unit, e.Name)
				}
			case proto.EvTest:
				if u == nil {
					break
				}
				if e.Status == proto.Run {
					r.progress("%s: %s", e.Unit, e.Name)
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
				}
			case proto.EvLeaks:
				// kmemleak's check, after the last unit: the unit lost memory.
				if u != nil {
					u.Splats = append(u.Splats, e.Splats...)
					u.Status = proto.Fail
				}
				r.progress("%s: kmemleak: %d leak(s)", e.Unit, len(e.Splats))
			case proto.EvCoverage:
				r.addCoverage(e)
			case proto.EvFresh:
				r.fresh = &e
				r.progress("a fresh boot for the next units: %s", e.Msg)
			case proto.EvFatal:
				return "guest /init failed: " + e.Msg, time.Now()
			case proto.EvDone:
				return "", time.Now()
			}
		case <-deadline:
			r.vm.Kill()
			return fmt.Sprintf("the guest did not finish within %v; killed", timeout), time.Now()
		}
	}
}

// settle gives every unit its final word: when the guest died or gave up
// after it was ready, the unit running then failed with the console's
// account, and the units after it were not run (report's verdict decides
// what each outcome counts as). Bug reports that name the
// unit's modules get the source lines of their frames.
func (r *kernelRun) settle(ctx context.Context) error {
	if r.ended != "" {
		tail := qemu.ConsoleTail(r.res.ConsoleLog, 40)
		blamed := false
		for i := range r.res.Units {
			u := &r.res.Units[i]
			switch u.Status {
			case proto.Run:
				u.Status, u.Reason = proto.Fail, r.ended
				if tail != "" {
					u.Splats = append(u.Splats, tail)
				}
				blamed = true
			case NotRun:
				u.Reason = r.ended
			}
		}
		if !blamed {
			r.res.Infra = r.ended
		}
	}
	for i := range r.res.Units {
		if b := r.builds[i]; b.res != nil {
			u := &r.res.Units[i]
			for j, s := range u.Splats {
				u.Splats[j] = annotateSplat(s, b.res)
			}
		}
	}
	r.makeCoverage(ctx)
	return nil
}

// annotateSplat adds the source file and line to each frame of a bug
// report that lies in one of the unit's modules.
func annotateSplat(splat string, b *BuildResult) string {
	return stacktrace.Annotate(splat, b.DebugModules())
}

// buildUserland builds the Go programs in a unit's folder for the guest,
// by name.
func buildUserland(ctx context.Context, src, cacheDir string) (map[string]string, error) {
	return userland.BuildAll(ctx, src, cacheDir)
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

// defaultUnitTimeout bounds a unit's command or tests unless it says.
const defaultUnitTimeout = 120 * time.Second

// debugSlowdown is how much longer the same work takes on the lab's debug
// kernel (KASAN, lockdep, kmemleak) under TCG: measured 5x for a boot and
// 7x for the examples' suite.
const debugSlowdown = 6

// slowdown is how many times longer the same work takes on kernel k.
func slowdown(k Kernel) int {
	if k.Origin == OriginDebug {
		return debugSlowdown
	}
	return 1
}

// unitTimeout is how long a unit's command or tests may take on kernel k.
func unitTimeout(u UnitSpec, k Kernel) time.Duration {
	d := u.Timeout
	if d <= 0 {
		d = defaultUnitTimeout
	}
	return d * time.Duration(slowdown(k))
}

// workTimeout bounds the guest's whole work on kernel k.
func workTimeout(units []UnitSpec, k Kernel) time.Duration {
	d := 60 * time.Second
	for _, u := range units {
		if u.Shell {
			return 24 * time.Hour
		}
		d += unitTimeout(u, k)
	}
	return d
}
