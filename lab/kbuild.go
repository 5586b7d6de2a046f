package lab

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/modlab/modlab/kmod/modname"
)

// BuildOptions tune a kbuild run.
type BuildOptions struct {
	// Sparse runs sparse on every file (make C=2).
	Sparse bool
	// Extra make variables, e.g. "W=1".
	MakeArgs []string
	// Nice lowers the CPU priority of kbuild and the compilers (nice(1)'s
	// adjustment, 0 to 19); it does not change what is built.
	Nice int
}

// BuildResult is one module folder built for one kernel.
type BuildResult struct {
	Kernel  Kernel
	Src     string   // the source folder
	Dir     string   // the build directory (a synced copy of Src)
	Modules []string // built .ko files, in modules.order order
	// Ship are the same modules without debug information (objcopy
	// --strip-debug), which is what the guest gets: a fraction of the
	// size to copy and to load.
	Ship     []string
	Output   string // kbuild's output, verbatim
	Cached   bool   // nothing changed: kbuild was not run
	Duration time.Duration
}

// Warnings returns the compiler's warning lines.
func (r *BuildResult) Warnings() []string {
	var out []string
	for _, l := range strings.Split(r.Output, "\n") {
		if strings.Contains(l, "warning:") {
			out = append(out, l)
		}
	}
	return out
}

// DebugModules maps each built module's name to its unstripped file (the
// one with DWARF), for lab/stacktrace to resolve the frames of a kernel
// report that fall in one of them.
func (r *BuildResult) DebugModules() map[string]string {
	m := make(map[string]string, len(r.Modules))
	for _, ko := range r.Modules {
		m[modname.FromPath(ko)] = ko
	}
	return m
}

// BuildError is a failed kbuild run; Output is what make printed.
type BuildError struct {
	Src, Release string
	Output       string
	Err          error
}

func (e *BuildError) Error() string {
	return fmt.Sprintf("build %s for %s: %v\n%s", e.Src, e.Release, e.Err, strings.TrimRight(e.Output, "\n"))
}

func (e *BuildError) Unwrap() error { return e.Err }

// BuildDir is where Build puts a folder's build for a kernel.
func BuildDir(cacheDir, src string, k Kernel) string {
	abs, _ := filepath.Abs(src)
	h := sha256.Sum256([]byte(abs))
	name := filepath.Base(abs) + "-" + hex.EncodeToString(h[:4])
	return filepath.Join(cacheDir, "build", name, k.Release)
}

// variantDir keeps builds with other options (sparse, make variables) apart
// from the plain one, so that each stays cached.
func variantDir(dir string, opt BuildOptions) string {
	if !opt.Sparse && len(opt.MakeArgs) == 0 {
		return dir
	}
	h := sha256.Sum256([]byte(fmt.Sprintf("%v\x00%s", opt.Sparse, strings.Join(opt.MakeArgs, "\x00"))))
	return dir + "-" + hex.EncodeToString(h[:4])
}

