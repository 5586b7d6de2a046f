// Package lab builds kernel modules against real kernels, boots each kernel
// in QEMU with modlab's own /init, runs the modules there and reports.
//
// The stages, each a function of its own: Kernels (find them), Build
// (kbuild, out of tree, cached), Initramfs (the guest image, cached by
// content), Boot (QEMU), and Run (the whole sequence for many units and
// kernels, with results).
package lab

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Where a kernel comes from.
const (
	// OriginDebian: Debian's packages, /boot and /lib/modules.
	OriginDebian = "debian"
	// OriginDebug: modlab's debug kernel, built from Debian's kernel
	// source into the lab's cache (modlab kernels build-debug).
	OriginDebug = "modlab-debug"
)

// Kernel is a kernel the lab can use: an image to boot and a headers tree to
// build against.
type Kernel struct {
	Release  string
	Origin   string // OriginDebian, or the origin of a kernel built into the cache
	Vmlinuz  string // /boot/vmlinuz-<release>, or the cache's bzImage
	ModDir   string // /lib/modules/<release>, or the cache's
	BuildDir string // /lib/modules/<release>/build, or the cache's build tree
	// Source says what a cache kernel was built from (empty for Debian's).
	Source string `json:",omitempty"`
}

// Kernels lists Debian's kernels under root ("/" normally): those that have
// both a vmlinuz and a headers build directory, newest first.
func Kernels(root string) ([]Kernel, error) {
	if root == "" {
		root = "/"
	}
	imgs, err := filepath.Glob(filepath.Join(root, "boot", "vmlinuz-*"))
	if err != nil {
		return nil, err
	}
	var out []Kernel
	for _, img := range imgs {
		rel := strings.TrimPrefix(filepath.Base(img), "vmlinuz-")
		k := Kernel{
			Release:  rel,
			Origin:   OriginDebian,
			Vmlinuz:  img,
			ModDir:   filepath.Join(root, "lib", "modules", rel),
			BuildDir: filepath.Join(root, "lib", "modules", rel, "build"),
		}
		if _, err := os.Stat(filepath.Join(k.BuildDir, "Makefile")); err != nil {
			continue
		}
		out = append(out, k)
	}
	sortKernels(out)
	return out, nil
}

// AllKernels lists Debian's kernels under root, then the kernels built into
// the cache (CachedKernels).
func AllKernels(root, cacheDir string) ([]Kernel, error) {
	ks, err := Kernels(root)
	if err != nil {
		return nil, err
	}
	cached, err := CachedKernels(cacheDir)
	if err != nil {
		return nil, err
	}
	return append(ks, cached...), nil
}

func sortKernels(ks []Kernel) {
	sort.SliceStable(ks, func(i, j int) bool { return CompareReleases(ks[i].Release, ks[j].Release) > 0 })
}

// KernelRecord registers a kernel built into the cache: the file
// KernelRecordFile in its own directory under KernelsDir. It is all the lab
// needs to use the kernel, and says where it came from.
type KernelRecord struct {
	Release  string `json:"release"`
	Origin   string `json:"origin"`
	Image    string `json:"image"`     // a bzImage
	ModDir   string `json:"mod_dir"`   // <...>/lib/modules/<release>, with modules.dep
	BuildDir string `json:"build_dir"` // the O= build tree: headers for out-of-tree modules
	// SourcePackage and SourceVersion: the Debian package of the source
	// (linux-source-6.12, 6.12.117-1~deb12u1).
	SourcePackage string `json:"source_package"`
	SourceVersion string `json:"source_version"`
	// ConfigDigest identifies the configuration (hex SHA-256).
	ConfigDigest string    `json:"config_digest"`
	Built        time.Time `json:"built"`
	BuildSeconds float64   `json:"build_seconds"`
	Log          string    `json:"log,omitempty"` // the build's log
}

// KernelRecordFile is a cache kernel's record, in its directory.
const KernelRecordFile = "kernel.json"

// KernelsDir is where kernels built into the cache live, one directory each.
func KernelsDir(cacheDir string) string { return filepath.Join(cacheDir, "kernels") }

// Kernel is the record as a lab kernel.
func (r KernelRecord) Kernel() Kernel {
	src := strings.TrimSpace(r.SourcePackage + " " + r.SourceVersion)
	if d := r.ConfigDigest; d != "" {
		if len(d) > 12 {
			d = d[:12]
		}
		src += ", config " + d
	}
	return Kernel{Release: r.Release, Origin: r.Origin, Vmlinuz: r.Image, ModDir: r.ModDir,
		BuildDir: r.BuildDir, Source: src}
}

// Check says why a record cannot be used (a file is missing), if it
// cannot.
func (r KernelRecord) Check() error {
	if r.Release == "" || r.Origin == "" {
		return errors.New("no release or origin")
	}
	for _, f := range []string{r.Image, filepath.Join(r.ModDir, "modules.dep"), filepath.Join(r.BuildDir, "Makefile")} {
		if !filepath.IsAbs(f) {
			return fmt.Errorf("%q is not an absolute path", f)
		}
		if _, err := os.Stat(f); err != nil {
			return err
		}
	}
	return nil
}

// WriteKernelRecord registers a kernel: dir's KernelRecordFile, written
// whole or not at all.
func WriteKernelRecord(dir string, r KernelRecord) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(dir, KernelRecordFile), append(b, '\n')); err != nil {
		return fmt.Errorf("register kernel %s: %w", r.Release, err)
	}
	return nil
}

