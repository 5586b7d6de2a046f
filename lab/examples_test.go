package lab

import (
	"os"
	"path/filepath"
	"testing"
)

// TestEveryExampleIsARoom checks that each folder under examples/ has what
// the project promises: a Kbuild, a README.md with the notes, and a guest
// test (without one, `modlab test` and `make demo` would skip the folder).
func TestEveryExampleIsARoom(t *testing.T) {
	t.Parallel()
	root, err := FindSourceRoot(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	dirs, err := os.ReadDir(filepath.Join(root, "examples"))
	if err != nil {
		t.Fatal(err)
	}
	tested, err := Examples(root)
	if err != nil {
		t.Fatal(err)
	}
	has := map[string]bool{}
	for _, e := range tested {
		has[e] = true
	}
	n := 0
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		n++
		for _, f := range []string{"Kbuild", "README.md"} {
			if _, err := os.Stat(filepath.Join(root, "examples", d.Name(), f)); err != nil {
				t.Errorf("examples/%s has no %s", d.Name(), f)
			}
		}
		if !has[d.Name()] {
			t.Errorf("examples/%s has no guest test (a _test.go file with //go:build modlab_guest)", d.Name())
		}
	}
	if n == 0 {
		t.Error("no examples found")
	}
}
