package userland

import (
	"errors"
	"fmt"
	"go/build"
	"io/fs"
	"path/filepath"
	"strings"
)

// Program is a Go main package inside a folder.
type Program struct {
	// Name is what the program is called on the guest's PATH: its
	// directory's base name.
	Name string
	// Dir is the package's directory, absolute.
	Dir string
	// Rel is Dir relative to the folder Find searched ("." when the
	// program is that folder itself).
	Rel string
}

// guestContext is go/build's view of the guest: linux/amd64 without cgo.
func guestContext(tags []string) build.Context {
	c := build.Default
	c.GOOS, c.GOARCH, c.CgoEnabled = "linux", "amd64", false
	c.BuildTags = tags
	return c
}

// Find lists every Go main package in dir and its subfolders, in lexical
// order of their paths, as the go command sees them when building for the
// guest: files excluded by build constraints for linux/amd64 without cgo
// do not count, nor do _test.go files. Like the go command's ./..., it
// skips testdata and vendor folders and folders whose names start with "."
// or "_" (dir itself is always searched). A folder without Go files is no
// error: it has no programs.
func Find(dir string) ([]Program, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	bctx := guestContext(nil)
	var progs []Program
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if p != root && (name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
			return filepath.SkipDir
		}
		bp, err := bctx.ImportDir(p, 0)
		var noGo *build.NoGoError
		if errors.As(err, &noGo) {
			return nil
		}
		if err != nil {
			return err
		}
		if bp.Name != "main" || len(bp.GoFiles) == 0 {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		progs = append(progs, Program{Name: filepath.Base(p), Dir: p, Rel: filepath.ToSlash(rel)})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("look for Go programs in %s: %w", root, err)
	}
	return progs, nil
}
