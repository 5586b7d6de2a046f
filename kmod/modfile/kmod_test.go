package modfile

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const kmodModprobe = "/sbin/modprobe"

// TestSymbolsMatchKmod compares Exports and Versions with kmod's
// "modprobe --show-exports" and "--dump-modversions" on a sample of the
// installed kernels' modules.
func TestSymbolsMatchKmod(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat(kmodModprobe); err != nil {
		t.Skipf("kmod's modprobe is not installed (%v); scripts/setup.sh installs it", err)
	}
	var files []string
	err := filepath.WalkDir("/lib/modules", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "build" || d.Name() == "source") {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() && (strings.HasSuffix(p, ".ko") || strings.HasSuffix(p, ".ko.xz")) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil || len(files) == 0 {
		t.Skipf("no modules under /lib/modules (%v); scripts/setup.sh installs the kernels", err)
	}
	checked := 0
	for i := 0; i < len(files); i += 13 {
		f := files[i]
		m, err := Open(f)
		if err != nil {
			t.Fatal(err)
		}
		exports, err := m.Exports()
		if err != nil {
			t.Fatal(err)
		}
		versions, err := m.Versions()
		if err != nil {
			t.Fatal(err)
		}
		m.Close()
		for _, tc := range []struct {
			flag string
			syms []Symbol
		}{{"--show-exports", exports}, {"--dump-modversions", versions}} {
			// kmod fails when the section it reads is missing: no
			// symbols, for Exports and Versions.
			want, err := exec.Command(kmodModprobe, tc.flag, f).Output()
			if _, ok := err.(*exec.ExitError); ok {
				want = nil
			} else if err != nil {
				t.Fatalf("modprobe %s %s: %v", tc.flag, f, err)
			}
			var got strings.Builder
			for _, s := range tc.syms {
				fmt.Fprintf(&got, "0x%08x\t%s\n", s.CRC, s.Name)
			}
			if got.String() != string(want) {
				t.Errorf("%s %s:\n got %q\nwant %q", tc.flag, f, got.String(), want)
			}
		}
		checked++
	}
	t.Logf("%d modules alike", checked)
}
