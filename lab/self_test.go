package lab

import (
	"debug/elf"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRuntimeFiles: a static binary needs nothing in the guest; a dynamic
// one brings its ELF interpreter and its libraries (libc at least).
func TestRuntimeFiles(t *testing.T) {
	t.Parallel()
	dyn, err := exec.LookPath("ls")
	if err != nil {
		t.Skip("no ls on PATH to serve as a dynamic binary")
	}
	if f, err := elf.Open(dyn); err != nil || len(progs(f, elf.PT_INTERP)) == 0 {
		t.Skipf("%s is not a dynamically linked ELF here", dyn)
	}
	files, err := RuntimeFiles(dyn)
	if err != nil {
		t.Fatal(err)
	}
	var interp, libc bool
	for _, f := range files {
		interp = interp || strings.HasPrefix(filepath.Base(f), "ld-linux")
		libc = libc || strings.HasPrefix(filepath.Base(f), "libc.so")
	}
	if !interp || !libc {
		t.Errorf("RuntimeFiles(%s) = %v; want the loader and libc", dyn, files)
	}

	static := filepath.Join(t.TempDir(), "static")
	cmd := exec.Command("go", "build", "-o", static, "./testdata/static")
	cmd.Env = append(cmd.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if files, err := RuntimeFiles(static); err != nil || len(files) != 0 {
		t.Errorf("RuntimeFiles(static) = %v, %v; want nothing", files, err)
	}
}

func progs(f *elf.File, typ elf.ProgType) []*elf.Prog {
	var out []*elf.Prog
	for _, p := range f.Progs {
		if p.Type == typ {
			out = append(out, p)
		}
	}
	return out
}
