package lab

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/modlab/modlab/lab/stacktrace"
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
	// The warning names the user's file, not the build directory's copy.
	want := filepath.Join(src, "tiny.c") + ":3:"
	if w := r3.Warnings(); len(w) != 1 || !strings.Contains(w[0], "unused") || !strings.HasPrefix(w[0], want) {
		t.Errorf("warnings = %q, want the unused variable at %s", w, want)
	}
	if r4, err := Build(ctx, src, k, cache, BuildOptions{}); err != nil || !r4.Cached ||
		strings.Contains(r4.Output, r4.Dir+"/tiny.c") || !strings.Contains(r4.Output, want) {
		t.Errorf("cached build: cached=%v err=%v, output names the copy:\n%s", r4 != nil && r4.Cached, err, r4.Output)
	}
}

// TestBuildNamesSources checks that a module's debug information and its
// __FILE__ strings (which WARN reports print) name the user's folder, not
// the build directory, on every kernel: oops reports are resolved to
// source lines with them.
func TestBuildNamesSources(t *testing.T) {
	t.Parallel()
	src := writeFolder(t, map[string]string{
		"where.c": "// SPDX-License-Identifier: GPL-2.0\n#include <linux/module.h>\n" +
			"static const char *where = __FILE__;\n" +
			"static int __init where_init(void) { pr_info(\"%s\\n\", where); return 0; }\n" +
			"module_init(where_init);\nMODULE_LICENSE(\"GPL\");\n",
		"Kbuild": "obj-m := where.o\n",
	})
	for _, k := range headersOrSkip(t) {
		r, err := Build(context.Background(), src, k, t.TempDir(), BuildOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ko, err := os.ReadFile(r.Modules[0])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(ko, []byte(filepath.Join(src, "where.c"))) || bytes.Contains(ko, []byte(r.Dir)) {
			t.Errorf("%s: the module names its build directory %s instead of %s", k.Release, r.Dir, src)
		}
		if got := r.DebugModules(); got["where"] != r.Modules[0] {
			t.Errorf("DebugModules() = %v, want where: %s", got, r.Modules[0])
		}
		m, err := stacktrace.Open(r.Modules[0])
		if err != nil {
			t.Fatal(err)
		}
		if m.SrcDir != src {
			t.Errorf("%s: DWARF names the module's folder %q, want %q", k.Release, m.SrcDir, src)
		}
	}
}

func TestWithPrefixMap(t *testing.T) {
	t.Parallel()
	const dir, src = "/cache/build/m-1/6.1", "/home/u/m"
	const pm = "-ffile-prefix-map=" + dir + "=" + src
	for _, tc := range []struct {
		args     []string
		env      string
		dir, src string
		want     []string
	}{
		{nil, "", dir, src, []string{"KCFLAGS=" + pm}},
		{[]string{"W=1"}, "-O1", dir, src, []string{"W=1", "KCFLAGS=-O1 " + pm}},
		{[]string{"KCFLAGS=-DX", "C=2"}, "-O1", dir, src, []string{"C=2", "KCFLAGS=-O1 -DX " + pm}},
		{nil, "", dir, "/home/u/my mod", nil},
		{[]string{"KCFLAGS=-DX"}, "", "/a=b/c", src, []string{"KCFLAGS=-DX"}},
		{nil, "", dir, "/home/u/$HOME", nil},
	} {
		got := withPrefixMap(tc.args, tc.env, tc.dir, tc.src)
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("withPrefixMap(%q, %q, %q, %q) = %q, want %q", tc.args, tc.env, tc.dir, tc.src, got, tc.want)
		}
	}
}

func TestSourcePaths(t *testing.T) {
	t.Parallel()
	src := writeFolder(t, map[string]string{"berr.c": "", "berr.h": ""})
	os.Mkdir(filepath.Join(src, "sub"), 0o755)
	os.WriteFile(filepath.Join(src, "sub", "x.h"), nil, 0o644)
	dir := "/root/.cache/modlab/build/berr-e03df605/6.1.0-50-cloud-amd64"
	for _, tc := range []struct{ in, want string }{
		{dir + "/berr.c:2:41: error: expected ';'", src + "/berr.c:2:41: error: expected ';'"},
		{"In file included from " + dir + "/berr.c:3:", "In file included from " + src + "/berr.c:3:"},
		{dir + "/sub/x.h:1:1: warning: w", src + "/sub/x.h:1:1: warning: w"},
		{"  CC [M]  " + dir + "/berr.o", "  CC [M]  " + dir + "/berr.o"},
		{"make[2]: *** [scripts/Makefile.build:250: " + dir + "/berr.o] Error 1", "make[2]: *** [scripts/Makefile.build:250: " + dir + "/berr.o] Error 1"},
		{dir + "/berr.mod.c:5:1: warning: w", dir + "/berr.mod.c:5:1: warning: w"},
		{dir + "/gone.c:1:1: error: e", dir + "/gone.c:1:1: error: e"},
		{dir + "/../berr.c:1:1: error: e", dir + "/../berr.c:1:1: error: e"},
		{"/x" + dir + "/berr.c:1:1: error: e", "/x" + dir + "/berr.c:1:1: error: e"},
		{"note: in ‘" + dir + "/berr.h’", "note: in ‘" + src + "/berr.h’"},
		{dir + "/", dir + "/"},
	} {
		if got := sourcePaths(tc.in, dir, src); got != tc.want {
			t.Errorf("sourcePaths(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

func TestBuildErrors(t *testing.T) {
	t.Parallel()
	k := headersOrSkip(t)[0]
	cache := t.TempDir()
	bad := writeFolder(t, map[string]string{"bad.c": "int f(void) { return }\n", "Kbuild": "obj-m := bad.o\n"})
	_, err := Build(context.Background(), bad, k, cache, BuildOptions{})
	var be *BuildError
	if !errors.As(err, &be) || !strings.Contains(be.Output, filepath.Join(bad, "bad.c")+":1:") ||
		!strings.Contains(be.Output, "error:") {
		t.Errorf("syntax error: err = %v; want a BuildError with the compiler's message naming %s", err, filepath.Join(bad, "bad.c"))
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

// TestBuildNice: with Nice, kbuild and the compilers it runs get that much
// lower a CPU priority (in a run of several kernels, a faster kernel's
// builds yield to the slowest kernel's). A make first in PATH writes the
// niceness it runs at.
func TestBuildNice(t *testing.T) {
	bin := t.TempDir()
	got := filepath.Join(bin, "nice.txt")
	if err := os.WriteFile(filepath.Join(bin, "make"), []byte("#!/bin/sh\nnice > "+got+"\nexit 2\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	base, err := exec.Command("nice").Output()
	if err != nil {
		t.Skipf("no nice(1) to compare with: %v", err)
	}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	src := writeFolder(t, map[string]string{"tiny.c": tinyModule, "Kbuild": "obj-m := tiny.o\n"})
	k := Kernel{Release: "0.0.0-test", BuildDir: bin}
	_, err = Build(context.Background(), src, k, t.TempDir(), BuildOptions{Nice: 7})
	var be *BuildError
	if !errors.As(err, &be) {
		t.Fatalf("Build with a make that fails: err = %v, want a BuildError", err)
	}
	b, err := os.ReadFile(got)
	if err != nil {
		t.Fatalf("make did not run: %v", err)
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(base)))
	if want := strconv.Itoa(min(n+7, 19)); strings.TrimSpace(string(b)) != want {
		t.Errorf("make ran at nice %s, want %s (the test's %d, plus 7)", strings.TrimSpace(string(b)), want, n)
	}
}
