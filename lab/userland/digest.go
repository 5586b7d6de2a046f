package userland

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// sourceDigest hashes what building the package in dir may read, with salt
// (build flags, toolchain, environment) mixed in. modRoot is the folder of
// the governing go.mod, or "" for a package outside any module.
//
// Rather than every file of the module, it follows the package's imports:
// each package reached inside the module (or in a directory a replace
// directive names, or under vendor/) contributes all its .go, .s and .syso
// files, whatever their build constraints, and the imports of all of them.
// Modules from the module cache are pinned by go.mod and go.sum, which are
// hashed; the standard library by the toolchain in salt. A package with a
// //go:embed directive contributes every file below its folder.
func sourceDigest(modRoot, dir string, salt ...string) (string, error) {
	s := &sourceSet{root: modRoot, base: modRoot, sums: map[string][32]byte{}, visited: map[string]bool{}}
	if modRoot == "" {
		s.base = dir
	} else {
		data, err := os.ReadFile(filepath.Join(modRoot, "go.mod"))
		if err != nil {
			return "", err
		}
		s.mod = parseGoMod(data)
		s.add(filepath.Join(modRoot, "go.mod"), data)
		for _, name := range []string{"go.sum", filepath.Join("vendor", "modules.txt")} {
			if err := s.addIfExists(filepath.Join(modRoot, name)); err != nil {
				return "", err
			}
		}
		_, err = os.Stat(filepath.Join(modRoot, "vendor", "modules.txt"))
		s.vendor = err == nil
		for _, r := range s.mod.Replaces {
			for _, name := range []string{"go.mod", "go.sum"} {
				if err := s.addIfExists(filepath.Join(s.replaceDir(r), name)); err != nil {
					return "", err
				}
			}
		}
	}
	queue := []string{dir}
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		more, err := s.visit(d)
		if err != nil {
			return "", err
		}
		queue = append(queue, more...)
	}

	names := make([]string, 0, len(s.sums))
	for p := range s.sums {
		names = append(names, p)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, p := range names {
		rel, err := filepath.Rel(s.base, p)
		if err != nil {
			rel = p
		}
		sum := s.sums[p]
		fmt.Fprintf(h, "%s\x00%x\n", filepath.ToSlash(rel), sum)
	}
	for _, x := range salt {
		fmt.Fprintf(h, "salt\x00%s\n", x)
	}
	return hex.EncodeToString(h.Sum(nil))[:24], nil
}

type sourceSet struct {
	root    string // module root, or ""
	base    string // file names in the digest are relative to it
	mod     goMod
	vendor  bool
	sums    map[string][32]byte // file → SHA-256 of its contents
	visited map[string]bool     // package folders already seen
	fset    token.FileSet
}

func (s *sourceSet) add(path string, data []byte) {
	s.sums[path] = sha256.Sum256(data)
}

func (s *sourceSet) addIfExists(path string) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	s.add(path, data)
	return nil
}

// visit hashes the package in dir and returns the folders of the packages
// it imports that the digest must cover.
func (s *sourceSet) visit(dir string) ([]string, error) {
	if s.visited[dir] {
		return nil, nil
	}
	s.visited[dir] = true
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil // the go command will say the import is missing
	}
	if err != nil {
		return nil, err
	}
	var next []string
	for _, e := range ents {
		name := e.Name()
		ext := filepath.Ext(name)
		if e.IsDir() || (ext != ".go" && ext != ".s" && ext != ".syso") {
			continue
		}
		p := filepath.Join(dir, name)
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		s.add(p, data)
		if ext != ".go" {
			continue
		}
		if bytes.Contains(data, []byte("//go:embed")) {
			if err := s.addTree(dir); err != nil {
				return nil, err
			}
		}
		// A file whose imports do not parse fails the build; its text is
		// in the digest, so fixing it rebuilds.
		f, _ := parser.ParseFile(&s.fset, p, data, parser.ImportsOnly)
		if f == nil {
			continue
		}
		for _, imp := range f.Imports {
			path, err := strconv.Unquote(imp.Path.Value)
			if err != nil {
				continue
			}
			if d := s.resolve(path); d != "" && !s.visited[d] {
				next = append(next, d)
			}
		}
	}
	return next, nil
}

// resolve returns the folder of an imported package whose sources the
// digest must cover, or "" for the standard library and modules that
// go.sum pins.
func (s *sourceSet) resolve(path string) string {
	if s.root == "" || path == "C" {
		return ""
	}
	if rest, ok := underPath(path, s.mod.Path); ok {
		return filepath.Join(s.root, rest)
	}
	best, bestDir := "", ""
	for _, r := range s.mod.Replaces {
		if rest, ok := underPath(path, r.Old); ok && len(r.Old) > len(best) {
			best, bestDir = r.Old, filepath.Join(s.replaceDir(r), rest)
		}
	}
	if bestDir != "" {
		return bestDir
	}
	if s.vendor {
		return filepath.Join(s.root, "vendor", filepath.FromSlash(path))
	}
	return ""
}

func (s *sourceSet) replaceDir(r localReplace) string {
	if filepath.IsAbs(r.Dir) {
		return filepath.Clean(r.Dir)
	}
	return filepath.Join(s.root, r.Dir)
}

// underPath reports whether import path p is module path m or below it,
// and the rest as a relative file path.
func underPath(p, m string) (string, bool) {
	if m == "" {
		return "", false
	}
	if p == m {
		return ".", true
	}
	if strings.HasPrefix(p, m+"/") {
		return filepath.FromSlash(p[len(m)+1:]), true
	}
	return "", false
}

// addTree hashes every file below dir except those of nested modules and
// version control: what //go:embed patterns may name.
func (s *sourceSet) addTree(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p == dir {
				return nil
			}
			if d.Name() == ".git" {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if _, done := s.sums[p]; done {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		s.add(p, data)
		return nil
	})
}
