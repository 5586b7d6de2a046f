package lab_test

// These tests boot the real kernels in QEMU. They need what scripts/setup.sh
// installs (kernels with headers, QEMU, busybox); `make test` runs it first.

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modlab/modlab/internal/cli"
	"github.com/modlab/modlab/lab"
	"github.com/modlab/modlab/lab/accel"
	"github.com/modlab/modlab/lab/labtest"
	"github.com/modlab/modlab/lab/proto"
	"github.com/modlab/modlab/lab/vmslot"
)

// labSetup returns Debian's kernels (the tests that run "--kernel debian"
// expect one result each; lab/debug_vm_test.go covers the debug kernel),
// the source root and a cache directory, or skips when the machine has no
// lab (the reason names the missing piece).
func labSetup(t *testing.T) ([]lab.Kernel, string, string) {
	t.Helper()
	return labtest.Setup(t)
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

// cacheEnv is a CLI environment with the lab's cache and buffers for its
// output.
func cacheEnv(cache string) (*cli.Env, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	return &cli.Env{Stdout: &out, Stderr: &errb, Getenv: func(k string) string {
		if k == "MODLAB_CACHE" {
			return cache
		}
		return os.Getenv(k)
	}}, &out, &errb
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
	t.Parallel() // VM tests overlap: one VM rarely keeps both CPUs busy
	ks, _, cache := labSetup(t)
	dir := writeModule(t, "usermod", paramModule)
	env, out, errb := cacheEnv(cache)
	code := cli.Main(env, []string{"modlab", "run", dir, "--kernel", "debian", "--param", "n=42",
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

// lineOf is the number of the first line of file that contains text.
func lineOf(t *testing.T, file, text string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, text) {
			return itoa(i + 1)
		}
	}
	t.Fatalf("%s has no line with %q", file, text)
	return ""
}

// TestFailures proves the lab's checks can fail, all in one boot per
// kernel: a module that hits WARN_ON, a bad parameter, a build error, a
// module that oopses, a clean module after them (the guest survives the
// oops and the later units still run and pass), and a module whose init
// returns -ENOSYS (the report says so and shows its own log line, not "no
// module support").
func TestFailures(t *testing.T) {
	t.Parallel() // VM tests overlap: one VM rarely keeps both CPUs busy
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
		{Name: "nosys", Src: writeModule(t, "nosys", nosysModule)},
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
		// The reports point at the modules' own source lines.
		if want := "(warnon.c:" + lineOf(t, filepath.Join(root, "lab/testdata/warnon/warnon.c"), "WARN_ONCE(1,") + ")"; len(w.Splats) == 0 ||
			!strings.Contains(w.Splats[0], want) {
			t.Errorf("%s: the warnon report does not name %s:\n%s", r.Kernel, want, strings.Join(w.Splats, "\n"))
		}
		o := u["oops"]
		if want := "[oops] (oops.c:" + lineOf(t, filepath.Join(root, "lab/testdata/oops/oops.c"), "*target = 1;") + ")"; len(o.Splats) == 0 ||
			!strings.Contains(o.Splats[0], "RIP: 0010:nullderef_init+") || !strings.Contains(o.Splats[0], want) {
			t.Errorf("%s: the oops report does not name %s on its RIP line:\n%s", r.Kernel, want, strings.Join(o.Splats, "\n"))
		}
		if o.Status != proto.Fail || len(o.Splats) == 0 || !strings.Contains(o.Splats[0], "BUG: kernel NULL pointer dereference") ||
			!strings.Contains(o.BadTaint, "D") {
			t.Errorf("%s: oops = %s %q, splats %q, bad taint %q; want a failure with the BUG splat and taint D",
				r.Kernel, o.Status, o.Reason, o.Splats, o.BadTaint)
		}
		n := u["nosys"]
		var msg string
		if len(n.Steps) > 0 {
			msg = n.Steps[0].Msg
		}
		if n.Status != proto.Fail || len(n.Steps) == 0 || n.Steps[0].Errno != 38 ||
			!strings.Contains(msg, "the module's init function returned -ENOSYS") ||
			!strings.Contains(msg, "kernel log: nosys: no GPIO for the LEDs, giving up") ||
			strings.Contains(msg, "CONFIG_MODULES") {
			t.Errorf("%s: nosys = %s, steps %+v; want insmod to fail saying init returned -ENOSYS, with its log line",
				r.Kernel, n.Status, n.Steps)
		}
		if len(n.Splats) != 0 || n.BadTaint != "" {
			t.Errorf("%s: a module that refused to load left a bug report: %q %q", r.Kernel, n.Splats, n.BadTaint)
		}
		if !strings.Contains(table.String(), "init function returned -ENOSYS") {
			t.Errorf("%s: the report does not say init returned -ENOSYS:\n%s", r.Kernel, table.String())
		}
		if w.Status != proto.Fail || len(w.Splats) == 0 || !strings.HasPrefix(w.Splats[0], "WARNING: CPU: ") ||
			!strings.Contains(w.Splats[0], "---[ end trace") {
			t.Errorf("%s: warnon = %s, splats %q; want a failure with the whole WARNING report", r.Kernel, w.Status, w.Splats)
		}
		if o.Status != proto.Fail || len(o.Splats) == 0 ||
			!strings.HasPrefix(o.Splats[0], "BUG: kernel NULL pointer dereference") ||
			!strings.Contains(o.Splats[0], "Oops: ") || !strings.Contains(o.Splats[0], "---[ end trace") {
			t.Errorf("%s: oops = %s, splats %q; want a failure with the whole NULL-dereference report", r.Kernel, o.Status, o.Splats)
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
	t.Parallel() // VM tests overlap: one VM rarely keeps both CPUs busy
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

// buildModlab builds the modlab binary into dir/bin, as `make build` does.
func buildModlab(t *testing.T, root, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "bin", "modlab")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd/modlab")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// installedEnv is the environment of a person who installed the binary:
// no MODLAB_SRC, the binary's folder first on PATH, our cache.
func installedEnv(binDir, cache string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MODLAB_SRC=") && !strings.HasPrefix(kv, "PATH=") {
			env = append(env, kv)
		}
	}
	return append(env, "PATH="+binDir+":"+os.Getenv("PATH"), "MODLAB_CACHE="+cache)
}

// TestInstalledBinary is modlab as people use it: the binary copied out of
// the repository, run from a folder outside it with MODLAB_SRC unset, on a
// module folder of their own. In the guest, the tools are ours: the same
// binary is /init, and lsmod, modinfo... answer before busybox's applets.
func TestInstalledBinary(t *testing.T) {
	t.Parallel() // VM tests overlap: one VM rarely keeps both CPUs busy
	ks, root, cache := labSetup(t)
	home := t.TempDir()
	bin := buildModlab(t, root, home)
	dir := writeModule(t, "usermod", paramModule)
	// Go userland in the folder travels too, built for the guest.
	os.MkdirAll(filepath.Join(dir, "cmd", "greet"), 0o755)
	os.WriteFile(filepath.Join(dir, "cmd", "greet", "main.go"), []byte(`package main

import (
	"fmt"
	"os"
)

func main() {
	n, err := os.ReadFile("/sys/module/usermod/parameters/n")
	fmt.Printf("greet: n=%s err=%v\n", n[:len(n)-1], err)
}
`), 0o644)
	data := filepath.Join(home, "data.txt")
	os.WriteFile(data, []byte("from the host\n"), 0o644)
	cmd := exec.Command(bin, "run", dir, "--kernel", "debian", "--param", "n=7",
		"--file", data, "--file", data+":/etc/modlab-test/copy.txt",
		"--exec", "lsmod | head -1; type lsmod; cat files/data.txt /etc/modlab-test/copy.txt; "+
			"modinfo -F parm usermod.ko; cat /sys/module/usermod/parameters/n; greet")
	cmd.Dir = home
	cmd.Env = installedEnv(filepath.Dir(bin), cache)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %v\n%s", cmd.Args, err, out)
	}
	got := string(out)
	for _, k := range ks {
		section := between(got, "== "+k.Release+": usermod", "\n== ")
		want := "-- output\nModule                  Size  Used by\nlsmod is a function\n" +
			"from the host\nfrom the host\nn:a number (int)\n7\ngreet: n=7 err=<nil>\n"
		if !strings.Contains(section, want) {
			t.Errorf("%s: output lacks\n%s\nin:\n%s", k.Release, want, section)
		}
	}
	if !strings.Contains(got, "modlab: "+itoa(len(ks))+" passed, 0 failed") {
		t.Errorf("no closing line for %d kernels:\n%s", len(ks), got)
	}
	// The set-up script travels inside the binary.
	setup := exec.Command(bin, "setup", "--check")
	setup.Dir = home
	setup.Env = installedEnv(filepath.Dir(bin), cache)
	if out, err := setup.CombinedOutput(); err != nil || !strings.Contains(string(out), "setup: everything is installed") {
		t.Errorf("modlab setup --check from the installed binary: %v\n%s", err, out)
	}
	// modlab test needs the source tree, and says so.
	test := exec.Command(bin, "test", "hello")
	test.Dir = home
	test.Env = installedEnv(filepath.Dir(bin), cache)
	if out, err := test.CombinedOutput(); err == nil || !strings.Contains(string(out), "built from modlab's source tree") {
		t.Errorf("modlab test outside the tree: %v\n%s", err, out)
	}
}

// TestAccelKVM: where KVM does not work (these machines: /dev/kvm exists,
// a guest under it hangs), --accel kvm fails at once with the reason, and
// the default picks TCG and says why in one line.
func TestAccelKVM(t *testing.T) {
	t.Parallel() // VM tests overlap: one VM rarely keeps both CPUs busy
	ks, _, cache := labSetup(t)
	c, err := accel.Choose(context.Background(), accel.Options{Mode: accel.Auto, CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	if c.Accel == accel.KVM {
		t.Skip("KVM works on this machine: nothing to fall back from")
	}
	dir := writeModule(t, "usermod", paramModule)
	run := func(args ...string) (int, string) {
		env, _, errb := cacheEnv(cache)
		code := cli.Main(env, append([]string{"modlab", "run", dir, "--kernel", ks[0].Release}, args...))
		return code, errb.String()
	}
	if code, errs := run("--accel", "kvm"); code != 1 || !strings.Contains(errs, "KVM is not usable") {
		t.Errorf("--accel kvm: exit %d, stderr %q; want 1 and why KVM is not usable", code, errs)
	}
	code, errs := run("--exec", "true")
	if code != 0 || strings.Count(errs, "using TCG") != 1 {
		t.Errorf("default accelerator: exit %d, stderr %q; want a pass and one line saying why TCG", code, errs)
	}
}

// TestInstalledShell: `modlab run --shell` gives a shell in which lsmod is
// ours (kmod's header, not busybox's "Used by    Tainted").
func TestInstalledShell(t *testing.T) {
	t.Parallel() // VM tests overlap: one VM rarely keeps both CPUs busy
	ks, root, cache := labSetup(t)
	home := t.TempDir()
	bin := buildModlab(t, root, home)
	dir := writeModule(t, "usermod", paramModule)
	cmd := exec.Command(bin, "run", dir, "--kernel", ks[len(ks)-1].Release, "--shell")
	cmd.Dir = home
	cmd.Env = installedEnv(filepath.Dir(bin), cache)
	stdin, _ := cmd.StdinPipe()
	pr, pw, _ := os.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	var out bytes.Buffer
	buf := make([]byte, 4096)
	sent := false
	for {
		n, err := pr.Read(buf)
		out.Write(buf[:n])
		if !sent && strings.Contains(out.String(), "modlab:") && strings.Contains(out.String(), "# ") {
			io.WriteString(stdin, "lsmod; echo shell-done; exit\n")
			sent = true
		}
		if err != nil {
			break
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("modlab run --shell: %v\n%s", err, out.String())
	}
	got := strings.ReplaceAll(out.String(), "\r", "")
	if !regexp.MustCompile(`(?m)^Module +Size +Used by\n(.*\n)*usermod +\d+ +0 *\n`).MatchString(got) ||
		strings.Contains(got, "Not tainted") || !strings.Contains(got, "shell-done") {
		t.Errorf("the shell's lsmod is not ours or the module is missing:\n%s", got)
	}
}

// TestUnknownParam: a --param that no module of the folder declares is a
// usage error (exit 2) that lists the parameters the modules do have.
func TestUnknownParam(t *testing.T) {
	t.Parallel() // VM tests overlap: one VM rarely keeps both CPUs busy
	ks, _, cache := labSetup(t)
	dir := writeModule(t, "usermod", paramModule)
	env, _, errb := cacheEnv(cache)
	code := cli.Main(env, []string{"modlab", "run", dir, "--kernel", ks[0].Release, "--param", "count=3"})
	if code != 2 || !strings.Contains(errb.String(), `no module of the folder declares a parameter "count" (declared: n)`) {
		t.Errorf("exit %d, stderr %q; want 2 and the declared parameters", code, errb.String())
	}
}

// TestHostVMSlots: with the host's only VM slot taken (by this test, as
// another modlab process would), a run of both of Debian's kernels
// prepares them, each says it waits for a slot, and none boots before the
// slot is free; then they run one after the other, as usual. The unit
// prints the guest's command line, which carries the lab's tsc=reliable,
// and the clock the kernel uses, the TSC. The run has a cache of its own,
// whose slots no other test uses.
func TestHostVMSlots(t *testing.T) {
	t.Parallel() // VM tests overlap: one VM rarely keeps both CPUs busy
	ks, root, _ := labSetup(t)
	cache := t.TempDir()
	held, err := vmslot.Pool{Dir: filepath.Join(cache, "vm-slots"), N: 1}.TryAcquire()
	if err != nil || held == nil {
		t.Fatalf("take the only slot: %v, %v", held, err)
	}
	var mu sync.Mutex
	var released time.Time
	waited := map[string]bool{}
	booted := map[string]time.Time{}
	progress := func(k, status string) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case status == "waiting for a VM slot (1 VMs at once on this host)":
			if len(waited) == 0 {
				go func() {
					time.Sleep(time.Second)
					mu.Lock()
					released = time.Now()
					held.Release()
					mu.Unlock()
				}()
			}
			waited[k] = true
		case status == "booting" && booted[k].IsZero():
			booted[k] = time.Now()
		}
	}
	units := []lab.UnitSpec{{Name: "usermod", Src: writeModule(t, "usermod", paramModule),
		Exec: "cat /proc/cmdline /sys/devices/system/clocksource/clocksource0/current_clocksource"}}
	results, err := lab.Run(context.Background(), lab.Options{Kernels: ks, CacheDir: cache,
		SrcRoot: root, HostVMs: 1, Progress: progress}, units)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if released.IsZero() {
		t.Fatal("no kernel said it waits for a slot")
	}
	for _, r := range results {
		if !waited[r.Kernel] {
			t.Errorf("%s never said it waits for a slot", r.Kernel)
		}
		if b := booted[r.Kernel]; b.Before(released) {
			t.Errorf("%s booted %v before the slot was free", r.Kernel, released.Sub(b))
		}
		u := r.Units[0]
		if r.Infra != "" || u.Status != proto.Pass {
			t.Errorf("%s: lab error %q, usermod %s; want a pass", r.Kernel, r.Infra, u.Status)
			continue
		}
		if out := strings.Join(u.Output, "\n"); !strings.Contains(" "+out+" ", " tsc=reliable ") || !strings.HasSuffix(out, "\ntsc") {
			t.Errorf("%s: command line and clock source %q; want tsc=reliable on the line, and tsc", r.Kernel, out)
		}
	}
}
