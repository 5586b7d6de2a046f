package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modlab/modlab/lab"
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
	cache := t.TempDir()
	withCache := func(env *Env) {
		env.Getenv = func(k string) string {
			if k == "MODLAB_CACHE" {
				return cache
			}
			return ""
		}
	}
	env, out, errb := testEnv(root)
	withCache(env)
	if code := Main(env, []string{"modlab", "kernels"}); code != 0 {
		t.Fatalf("exit %d", code)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "6.12.95+deb12-cloud-amd64 ") ||
		!strings.HasPrefix(lines[2], "6.1.0-50-cloud-amd64 ") || !strings.Contains(lines[1], " debian ") {
		t.Errorf("kernels output:\n%s", out.String())
	}
	if !strings.Contains(errb.String(), "modlab kernels build-debug") {
		t.Errorf("no hint about the debug kernel: %q", errb.String())
	}

	// A debug kernel in the cache is listed after Debian's, with where it
	// came from.
	dir := filepath.Join(lab.KernelsDir(cache), "6.12.117-1_deb12u1-abababababab")
	rel := "6.12.117-modlab-debug"
	rec := lab.KernelRecord{Release: rel, Origin: lab.OriginDebug, Image: filepath.Join(dir, "vmlinuz-"+rel),
		ModDir: filepath.Join(dir, "modules/lib/modules", rel), BuildDir: filepath.Join(dir, "build"),
		SourcePackage: "linux-source-6.12", SourceVersion: "6.12.117-1~deb12u1", ConfigDigest: strings.Repeat("ab", 32)}
	os.MkdirAll(rec.ModDir, 0o755)
	os.MkdirAll(rec.BuildDir, 0o755)
	os.WriteFile(rec.Image, nil, 0o644)
	os.WriteFile(filepath.Join(rec.ModDir, "modules.dep"), nil, 0o644)
	os.WriteFile(filepath.Join(rec.BuildDir, "Makefile"), nil, 0o644)
	if err := lab.WriteKernelRecord(dir, rec); err != nil {
		t.Fatal(err)
	}
	env, out, errb = testEnv(root)
	withCache(env)
	if code := Main(env, []string{"modlab", "kernels"}); code != 0 {
		t.Fatalf("exit %d", code)
	}
	lines = strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[3], rel+" ") || !strings.Contains(lines[3], " modlab-debug ") ||
		!strings.Contains(lines[3], "linux-source-6.12 6.12.117-1~deb12u1") || errb.Len() != 0 {
		t.Errorf("kernels output with a debug kernel:\n%s\nstderr: %s", out.String(), errb.String())
	}
	env, out, _ = testEnv(root)
	withCache(env)
	if code := Main(env, []string{"modlab", "kernels", "--json"}); code != 0 {
		t.Fatalf("--json: exit %d", code)
	}
	var ks []lab.Kernel
	if err := json.Unmarshal(out.Bytes(), &ks); err != nil {
		t.Fatal(err)
	}
	if len(ks) != 3 || ks[0].Origin != lab.OriginDebian || ks[2].Origin != lab.OriginDebug || ks[2].BuildDir != rec.BuildDir {
		t.Errorf("kernels --json = %+v", ks)
	}

	env, _, errb = testEnv(t.TempDir())
	withCache(env)
	if code := Main(env, []string{"modlab", "kernels"}); code != 0 {
		t.Errorf("only a debug kernel: exit %d, stderr %q", code, errb.String())
	}
	env, _, errb = testEnv(t.TempDir())
	if code := Main(env, []string{"modlab", "kernels", "--cache", t.TempDir()}); code != 1 || !strings.Contains(errb.String(), "modlab setup") {
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
		{[]string{"modlab", "run", modFolder(t), "--kernel", "9.9"}, 1, `no kernel matches "9.9"`},
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

// modFolder is a kbuild folder good enough to pass the argument checks.
func modFolder(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "Kbuild"), []byte("obj-m := m.o\n"), 0o644)
	return dir
}

// TestMistakesBootNothing: a folder that does not exist or is no kbuild
// folder, and a --file that does not exist, are usage errors (exit 2)
// found before anything is built or booted: the cache stays empty.
func TestMistakesBootNothing(t *testing.T) {
	t.Parallel()
	noKbuild := t.TempDir()
	os.WriteFile(filepath.Join(noKbuild, "m.c"), []byte("int x;\n"), 0o644)
	notDir := filepath.Join(t.TempDir(), "file")
	os.WriteFile(notDir, nil, 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"modlab", "run", "/nonexistent", "--exec", "true"}, "module folder /nonexistent does not exist"},
		{[]string{"modlab", "run", noKbuild}, "has no Kbuild or Makefile: not a kbuild module folder"},
		{[]string{"modlab", "run", notDir}, "is not a directory"},
		{[]string{"modlab", "build", "/nonexistent"}, "module folder /nonexistent does not exist"},
		{[]string{"modlab", "run", modFolder(t), "--file", "/no/such/file"}, "--file: stat /no/such/file: no such file or directory"},
		{[]string{"modlab", "run", modFolder(t), "--file", ":/etc/x"}, "no host path"},
	} {
		cache := t.TempDir()
		env, _, errb := testEnv("")
		env.Getenv = func(k string) string {
			if k == "MODLAB_CACHE" {
				return cache
			}
			return os.Getenv(k)
		}
		code := Main(env, tc.args)
		if code != 2 || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, errb.String(), tc.want)
		}
		if ents, _ := os.ReadDir(cache); len(ents) != 0 {
			t.Errorf("%v: the cache got %d entries: something was built or booted", tc.args, len(ents))
		}
	}
}
