// Package readme_test checks examples/vfs/README.md against the real
// thing, on the host: it boots Debian's kernels with the README's "Try it"
// command and wants the `hi` it promises, so the README and the module
// cannot drift apart. It has no build tag: `go test ./...` runs it
// (`-short` skips it). It lives in a folder of its own because Go refuses
// a package whose folder holds C files (the module's) unless it uses cgo.
package readme_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modlab/modlab/lab/labtest"
)

// tryItRe finds the README's command: a line `modlab run examples/vfs
// --exec '...'` in a code block.
var tryItRe = regexp.MustCompile(`(?m)^modlab run examples/vfs --exec '([^']+)'$`)

// tryItCommand is the shell command the README's "Try it" runs in the
// guest.
func tryItCommand(readme []byte) (string, bool) {
	m := tryItRe.FindSubmatch(readme)
	if m == nil {
		return "", false
	}
	return string(m[1]), true
}

func TestTryItCommandIsFound(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	cmd, ok := tryItCommand(readme)
	if !ok {
		t.Fatal("README.md has no line `modlab run examples/vfs --exec '...'`")
	}
	for _, want := range []string{"mount -t modlabfs none ", "echo hi > ", "cat ", "umount "} {
		if !strings.Contains(cmd, want) {
			t.Errorf("the README's command %q lacks %q", cmd, want)
		}
	}
}

// TestReadmeTryIt runs the README's command with `modlab run` on Debian's
// kernels: every kernel's output must be `hi`, and the run must pass.
func TestReadmeTryIt(t *testing.T) {
	_, root, _ := labtest.Setup(t)
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	command, ok := tryItCommand(readme)
	if !ok {
		t.Fatal("README.md has no line `modlab run examples/vfs --exec '...'`")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	bin := labtest.Modlab(t, root)
	run := exec.CommandContext(ctx, bin, "run", "examples/vfs", "--kernel", "debian", "--exec", command)
	run.Dir = root
	var out bytes.Buffer
	run.Stdout, run.Stderr = &out, &out
	err = run.Run()
	report := out.String()
	if err != nil {
		t.Fatalf("modlab run examples/vfs --exec %q: %v\n%s", command, err, report)
	}
	// Each kernel's part starts with "== RELEASE: vfs"; its command's
	// output follows "-- output".
	parts := strings.Split(report, "\n== ")[1:]
	if len(parts) < 2 {
		t.Fatalf("want a part for each of Debian's two kernels, got %d:\n%s", len(parts), report)
	}
	for _, p := range parts {
		release, _, _ := strings.Cut(p, ":")
		_, output, ok := strings.Cut(p, "-- output\n")
		output, _, _ = strings.Cut(output, "\n-- ")
		if !ok || strings.TrimSpace(output) != "hi" {
			t.Errorf("%s: the command printed %q, want \"hi\"\n%s", release, output, p)
		}
	}
	if !strings.Contains(report, "modlab: "+strconv.Itoa(len(parts))+" passed, 0 failed") {
		t.Errorf("no closing line for %d kernels:\n%s", len(parts), report)
	}
}