// Build runs kbuild for the folder src against kernel k. The sources are
// copied into a build directory of their own (src stays clean; only changed
// files are copied, so make stays incremental), and kbuild is skipped
// altogether when nothing changed since the last successful build.
func Build(ctx context.Context, src string, k Kernel, cacheDir string, opt BuildOptions) (*BuildResult, error) {
	start := time.Now()
	st, err := os.Stat(src)
	if err != nil {
		return nil, fmt.Errorf("module folder: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("module folder %s is not a directory", src)
	}
	if !hasKbuildFile(src) {
		return nil, fmt.Errorf("%s has no Kbuild or Makefile: not a kbuild module folder", src)
	}
	dir := variantDir(BuildDir(cacheDir, src, k), opt)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	// Two modlab runs may build the same folder at once: one at a time.
	unlock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	stamp, err := syncTree(src, dir)
	if err != nil {
		return nil, fmt.Errorf("copy %s to its build directory: %w", src, err)
	}
	absSrc, err := filepath.Abs(src)
	if err != nil {
		return nil, fmt.Errorf("module folder: %w", err)
	}
	makeArgs := withPrefixMap(opt.MakeArgs, os.Getenv("KCFLAGS"), dir, absSrc)
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%v\x00%s\x00", k.Release, k.BuildDir, opt.Sparse, strings.Join(makeArgs, "\x00"))
	h.Write(stamp)
	sum := hex.EncodeToString(h.Sum(nil))
	res := &BuildResult{Kernel: k, Src: src, Dir: dir}
	stampFile := filepath.Join(dir, ".modlab-stamp")
	if old, err := os.ReadFile(stampFile); err == nil {
		if prev, out, ok := strings.Cut(string(old), "\n"); ok && prev == sum {
			if mods := builtModules(dir); len(mods) > 0 {
				if ship, err := stripped(dir, mods); err == nil {
					res.Modules, res.Ship, res.Cached = mods, ship, true
					res.Output = sourcePaths(out, dir, absSrc)
					res.Duration = time.Since(start)
					return res, nil
				}
			}
		}
	}
	os.Remove(stampFile)
	args := []string{"-C", k.BuildDir, "M=" + dir, fmt.Sprintf("-j%d", runtime.NumCPU())}
	if opt.Sparse {
		args = append(args, "C=2")
	}
	args = append(args, makeArgs...)
	args = append(args, "modules")
	name := "make"
	if opt.Nice > 0 {
		name, args = "nice", append([]string{"-n", strconv.Itoa(opt.Nice), "make"}, args...)
	}
	cmd := exec.CommandContext(ctx, name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	err = cmd.Run()
	raw := out.String()
	res.Output = sourcePaths(raw, dir, absSrc)
	res.Duration = time.Since(start)
	if err != nil {
		return res, &BuildError{Src: src, Release: k.Release, Output: res.Output, Err: err}
	}
	res.Modules = builtModules(dir)
	if len(res.Modules) == 0 {
		return res, &BuildError{Src: src, Release: k.Release, Output: res.Output, Err: fmt.Errorf("kbuild built no module (is obj-m set?)")}
	}
	if res.Ship, err = stripped(dir, res.Modules); err != nil {
		return res, err
	}
	if err := os.WriteFile(stampFile, []byte(sum+"\n"+raw), 0o644); err != nil {
		return res, err
	}
	return res, nil
}

// withPrefixMap returns the make variables for a build of src in dir:
// args, with KCFLAGS (from args, after the environment's) extended by
// -ffile-prefix-map=DIR=SRC. The modules' DWARF and the __FILE__ of their
// WARN reports then name the user's files, not the build directory's
// copies. Paths that make or the compiler's flag splitting would mangle
// get no map.
func withPrefixMap(args []string, envKCFLAGS, dir, src string) []string {
	kcflags := envKCFLAGS
	out := make([]string, 0, len(args)+1)
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "KCFLAGS="); ok {
			kcflags = strings.TrimSpace(kcflags + " " + v)
			continue
		}
		out = append(out, a)
	}
	if safeForMake(dir) && safeForMake(src) && !strings.Contains(dir, "=") {
		kcflags = strings.TrimSpace(kcflags + " -ffile-prefix-map=" + dir + "=" + src)
	}
	if kcflags != "" {
		out = append(out, "KCFLAGS="+kcflags)
	}
	return out
}

// safeForMake reports whether a path survives as one word in make
// variables and compiler flags.
func safeForMake(p string) bool {
	return p != "" && !strings.ContainsAny(p, " \t\n\\$#'\"`;:%*?[]")
}

// sourcePaths rewrites the paths of files in the build directory dir that
// were copied from the source folder src (compiler and sparse diagnostics,
// "In file included from" lines) to name src's files, so that an editor can
// jump to them. Paths of build products (objects, modules) stay as they are.
func sourcePaths(out, dir, src string) string {
	prefix := dir + "/"
	if dir == "" || !strings.Contains(out, prefix) {
		return out
	}
	var b strings.Builder
	for {
		i := strings.Index(out, prefix)
		if i < 0 {
			b.WriteString(out)
			return b.String()
		}
		b.WriteString(out[:i])
		rest := out[i+len(prefix):]
		n := strings.IndexAny(rest, ": \t\r\n'\"`()[],;‘’")
		if n < 0 {
			n = len(rest)
		}
		rel := rest[:n]
		if (i == 0 || !isPathByte(out[i-1])) && isSourceCopy(src, rel) {
			b.WriteString(filepath.Join(src, rel))
		} else {
			b.WriteString(prefix + rel)
		}
		out = rest[n:]
	}
}

