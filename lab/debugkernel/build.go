// Package debugkernel builds the lab's debug kernel: Debian's kernel source
// (the linux-source-<series> package), x86_64_defconfig and kvm_guest.config
// with the repository's fragment (debug.config: KASAN, lockdep, kmemleak,
// UBSAN, gcov, and what the lab needs), built out of tree in the lab's
// cache and registered there as a lab kernel (lab.KernelRecord). Nothing is
// written to /boot or /lib/modules.
//
// A build is identified by the source package's version and the
// configuration's digest (Key): a second Build of the same key does
// nothing.
package debugkernel

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/modlab/modlab/lab"
	"github.com/modlab/modlab/lab/cachefile"
)

// DefaultSeries is the kernel source series built when none is given.
const DefaultSeries = "6.12"

// Packages are the Debian packages the build needs besides the source:
// kconfig's parser generators, the kernel's build tools, and kmod's
// depmod (modules_install runs it, and only warns when it is missing).
var Packages = []string{"build-essential", "flex", "bison", "bc", "libelf-dev", "libssl-dev",
	"kmod", "xz-utils", "cpio"}

// Options says what to build and where.
type Options struct {
	CacheDir string // the lab's cache; the kernel goes to lab.KernelsDir(CacheDir)/<key>
	Series   string // the source series, "6.12": the package linux-source-6.12
	Jobs     int    // make -j (default: the number of CPUs)
	// Progress receives one line per step and, while make runs, a line a
	// minute.
	Progress func(msg string)
	// SrcDir is where the source package puts its tarball (default
	// /usr/src).
	SrcDir string
}

// Result is a registered debug kernel.
type Result struct {
	Record lab.KernelRecord
	Dir    string // the build's directory in the cache
	Cached bool   // it was there already: nothing was done
}

// StepError is a failed step: its name, the log that holds the tools'
// output (kept), and its last lines.
type StepError struct {
	Step string
	Log  string
	Tail string
	Err  error
}

func (e *StepError) Error() string {
	if e.Log != "" {
		return fmt.Sprintf("debug kernel: step %q failed: %v (log: %s)", e.Step, e.Err, e.Log)
	}
	return fmt.Sprintf("debug kernel: step %q failed: %v", e.Step, e.Err)
}

func (e *StepError) Unwrap() error { return e.Err }

// The steps, in order.
const (
	StepDeps      = "dependencies"
	StepUnpack    = "unpack"
	StepConfigure = "configure"
	StepBuild     = "build"
	StepInstall   = "modules_install"
	StepHeaders   = "headers check"
	StepRegister  = "register"
)

var steps = []string{StepDeps, StepUnpack, StepConfigure, StepBuild, StepInstall, StepHeaders, StepRegister}

var seriesRE = regexp.MustCompile(`^[0-9]+\.[0-9]+$`)

// builder holds one Build's state.
type builder struct {
	o       Options
	pkg     string // linux-source-6.12
	tarball string
	version string // the package's version
	digest  string
	dir     string // kernels/<key>
	src     string // the unpacked source
	out     string // O=
	modRoot string // INSTALL_MOD_PATH
	log     string
	logf    *os.File
	release string
}

