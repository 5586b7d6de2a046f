package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/modlab/modlab/lab"
)

// fixtureKernel makes a kernel build tree whose .config has gcov or not.
func fixtureKernel(t *testing.T, root, release string, gcov bool) lab.Kernel {
	t.Helper()
	build := filepath.Join(root, "lib/modules", release, "build")
	os.MkdirAll(build, 0o755)
	os.MkdirAll(filepath.Join(root, "boot"), 0o755)
	os.WriteFile(filepath.Join(root, "boot", "vmlinuz-"+release), nil, 0o644)
	os.WriteFile(filepath.Join(build, "Makefile"), nil, 0o644)
	config := "# CONFIG_GCOV_KERNEL is not set\n"
	if gcov {
		config = "CONFIG_GCOV_KERNEL=y\n"
	}
	os.WriteFile(filepath.Join(build, ".config"), []byte(config), 0o644)
	return lab.Kernel{Release: release, BuildDir: build}
}

// TestCoverageNeedsGcov: --coverage (or --coverage-dir) when no selected
// kernel has gcov is a usage error found before anything is built or
// booted, and it says which kernel to use.
func TestCoverageNeedsGcov(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	fixtureKernel(t, root, "6.1.0-50-cloud-amd64", false)
	fixtureKernel(t, root, "6.12.95+deb12-cloud-amd64", false)
	for _, args := range [][]string{
		{"modlab", "run", modFolder(t), "--coverage"},
		{"modlab", "run", modFolder(t), "--kernel", "6.1", "--coverage-dir", t.TempDir()},
	} {
		cache := t.TempDir()
		env, _, errb := testEnv(root)
		env.Getenv = func(k string) string {
			if k == "MODLAB_CACHE" {
				return cache
			}
			return ""
		}
		code := Main(env, args)
		if code != 2 || !strings.Contains(errb.String(), "--coverage needs a kernel built with gcov (CONFIG_GCOV_KERNEL=y)") ||
			!strings.Contains(errb.String(), "use --kernel debug") {
			t.Errorf("%v: exit %d, stderr %q; want 2 and a word about --kernel debug", args, code, errb.String())
		}
		if ents, _ := os.ReadDir(cache); len(ents) != 0 {
			t.Errorf("%v: the cache got %d entries: something was built or booted", args, len(ents))
		}
	}
}

// TestCoverageSomeKernels: with a gcov kernel among the selected ones,
// coverage goes to an absolute directory and the user hears which kernels
// give none.
func TestCoverageSomeKernels(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	o := lab.Options{Kernels: []lab.Kernel{
		fixtureKernel(t, root, "6.1.0-50-cloud-amd64", false),
		fixtureKernel(t, root, "6.12.117-modlab-debug", true),
	}}
	env, _, errb := testEnv(root)
	var c coverageFlags
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	c.register(fs)
	if err := fs.Parse([]string{"--coverage"}); err != nil {
		t.Fatal(err)
	}
	if err := c.apply(env, &o); err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(o.CoverageDir) || filepath.Base(o.CoverageDir) != defaultCoverageDir {
		t.Errorf("coverage dir %q, want ./%s made absolute", o.CoverageDir, defaultCoverageDir)
	}
	if got := errb.String(); !strings.Contains(got, "no coverage on 6.1.0-50-cloud-amd64") || strings.Contains(got, "modlab-debug") {
		t.Errorf("stderr %q: want a word about 6.1 only", got)
	}
	// Without --coverage nothing changes.
	o.CoverageDir = ""
	var off coverageFlags
	off.register(pflag.NewFlagSet("run", pflag.ContinueOnError))
	if err := off.apply(env, &o); err != nil || o.CoverageDir != "" {
		t.Errorf("without --coverage: %v, dir %q", err, o.CoverageDir)
	}
}
