package depmod

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modlab/modlab/internal/fakemod"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const release = "1.2.3-test"

// buildFixture writes the tree described by testdata/<name>/tree.txt into
// a temporary root and returns the root and the module directory.
func buildFixture(t *testing.T, name string) (root, dir string) {
	t.Helper()
	spec, err := os.ReadFile(filepath.Join("testdata", name, "tree.txt"))
	if err != nil {
		t.Fatal(err)
	}
	root = t.TempDir()
	dir, err = fakemod.BuildTree(string(spec), root, release)
	if err != nil {
		t.Fatal(err)
	}
	return root, dir
}

// kmodDepmod finds Debian's depmod, or returns "".
func kmodDepmod() string {
	for _, p := range []string{"/usr/sbin/depmod", "/sbin/depmod"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

var textFiles = []string{"modules.dep", "modules.alias", "modules.softdep", "modules.symbols", "modules.devname"}
var binFiles = []string{"modules.dep.bin", "modules.alias.bin", "modules.symbols.bin", "modules.builtin.bin", "modules.builtin.alias.bin"}

// TestFixtureGolden writes the basic fixture's files and compares the text
// ones with testdata/basic/want (run with -update to rewrite them).
func TestFixtureGolden(t *testing.T) {
	t.Parallel()
	root, dir := buildFixture(t, "basic")
	var warnings []string
	d, err := Load(Options{BaseDir: root, Release: release, ConfigPaths: []string{}, Warn: func(s string) { warnings = append(warnings, s) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.WriteFiles(); err != nil {
		t.Fatal(err)
	}
	for _, f := range textFiles {
		got, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		golden := filepath.Join("testdata", "basic", "want", f)
		if *update {
			os.MkdirAll(filepath.Dir(golden), 0o755)
			if err := os.WriteFile(golden, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s:\n--- got:\n%s--- want:\n%s", f, got, want)
		}
	}
	// The dependency chain is resolved through symbols: top needs mid
	// and core (core listed last, it is loaded first).
	dep, _ := os.ReadFile(filepath.Join(dir, "modules.dep"))
	if !strings.Contains(string(dep), "kernel/drivers/top.ko.xz: kernel/drivers/mid.ko kernel/lib/core-lib.ko\n") {
		t.Errorf("modules.dep lacks top's dependencies:\n%s", dep)
	}
	if len(warnings) != 0 {
		t.Errorf("unexpected warnings: %q", warnings)
	}
}

// TestFixtureMatchesKmod runs Debian's depmod on the same fixture and
// compares every output file, text and binary, byte for byte.
func TestFixtureMatchesKmod(t *testing.T) {
	t.Parallel()
	tool := kmodDepmod()
	if tool == "" {
		t.Skip("kmod's depmod is not installed: nothing to compare with")
	}
	for _, name := range []string{"basic"} {
		rootGo, dirGo := buildFixture(t, name)
		rootK, dirK := buildFixture(t, name)
		d, err := Load(Options{BaseDir: rootGo, Release: release, ConfigPaths: []string{}})
		if err != nil {
			t.Fatal(err)
		}
		if err := d.WriteFiles(); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(tool, "-C", "/dev/null", "-b", rootK, release).CombinedOutput()
		if err != nil {
			t.Fatalf("kmod depmod: %v\n%s", err, out)
		}
		for _, f := range append(textFiles, binFiles...) {
			got, err1 := os.ReadFile(filepath.Join(dirGo, f))
			want, err2 := os.ReadFile(filepath.Join(dirK, f))
			if err1 != nil || err2 != nil {
				t.Fatalf("%s: %v / %v", f, err1, err2)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s/%s differs from kmod's:\n--- got:\n%q\n--- kmod:\n%q", name, f, got, want)
			}
		}
	}
}

// TestCycle checks that modules needing each other in a ring are refused
// with an error naming the ring.
func TestCycle(t *testing.T) {
	t.Parallel()
	root, _ := buildFixture(t, "cycle")
	_, err := Load(Options{BaseDir: root, Release: release, ConfigPaths: []string{}})
	var ce *CycleError
	if !errors.As(err, &ce) || !errors.Is(err, ErrCycle) {
		t.Fatalf("Load = %v, want a CycleError", err)
	}
	if ce.Modules != 5 {
		t.Errorf("%d modules in cycles, want 5 (a, b, c, pair1, pair2): %v", ce.Modules, ce.Cycles)
	}
	joined := strings.Join(ce.Cycles, "\n")
	for _, want := range []string{"a -> b -> c -> a", "pair1 -> pair2 -> pair1"} {
		if !strings.Contains(joined, want) {
			t.Errorf("cycles %q lack %q", ce.Cycles, want)
		}
	}
	if tool := kmodDepmod(); tool != "" {
		out, err := exec.Command(tool, "-C", "/dev/null", "-b", root, release).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "Found 5 modules in dependency cycles!") {
			t.Errorf("kmod's depmod on the cycle fixture: %v\n%s", err, out)
		}
	}
}

// TestBadModules checks that unreadable module files are reported with
// their path and skipped, not fatal.
func TestBadModules(t *testing.T) {
	t.Parallel()
	root, dir := buildFixture(t, "basic")
	for name, data := range map[string][]byte{
		"kernel/bad/empty.ko":     nil,
		"kernel/bad/notelf.ko":    []byte("hello, world"),
		"kernel/bad/badxz.ko.xz":  {0xfd, '7', 'z', 'X', 'Z', 0, 1, 2, 3},
		"kernel/bad/truncated.ko": fakemod.Module{Exports: []string{"x"}}.Bytes()[:100],
	} {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var warnings []string
	d, err := Load(Options{BaseDir: root, Release: release, ConfigPaths: []string{}, Warn: func(s string) { warnings = append(warnings, s) }})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := d.WriteDep(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "kernel/bad/notelf.ko:\n") {
		t.Errorf("bad modules should still be listed (as kmod does):\n%s", buf.String())
	}
	all := strings.Join(warnings, "\n")
	for _, f := range []string{"empty.ko", "notelf.ko", "badxz.ko.xz", "truncated.ko"} {
		if !strings.Contains(all, f) {
			t.Errorf("no warning names %s:\n%s", f, all)
		}
	}
}

// TestGzipLeftOut: like Debian's kmod (built without zlib), depmod leaves
// .ko.gz files out of modules.dep; .ko.zst and .ko.xz names are indexed.
func TestGzipLeftOut(t *testing.T) {
	t.Parallel()
	root, dir := buildFixture(t, "basic")
	for _, name := range []string{"kernel/comp/zipped.ko.gz", "kernel/comp/zstded.ko.zst"} {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, fakemod.Module{}.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	d, err := Load(Options{BaseDir: root, Release: release, ConfigPaths: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := d.WriteDep(&buf); err != nil {
		t.Fatal(err)
	}
	if dep := buf.String(); strings.Contains(dep, "zipped") || !strings.Contains(dep, "kernel/comp/zstded.ko.zst:\n") {
		t.Errorf("modules.dep should list zstded.ko.zst and not zipped.ko.gz:\n%s", dep)
	}
	if tool := kmodDepmod(); tool != "" {
		out, err := exec.Command(tool, "-C", "/dev/null", "-n", "-b", root, release).Output()
		if err != nil {
			t.Fatalf("kmod depmod: %v", err)
		}
		if strings.Contains(string(out), "zipped") {
			t.Errorf("kmod's depmod lists the .ko.gz file here: the table in kmod/compression is wrong")
		}
	}
}