// Build builds and registers the debug kernel, or finds it registered.
func Build(ctx context.Context, o Options) (*Result, error) {
	if o.Series == "" {
		o.Series = DefaultSeries
	}
	if !seriesRE.MatchString(o.Series) {
		return nil, fmt.Errorf("debug kernel: source series %q is not MAJOR.MINOR (such as %s)", o.Series, DefaultSeries)
	}
	if o.Jobs <= 0 {
		o.Jobs = runtime.NumCPU()
	}
	if o.SrcDir == "" {
		o.SrcDir = "/usr/src"
	}
	if o.CacheDir == "" {
		return nil, errors.New("debug kernel: no cache directory")
	}
	if o.Progress == nil {
		o.Progress = func(string) {}
	}
	b := &builder{o: o, pkg: "linux-source-" + o.Series,
		tarball: filepath.Join(o.SrcDir, "linux-source-"+o.Series+".tar.xz")}
	b.digest = ConfigDigest(Fragment)

	// The dependencies come first: they include the source package, whose
	// version is half the cache key.
	b.step(StepDeps, "")
	if err := b.deps(ctx); err != nil {
		return nil, &StepError{Step: StepDeps, Err: err}
	}
	key := Key(b.version, b.digest)
	b.dir = filepath.Join(lab.KernelsDir(o.CacheDir), key)
	if r, err := b.registered(); err == nil {
		o.Progress(fmt.Sprintf("debug kernel %s is up to date (%s %s, config %s): nothing to do", r.Release, b.pkg, b.version, b.digest[:12]))
		return &Result{Record: r, Dir: b.dir, Cached: true}, nil
	}
	if err := os.MkdirAll(b.dir, 0o755); err != nil {
		return nil, fmt.Errorf("debug kernel: %w", err)
	}
	// One build of a key at a time; a second waits, then finds it done.
	unlock, err := lockFile(filepath.Join(b.dir, ".lock"))
	if err != nil {
		return nil, fmt.Errorf("debug kernel: %w", err)
	}
	defer unlock()
	if r, err := b.registered(); err == nil {
		o.Progress(fmt.Sprintf("debug kernel %s was built meanwhile: nothing to do", r.Release))
		return &Result{Record: r, Dir: b.dir, Cached: true}, nil
	}
	b.src = filepath.Join(b.dir, "src")
	b.out = filepath.Join(b.dir, "build")
	b.modRoot = filepath.Join(b.dir, "modules")
	b.log = filepath.Join(b.dir, "build.log")
	if b.logf, err = os.Create(b.log); err != nil {
		return nil, fmt.Errorf("debug kernel: %w", err)
	}
	defer b.logf.Close()
	fmt.Fprintf(b.logf, "modlab debug kernel: %s %s, config %s, make -j%d\n", b.pkg, b.version, b.digest, o.Jobs)

	start := time.Now()
	for _, s := range []struct {
		name, what string
		run        func(context.Context) error
	}{
		{StepUnpack, b.tarball + " into " + b.src, b.unpack},
		{StepConfigure, strings.Join(BaseConfigs, " + ") + " + debug.config, out of tree in " + b.out, b.configure},
		{StepBuild, fmt.Sprintf("make -j%d bzImage modules (about 15 minutes on 2 cores; log: %s)", o.Jobs, b.log), b.build},
		{StepInstall, "into " + b.modRoot, b.install},
		{StepHeaders, "an out-of-tree module against " + b.out, b.checkHeaders},
	} {
		b.step(s.name, s.what)
		fmt.Fprintf(b.logf, "\n==== %s: %s\n", s.name, s.what)
		if err := s.run(ctx); err != nil {
			b.logf.Sync()
			return nil, &StepError{Step: s.name, Log: b.log, Tail: tail(b.log, 25), Err: err}
		}
	}
	b.step(StepRegister, "")
	r := lab.KernelRecord{
		Release:       b.release,
		Origin:        lab.OriginDebug,
		Image:         filepath.Join(b.dir, "vmlinuz-"+b.release),
		ModDir:        filepath.Join(b.modRoot, "lib", "modules", b.release),
		BuildDir:      b.out,
		SourcePackage: b.pkg,
		SourceVersion: b.version,
		ConfigDigest:  b.digest,
		Built:         time.Now().UTC().Truncate(time.Second),
		BuildSeconds:  time.Since(start).Round(time.Second).Seconds(),
		Log:           b.log,
	}
	if err := cachefile.Copy(filepath.Join(b.out, "arch", "x86", "boot", "bzImage"), r.Image); err != nil {
		return nil, &StepError{Step: StepRegister, Log: b.log, Err: err}
	}
	if err := lab.WriteKernelRecord(b.dir, r); err != nil {
		return nil, &StepError{Step: StepRegister, Log: b.log, Err: err}
	}
	b.pruneSuperseded(r)
	o.Progress(fmt.Sprintf("debug kernel %s registered in %s (built in %s)", r.Release, b.dir, time.Duration(r.BuildSeconds)*time.Second))
	return &Result{Record: r, Dir: b.dir}, nil
}

