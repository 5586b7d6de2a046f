package cli

import (
	"bytes"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modlab/modlab/internal/fakemod"
	"github.com/modlab/modlab/kmod/depmod"
)

var updateGolden = flag.Bool("update", false, "rewrite golden files in testdata")

const fixtureRelease = "1.2.3-fixture"

// modprobeFixture builds testdata/modprobe into a temporary root: module
// files from tree.txt, indexes from our depmod, and the configuration
// and kernel command line copied as they are.
func modprobeFixture(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	src := filepath.Join("testdata", "modprobe")
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(root, rel), 0o755)
		}
		if rel == "tree.txt" || rel == "queries.txt" || rel == "want.txt" {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(root, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	spec, err := os.ReadFile(filepath.Join(src, "tree.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fakemod.BuildTree(string(spec), root, fixtureRelease); err != nil {
		t.Fatal(err)
	}
	d, err := depmod.Load(depmod.Options{BaseDir: root, Release: fixtureRelease, ConfigPaths: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.WriteFiles(); err != nil {
		t.Fatal(err)
	}
	return root
}

// splitArgs splits a query line on spaces; double quotes group words and
// are removed, as a shell would.
func splitArgs(s string) []string {
	var out []string
	var cur strings.Builder
	in, any := false, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			in, any = !in, true
		case c == ' ' && !in:
			if any {
				out = append(out, cur.String())
			}
			cur.Reset()
			any = false
		default:
			cur.WriteByte(c)
			any = true
		}
	}
	if any {
		out = append(out, cur.String())
	}
	return out
}

func fixtureQueries(t *testing.T) [][]string {
	data, err := os.ReadFile(filepath.Join("testdata", "modprobe", "queries.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var qs [][]string
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l != "" && l[0] != '#' {
			qs = append(qs, splitArgs(l))
		}
	}
	return qs
}

// TestModprobeFixtureGolden runs each query of testdata/modprobe/queries.txt
// against the fixture root (its modprobe.d, /proc/cmdline and module
// directory) and compares output, errors and exit status with want.txt.
func TestModprobeFixtureGolden(t *testing.T) {
	root := modprobeFixture(t)
	var got bytes.Buffer
	for _, q := range fixtureQueries(t) {
		var out, errb bytes.Buffer
		env := &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Root: root, Getenv: func(string) string { return "" }}
		code := report(env, "modprobe", runModprobe(env, append([]string{"-S", fixtureRelease}, q...)))
		fmt.Fprintf(&got, "$ modprobe %s\n%s", strings.Join(q, " "), out.String())
		if errb.Len() > 0 {
			fmt.Fprintf(&got, "[stderr]\n%s", errb.String())
		}
		fmt.Fprintf(&got, "[exit %d]\n\n", code)
	}
	text := strings.ReplaceAll(got.String(), root, "ROOT")
	golden := filepath.Join("testdata", "modprobe", "want.txt")
	if *updateGolden {
		if err := os.WriteFile(golden, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if text != string(want) {
		t.Errorf("output differs from %s (rerun with -update after checking):\n%s", golden, lineDiff(string(want), text))
	}
}

// lineDiff shows the first lines that differ.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	n := 0
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want %q\n  got  %q\n", i+1, wl, gl)
			if n++; n > 10 {
				break
			}
		}
	}
	return b.String()
}

// TestModprobeFixtureMatchesKmod runs the same queries with kmod's modprobe
// on the fixture (-d, -C; kmod always reads the host's /proc/cmdline, so
// ours does too here) and compares stdout and exit status.
func TestModprobeFixtureMatchesKmod(t *testing.T) {
	tool := kmodTool(t, "modprobe")
	root := modprobeFixture(t)
	prefix := []string{"-d", root, "-S", fixtureRelease, "-C", root + "/etc/modprobe.d", "-C", root + "/lib/modprobe.d"}
	for _, q := range fixtureQueries(t) {
		args := append(append([]string{}, prefix...), q...)
		if len(q) > 2 && q[2] == "-r" {
			continue // removal needs a running kernel's state; covered by the golden test
		}
		cmd := exec.Command(tool, args...)
		cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
		var kout bytes.Buffer
		cmd.Stdout = &kout
		err := cmd.Run()
		kcode := 0
		if ee, ok := err.(*exec.ExitError); ok {
			kcode = ee.ExitCode()
		}
		got, stderr, code := runModlab(runModprobe, args)
		if got != kout.String() || code != kcode {
			t.Errorf("modprobe %s: exit %d, kmod %d\n--- got:\n%s--- kmod:\n%s--- our stderr:\n%s", strings.Join(q, " "), code, kcode, got, kout.String(), stderr)
		}
	}
}
