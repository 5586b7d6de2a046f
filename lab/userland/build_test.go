package userland

import (
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// realGo skips the test when the machine has no go command.
func realGo(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command in PATH")
	}
}

// counter is a Toolchain that runs the real go command and counts the
// invocations.
type counter struct{ n atomic.Int32 }

func (c *counter) toolchain() Toolchain {
	return Toolchain{Run: func(cmd *exec.Cmd) ([]byte, error) {
		c.n.Add(1)
		return cmd.CombinedOutput()
	}}
}

// noGo is a Toolchain that fails the test if the go command is looked for
// or run.
func noGo(t *testing.T) Toolchain {
	return Toolchain{
		LookPath: func(string) (string, error) {
			t.Error("go was looked up")
			return "", exec.ErrNotFound
		},
		Run: func(cmd *exec.Cmd) ([]byte, error) {
			t.Errorf("go was run: %v", cmd.Args)
			return nil, errors.New("not allowed")
		},
	}
}

// runBinary runs a built program on the host (the guest's architecture)
// and returns its output.
func runBinary(t *testing.T, bin string) string {
	t.Helper()
	out, err := exec.Command(bin).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", bin, err, out)
	}
	return string(out)
}

// checkStatic fails unless bin is a static x86-64 executable: no program
// interpreter, no shared library needed, so it runs in a guest that has
// no libc.
func checkStatic(t *testing.T, bin string) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != elf.EM_X86_64 || f.Type != elf.ET_EXEC {
		t.Errorf("%s is %v %v, want an x86-64 executable", bin, f.Machine, f.Type)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s has a program interpreter (PT_INTERP): not static", bin)
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil || len(libs) > 0 {
		t.Errorf("%s needs shared libraries %v (%v)", bin, libs, err)
	}
}

// moduleFolder is a kernel module folder with Go userland in a module of
// its own: a tool that imports a package of the module, and a file for
// another system that would not compile on linux.
func moduleFolder(t *testing.T) string {
	dir := filepath.Join(t.TempDir(), "mymod")
	writeTree(t, dir, map[string]string{
		"Kbuild":  "obj-m := mymod.o\n",
		"mymod.c": "// SPDX-License-Identifier: GPL-2.0\n",
		"go.mod":  "module example.com/mymod\n\ngo 1.22\n",
		"cmd/hello/main.go": `package main

import (
	"fmt"

	"example.com/mymod/internal/greet"
)

func main() { fmt.Println(greet.Text, os()) }
`,
		"cmd/hello/os_linux.go":   "package main\n\nfunc os() string { return \"on linux\" }\n",
		"cmd/hello/os_windows.go": "package main\n\nfunc os() string { return \"on windows\" }\n\nvar broken int = \"not on linux\"\n",
		"internal/greet/greet.go": "package greet\n\nconst Text = \"hello from mymod\"\n",
		"internal/greet/doc.go":   "// Package greet says hello.\npackage greet\n",
		"lib/lib.go":              "package lib\n",
	})
	return dir
}

func TestBuildModule(t *testing.T) {
	t.Parallel()
	realGo(t)
	dir := moduleFolder(t)
	cache := t.TempDir()
	var c counter
	tc := c.toolchain()
	progs, err := Find(dir)
	if err != nil || len(progs) != 1 {
		t.Fatalf("Find = %v, %v", progs, err)
	}
	bin, err := tc.Build(t.Context(), progs[0], cache)
	if err != nil {
		t.Fatal(err)
	}
	checkStatic(t, bin)
	if got := runBinary(t, bin); got != "hello from mymod on linux\n" {
		t.Errorf("hello printed %q", got)
	}

	// Unchanged: the cache answers, without go.
	again, err := tc.Build(t.Context(), progs[0], cache)
	if err != nil || again != bin || c.n.Load() != 1 {
		t.Errorf("second Build = %s, %v after %d go runs; want %s from the cache after 1", again, err, c.n.Load(), bin)
	}
	// Files the program cannot read change nothing either.
	writeTree(t, dir, map[string]string{"mymod.c": "int changed;\n", "lib/lib.go": "package lib\n\nvar Z int\n", "README.md": "new\n"})
	if again, err := tc.Build(t.Context(), progs[0], cache); err != nil || again != bin || c.n.Load() != 1 {
		t.Errorf("Build after unrelated edits = %s, %v after %d go runs; want the cached %s", again, err, c.n.Load(), bin)
	}
	// A package it imports does.
	writeTree(t, dir, map[string]string{"internal/greet/greet.go": "package greet\n\nconst Text = \"changed\"\n"})
	bin2, err := tc.Build(t.Context(), progs[0], cache)
	if err != nil {
		t.Fatal(err)
	}
	if c.n.Load() != 2 || bin2 == bin {
		t.Errorf("Build after editing an imported package ran go %d times, gave %s; want a new binary", c.n.Load(), bin2)
	}
	if got := runBinary(t, bin2); got != "changed on linux\n" {
		t.Errorf("rebuilt hello printed %q", got)
	}
}