func (b *builder) step(name, what string) {
	n := 0
	for i, s := range steps {
		if s == name {
			n = i + 1
		}
	}
	msg := fmt.Sprintf("debug kernel [%d/%d] %s", n, len(steps), name)
	if what != "" {
		msg += ": " + what
	}
	b.o.Progress(msg)
}

// registered reads the key's record, if the kernel is whole.
func (b *builder) registered() (lab.KernelRecord, error) {
	r, err := lab.ReadKernelRecord(b.dir)
	if err != nil {
		return r, err
	}
	return r, r.Check()
}

// deps installs the missing packages (as root, with apt-get) and reads the
// source package's version.
func (b *builder) deps(ctx context.Context) error {
	want := append(append([]string(nil), Packages...), b.pkg)
	missing := missingPackages(ctx, want)
	if len(missing) > 0 {
		if os.Geteuid() != 0 {
			return fmt.Errorf("packages %s are missing and installing them needs root: run 'sudo apt-get install %s', or run this command as root",
				strings.Join(missing, " "), strings.Join(missing, " "))
		}
		b.o.Progress("debug kernel: installing " + strings.Join(missing, " "))
		if out, err := aptInstall(ctx, missing); err != nil {
			// The package lists may be old or absent: refresh them once.
			if uout, uerr := runCmd(ctx, "", nil, "apt-get", "update", "-q"); uerr != nil {
				return fmt.Errorf("apt-get install %s: %v\n%s\napt-get update: %v\n%s", strings.Join(missing, " "), err, lastLines(out, 10), uerr, lastLines(uout, 10))
			}
			if out, err := aptInstall(ctx, missing); err != nil {
				return fmt.Errorf("apt-get install %s: %v\n%s", strings.Join(missing, " "), err, lastLines(out, 15))
			}
		}
		if still := missingPackages(ctx, want); len(still) > 0 {
			return fmt.Errorf("packages %s are still missing after apt-get install", strings.Join(still, " "))
		}
	}
	out, err := exec.CommandContext(ctx, "dpkg-query", "-W", "-f=${Version}", b.pkg).Output()
	if err != nil || len(bytes.TrimSpace(out)) == 0 {
		return fmt.Errorf("version of %s: %v", b.pkg, err)
	}
	b.version = strings.TrimSpace(string(out))
	if _, err := os.Stat(b.tarball); err != nil {
		return fmt.Errorf("%s is installed but its tarball is missing: %w", b.pkg, err)
	}
	return nil
}

func aptInstall(ctx context.Context, pkgs []string) (string, error) {
	args := append([]string{"install", "-y", "-q", "--no-install-recommends"}, pkgs...)
	return runCmd(ctx, "", []string{"DEBIAN_FRONTEND=noninteractive"}, "apt-get", args...)
}

func missingPackages(ctx context.Context, pkgs []string) []string {
	var out []string
	for _, p := range pkgs {
		st, err := exec.CommandContext(ctx, "dpkg-query", "-W", "-f=${Status}", p).Output()
		if err != nil || strings.TrimSpace(string(st)) != "install ok installed" {
			out = append(out, p)
		}
	}
	return out
}

// unpack unpacks the tarball once: through a temporary directory, so that
// an interrupted unpack leaves nothing that looks whole.
func (b *builder) unpack(ctx context.Context) error {
	if _, err := os.Stat(filepath.Join(b.src, "Makefile")); err == nil {
		b.o.Progress("debug kernel: the source is unpacked already")
		return nil
	}
	tmp := b.src + ".tmp"
	os.RemoveAll(tmp)
	os.RemoveAll(b.src)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	if err := b.run(ctx, "", "tar", "-xJf", b.tarball, "-C", tmp, "--strip-components=1"); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if _, err := os.Stat(filepath.Join(tmp, "Makefile")); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("%s holds no kernel source (no top-level Makefile)", b.tarball)
	}
	return os.Rename(tmp, b.src)
}