// isSourceCopy reports whether rel, a path in the build directory, is a
// copy of a file of the source folder src.
func isSourceCopy(src, rel string) bool {
	if rel == "" || !filepath.IsLocal(rel) {
		return false
	}
	for _, part := range strings.Split(rel, "/") {
		if isBuildArtifact(part) {
			return false
		}
	}
	st, err := os.Stat(filepath.Join(src, rel))
	return err == nil && st.Mode().IsRegular()
}

func isPathByte(c byte) bool {
	return c == '/' || c == '.' || c == '_' || c == '-' || c == '+' ||
		'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// stripped returns debug-stripped copies of mods under dir/.modlab-ship,
// making those that are missing or older than their module.
func stripped(dir string, mods []string) ([]string, error) {
	shipDir := filepath.Join(dir, ".modlab-ship")
	if err := os.MkdirAll(shipDir, 0o755); err != nil {
		return nil, err
	}
	var out []string
	for _, m := range mods {
		s := filepath.Join(shipDir, filepath.Base(m))
		mst, err := os.Stat(m)
		if err != nil {
			return nil, err
		}
		if sst, err := os.Stat(s); err != nil || sst.ModTime().Before(mst.ModTime()) {
			if b, err := exec.Command("objcopy", "--strip-debug", m, s+".tmp").CombinedOutput(); err != nil {
				return nil, fmt.Errorf("objcopy --strip-debug %s: %v: %s", m, err, b)
			}
			if err := os.Rename(s+".tmp", s); err != nil {
				return nil, err
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// lockDir takes an exclusive lock on dir (flock on dir/.modlab-lock).
func lockDir(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, ".modlab-lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return func() {
		unix.Flock(int(f.Fd()), unix.LOCK_UN)
		f.Close()
	}, nil
}

func hasKbuildFile(dir string) bool {
	for _, n := range []string{"Kbuild", "Makefile", "makefile"} {
		if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
			return true
		}
	}
	return false
}

// isBuildArtifact reports whether a file name is kbuild output or something
// kbuild does not read (Go sources, tests, notes), which are not copied.
func isBuildArtifact(name string) bool {
	if strings.HasPrefix(name, ".") {
		return true
	}
	for _, suf := range []string{".o", ".ko", ".mod", ".mod.c", ".order", ".symvers", ".cmd",
		".go", ".test", ".md", ".dwo", ".a"} {
		if strings.HasSuffix(name, suf) {
			return true
		}
	}
	return name == "testdata" || name == "go.mod" || name == "go.sum"
}

// syncTree copies the kbuild-relevant files of src into dst when their
// contents differ, and returns a digest of what it copied.
func syncTree(src, dst string) ([]byte, error) {
	h := sha256.New()
	var files []string
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != src && isBuildArtifact(d.Name()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	for _, p := range files {
		rel, _ := filepath.Rel(src, p)
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", rel, len(data))
		h.Write(data)
		out := filepath.Join(dst, rel)
		if old, err := os.ReadFile(out); err == nil && bytes.Equal(old, data) {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(out, data, 0o644); err != nil {
			return nil, err
		}
	}
	return h.Sum(nil), nil
}

// builtModules lists the .ko files in dir, in modules.order order.
func builtModules(dir string) []string {
	var order []string
	if b, err := os.ReadFile(filepath.Join(dir, "modules.order")); err == nil {
		for _, l := range strings.Fields(string(b)) {
			l = strings.TrimSuffix(strings.TrimSuffix(l, ".o"), ".ko") + ".ko"
			if !filepath.IsAbs(l) {
				l = filepath.Join(dir, l)
			}
			if _, err := os.Stat(l); err == nil {
				order = append(order, l)
			}
		}
	}
	if len(order) > 0 {
		return order
	}
	mods, _ := filepath.Glob(filepath.Join(dir, "*.ko"))
	return mods
}

// copyFile copies a regular file.
func copyFile(dst, src string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
