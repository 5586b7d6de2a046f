package lab

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
)

// Examples lists the folders under root/examples that have guest tests
// (a _test.go file with the modlab_guest build tag), sorted.
func Examples(root string) ([]string, error) {
	dirs, err := os.ReadDir(filepath.Join(root, "examples"))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		tests, _ := filepath.Glob(filepath.Join(root, "examples", d.Name(), "*_test.go"))
		for _, t := range tests {
			b, err := os.ReadFile(t)
			if err == nil && bytes.Contains(b, []byte("//go:build modlab_guest")) {
				out = append(out, d.Name())
				break
			}
		}
	}
	sort.Strings(out)
	return out, nil
}