// makeArgs are every make call's first arguments. LOCALVERSION= (set,
// empty) keeps the release free of the "+" a source tree inside a git
// repository would get.
func (b *builder) makeArgs(more ...string) []string {
	return append([]string{"-C", b.src, "O=" + b.out, "LOCALVERSION="}, more...)
}

func (b *builder) configure(ctx context.Context) error {
	frag, err := ParseConfig(strings.NewReader(Fragment))
	if err != nil {
		return fmt.Errorf("debug.config: %w", err)
	}
	if err := os.MkdirAll(b.out, 0o755); err != nil {
		return err
	}
	if err := b.run(ctx, "", "make", b.makeArgs(BaseConfigs...)...); err != nil {
		return err
	}
	cfgPath := filepath.Join(b.out, ".config")
	base, err := os.ReadFile(cfgPath)
	if err != nil {
		return err
	}
	if err := os.WriteFile(cfgPath, Merge(base, frag), 0o644); err != nil {
		return err
	}
	if err := b.run(ctx, "", "make", b.makeArgs("olddefconfig")...); err != nil {
		return err
	}
	f, err := os.Open(cfgPath)
	if err != nil {
		return err
	}
	final, err := ParseConfig(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", cfgPath, err)
	}
	if bad := Verify(final, frag); len(bad) > 0 {
		var lines []string
		for _, m := range bad {
			lines = append(lines, "  "+m.String())
		}
		return fmt.Errorf("olddefconfig did not keep %d option(s) of debug.config (a dependency is off: see its Kconfig):\n%s",
			len(bad), strings.Join(lines, "\n"))
	}
	// The release: the source's version and the fragment's LOCALVERSION
	// (kbuild writes include/config/kernel.release only once it builds;
	// the build step checks that it agrees).
	out, err := b.output(ctx, "make", b.makeArgs("-s", "kernelversion")...)
	if err != nil {
		return err
	}
	local := ""
	for _, s := range final {
		if s.Name == "LOCALVERSION" {
			local = strings.Trim(s.Value, `"`)
		}
	}
	b.release = strings.TrimSpace(out) + local
	if !strings.HasSuffix(b.release, "-modlab-debug") {
		return fmt.Errorf("kernel release %q does not end in -modlab-debug", b.release)
	}
	b.o.Progress(fmt.Sprintf("debug kernel: configured %s (%d options of debug.config verified)", b.release, len(frag)))
	return nil
}

// build runs make; a line a minute tells how far it got.
func (b *builder) build(ctx context.Context) error {
	start := time.Now()
	done := make(chan struct{})
	defer close(done)
	go func() {
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				b.o.Progress(fmt.Sprintf("debug kernel: building, %s, %d files compiled",
					time.Since(start).Round(time.Second), countCompiled(b.log)))
			}
		}
	}()
	if err := b.run(ctx, "", "make", b.makeArgs(fmt.Sprintf("-j%d", b.o.Jobs), "bzImage", "modules")...); err != nil {
		return err
	}
	rel, err := os.ReadFile(filepath.Join(b.out, "include", "config", "kernel.release"))
	if err != nil {
		return err
	}
	if got := strings.TrimSpace(string(rel)); got != b.release {
		return fmt.Errorf("the kernel was built as release %q, not %q", got, b.release)
	}
	b.o.Progress(fmt.Sprintf("debug kernel: built in %s", time.Since(start).Round(time.Second)))
	return nil
}

