package lab_test

// In-VM tests of the lab's verdicts on the words a module logs and on a
// module whose init refuses to load. Like vm_test.go, they boot the real
// kernels (skipped in -short mode).

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modlab/modlab/internal/cli"
	"github.com/modlab/modlab/lab"
	"github.com/modlab/modlab/lab/proto"
)

// TestLookalikePasses is `modlab run lab/testdata/lookalike` on every
// kernel: a module that logs "BUG:", "WARNING:", "Oops", "Kernel panic"...
// in its own messages has no bug, and the run passes.
func TestLookalikePasses(t *testing.T) {
	ks, root, cache := labSetup(t)
	var out, errb bytes.Buffer
	env := &cli.Env{Stdout: &out, Stderr: &errb, Getenv: func(k string) string {
		if k == "MODLAB_CACHE" {
			return cache
		}
		return os.Getenv(k)
	}}
	code := cli.Main(env, []string{"modlab", "run", filepath.Join(root, "lab/testdata/lookalike"), "--kernel", "all"})
	got := out.String()
	if code != 0 {
		t.Fatalf("modlab run exited %d\nstdout:\n%s\nstderr:\n%s", code, got, errb.String())
	}
	for _, k := range ks {
		section := between(got, "== "+k.Release+": lookalike", "\n== ")
		// The look-alikes did reach the kernel log, from init and exit.
		for _, want := range []string{"PASS insmod lookalike.ko", "PASS rmmod lookalike",
			"] WARNING: this is only a test\n", "] Oops, the device went away\n", "] refcount_t: my own words\n",
			"] kernel BUG at the office\n", "] lookalike: Oops: 0002 [#1] PREEMPT SMP NOPTI\n",
			"] lookalike: refcount_t: underflow; use-after-free.\n", "] lookalike: exit: BUG: counter wrapped\n"} {
			if !strings.Contains(section, want) {
				t.Errorf("%s: output lacks %q:\n%s", k.Release, want, section)
			}
		}
	}
	if !strings.Contains(got, "modlab: "+itoa(len(ks))+" passed, 0 failed") {
		t.Errorf("no closing line for %d kernels:\n%s", len(ks), got)
	}
}

// nosysModule refuses to load the way LKMPG's bottomhalf.c does when the
// machine has no GPIO: its init logs why and returns -ENOSYS.
const nosysModule = `
static int __init nosys_init(void)
{
	pr_err("nosys: no GPIO for the LEDs, giving up\n");
	return -ENOSYS;
}
static void __exit nosys_exit(void) { }
module_init(nosys_init);
module_exit(nosys_exit);`

// TestChecksFail, in one boot per kernel: a module whose init returns
// -ENOSYS fails with a message that says so and shows its own log line
// (not "no module support"), and the modules that hit WARN_ON and oops
// still fail with their reports.
func TestChecksFail(t *testing.T) {
	ks, root, cache := labSetup(t)
	units := []lab.UnitSpec{
		{Name: "nosys", Src: writeModule(t, "nosys", nosysModule)},
		{Name: "warnon", Src: filepath.Join(root, "lab/testdata/warnon")},
		{Name: "oops", Src: filepath.Join(root, "lab/testdata/oops")},
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
		var table bytes.Buffer
		lab.WriteTable(&table, []lab.KernelResult{r})
		if !strings.Contains(table.String(), "init function returned -ENOSYS") {
			t.Errorf("%s: the report does not say init returned -ENOSYS:\n%s", r.Kernel, table.String())
		}
		w := u["warnon"]
		if w.Status != proto.Fail || len(w.Splats) == 0 || !strings.HasPrefix(w.Splats[0], "WARNING: CPU: ") ||
			!strings.Contains(w.Splats[0], "---[ end trace") {
			t.Errorf("%s: warnon = %s, splats %q; want a failure with the whole WARNING report", r.Kernel, w.Status, w.Splats)
		}
		o := u["oops"]
		if o.Status != proto.Fail || len(o.Splats) == 0 ||
			!strings.HasPrefix(o.Splats[0], "BUG: kernel NULL pointer dereference") ||
			!strings.Contains(o.Splats[0], "Oops: ") || !strings.Contains(o.Splats[0], "---[ end trace") {
			t.Errorf("%s: oops = %s, splats %q; want a failure with the whole NULL-dereference report", r.Kernel, o.Status, o.Splats)
		}
	}
}
