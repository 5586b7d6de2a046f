package lab

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestIsBuildArtifact(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{
		"hello.c": false, "Kbuild": false, "Makefile": false, "chardev.h": false, "start.S": false,
		"hello.o": true, "hello.ko": true, "hello.mod": true, "hello.mod.c": true, ".hello.o.cmd": true,
		"modules.order": true, "Module.symvers": true, "hello_test.go": true, "README.md": true,
		".git": true, "testdata": true,
	} {
		if got := isBuildArtifact(name); got != want {
			t.Errorf("isBuildArtifact(%q) = %v, want %v", name, got, want)
		}
	}
}

func headersOrSkip(t *testing.T) []Kernel {
	t.Helper()
	ks, _ := Kernels("/")
	if len(ks) == 0 {
		t.Skip("no kernel headers installed (run scripts/setup.sh)")
	}
	return ks
}

func writeFolder(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const tinyModule = `// SPDX-License-Identifier: GPL-2.0
#include <linux/module.h>
static int __init tiny_init(void) { return 0; }
static void __exit tiny_exit(void) { }
module_init(tiny_init);
module_exit(tiny_exit);
MODULE_LICENSE("GPL");
`

// TestBuildIncremental builds a folder for one kernel: the source folder
// stays clean, an unchanged folder is not rebuilt, a changed one is, and
// compiler warnings are reported.
func TestBuildIncremental(t *testing.T) {
	t.Parallel()
	k := headersOrSkip(t)[0]
	cache := t.TempDir()
	src := writeFolder(t, map[string]string{"tiny.c": tinyModule, "Kbuild": "obj-m := tiny.o\n"})
	ctx := context.Background()
	r, err := Build(ctx, src, k, cache, BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Cached || len(r.Modules) != 1 || filepath.Base(r.Modules[0]) != "tiny.ko" {
		t.Fatalf("first build: cached=%v modules=%v", r.Cached, r.Modules)
	}
	if len(r.Ship) != 1 {
		t.Fatalf("ship = %v, want one stripped module", r.Ship)
	}
	full, _ := os.Stat(r.Modules[0])
	ship, err := os.Stat(r.Ship[0])
	if err != nil || ship.Size() >= full.Size() {
		t.Errorf("stripped module: %v, %d bytes against %d; want smaller", err, ship.Size(), full.Size())
	}
	ents, _ := os.ReadDir(src)
	if len(ents) != 2 {
		t.Errorf("the source folder got build files: %v", ents)
	}
	if r2, err := Build(ctx, src, k, cache, BuildOptions{}); err != nil || !r2.Cached {
		t.Errorf("second build: cached=%v err=%v; want cached", r2 != nil && r2.Cached, err)
	}
	warn := strings.Replace(tinyModule, "return 0;", "int unused; return 0;", 1)
	os.WriteFile(filepath.Join(src, "tiny.c"), []byte(warn), 0o644)
	r3, err := Build(ctx, src, k, cache, BuildOptions{})
	if err != nil || r3.Cached {
		t.Fatalf("build after a change: cached=%v err=%v; want a rebuild", r3 != nil && r3.Cached, err)
	}
	if w := r3.Warnings(); len(w) != 1 || !strings.Contains(w[0], "unused") {
		t.Errorf("warnings = %q, want the unused variable", w)
	}
}

func TestBuildErrors(t *testing.T) {
	t.Parallel()
	k := headersOrSkip(t)[0]
	cache := t.TempDir()
	bad := writeFolder(t, map[string]string{"bad.c": "int f(void) { return }\n", "Kbuild": "obj-m := bad.o\n"})
	_, err := Build(context.Background(), bad, k, cache, BuildOptions{})
	var be *BuildError
	if !errors.As(err, &be) || !strings.Contains(be.Output, "bad.c:1:") || !strings.Contains(be.Output, "error:") {
		t.Errorf("syntax error: err = %v; want a BuildError with the compiler's message", err)
	}
	if _, err := Build(context.Background(), t.TempDir(), k, cache, BuildOptions{}); err == nil ||
		!strings.Contains(err.Error(), "not a kbuild module folder") {
		t.Errorf("empty folder: err = %v", err)
	}
	if _, err := Build(context.Background(), "/no/such/dir", k, cache, BuildOptions{}); err == nil {
		t.Error("missing folder: no error")
	}
	noobj := writeFolder(t, map[string]string{"Kbuild": "# nothing\n"})
	if _, err := Build(context.Background(), noobj, k, cache, BuildOptions{}); err == nil {
		t.Error("folder without obj-m: no error")
	}
}

// TestOurModulesBuildClean builds every module folder of the repository
// (examples and the lab's test modules) for every kernel with sparse
// (make C=2): no compiler or sparse warning is allowed.
func TestOurModulesBuildClean(t *testing.T) {
	ks := headersOrSkip(t)
	root, err := FindSourceRoot(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, pat := range []string{"examples/*/Kbuild", "lab/testdata/*/Kbuild"} {
		m, _ := filepath.Glob(filepath.Join(root, pat))
		for _, f := range m {
			dirs = append(dirs, filepath.Dir(f))
		}
	}
	if len(dirs) == 0 {
		t.Fatal("no module folders found")
	}
	cache := DefaultCacheDir(os.Getenv)
	var wg sync.WaitGroup
	for _, k := range ks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, d := range dirs {
				rel, _ := filepath.Rel(root, d)
				r, err := Build(context.Background(), d, k, cache, BuildOptions{Sparse: true})
				if err != nil {
					t.Errorf("%s on %s: %v", rel, k.Release, err)
					continue
				}
				if w := r.Warnings(); len(w) > 0 {
					t.Errorf("%s on %s: %d warnings:\n%s", rel, k.Release, len(w), strings.Join(w, "\n"))
				}
			}
		}()
	}
	wg.Wait()
}