func (b *builder) install(ctx context.Context) error {
	if err := os.RemoveAll(b.modRoot); err != nil {
		return err
	}
	if err := b.run(ctx, "", "make", b.makeArgs("INSTALL_MOD_PATH="+b.modRoot, "INSTALL_MOD_STRIP=1", "modules_install")...); err != nil {
		return err
	}
	modDir := filepath.Join(b.modRoot, "lib", "modules", b.release)
	for _, f := range []string{"modules.dep", "modules.builtin", "modules.order"} {
		if _, err := os.Stat(filepath.Join(modDir, f)); err != nil {
			return fmt.Errorf("modules_install left no %s in %s (depmod is kmod's: is it installed?)", f, modDir)
		}
	}
	// Where tools look for the headers of an installed kernel.
	build := filepath.Join(modDir, "build")
	if _, err := os.Lstat(build); err != nil {
		if err := os.Symlink(b.out, build); err != nil {
			return err
		}
	}
	return nil
}

const checkModule = `// SPDX-License-Identifier: GPL-2.0
#include <linux/module.h>

static int __init check_init(void)
{
	return 0;
}
module_init(check_init);

static void __exit check_exit(void)
{
}
module_exit(check_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("modlab: the debug kernel's build tree builds modules");
`

// checkHeaders builds a module out of tree against the build tree, as the
// lab will.
func (b *builder) checkHeaders(ctx context.Context) error {
	dir := filepath.Join(b.dir, "check")
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "modlab_check.c"), []byte(checkModule), 0o644)
	os.WriteFile(filepath.Join(dir, "Kbuild"), []byte("obj-m := modlab_check.o\n"), 0o644)
	if err := b.run(ctx, "", "make", "-C", b.out, "M="+dir, "modules"); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, "modlab_check.ko")); err != nil {
		return errors.New("make succeeded but built no modlab_check.ko")
	}
	return nil
}

// pruneSuperseded removes older builds of the same release and origin
// (several GB each, never used again), and builds that never finished
// (another configuration's, interrupted) unless one is under way.
func (b *builder) pruneSuperseded(r lab.KernelRecord) {
	dirs, _ := filepath.Glob(filepath.Join(lab.KernelsDir(b.o.CacheDir), "*"))
	for _, d := range dirs {
		if d == b.dir {
			continue
		}
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			continue
		}
		old, err := lab.ReadKernelRecord(d)
		if err == nil && (old.Release != r.Release || old.Origin != r.Origin) {
			continue
		}
		unlock, ok := tryLock(filepath.Join(d, ".lock"))
		if !ok {
			continue // being built
		}
		// Unregister first: a half-removed directory is never listed.
		if err := os.Remove(filepath.Join(d, lab.KernelRecordFile)); err == nil || os.IsNotExist(err) {
			b.o.Progress("debug kernel: removing the superseded or unfinished build " + d)
			os.RemoveAll(d)
		}
		unlock()
	}
}

// run runs a command with its output in the log.
func (b *builder) run(ctx context.Context, dir string, name string, args ...string) error {
	fmt.Fprintf(b.logf, "$ %s %s\n", name, strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = b.logf, b.logf
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w", name, firstArgs(args), err)
	}
	return nil
}

// output runs a command and returns its standard output; its errors go to
// the log.
func (b *builder) output(ctx context.Context, name string, args ...string) (string, error) {
	fmt.Fprintf(b.logf, "$ %s %s\n", name, strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stderr = b.logf
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", name, firstArgs(args), err)
	}
	return string(out), nil
}

func runCmd(ctx context.Context, dir string, env []string, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// firstArgs shortens a command line for an error message.
func firstArgs(args []string) string {
	s := strings.Join(args, " ")
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}

// countCompiled counts kbuild's "  CC " lines in the log so far.
func countCompiled(log string) int {
	f, err := os.Open(log)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "  CC ") {
			n++
		}
	}
	return n
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > 64*1024 {
		f.Seek(-64*1024, io.SeekEnd)
	}
	b, _ := io.ReadAll(f)
	return lastLines(string(b), n)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() {
		unix.Flock(int(f.Fd()), unix.LOCK_UN)
		f.Close()
	}, nil
}

// tryLock takes path's lock if nobody holds it.
func tryLock(path string) (func(), bool) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, false
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, false
	}
	return func() { f.Close() }, true
}
