// Package lab builds kernel modules against real kernels, boots each kernel
// in QEMU with modlab's own /init, runs the modules there and reports.
//
// The stages, each a function of its own: Kernels (find them), Build
// (kbuild, out of tree, cached), Initramfs (the guest image, cached by
// content), Boot (QEMU), and Run (the whole sequence for many units and
// kernels, with results).
package lab

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Kernel is a kernel the lab can use: an image to boot and a headers tree to
// build against.
type Kernel struct {
	Release  string
	Vmlinuz  string // /boot/vmlinuz-<release>
	ModDir   string // /lib/modules/<release>
	BuildDir string // /lib/modules/<release>/build
}

// Kernels lists the kernels under root ("/" normally) that have both a
// vmlinuz and a headers build directory, newest first.
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
			Vmlinuz:  img,
			ModDir:   filepath.Join(root, "lib", "modules", rel),
			BuildDir: filepath.Join(root, "lib", "modules", rel, "build"),
		}
		if _, err := os.Stat(filepath.Join(k.BuildDir, "Makefile")); err != nil {
			continue
		}
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return CompareReleases(out[i].Release, out[j].Release) > 0 })
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

// Select picks kernels by a spec: "all" (or ""), an exact release, or a
// version prefix such as "6.1" (which matches 6.1.x, not 6.12). Several
// specs may be given separated by commas.
func Select(ks []Kernel, spec string) ([]Kernel, error) {
	if len(ks) == 0 {
		return nil, fmt.Errorf("no kernels found: a kernel needs /boot/vmlinuz-<release> and /lib/modules/<release>/build (run 'modlab setup')")
	}
	if spec == "" || spec == "all" {
		return ks, nil
	}
	var out []Kernel
	seen := map[string]bool{}
	for _, s := range strings.Split(spec, ",") {
		s = strings.TrimSpace(s)
		n := 0
		for _, k := range ks {
			if matchRelease(k.Release, s) && !seen[k.Release] {
				out = append(out, k)
				seen[k.Release] = true
				n++
			}
		}
		if n == 0 {
			var have []string
			for _, k := range ks {
				have = append(have, k.Release)
			}
			return nil, fmt.Errorf("no kernel matches %q (have: %s)", s, strings.Join(have, ", "))
		}
	}
	return out, nil
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
