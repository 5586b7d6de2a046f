package lab_test

// These tests boot the real kernels in QEMU. They need what scripts/setup.sh
// installs (kernels with headers, QEMU, busybox); `make test` runs it first.

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/modlab/modlab/internal/cli"
	"github.com/modlab/modlab/lab"
	"github.com/modlab/modlab/lab/proto"
)

// labSetup returns the kernels, the source root and a cache directory, or
// skips when the machine has no lab (the reason names the missing piece).
func labSetup(t *testing.T) ([]lab.Kernel, string, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("boots QEMU: not in -short mode")
	}
	ks, _ := lab.Kernels("/")
	if len(ks) == 0 {
		t.Skip("no kernel with headers installed: run scripts/setup.sh")
	}
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("qemu-system-x86_64 not installed: run scripts/setup.sh")
	}
	root, err := lab.FindSourceRoot(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	cache := lab.DefaultCacheDir(os.Getenv)
	return ks, root, cache
}

// writeModule writes a kbuild folder with one module, outside the repo.
func writeModule(t *testing.T, name, body string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	src := "// SPDX-License-Identifier: GPL-2.0\n#include <linux/module.h>\n" + body +
		"\nMODULE_LICENSE(\"GPL\");\n"
	os.WriteFile(filepath.Join(dir, name+".c"), []byte(src), 0o644)
	os.WriteFile(filepath.Join(dir, "Kbuild"), []byte("obj-m := "+name+".o\n"), 0o644)
	return dir
}

const paramModule = `
static int n = 1;
module_param(n, int, 0644);
MODULE_PARM_DESC(n, "a number");
static int __init m_init(void) { pr_info("usermod: n=%d\n", n); return 0; }
static void __exit m_exit(void) { pr_info("usermod: bye\n"); }
module_init(m_init);
module_exit(m_exit);`