// ReadKernelRecord reads dir's KernelRecordFile.
func ReadKernelRecord(dir string) (KernelRecord, error) {
	var r KernelRecord
	b, err := os.ReadFile(filepath.Join(dir, KernelRecordFile))
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("%s: %w", filepath.Join(dir, KernelRecordFile), err)
	}
	return r, nil
}

// CachedRecords reads the records of the kernels built into the cache whose
// files are all there. Of two records with one release and origin, the one
// built last is kept.
func CachedRecords(cacheDir string) ([]KernelRecord, error) {
	if cacheDir == "" {
		return nil, nil
	}
	files, err := filepath.Glob(filepath.Join(KernelsDir(cacheDir), "*", KernelRecordFile))
	if err != nil {
		return nil, err
	}
	best := map[string]KernelRecord{}
	for _, f := range files {
		r, err := ReadKernelRecord(filepath.Dir(f))
		if err != nil || r.Check() != nil {
			continue // a broken or half-removed build is not a kernel
		}
		id := r.Origin + "\x00" + r.Release
		if old, ok := best[id]; !ok || r.Built.After(old.Built) {
			best[id] = r
		}
	}
	var out []KernelRecord
	for _, r := range best {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if c := CompareReleases(out[i].Release, out[j].Release); c != 0 {
			return c > 0
		}
		return out[i].Origin < out[j].Origin
	})
	return out, nil
}

// CachedKernels lists the kernels built into the cache (CachedRecords),
// newest release first.
func CachedKernels(cacheDir string) ([]Kernel, error) {
	rs, err := CachedRecords(cacheDir)
	if err != nil {
		return nil, err
	}
	var out []Kernel
	for _, r := range rs {
		out = append(out, r.Kernel())
	}
	return out, nil
}

// CompareReleases orders kernel releases by their numbers: "6.12.95+deb12"
// is newer than "6.1.0-50". It returns -1, 0 or 1.
func CompareReleases(a, b string) int {
	na, nb := releaseNumbers(a), releaseNumbers(b)
	for i := 0; i < len(na) && i < len(nb); i++ {
		if na[i] != nb[i] {
			if na[i] < nb[i] {
				return -1
			}
			return 1
		}
	}
	switch {
	case len(na) < len(nb):
		return -1
	case len(na) > len(nb):
		return 1
	}
	return strings.Compare(a, b)
}

func releaseNumbers(r string) []int {
	var out []int
	for _, f := range strings.FieldsFunc(r, func(c rune) bool { return c < '0' || c > '9' }) {
		n, _ := strconv.Atoi(f)
		out = append(out, n)
	}
	return out
}

// Select picks kernels by a spec, or several separated by commas:
//   - "all" (or ""): every kernel, Debian's and the cache's;
//   - "debian": Debian's kernels; "debug": the debug kernel(s) built into the
//     cache (an origin name selects that origin's kernels);
//   - an exact release, of any origin;
//   - a version prefix such as "6.1" (which matches 6.1.x, not 6.12): it
//     names Debian's kernels, and reaches the cache's kernels only when no
//     Debian kernel matches it ("6.12" is Debian's 6.12 alone, "6.12.117"
//     the debug kernel built from 6.12.117's source).
func Select(ks []Kernel, spec string) ([]Kernel, error) {
	if len(ks) == 0 {
		return nil, fmt.Errorf("no kernels found: a kernel needs /boot/vmlinuz-<release> and /lib/modules/<release>/build (run 'modlab setup')")
	}
	if spec == "" || spec == "all" {
		return ks, nil
	}
	var out []Kernel
	seen := map[string]bool{}
	add := func(k Kernel) {
		if id := k.Origin + "\x00" + k.Release; !seen[id] {
			seen[id] = true
			out = append(out, k)
		}
	}
	for _, s := range strings.Split(spec, ",") {
		s = strings.TrimSpace(s)
		m := match(ks, s)
		if len(m) == 0 {
			if s == "debug" || s == OriginDebug {
				return nil, fmt.Errorf("no debug kernel has been built: run 'modlab kernels build-debug' (about 15 minutes on 2 cores)")
			}
			var have []string
			for _, k := range ks {
				have = append(have, k.Release)
			}
			return nil, fmt.Errorf("no kernel matches %q (have: %s; or debian, debug, all)", s, strings.Join(have, ", "))
		}
		for _, k := range m {
			add(k)
		}
	}
	return out, nil
}

// match is Select for one spec.
func match(ks []Kernel, s string) []Kernel {
	var byOrigin, exact, debian, other []Kernel
	for _, k := range ks {
		switch {
		case s == "debug" && k.Origin == OriginDebug, s == k.Origin:
			byOrigin = append(byOrigin, k)
		case k.Release == s:
			exact = append(exact, k)
		case matchRelease(k.Release, s) && k.Origin == OriginDebian:
			debian = append(debian, k)
		case matchRelease(k.Release, s):
			other = append(other, k)
		}
	}
	switch {
	case len(byOrigin) > 0:
		return byOrigin
	case len(exact) > 0:
		return exact
	case len(debian) > 0:
		return debian
	}
	return other
}

func matchRelease(rel, spec string) bool {
	if rel == spec {
		return true
	}
	if !strings.HasPrefix(rel, spec) {
		return false
	}
	next := rel[len(spec)]
	return next < '0' || next > '9'
}
