package kcheck

import (
	"slices"
	"strings"
	"testing"
)

// realLines are first lines of reports as 6.1 and 6.12 print them (filled
// in from the format strings in the files each Format names), with the
// family each belongs to.
var realLines = []struct{ family, msg string }{
	// The eight families the README names.
	{"BUG:", "BUG: kernel NULL pointer dereference, address: 0000000000000000"},
	{"BUG:", "BUG: unable to handle page fault for address: ffffffffc0a02000"},
	{"WARNING:", "WARNING: CPU: 0 PID: 75 at /tmp/warnon/warnon.c:22 warnon_init+0x1d/0x30 [warnon]"},
	{"WARNING:", "WARNING: CPU: 1 PID: 0 at do_idle+0x5c/0x2a0"},
	{"WARNING:", "WARNING: kernel/sched/core.c:1234 at foo+0x10/0x20, CPU#0: swapper/0/1"}, // 6.19+
	{"WARNING:", "WARNING: at foo+0x10/0x20, CPU#1: insmod/75"},                            // 6.19+
	{"Oops", "Oops: 0002 [#1] PREEMPT SMP NOPTI"},                                          // 6.1 page fault
	{"Oops", "Oops: Oops: 0002 [#1] PREEMPT SMP NOPTI"},                                    // 6.12 page fault
	{"Oops", "invalid opcode: 0000 [#1] PREEMPT SMP NOPTI"},                                // 6.1 BUG()
	{"Oops", "Oops: invalid opcode: 0000 [#2] PREEMPT SMP NOPTI"},                          // 6.12 BUG()
	{"Oops", "divide error: 0000 [#1] SMP"},
	{"general protection fault", "general protection fault, probably for non-canonical address 0xdead000000000122: 0000 [#1] PREEMPT SMP NOPTI"},
	{"general protection fault", "Oops: general protection fault, probably for non-canonical address 0xdead000000000122: 0000 [#1] PREEMPT SMP NOPTI"},
	{"general protection fault", "general protection fault, maybe for address 0xffff888003e0c000: 0000 [#1] SMP"},
	{"general protection fault", "general protection fault: 0000 [#3] SMP"},
	{"Kernel panic", "Kernel panic - not syncing: Fatal exception"},
	{"Kernel panic", "Kernel panic - not syncing: stack-protector: Kernel stack is corrupted in: m_init+0x40/0x40 [m]"},
	{"kernel BUG at", "kernel BUG at /tmp/bugon/bugon.c:14!"},
	{"kernel BUG at", "kernel BUG at lib/list_debug.c:29!"},
	{"kernel BUG at", "Kernel BUG at bugon_init+0xd/0x20 [bugon] [verbose debug info unavailable]"},
	{"UBSAN:", "UBSAN: array-index-out-of-bounds in /tmp/ub/ub.c:12:9"},
	{"UBSAN:", "UBSAN: shift-out-of-bounds in lib/test_ubsan.c:29:16"},
	{"UBSAN:", "UBSAN: signed-integer-overflow in drivers/foo/bar.c:100:5"},
	{"UBSAN:", "UBSAN: array index out of bounds at ub_init+0x1c/0x40 [ub]"}, // CONFIG_UBSAN_TRAP
	{"refcount_t:", "refcount_t: underflow; use-after-free."},
	{"refcount_t:", "refcount_t: saturated; leaking memory."},
	{"refcount_t:", "refcount_t: addition on 0; use-after-free."},
	{"refcount_t:", "refcount_t: decrement hit 0; leaking memory."},
	// Lockdep and RCU.
	{"WARNING:", "WARNING: possible circular locking dependency detected"},
	{"WARNING:", "WARNING: inconsistent lock state"},
	{"WARNING:", "WARNING: possible recursive locking detected"},
	{"WARNING:", "WARNING: suspicious RCU usage"},
	{"WARNING:", "WARNING: possible irq lock inversion dependency detected"},
	{"WARNING:", "WARNING: HARDIRQ-safe -> HARDIRQ-unsafe lock order detected"},
	{"WARNING:", "WARNING: bad unlock balance detected!"},
	{"WARNING:", "WARNING: insmod/75 still has locks held!"},
	{"BUG:", "[ BUG: Invalid wait context ]"},
	{"BUG:", "BUG: MAX_LOCKDEP_ENTRIES too low!"},
	// Sanitizers and memory checkers.
	{"BUG:", "BUG: KASAN: slab-out-of-bounds in m_init+0x5a/0x80 [m]"},
	{"BUG:", "BUG: KASAN: slab-use-after-free in uaf_read+0x21/0x40 [uaf]"},
	{"BUG:", "BUG: KASAN: double-free in kfree+0x8c/0x2b0"},
	{"BUG:", "BUG: KASAN: wild-memory-access in do_raw_spin_lock+0x6e/0x130"},
	{"BUG:", "BUG: KFENCE: out-of-bounds read in m_init+0x3e/0x70 [m]\n"},
	{"BUG:", "BUG: KFENCE: use-after-free write in m_exit+0x12/0x30 [m]"},
	{"BUG:", "BUG: KFENCE: invalid free in m_exit+0x12/0x30 [m]"},
	{"BUG:", "BUG: KCSAN: data-race in foo / bar"},
	{"BUG <slab cache>", "BUG kmalloc-64 (Tainted: G    B      OE     ): Right Redzone overwritten"},
	{"BUG <slab cache>", "BUG kmalloc-128 (Not tainted): Poison overwritten"},
	{"BUG:", "BUG: Bad page state in process insmod  pfn:0a1b2"},
	{"unreferenced object", "unreferenced object 0xffff888004f5c400 (size 200):"},
	{"unreferenced object", "unreferenced object 0xffffc90000a05000 (size 16384):"},
	{"BUG:", "BUG: Bad rss-counter state mm:00000000b2c5e7a1 type:MM_ANONPAGES val:-1"},
	{"list_add corruption", "list_add corruption. next->prev should be prev (ffff888004a1b0c8), but was 0000000000000000. (next=ffff888004a1b0d8)."},
	{"list_add corruption", "list_del corruption, ffff888004b1e0c8->next is LIST_POISON1 (dead000000000100)"},
	{"list_add corruption", "list_add double add: new=ffff888004a1b0c8, prev=ffff888004a1b0c8, next=ffff888004a1b0d8."},
	// Sleeping, atomicity, lockups.
	{"BUG:", "BUG: sleeping function called from invalid context at kernel/locking/mutex.c:283"},
	{"BUG:", "BUG: sleeping function called from invalid context at include/linux/sched/mm.h:316"},
	{"BUG:", "BUG: scheduling while atomic: insmod/75/0x00000002"},
	{"BUG:", "BUG: soft lockup - CPU#0 stuck for 22s! [insmod:75]"},
	{"BUG:", "BUG: using smp_processor_id() in preemptible [00000000] code: insmod/75"},
	{"BUG:", "BUG: using __this_cpu_read() in preemptible [00000000] code: insmod/75"},
	{"BUG:", "BUG: spinlock bad magic on CPU#0, insmod/75"},
	{"BUG:", "BUG: workqueue lockup - pool cpus=0 node=0 flags=0x0 nice=0 stuck for 31s!"},
	{"BUG:", "BUG: IRQ stack guard page was hit at 00000000ab12cd34 (stack is 000000001a2b3c4d..00000000deadbeef)"},
}