// TestRunUserFolder is `modlab run` on a module folder that is not part of
// this repository: build, load with a parameter, run a command, unload, on
// every kernel.
func TestRunUserFolder(t *testing.T) {
	ks, _, cache := labSetup(t)
	dir := writeModule(t, "usermod", paramModule)
	var out, errb bytes.Buffer
	env := &cli.Env{Stdout: &out, Stderr: &errb, Getenv: func(k string) string {
		if k == "MODLAB_CACHE" {
			return cache
		}
		return os.Getenv(k)
	}}
	code := cli.Main(env, []string{"modlab", "run", dir, "--kernel", "all", "--param", "n=42",
		"--exec", "echo param=$(cat /sys/module/usermod/parameters/n); grep -c usermod /proc/modules"})
	if code != 0 {
		t.Fatalf("modlab run exited %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	got := out.String()
	for _, k := range ks {
		section := between(got, "== "+k.Release+": usermod", "\n== ")
		for _, want := range []string{"PASS insmod usermod.ko n=42", "PASS exec", "PASS rmmod usermod",
			"param=42\n1\n", "usermod: n=42", "usermod: bye"} {
			if !strings.Contains(section, want) {
				t.Errorf("%s: output lacks %q:\n%s", k.Release, want, section)
			}
		}
	}
	if !strings.Contains(got, "modlab: "+itoa(len(ks))+" passed, 0 failed") {
		t.Errorf("no closing line for %d kernels:\n%s", len(ks), got)
	}
	if _, err := os.Stat(filepath.Join(dir, "usermod.ko")); err == nil {
		t.Error("the build wrote into the source folder")
	}
}

func between(s, start, end string) string {
	i := strings.Index(s, start)
	if i < 0 {
		return ""
	}
	s = s[i:]
	if j := strings.Index(s[len(start):], end); j >= 0 {
		return s[:len(start)+j]
	}
	return s
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestFailures proves the lab's checks can fail, all in one boot per
// kernel: a module that hits WARN_ON, a bad parameter, a build error, a
// module that oopses, and a clean module after them (the guest survives
// the oops and the later units still run and pass).
func TestFailures(t *testing.T) {
	ks, root, cache := labSetup(t)
	bad := filepath.Join(t.TempDir(), "broken")
	os.MkdirAll(bad, 0o755)
	os.WriteFile(filepath.Join(bad, "broken.c"), []byte("int broken(void) { return }\n"), 0o644)
	os.WriteFile(filepath.Join(bad, "Kbuild"), []byte("obj-m := broken.o\n"), 0o644)
	units := []lab.UnitSpec{
		{Name: "warnon", Src: filepath.Join(root, "lab/testdata/warnon")},
		{Name: "badparam", Src: writeModule(t, "badparam", paramModule), Params: []string{"n=abc"}},
		{Name: "broken", Src: bad},
		{Name: "oops", Src: filepath.Join(root, "lab/testdata/oops")},
		{Name: "clean", Src: writeModule(t, "clean", paramModule), Exec: "cat /sys/module/clean/parameters/n"},
	}
	results, err := lab.Run(context.Background(), lab.Options{Kernels: ks, CacheDir: cache, SrcRoot: root}, units)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if r.Infra != "" {
			t.Fatalf("%s: lab error: %s", r.Kernel, r.Infra)
		}
		u := map[string]lab.UnitResult{}
		for _, x := range r.Units {
			u[x.Name] = x
		}
		w := u["warnon"]
		if w.Status != proto.Fail || len(w.Splats) == 0 || !strings.Contains(w.Splats[0], "WARNING:") ||
			!strings.Contains(w.Splats[0], "warnon") || !strings.Contains(w.BadTaint, "W") {
			t.Errorf("%s: warnon = %s %q, splats %q, bad taint %q; want a failure with the WARNING splat and taint W",
				r.Kernel, w.Status, w.Reason, w.Splats, w.BadTaint)
		}
		var table bytes.Buffer
		lab.WriteTable(&table, []lab.KernelResult{r})
		if !strings.Contains(table.String(), "warnon FAILED") || !strings.Contains(table.String(), "WARNING:") {
			t.Errorf("%s: the report does not show the splat:\n%s", r.Kernel, table.String())
		}
		b := u["badparam"]
		if b.Status != proto.Fail || len(b.Steps) == 0 || b.Steps[0].Errno != 22 ||
			!strings.Contains(b.Steps[0].Msg, "Invalid parameters") {
			t.Errorf("%s: badparam = %s, steps %+v; want insmod to fail with EINVAL", r.Kernel, b.Status, b.Steps)
		}
		if len(b.Splats) != 0 || b.BadTaint != "" {
			t.Errorf("%s: a rejected parameter left a bug report: %q %q", r.Kernel, b.Splats, b.BadTaint)
		}
		br := u["broken"]
		if br.Status != proto.Fail || !strings.Contains(br.Reason, "error:") || !strings.Contains(br.Reason, "broken.c") {
			t.Errorf("%s: broken = %s %q; want the compiler's error", r.Kernel, br.Status, br.Reason)
		}
		o := u["oops"]
		if o.Status != proto.Fail || len(o.Splats) == 0 || !strings.Contains(o.Splats[0], "BUG: kernel NULL pointer dereference") ||
			!strings.Contains(o.BadTaint, "D") {
			t.Errorf("%s: oops = %s %q, splats %q, bad taint %q; want a failure with the BUG splat and taint D",
				r.Kernel, o.Status, o.Reason, o.Splats, o.BadTaint)
		}
		c := u["clean"]
		if c.Status != proto.Pass || strings.Join(c.Output, "\n") != "1" {
			t.Errorf("%s: clean = %s %q, output %q; want a pass printing 1", r.Kernel, c.Status, c.Reason, c.Output)
		}
	}
}

// TestBootFailureIsRetried makes the kernel fail before /init is ready (no
// such init): the lab retries once and reports a lab error, not a module
// failure. One kernel is enough to prove the path; it costs two boots.
func TestBootFailureIsRetried(t *testing.T) {
	ks, root, cache := labSetup(t)
	units := []lab.UnitSpec{{Name: "clean", Src: writeModule(t, "clean", paramModule)}}
	results, err := lab.Run(context.Background(), lab.Options{Kernels: ks[len(ks)-1:], CacheDir: cache,
		SrcRoot: root, Append: "rdinit=/no/such/init"}, units)
	if err != nil {
		t.Fatal(err)
	}
	r := results[0]
	if r.Infra == "" || r.Retried == "" || r.OK() {
		t.Fatalf("infra = %q, retried = %q; want a retried boot and a lab error", r.Infra, r.Retried)
	}
	if !strings.Contains(r.Infra, "before /init was ready") {
		t.Errorf("lab error does not say the boot failed: %q", r.Infra)
	}
	var table bytes.Buffer
	lab.WriteTable(&table, results)
	if !strings.Contains(table.String(), "LAB ERROR") || !strings.Contains(table.String(), "retried") {
		t.Errorf("report lacks the lab error or the retry:\n%s", table.String())
	}
}
