package lab_test

// In-VM tests of the lab's verdict on the words a module logs (the module
// whose init refuses to load is part of TestFailures). Like vm_test.go,
// they boot the real kernels (skipped in -short mode).

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/modlab/modlab/internal/cli"
)

// TestLookalikePasses is `modlab run lab/testdata/lookalike` on every
// kernel: a module that logs "BUG:", "WARNING:", "Oops", "Kernel panic"...
// in its own messages has no bug, and the run passes.
func TestLookalikePasses(t *testing.T) {
	t.Parallel() // VM tests overlap: one VM rarely keeps both CPUs busy
	ks, root, cache := labSetup(t)
	env, out, errb := cacheEnv(cache)
	code := cli.Main(env, []string{"modlab", "run", filepath.Join(root, "lab/testdata/lookalike"), "--kernel", "debian"})
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

// nosysModule (used by TestFailures) refuses to load the way LKMPG's bottomhalf.c does when the
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
