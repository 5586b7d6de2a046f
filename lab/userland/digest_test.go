package userland

import (
	"os"
	"path/filepath"
	"testing"
)

// digestTree is a module whose program imports a package of its own, a
// module replaced by a local folder, and embeds files.
func digestTree(t *testing.T) (modRoot, prog string) {
	t.Helper()
	top := t.TempDir()
	modRoot = filepath.Join(top, "mymod")
	writeTree(t, top, map[string]string{
		"mymod/go.mod": "module example.com/mymod\n\ngo 1.22\n\nrequire example.com/dep v0.0.0\n\nreplace example.com/dep => ../dep\n",
		"mymod/go.sum": "",
		"mymod/cmd/tool/main.go": `package main

import (
	_ "embed"
	"fmt"

	"example.com/dep"
	"example.com/mymod/lib"
)

//go:embed assets/banner.txt
var banner string

func main() { fmt.Println(banner, lib.X, dep.Y) }
`,
		"mymod/cmd/tool/assets/banner.txt": "hi\n",
		"mymod/lib/lib.go":                 "package lib\n\nconst X = 1\n",
		"mymod/internal/other/other.go":    "package other\n",
		"mymod/README.md":                  "# mymod\n",
		"mymod/Kbuild":                     "obj-m := mymod.o\n",
		"mymod/mymod.c":                    "int x;\n",
		"dep/go.mod":                       "module example.com/dep\n",
		"dep/dep.go":                       "package dep\n\nconst Y = 2\n",
		"dep/unused/unused.go":             "package unused\n",
	})
	return modRoot, filepath.Join(modRoot, "cmd", "tool")
}

func TestSourceDigest(t *testing.T) {
	t.Parallel()
	edit := func(name, data string) func(string) error {
		return func(mod string) error {
			p := filepath.Join(mod, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			return os.WriteFile(p, []byte(data), 0o644)
		}
	}
	tests := []struct {
		name   string
		change func(mod string) error
		want   bool // the digest changes
	}{
		{"program source", edit("cmd/tool/main.go", "package main\n"), true},
		{"imported package", edit("lib/lib.go", "package lib\n\nconst X = 3\n"), true},
		{"file for another GOOS in an imported package", edit("lib/lib_windows.go", "package lib\n"), true},
		{"assembly in an imported package", edit("lib/x_amd64.s", "\n"), true},
		{"go.mod", edit("go.mod", "module example.com/mymod\n\ngo 1.23\n\nreplace example.com/dep => ../dep\n"), true},
		{"go.sum", edit("go.sum", "example.com/x v1.0.0 h1:abc=\n"), true},
		{"replaced module's source", edit("../dep/dep.go", "package dep\n\nconst Y = 5\n"), true},
		{"replaced module's go.mod", edit("../dep/go.mod", "module example.com/dep\n\ngo 1.22\n"), true},
		{"embedded file", edit("cmd/tool/assets/banner.txt", "hello\n"), true},
		{"package the program does not import", edit("internal/other/other.go", "package other\n\nvar Z int\n"), false},
		{"unimported package of the replaced module", edit("../dep/unused/unused.go", "package unused\n\nvar Z int\n"), false},
		{"README", edit("README.md", "# changed\n"), false},
		{"kernel C source", edit("mymod.c", "int y;\n"), false},
		{"same contents written again", edit("lib/lib.go", "package lib\n\nconst X = 1\n"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mod, prog := digestTree(t)
			before, err := sourceDigest(mod, prog, "salt")
			if err != nil {
				t.Fatal(err)
			}
			if err := tt.change(mod); err != nil {
				t.Fatal(err)
			}
			after, err := sourceDigest(mod, prog, "salt")
			if err != nil {
				t.Fatal(err)
			}
			if changed := before != after; changed != tt.want {
				t.Errorf("digest changed = %v, want %v", changed, tt.want)
			}
		})
	}
}

func TestSourceDigestSaltAndVendor(t *testing.T) {
	t.Parallel()
	mod, prog := digestTree(t)
	a, _ := sourceDigest(mod, prog, "go1")
	b, _ := sourceDigest(mod, prog, "go2")
	if a == b {
		t.Error("a different toolchain or flag gives the same digest")
	}

	// With a vendor folder, vendored packages the program imports count.
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"go.mod":                        "module m\n\ngo 1.22\n",
		"vendor/modules.txt":            "# example.com/v v1.0.0\nexample.com/v\n",
		"vendor/example.com/v/v.go":     "package v\n",
		"cmd/x/main.go":                 "package main\n\nimport _ \"example.com/v\"\n\nfunc main() {}\n",
		"vendor/example.com/other/o.go": "package other\n",
	})
	x := filepath.Join(root, "cmd", "x")
	before, err := sourceDigest(root, x)
	if err != nil {
		t.Fatal(err)
	}
	writeTree(t, root, map[string]string{"vendor/example.com/other/o.go": "package other\n\nvar Z int\n"})
	if same, _ := sourceDigest(root, x); same != before {
		t.Error("an unimported vendored package changed the digest")
	}
	writeTree(t, root, map[string]string{"vendor/example.com/v/v.go": "package v\n\nvar Z int\n"})
	if after, _ := sourceDigest(root, x); after == before {
		t.Error("a change to an imported vendored package left the digest alone")
	}
}

func TestSourceDigestLoose(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"main.go": helloMain, "notes.txt": "a\n"})
	before, err := sourceDigest("", dir)
	if err != nil {
		t.Fatal(err)
	}
	writeTree(t, dir, map[string]string{"notes.txt": "b\n"})
	if same, _ := sourceDigest("", dir); same != before {
		t.Error("a text file changed the digest of a program that does not embed it")
	}
	writeTree(t, dir, map[string]string{"more.go": "package main\n"})
	if after, _ := sourceDigest("", dir); after == before {
		t.Error("a new .go file left the digest alone")
	}
}
