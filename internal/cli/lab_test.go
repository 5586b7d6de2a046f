package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func testEnv(root string) (*Env, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	return &Env{Stdout: &out, Stderr: &errb, Root: root, Getenv: func(string) string { return "" }}, &out, &errb
}

func TestKernelsOnFixtureRoot(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	for _, r := range []string{"6.1.0-50-cloud-amd64", "6.12.95+deb12-cloud-amd64"} {
		os.MkdirAll(filepath.Join(root, "boot"), 0o755)
		os.WriteFile(filepath.Join(root, "boot", "vmlinuz-"+r), nil, 0o644)
		os.MkdirAll(filepath.Join(root, "lib/modules", r, "build"), 0o755)
		os.WriteFile(filepath.Join(root, "lib/modules", r, "build/Makefile"), nil, 0o644)
	}
	env, out, _ := testEnv(root)
	if code := Main(env, []string{"modlab", "kernels"}); code != 0 {
		t.Fatalf("exit %d", code)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "6.12.95+deb12-cloud-amd64 ") ||
		!strings.HasPrefix(lines[2], "6.1.0-50-cloud-amd64 ") {
		t.Errorf("kernels output:\n%s", out.String())
	}
	env, _, errb := testEnv(t.TempDir())
	if code := Main(env, []string{"modlab", "kernels"}); code != 1 || !strings.Contains(errb.String(), "modlab setup") {
		t.Errorf("no kernels: exit %d, stderr %q", code, errb.String())
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"modlab", "run"}, 2, "run needs one module folder"},
		{[]string{"modlab", "run", "--bogus", "x"}, 2, "unknown flag: --bogus"},
		{[]string{"modlab", "build"}, 2, "build needs a module folder"},
		{[]string{"modlab", "nosuch"}, 2, `unknown command "nosuch"`},
		{[]string{"modlab", "run", "x", "--kernel", "9.9"}, 1, `no kernel matches "9.9"`},
	} {
		env, _, errb := testEnv("")
		env.Getenv = os.Getenv
		code := Main(env, tc.args)
		if code != tc.code || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, errb.String(), tc.code, tc.want)
		}
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	env, out, _ := testEnv("")
	if code := Main(env, []string{"modlab", "help"}); code != 0 {
		t.Fatalf("help: exit %d", code)
	}
	for _, c := range Commands() {
		if !strings.Contains(out.String(), "  "+c.Name) {
			t.Errorf("help lacks %s", c.Name)
		}
	}
	env, out, _ = testEnv("")
	if code := Main(env, []string{"modlab", "run", "--help"}); code != 0 || !strings.Contains(out.String(), "--param") {
		t.Errorf("run --help: exit %d, %q", code, out.String())
	}
}
