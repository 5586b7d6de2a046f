package cli

import (
	"bufio"
	"bytes"
	"flag"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var updateModinfo = flag.Bool("modinfo-update", false, "rewrite testdata/modinfo/*.stdout|stderr from kmod's /sbin/modinfo")

const kmodModinfo = "/sbin/modinfo"

// runModinfoArgs runs modinfo in-process as the binary would, and returns
// its stdout, stderr and exit status.
func runModinfoArgs(env *Env, args ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	e := *env
	e.Stdout, e.Stderr = &out, &errb
	if e.Getenv == nil {
		e.Getenv = func(string) string { return "" }
	}
	code = report(&e, "modinfo", runModinfo(&e, args))
	return out.String(), errb.String(), code
}

// runKmod runs kmod's modinfo.
func runKmod(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command(kmodModinfo, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", kmodModinfo, err)
	}
	return out.String(), errb.String(), code
}

func testdataDirs(t *testing.T) (modules, root string) {
	t.Helper()
	m, err := filepath.Abs("../../kmod/modfile/testdata")
	if err != nil {
		t.Fatal(err)
	}
	r, err := filepath.Abs("testdata/modinfo/root")
	if err != nil {
		t.Fatal(err)
	}
	return m, r
}

// TestModinfoGolden compares modinfo with outputs recorded from kmod 30's
// modinfo on the same files and fixture module directory (the .stdout and
// .stderr files in testdata/modinfo/golden; run with -modinfo-update to record them again). @T@
// stands for kmod/modfile/testdata and @R@ for testdata/modinfo/root.
func TestModinfoGolden(t *testing.T) {
	mods, root := testdataDirs(t)
	const rel = "-b @R@ -k 9.9.9-modlab "
	for _, tc := range []struct {
		name string
		args string
		code int
	}{
		{"sample", "@T@/modinfo_sample.ko", 0},
		{"sample-null", "-0 @T@/modinfo_sample.ko", 0},
		{"sample-parm", "-p @T@/modinfo_sample.ko", 0},
		{"sample-parm-null", "-0 -F parm @T@/modinfo_sample.ko", 0},
		{"sample-author", "-a @T@/modinfo_sample.ko", 0},
		{"sample-last-field-wins", "-a --field license @T@/modinfo_sample.ko", 0},
		{"sample-filename", "-n @T@/modinfo_sample.ko", 0},
		{"sample-description-long", "--description @T@/modinfo_sample.ko", 0},
		{"signed-xz", "@T@/modinfo_sample_signed.ko.xz", 0},
		{"signed-zst-signature", "-F signature @T@/modinfo_sample_signed.ko.zst", 0},
		{"signed-null", "-0 @T@/modinfo_sample_signed.ko.xz", 0},
		{"debian", "@T@/xt_pkttype-6.1.ko @T@/em_u32-6.12.ko.xz", 0},
		{"debian-depends", "-F depends @T@/xt_pkttype-6.1.ko @T@/em_u32-6.12.ko.xz", 0},
		{"name", rel + "modinfo-sample", 0},
		{"alias", rel + "modinfo-sample-alias", 0},
		{"pci-alias", rel + "pci:v0000ABCDd00001234sv1sd2bc3sc4i5", 0},
		{"builtin", rel + "ext4 crc-ccitt", 0},
		{"builtin-alias", rel + "fs-ext4", 0},
		{"builtin-name-field", rel + "-F name ext4", 0},
		{"builtin-filename-field", rel + "-n ext4", 0},
		{"builtin-null", "-0 " + rel + "ext4", 0},
		{"builtin-parm", rel + "-p ext4", 0},
		{"modname", rel + "-m em-u32", 0},
		{"not-found", rel + "nosuchmodule", 1},
		{"modname-not-alias", rel + "-m modinfo-sample-alias", 1},
		{"mixed", rel + "nosuch @T@/modinfo_sample.ko em_u32", 1},
		{"no-module-dir", "-b @R@ -k 0.0.0-none ext4", 1},
		{"missing-argument", "-0", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := strings.Fields(strings.NewReplacer("@T@", mods, "@R@", root).Replace(tc.args))
			golden := filepath.Join("testdata", "modinfo", "golden", tc.name)
			hide := strings.NewReplacer(mods, "@T@", root, "@R@")
			if *updateModinfo {
				if _, err := os.Stat(kmodModinfo); err != nil {
					t.Skipf("cannot record: %v", err)
				}
				out, errs, code := runKmod(t, args...)
				if code != tc.code {
					t.Fatalf("kmod exited %d, the table says %d", code, tc.code)
				}
				if err := os.WriteFile(golden+".stdout", []byte(hide.Replace(out)), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden+".stderr", []byte(hide.Replace(errs)), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			t.Parallel()
			wantOut, err := os.ReadFile(golden + ".stdout")
			if err != nil {
				t.Fatal(err)
			}
			wantErr, err := os.ReadFile(golden + ".stderr")
			if err != nil {
				t.Fatal(err)
			}
			out, errs, code := runModinfoArgs(&Env{}, args...)
			if code != tc.code {
				t.Errorf("exit status %d, want %d", code, tc.code)
			}
			if got := hide.Replace(out); got != string(wantOut) {
				t.Errorf("stdout differs from kmod's:\n got: %q\nwant: %q", got, wantOut)
			}
			if got := hide.Replace(errs); got != string(wantErr) {
				t.Errorf("stderr differs from kmod's:\n got: %q\nwant: %q", got, wantErr)
			}
		})
	}
}

// TestModinfoBeyondKmod covers what kmod 30 as Debian builds it cannot
// do, or says less precisely.
func TestModinfoBeyondKmod(t *testing.T) {
	t.Parallel()
	mods, _ := testdataDirs(t)
	dir := t.TempDir()
	trunc := filepath.Join(dir, "trunc.ko")
	sample, err := os.ReadFile(filepath.Join(mods, "modinfo_sample.ko"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(trunc, sample[:2000], 0o644); err != nil {
		t.Fatal(err)
	}
	badxz := filepath.Join(dir, "bad.ko.xz")
	if err := os.WriteFile(badxz, []byte("\xfd7zXZ\x00garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		args       []string
		code       int
		stdout     string // prefix
		stderrPart string
	}{
		// Debian's kmod is built without zlib; modlab reads .ko.gz too.
		{"gzip", []string{"-F", "name", filepath.Join(mods, "modinfo_sample.ko.gz")}, 0, "modinfo_sample\n", ""},
		// Errors name the file and what is wrong with it.
		{"truncated", []string{trunc}, 1, "filename:       " + trunc + "\n",
			"modinfo: ERROR: could not get modinfo from 'trunc': " + trunc + ": truncated ELF"},
		{"bad-xz", []string{badxz}, 1, "filename:       " + badxz + "\n",
			"modinfo: ERROR: could not get modinfo from 'bad': " + badxz + ": bad xz stream"},
		// -n does not read the file, as in kmod.
		{"filename-only", []string{"-n", trunc}, 0, trunc + "\n", ""},
		// getopt's words for bad options, and its abbreviations.
		{"bad-flag", []string{"--bogus"}, 1, "", "modinfo: unrecognized option '--bogus'\n"},
		{"bad-short-flag", []string{"-x"}, 1, "", "modinfo: invalid option -- 'x'\n"},
		{"missing-value", []string{"-F"}, 1, "", "modinfo: option requires an argument -- 'F'\n"},
		{"missing-long-value", []string{"--field"}, 1, "", "modinfo: option '--field' requires an argument\n"},
		{"abbreviation", []string{"--auth", filepath.Join(mods, "modinfo_sample.ko")}, 0, "A. N. Other <other@example.org>\nmodlab\n", ""},
		{"help", []string{"--help"}, 0, "Usage:\n\tmodinfo [options] <modulename|filename> [args]\nOptions:\n\t-a, --author", ""},
		{"version", []string{"-V"}, 0, "kmod version 30\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, errs, code := runModinfoArgs(&Env{}, tc.args...)
			if code != tc.code {
				t.Errorf("exit status %d, want %d (stderr %q)", code, tc.code, errs)
			}
			if !strings.HasPrefix(out, tc.stdout) {
				t.Errorf("stdout = %q, want it to start with %q", out, tc.stdout)
			}
			if tc.stderrPart == "" && errs != "" || !strings.Contains(errs, tc.stderrPart) {
				t.Errorf("stderr = %q, want %q in it", errs, tc.stderrPart)
			}
		})
	}
}

// TestModinfoRelease checks where the kernel release comes from when -k
// is not given: MODLAB_RELEASE, and the root from MODLAB_ROOT (Env.Root).
func TestModinfoRelease(t *testing.T) {
	t.Parallel()
	_, root := testdataDirs(t)
	env := &Env{Root: root, Getenv: func(k string) string {
		if k == "MODLAB_RELEASE" {
			return "9.9.9-modlab"
		}
		return ""
	}}
	out, errs, code := runModinfoArgs(env, "-F", "filename", "em-u32", "ext4")
	want := root + "/lib/modules/9.9.9-modlab/kernel/net/em_u32.ko.xz\n(builtin)\n"
	if code != 0 || out != want {
		t.Errorf("got %q (stderr %q, status %d), want %q", out, errs, code, want)
	}
}

// kernelModules lists the module files of every kernel under /lib/modules.
func kernelModules(t *testing.T) map[string][]string {
	t.Helper()
	if _, err := os.Stat(kmodModinfo); err != nil {
		t.Skipf("kmod's modinfo is not installed (%v); scripts/setup.sh installs it", err)
	}
	ents, err := os.ReadDir("/lib/modules")
	if err != nil {
		t.Skipf("no /lib/modules (%v); scripts/setup.sh installs the kernels", err)
	}
	out := map[string][]string{}
	for _, e := range ents {
		dir := filepath.Join("/lib/modules", e.Name())
		var files []string
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && (d.Name() == "build" || d.Name() == "source") && filepath.Dir(p) == dir {
				return filepath.SkipDir
			}
			if d.Type().IsRegular() && isModuleFilename(p) {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(files) > 0 {
			out[e.Name()] = files
		}
	}
	if len(out) == 0 {
		t.Skip("no kernel modules under /lib/modules; scripts/setup.sh installs the kernels")
	}
	return out
}

// TestModinfoMatchesKmod runs modinfo over every module file of every
// installed kernel, in one invocation per kernel and mode, and requires
// the output of kmod's modinfo byte for byte.
func TestModinfoMatchesKmod(t *testing.T) {
	kernels := kernelModules(t)
	modes := [][]string{nil, {"-0"}, {"-F", "depends"}, {"-F", "parm"}, {"-F", "signer"}, {"-F", "sig_key"}}
	if testing.Short() {
		modes = modes[:2]
	}
	for rel, files := range kernels {
		for _, mode := range modes {
			t.Run(rel+"/"+strings.Join(append([]string{"all"}, mode...), " "), func(t *testing.T) {
				t.Parallel()
				args := append(append([]string{}, mode...), files...)
				want, wantErr, wantCode := runKmod(t, args...)
				got, gotErr, gotCode := runModinfoArgs(&Env{}, args...)
				if gotCode != wantCode || gotErr != wantErr {
					t.Errorf("%d modules: status %d, stderr %q; kmod: %d, %q", len(files), gotCode, gotErr, wantCode, wantErr)
				}
				if got == want {
					t.Logf("%d modules, %d bytes of output alike", len(files), len(got))
					return
				}
				t.Errorf("output differs from kmod's for %d modules", len(files))
				// Find the first module that differs, for the report.
				for _, f := range files {
					a := append(append([]string{}, mode...), f)
					w, _, _ := runKmod(t, a...)
					g, _, _ := runModinfoArgs(&Env{}, a...)
					if w != g {
						t.Fatalf("first difference: %s\n got: %q\nwant: %q", f, g, w)
					}
				}
			})
		}
	}
}

// TestModinfoNamesMatchKmod looks up a sample of module names, aliases and
// builtin modules of each installed kernel by name, with -k, and requires
// kmod's output.
func TestModinfoNamesMatchKmod(t *testing.T) {
	kernels := kernelModules(t)
	for rel := range kernels {
		t.Run(rel, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join("/lib/modules", rel)
			var names []string
			every := func(file string, n int, pick func(string) string) {
				f, err := os.Open(filepath.Join(dir, file))
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				sc := bufio.NewScanner(f)
				for i := 0; sc.Scan(); i++ {
					if i%n == 0 {
						if s := pick(sc.Text()); s != "" {
							names = append(names, s)
						}
					}
				}
			}
			// Module names from modules.dep, half of them with '-' for '_'.
			flip := false
			every("modules.dep", 9, func(l string) string {
				path, _, _ := strings.Cut(l, ":")
				n := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
				n = strings.TrimSuffix(strings.TrimSuffix(n, ".ko"), ".ko")
				if flip = !flip; flip {
					n = strings.ReplaceAll(n, "_", "-")
				}
				return n
			})
			// Aliases without glob characters, and builtin modules.
			every("modules.alias", 23, func(l string) string {
				f := strings.Fields(l)
				if len(f) != 3 || f[0] != "alias" || strings.ContainsAny(f[1], "*?[") {
					return ""
				}
				return f[1]
			})
			every("modules.builtin", 11, func(l string) string {
				return strings.TrimSuffix(filepath.Base(l), ".ko")
			})
			names = append(names, "no-such-module-anywhere")
			args := append([]string{"-k", rel}, names...)
			want, wantErr, wantCode := runKmod(t, args...)
			got, gotErr, gotCode := runModinfoArgs(&Env{}, args...)
			if gotCode != wantCode || gotErr != wantErr {
				t.Errorf("status %d, stderr %q; kmod: %d, %q", gotCode, gotErr, wantCode, wantErr)
			}
			if got != want {
				for _, n := range names {
					w, _, _ := runKmod(t, "-k", rel, n)
					g, _, _ := runModinfoArgs(&Env{}, "-k", rel, n)
					if w != g {
						t.Fatalf("first difference: %s\n got: %q\nwant: %q", n, g, w)
					}
				}
				t.Fatal("output differs from kmod's")
			}
			t.Logf("%d names, %d bytes of output alike", len(names), len(got))
		})
	}
}

// BenchmarkModinfoAll runs modinfo over every module of every installed
// kernel in one call per kernel, against kmod's modinfo doing the same
// (scripts/bench-modinfo.sh adds the peak memory and the ratio).
func BenchmarkModinfoAll(b *testing.B) {
	if _, err := os.Stat(kmodModinfo); err != nil {
		b.Skipf("kmod's modinfo is not installed: %v", err)
	}
	kernels := map[string][]string{}
	ents, _ := os.ReadDir("/lib/modules")
	for _, e := range ents {
		dir := filepath.Join("/lib/modules", e.Name())
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && (d.Name() == "build" || d.Name() == "source") && filepath.Dir(p) == dir {
				return filepath.SkipDir
			}
			if d.Type().IsRegular() && isModuleFilename(p) {
				kernels[e.Name()] = append(kernels[e.Name()], p)
			}
			return nil
		})
	}
	if len(kernels) == 0 {
		b.Skip("no modules under /lib/modules")
	}
	b.Run("modlab", func(b *testing.B) {
		env := &Env{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" }}
		for b.Loop() {
			for _, files := range kernels {
				if err := runModinfo(env, files); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("kmod", func(b *testing.B) {
		for b.Loop() {
			for _, files := range kernels {
				cmd := exec.Command(kmodModinfo, files...)
				if err := cmd.Run(); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