func TestBuildOutsideModule(t *testing.T) {
	t.Parallel()
	realGo(t)
	dir := filepath.Join(t.TempDir(), "loose")
	writeTree(t, dir, map[string]string{
		"main.go":         "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(word) }\n",
		"word.go":         "//go:build linux\n\npackage main\n\nconst word = \"loose on linux\"\n",
		"word_windows.go": "package main\n\nconst word = \"loose on windows\"\n",
		"word_other.go":   "//go:build !linux\n\npackage main\n\nconst word = \"elsewhere\"\n",
		"main_test.go":    "package main\n\nimport \"testing\"\n\nfunc TestX(t *testing.T) {}\n",
	})
	progs, err := Find(dir)
	if err != nil || len(progs) != 1 || progs[0].Name != "loose" || progs[0].Rel != "." {
		t.Fatalf("Find = %+v, %v", progs, err)
	}
	bin, err := Build(t.Context(), progs[0], t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	checkStatic(t, bin)
	if got := runBinary(t, bin); got != "loose on linux\n" {
		t.Errorf("loose printed %q", got)
	}

	// Outside a module, only the standard library can be imported, and go
	// says so.
	writeTree(t, dir, map[string]string{"dep.go": "package main\n\nimport _ \"example.com/nowhere\"\n"})
	_, err = Build(t.Context(), progs[0], t.TempDir())
	var be *BuildError
	if !errors.As(err, &be) || !strings.Contains(err.Error(), "example.com/nowhere") {
		t.Errorf("Build with a non-standard import: %v", err)
	}
}

func TestBuildCompileError(t *testing.T) {
	t.Parallel()
	realGo(t)
	dir := moduleFolder(t)
	writeTree(t, dir, map[string]string{"cmd/bad/main.go": "package main\n\nfunc main() { nope() }\n"})
	p := Program{Name: "bad", Dir: filepath.Join(dir, "cmd", "bad"), Rel: "cmd/bad"}
	_, err := Build(t.Context(), p, t.TempDir())
	var be *BuildError
	if !errors.As(err, &be) {
		t.Fatalf("Build of a broken program: %v, want a BuildError", err)
	}
	msg := err.Error()
	for _, want := range []string{p.Dir, "go build ./cmd/bad", "main.go:3:15: undefined: nope"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not contain %q", msg, want)
		}
	}
	if !strings.Contains(be.Output, "undefined: nope") {
		t.Errorf("Output %q is not go's", be.Output)
	}
}

func TestBuildAll(t *testing.T) {
	t.Parallel()
	realGo(t)
	dir := moduleFolder(t)
	writeTree(t, dir, map[string]string{
		"cmd/second/main.go": "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"second\") }\n",
	})
	var c counter
	bins, err := c.toolchain().BuildAll(t.Context(), dir, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(bins) != 2 || c.n.Load() != 2 {
		t.Fatalf("BuildAll = %v with %d go runs, want hello and second", bins, c.n.Load())
	}
	if got := runBinary(t, bins["second"]); got != "second\n" {
		t.Errorf("second printed %q", got)
	}
	if got := runBinary(t, bins["hello"]); got != "hello from mymod on linux\n" {
		t.Errorf("hello printed %q", got)
	}
}

func TestBuildConcurrent(t *testing.T) {
	t.Parallel()
	realGo(t)
	dir := moduleFolder(t)
	p := Program{Name: "hello", Dir: filepath.Join(dir, "cmd", "hello"), Rel: "cmd/hello"}
	cache := t.TempDir()
	bins := make([]string, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range bins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bins[i], errs[i] = Build(t.Context(), p, cache)
		}()
	}
	wg.Wait()
	for i := range bins {
		if errs[i] != nil || bins[i] != bins[0] {
			t.Errorf("build %d = %s, %v; want %s", i, bins[i], errs[i], bins[0])
		}
	}
	if got := runBinary(t, bins[0]); got != "hello from mymod on linux\n" {
		t.Errorf("hello printed %q", got)
	}
	left, _ := filepath.Glob(filepath.Join(cache, "go", "*.tmp-*"))
	if len(left) > 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

func TestBuildAllWithoutGo(t *testing.T) {
	t.Parallel()
	// No Go at all: no programs, no error, no go.
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"Kbuild": "obj-m := m.o\n", "m.c": "int x;\n", "scripts/run.sh": "#!/bin/sh\n"})
	bins, err := noGo(t).BuildAll(t.Context(), dir, t.TempDir())
	if err != nil || len(bins) != 0 {
		t.Errorf("BuildAll(folder without Go) = %v, %v", bins, err)
	}

	// Two programs of one name: an error before any go runs.
	writeTree(t, dir, map[string]string{"cmd/tool/main.go": helloMain, "tools/tool/main.go": helloMain})
	_, err = noGo(t).BuildAll(t.Context(), dir, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "cmd/tool and tools/tool would both be \"tool\"") {
		t.Errorf("BuildAll with two programs named tool: %v", err)
	}
}

