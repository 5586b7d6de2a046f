package lab

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
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

// goSourceDigest hashes the Go sources under root that a build may read:
// every .go file, go.mod and go.sum, leaving out the examples folder
// unless it is named in include.
func goSourceDigest(root string, include ...string) (string, error) {
	h := sha256.New()
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			if p != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			if rel == "examples" && len(include) == 0 {
				return filepath.SkipDir
			}
			if strings.HasPrefix(rel, "examples"+string(filepath.Separator)) && !contains(include, rel) {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(p, ".go") || rel == "go.mod" || rel == "go.sum" {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	sort.Strings(files)
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			return "", err
		}
		rel, _ := filepath.Rel(root, p)
		fmt.Fprintf(h, "%s\x00%d\x00", rel, len(data))
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil))[:24], nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// GoBinary builds a static binary for the guest from modlab's tree: a
// command package (test false) or a package's tests (test true, with the
// modlab_guest build tag). The result is cached under cacheDir by a digest
// of the sources, so an unchanged tree costs no go invocation at all.
func GoBinary(ctx context.Context, srcRoot, pkg string, test bool, cacheDir string) (string, error) {
	var include []string
	if strings.HasPrefix(pkg, "examples/") {
		include = append(include, filepath.Clean(pkg))
	}
	digest, err := goSourceDigest(srcRoot, include...)
	if err != nil {
		return "", fmt.Errorf("hash Go sources: %w", err)
	}
	name := strings.ReplaceAll(filepath.Clean(pkg), "/", "_")
	if test {
		name += ".test"
	}
	out := filepath.Join(cacheDir, "go", name+"-"+digest)
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", err
	}
	tf, err := os.CreateTemp(filepath.Dir(out), name+".tmp-*")
	if err != nil {
		return "", err
	}
	tmp := tf.Name()
	tf.Close()
	defer os.Remove(tmp)
	var args []string
	if test {
		args = []string{"test", "-c", "-tags", "modlab_guest", "-o", tmp}
	} else {
		args = []string{"build", "-o", tmp}
	}
	args = append(args, "-trimpath", "-ldflags=-s -w", "./"+filepath.Clean(pkg))
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = srcRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go %s ./%s: %v\n%s", args[0], pkg, err, b)
	}
	if test {
		if st, err := os.Stat(tmp); err != nil || st.Size() == 0 {
			return "", fmt.Errorf("package %s has no guest tests (no _test.go file with the modlab_guest build tag)", pkg)
		}
	}
	if err := os.Rename(tmp, out); err != nil {
		return "", err
	}
	// Older builds of the same package are of no use any more.
	removeStale(filepath.Join(cacheDir, "go", name+"-*"), out)
	return out, nil
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
