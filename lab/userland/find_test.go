package userland

import (
	"path/filepath"
	"reflect"
	"testing"
)

const helloMain = `package main

import "fmt"

func main() { fmt.Println("hello") }
`

func TestFind(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"go.mod":  "module example.com/mymod\n\ngo 1.22\n",
		"Kbuild":  "obj-m := mymod.o\n",
		"mymod.c": "// SPDX-License-Identifier: GPL-2.0\n",
		// Programs.
		"cmd/hello/main.go":          helloMain,
		"cmd/mixed/main.go":          helloMain,
		"cmd/mixed/extra_windows.go": "package main\n",
		// Not programs: excluded by constraints, cgo, tests only, a library.
		"cmd/winonly/main.go":       "//go:build windows\n\n" + helloMain,
		"cmd/gen/gen.go":            "//go:build ignore\n\n" + helloMain,
		"cmd/cgo/main.go":           "package main\n\n// int x;\nimport \"C\"\n\nfunc main() {}\n",
		"cmd/testonly/main_test.go": "package main\n",
		"internal/lib/lib.go":       "package lib\n",
		// Skipped folders.
		"testdata/cmd/x/main.go":         helloMain,
		"vendor/example.com/v/main.go":   helloMain,
		".hidden/main.go":                helloMain,
		"_old/main.go":                   helloMain,
		"cmd/hello/testdata/gen/main.go": helloMain,
	})
	got, err := Find(root)
	if err != nil {
		t.Fatal(err)
	}
	want := []Program{
		{Name: "hello", Dir: filepath.Join(root, "cmd", "hello"), Rel: "cmd/hello"},
		{Name: "mixed", Dir: filepath.Join(root, "cmd", "mixed"), Rel: "cmd/mixed"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Find = %+v\nwant %+v", got, want)
	}
}

func TestFindFolderItself(t *testing.T) {
	t.Parallel()
	root := filepath.Join(t.TempDir(), "mytool")
	writeTree(t, root, map[string]string{"main.go": helloMain, "sub/lib.go": "package sub\n"})
	got, err := Find(root)
	if err != nil {
		t.Fatal(err)
	}
	want := []Program{{Name: "mytool", Dir: root, Rel: "."}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Find = %+v, want %+v", got, want)
	}
}

func TestFindErrors(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"Kbuild": "obj-m := m.o\n", "m.c": "",
		"sub/README": "no Go here\n",
	})
	got, err := Find(root)
	if err != nil || len(got) != 0 {
		t.Errorf("Find(folder without Go) = %v, %v; want nothing", got, err)
	}
	if _, err := Find(filepath.Join(root, "missing")); err == nil {
		t.Error("Find(missing folder) gave no error")
	}
	mixed := t.TempDir()
	writeTree(t, mixed, map[string]string{"a.go": "package main\n", "b.go": "package other\n"})
	if _, err := Find(mixed); err == nil {
		t.Error("Find(folder with two packages) gave no error")
	}
}