func TestBuildNoToolchain(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "mymod")
	writeTree(t, dir, map[string]string{"cmd/tool/main.go": helloMain, "cmd/ctl/main.go": helloMain})
	var runs atomic.Int32
	tc := Toolchain{
		LookPath: func(file string) (string, error) {
			return "", &exec.Error{Name: file, Err: exec.ErrNotFound}
		},
		Run: func(*exec.Cmd) ([]byte, error) { runs.Add(1); return nil, nil },
	}
	_, err := tc.BuildAll(t.Context(), dir, t.TempDir())
	want := dir + " has Go programs (cmd/ctl, cmd/tool); building them for the guest needs a Go toolchain: none found in PATH (install golang or remove the folder)"
	if err == nil || err.Error() != want {
		t.Errorf("BuildAll without go:\n got %v\nwant %s", err, want)
	}
	var nt *NoToolchainError
	if !errors.As(err, &nt) || !errors.Is(err, exec.ErrNotFound) {
		t.Errorf("error %v is not a NoToolchainError wrapping exec.ErrNotFound", err)
	}

	_, err = tc.Build(t.Context(), Program{Name: "tool", Dir: filepath.Join(dir, "cmd", "tool"), Rel: "cmd/tool"}, t.TempDir())
	want = dir + " has Go programs (cmd/tool); building them"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Build without go: %v, want it to start %q", err, want)
	}
	if runs.Load() != 0 {
		t.Errorf("go ran %d times", runs.Load())
	}
}

func TestBuildNotAProgram(t *testing.T) {
	t.Parallel()
	realGo(t)
	dir := moduleFolder(t)
	cache := t.TempDir()
	if _, err := Build(t.Context(), Program{}, cache); err == nil {
		t.Error("Build of an empty Program gave no error")
	}
	_, err := Build(t.Context(), Program{Name: "greet", Dir: filepath.Join(dir, "internal", "greet")}, cache)
	if err == nil || !strings.Contains(err.Error(), "not a main package") {
		t.Errorf("Build of a library: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(cache, "go", "greet*")); len(left) > 0 {
		t.Errorf("the cache holds %v", left)
	}
}

func TestBuildPackageTests(t *testing.T) {
	t.Parallel()
	realGo(t)
	dir := moduleFolder(t)
	writeTree(t, dir, map[string]string{
		"internal/greet/greet_test.go": "//go:build guest\n\npackage greet\n\nimport \"testing\"\n\nfunc TestText(t *testing.T) { t.Log(Text) }\n",
	})
	pkg := Package{Dir: filepath.Join(dir, "internal", "greet"), Name: "greet.test", Test: true}
	_, err := Toolchain{}.BuildPackage(t.Context(), pkg, t.TempDir())
	if !errors.Is(err, ErrNoTests) {
		t.Errorf("tests without their build tag: %v, want ErrNoTests", err)
	}
	pkg.Tags = []string{"guest"}
	bin, err := Toolchain{}.BuildPackage(t.Context(), pkg, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	checkStatic(t, bin)
	out, err := exec.Command(bin, "-test.v").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestText") {
		t.Errorf("%s -test.v: %v\n%s", bin, err, out)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Error(err)
	}
}
