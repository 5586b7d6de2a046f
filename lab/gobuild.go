package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/modlab/modlab/lab/userland"
)

// ModulePath is modlab's Go module path.
const ModulePath = "github.com/modlab/modlab"

// FindSourceRoot finds modlab's source tree (the guest /init and the
// examples' tests are built from it): $MODLAB_SRC, else the first
// directory holding modlab's go.mod above the working directory or above
// the running executable.
func FindSourceRoot(getenv func(string) string) (string, error) {
	if d := getenv("MODLAB_SRC"); d != "" {
		if isSourceRoot(d) {
			return d, nil
		}
		return "", fmt.Errorf("MODLAB_SRC=%s is not modlab's source tree", d)
	}
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		if r, err := filepath.EvalSymlinks(exe); err == nil {
			exe = r
		}
		starts = append(starts, filepath.Dir(exe))
	}
	for _, d := range starts {
		for {
			if isSourceRoot(d) {
				return d, nil
			}
			parent := filepath.Dir(d)
			if parent == d {
				break
			}
			d = parent
		}
	}
	return "", errors.New("modlab's source tree was not found (run modlab from it, or set MODLAB_SRC)")
}

func isSourceRoot(d string) bool {
	b, err := os.ReadFile(filepath.Join(d, "go.mod"))
	return err == nil && bytes.HasPrefix(b, []byte("module "+ModulePath+"\n"))
}

// GoBinary builds a static binary for the guest from modlab's tree: a
// command package (test false) or a package's tests (test true, with the
// modlab_guest build tag). The result is cached under cacheDir by a digest
// of the sources it imports, so an unchanged tree costs no go invocation
// at all (see userland.Toolchain.BuildPackage).
func GoBinary(ctx context.Context, srcRoot, pkg string, test bool, cacheDir string) (string, error) {
	p := userland.Package{
		Dir:  filepath.Join(srcRoot, pkg),
		Name: strings.ReplaceAll(filepath.Clean(pkg), "/", "_"),
		Test: test,
	}
	if test {
		p.Name += ".test"
		p.Tags = []string{"modlab_guest"}
	}
	bin, err := userland.Toolchain{}.BuildPackage(ctx, p, cacheDir)
	var nt *userland.NoToolchainError
	switch {
	case errors.Is(err, userland.ErrNoTests):
		return "", fmt.Errorf("package %s has no guest tests (no _test.go file with the modlab_guest build tag)", pkg)
	case errors.As(err, &nt):
		return "", fmt.Errorf("building %s for the guest needs a Go toolchain: none found in PATH", pkg)
	}
	return bin, err
}

// DefaultCacheDir is where builds, images and run logs go unless told
// otherwise: $MODLAB_CACHE, else $XDG_CACHE_HOME/modlab, else
// ~/.cache/modlab, else a folder under the temporary directory.
func DefaultCacheDir(getenv func(string) string) string {
	if d := getenv("MODLAB_CACHE"); d != "" {
		return d
	}
	if d := getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "modlab")
	}
	if d := getenv("HOME"); d != "" {
		return filepath.Join(d, ".cache", "modlab")
	}
	return filepath.Join(os.TempDir(), "modlab-cache")
}