// lookAlikes are lines a module may print that use the families' words but
// are not the kernel's reports.
var lookAlikes = []string{
	"mymod: BUG: counter wrapped",
	"Oops, the device went away",
	"mymod: WARNING: low battery",
	"WARNING: this is only a test",
	"refcount_t: my own words",
	"refcount_t: underflow; use-after-free", // no final period: not the kernel's
	"general protection fault is a term of the x86 manuals",
	"UBSAN: is a sanitizer",
	"Kernel panic avoided",
	"kernel BUG at the office",
	"mymod: Oops: 0002 [#1] PREEMPT SMP NOPTI",
	"mymod: kernel BUG at mymod.c:12!",
	"mymod: general protection fault, probably for non-canonical address 0xdead: 0000 [#1]",
	"BUG: counter wrapped",
	"BUG: KASAN is not enabled in this kernel",
	"BUG: KASAN: looks fine in my tests",
	"BUG kmalloc-64 is full",
	"unreferenced object 0xffff888004f5c400 (size 200)",
	"mymod: unreferenced object 0xffff888004f5c400 (size 200):",
	"WARNING: CPU: fan is loud",
	"WARNING: possible circular locking dependency detected in my design doc",
	"Oops: I did it again",
	"Kernel panic - not really",
	"UBSAN: array-index-out-of-bounds is what we guard against",
	"list_add corruption is impossible here",
	"mymod: item [#3] done",
	"traps: insmod[75] general protection fault ip:7f0a sp:7ffc error:0 in libc.so.6",
	"",
}

func TestMatch(t *testing.T) {
	t.Parallel()
	for _, tc := range realLines {
		f, ok := Match(tc.msg)
		if !ok || f.Family != tc.family {
			t.Errorf("Match(%q) = %q, %v; want family %q", tc.msg, f.Family, ok, tc.family)
		}
		if !IsBugLine(tc.msg) {
			t.Errorf("IsBugLine(%q) = false", tc.msg)
		}
	}
	for _, msg := range lookAlikes {
		if f, ok := Match(msg); ok {
			t.Errorf("look-alike %q matched %q (%s)", msg, f.Expr, f.Family)
		}
	}
}

// TestEveryFamily: every family has a format and a real line in the tests,
// and every format's family is one of Patterns.
func TestEveryFamily(t *testing.T) {
	t.Parallel()
	tested := map[string]bool{}
	for _, tc := range realLines {
		tested[tc.family] = true
	}
	for _, p := range Patterns {
		if !tested[p] {
			t.Errorf("family %q has no real line in the tests", p)
		}
	}
	for _, f := range Formats {
		if !slices.Contains(Patterns, f.Family) {
			t.Errorf("format %q has family %q, not one of Patterns", f.Expr, f.Family)
		}
		if !strings.HasPrefix(f.Expr, "^") {
			t.Errorf("format %q is not anchored at the start", f.Expr)
		}
	}
}
