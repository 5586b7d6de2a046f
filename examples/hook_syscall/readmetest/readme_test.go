// Package readmetest_test runs, on the host, the try-it command of
// examples/hook_syscall/README.md, as the README writes it, and checks what
// the README promises it shows. It lives in a folder of its own: Go refuses
// a package folder that holds C files (the module's hook_syscall.c) and no
// cgo, and the example's own test package is built only for the guest.
package readmetest_test

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/modlab/modlab/lab/labtest"
)

// readmePrefix starts the one command in README.md that this test runs.
const readmePrefix = "modlab run examples/hook_syscall --param uid=1000 "

// readmeCommand returns the README's line that starts with readmePrefix;
// there must be exactly one.
func readmeCommand(t *testing.T, readme []byte) string {
	t.Helper()
	var found []string
	sc := bufio.NewScanner(bytes.NewReader(readme))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); strings.HasPrefix(l, readmePrefix) {
			found = append(found, l)
		}
	}
	if len(found) != 1 {
		t.Fatalf("README.md has %d lines starting %q, want 1: %q", len(found), readmePrefix, found)
	}
	return found[0]
}

// kernelSections splits modlab run's report into each kernel's part: the
// lines from "== RELEASE: unit" up to the next such line or the table.
func kernelSections(out string) map[string]string {
	parts := map[string]string{}
	rel := ""
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "== ") {
			f := strings.Fields(l)
			rel = strings.TrimSuffix(f[1], ":")
			continue
		}
		if strings.HasPrefix(l, "MODULE ") {
			rel = ""
		}
		if rel != "" {
			parts[rel] += l + "\n"
		}
	}
	return parts
}

var (
	openedLine = regexp.MustCompile(`(?m)^hookopen: pid (\d+) uid 1000$`)
	reportLine = `(?m)hook_syscall: openat: uid=1000 pid=%s comm=hookopen path=/tmp/hello$`
)

// TestReadmeCommand runs the README's command with a modlab built from
// this tree, on every kernel the lab has, and checks that each Debian
// kernel (and any other) shows the uid-1000 process's open in its log.
func TestReadmeCommand(t *testing.T) {
	_, root, _ := labtest.Setup(t)
	readme, err := os.ReadFile(filepath.Join(root, "examples", "hook_syscall", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	command := readmeCommand(t, readme)

	bin := labtest.Modlab(t, root)

	// The command exactly, with "modlab" meaning the binary just built.
	run := exec.Command("sh", "-c", `modlab() { "$MODLAB_BIN" "$@"; }; `+command)
	run.Dir = root
	run.Env = append(os.Environ(), "MODLAB_BIN="+bin)
	outb, err := run.CombinedOutput()
	out := string(outb)
	if err != nil {
		t.Fatalf("%s: %v\n%s", command, err, out)
	}
	sections := kernelSections(out)
	for _, rel := range []string{"6.1", "6.12"} {
		found := false
		for r := range sections {
			found = found || strings.HasPrefix(r, rel+".") && strings.Contains(r, "-cloud-")
		}
		if !found {
			t.Errorf("the run has no part for a Debian %s kernel:\n%s", rel, out)
		}
	}
	for rel, s := range sections {
		m := openedLine.FindStringSubmatch(s)
		if m == nil {
			t.Errorf("%s: hookopen did not run as uid 1000:\n%s", rel, s)
			continue
		}
		if !regexp.MustCompile(strings.Replace(reportLine, "%s", m[1], 1)).MatchString(s) {
			t.Errorf("%s: the kernel log lacks the report of pid %s opening /tmp/hello:\n%s", rel, m[1], s)
		}
	}
	if !regexp.MustCompile(`(?m)^modlab: \d+ passed, 0 failed$`).MatchString(out) {
		t.Errorf("the run did not pass everywhere:\n%s", out)
	}
}
