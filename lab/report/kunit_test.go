package report

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// kunitDir is where scripts/setup.sh unpacks the kernel's
// tools/testing/kunit/ (from Debian's linux-source-6.12).
const kunitDir = "/usr/local/share/modlab/kunit"

// kunitScript parses each file named on its command line with the
// kernel's KTAP parser and writes the counts, as JSON, to the first.
const kunitScript = `
import json, sys
import kunit_parser
out = []
for path in sys.argv[2:]:
    with open(path) as f:
        test = kunit_parser.parse_run_tests(f.readlines())
    c = test.counts
    out.append({"Status": test.status.name, "Passed": c.passed, "Failed": c.failed,
                "Crashed": c.crashed, "Skipped": c.skipped, "Errors": c.errors})
with open(sys.argv[1], "w") as f:
    json.dump(out, f)
`

// The kernel's own KTAP parser counts leaf tests only: modlab's KTAP must
// make every failure a failed leaf, and parse without an error.
func TestKTAPWithTheKernelsParser(t *testing.T) {
	t.Parallel()
	dir := os.Getenv("MODLAB_KUNIT_DIR")
	if dir == "" {
		dir = kunitDir
	}
	if _, err := os.Stat(filepath.Join(dir, "kunit_parser.py")); err != nil {
		t.Skipf("the kernel's KTAP parser is not installed (%v): scripts/setup.sh unpacks it into %s, or set MODLAB_KUNIT_DIR to a tools/testing/kunit folder", err, kunitDir)
	}
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skipf("no python3 to run the kernel's KTAP parser: %v", err)
	}
	tmp := t.TempDir()
	cs := combos()
	args := []string{"-c", kunitScript, filepath.Join(tmp, "counts.json")}
	for i, c := range cs {
		var b bytes.Buffer
		if _, err := Write(&b, io.Discard, KTAP, c.results); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(tmp, strings.ReplaceAll(c.name, " ", "_")+".ktap")
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, path)
		cs[i].name = path
	}
	cmd := exec.Command(python, args...)
	cmd.Env = append(os.Environ(), "PYTHONPATH="+dir, "PYTHONDONTWRITEBYTECODE=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kunit_parser.py: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(tmp, "counts.json"))
	if err != nil {
		t.Fatal(err)
	}
	var got []kunitCounts
	if err := json.Unmarshal(b, &got); err != nil || len(got) != len(cs) {
		t.Fatalf("kunit_parser.py's counts %s: %v", b, err)
	}
	for i, c := range cs {
		if got[i] != c.kunit {
			ktap, _ := os.ReadFile(c.name)
			t.Errorf("%s: the kernel's parser counts %+v, want %+v\n%s", filepath.Base(c.name), got[i], c.kunit, ktap)
		}
	}
	if t.Failed() {
		t.Logf("kunit_parser.py said:\n%s", out)
	}
}
