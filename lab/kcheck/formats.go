package kcheck

import (
	"regexp"
	"strings"
)

// Patterns are the families of kernel bug reports the check knows, named by
// how their first line starts. A log message belongs to a family only when it
// has one of the family's exact formats (Formats), from the start of the
// message: the kernel prints its reports with no prefix, so a module that
// logs "mymod: BUG: counter wrapped" or "Oops, retrying" is not a bug.
var Patterns = []string{
	"BUG:",
	"WARNING:",
	"Oops",
	"general protection fault",
	"Kernel panic",
	"kernel BUG at",
	"UBSAN:",
	"refcount_t:",
	"list_add corruption", // and list_del: lib/list_debug.c
	"BUG <slab cache>",    // SLUB's reports, with no colon after BUG
	"unreferenced object", // kmemleak's suspected leaks
}

// A Format is one way the kernel starts a bug report, as printk prints it
// on 6.1 and 6.12 (and, where it changed, on later kernels).
type Format struct {
	Family string // one of Patterns
	Source string // the kernel file that prints it
	Expr   string // a regular expression for the message, anchored at its start
	// Lead marks a line printed just before the report's main line (an
	// oops header, or WARNING: from __warn), which belongs to the same
	// report: "BUG: kernel NULL pointer dereference" before "Oops: ...".
	Lead bool
	// Dies marks the header die() prints before the kernel kills the
	// running task; it counts oopses as "[#N]".
	Dies bool
	// StackEnds marks a report that ends with its stack trace (a bare
	// dump_stack(), no "---[ end trace" marker): lockdep and sched.
	StackEnds bool
}

// dieStrings are the first arguments x86 passes to die() and die_addr()
// (arch/x86/kernel/traps.c, arch/x86/mm/fault.c, dumpstack.c). Since 6.9
// __die_header prefixes every one with "Oops: ", so 6.12 prints a page
// fault as "Oops: Oops: 0002 [#1]".
const dieStrings = `Oops|invalid opcode|divide error|overflow|bounds|double fault|stack segment|` +
	`segment not present|invalid TSS|coprocessor segment overrun|alignment check|int3|` +
	`stack guard page|Bad pagetable|VE fault|unexpected #NM exception|iret exception|` +
	`fpu exception|simd exception|Split lock detected\n?`

// dieTail is __die_header's "%04lx [#%d]" after the die string.
const dieTail = `: [0-9a-f]{4} \[#[0-9]+\]`

// Formats are the report formats, checked in order.
var Formats = []Format{
	// Oopses: die() headers.
	{Family: "general protection fault", Source: "arch/x86/kernel/traps.c, dumpstack.c", Dies: true,
		Expr: `^(?:Oops: )?(?:segment-related )?general protection fault` +
			`(?:, (?:probably for non-canonical address|maybe for address) 0x[0-9a-f]+)?` + dieTail},
	{Family: "Oops", Source: "arch/x86/kernel/dumpstack.c __die_header", Dies: true,
		Expr: `^(?:Oops: (?s:.+)|` + dieStrings + `)` + dieTail},

	// BUG: page faults and stack overflows, each followed by the oops header.
	{Family: "BUG:", Source: "arch/x86/mm/fault.c", Lead: true,
		Expr: `^BUG: kernel NULL pointer dereference, address: [0-9a-f]+$`},
	{Family: "BUG:", Source: "arch/x86/mm/fault.c", Lead: true,
		Expr: `^BUG: unable to handle page fault for address: [0-9a-f]+$`},
	{Family: "BUG:", Source: "arch/x86/kernel/traps.c", Lead: true,
		Expr: `^BUG: \S+ stack guard page was hit at [0-9a-f]+ \(stack is [0-9a-f]+\.\.[0-9a-f]+\)$`},
	// BUG: the sanitizers and memory checkers.
	{Family: "BUG:", Source: "mm/kasan/report.c",
		Expr: `^BUG: KASAN: (?:(?:(?:slab|global|stack|alloca|vmalloc)-)?out-of-bounds|(?:slab-)?use-after-free|` +
			`null-ptr-deref|(?:user|wild)-memory-access|unknown-crash|invalid-free|double-free) in \S|^BUG: KASAN: invalid-access$`},
	{Family: "BUG:", Source: "mm/kfence/report.c",
		Expr: `^BUG: KFENCE: (?:out-of-bounds (?:read|write)|use-after-free (?:read|write)|` +
			`memory corruption|invalid (?:read|write)|invalid free) in \S`},
	{Family: "BUG:", Source: "kernel/kcsan/report.c",
		Expr: `^BUG: KCSAN: (?:data-race|assert: race) in \S`},
	{Family: "BUG:", Source: "mm/kmsan/report.c",
		Expr: `^BUG: KMSAN: [a-z-]+ in \S`},
	{Family: "BUG:", Source: "mm/page_alloc.c bad_page", StackEnds: true,
		Expr: `^BUG: Bad page (?:state|cache) in process .+  pfn:[0-9a-f]+$`},
	{Family: "BUG:", Source: "mm/memory.c print_bad_pte",
		Expr: `^BUG: Bad page map in process .+  pte:[0-9a-f]+ pmd:[0-9a-f]+$`},
	{Family: "BUG:", Source: "mm/page_alloc.c, mm/memory.c",
		Expr: `^BUG: Bad page (?:state|map): [0-9]+ messages suppressed$`},
	{Family: "BUG:", Source: "kernel/fork.c check_mm",
		Expr: `^BUG: (?:Bad rss-counter state mm:[0-9a-f]+ type:\S+ val:-?[0-9]+|non-zero pgtables_bytes on freeing mm: -?[0-9]+)$`},
	{Family: "BUG:", Source: "mm/mempool.c",
		Expr: `^BUG: mempool element poison mismatch$`},
	// BUG: sleeping, atomicity, preemption and lockups.
	{Family: "BUG:", Source: "kernel/sched/core.c __might_resched", StackEnds: true,
		Expr: `^BUG: sleeping function called from invalid context at \S+:[0-9]+$`},
	{Family: "BUG:", Source: "kernel/sched/core.c __schedule_bug", StackEnds: true,
		Expr: `^BUG: scheduling while atomic: .+/-?[0-9]+/0x[0-9a-f]{8}$`},
	{Family: "BUG:", Source: "kernel/sched/core.c", StackEnds: true,
		Expr: `^BUG: scheduling in a non-blocking section: .+/-?[0-9]+/-?[0-9]+$`},
	{Family: "BUG:", Source: "kernel/sched/core.c", StackEnds: true,
		Expr: `^BUG: assuming (?:atomic|non migratable) context at \S+:[0-9]+$`},
	{Family: "BUG:", Source: "lib/smp_processor_id.c", StackEnds: true,
		Expr: `^BUG: using \w+\(\) in preemptible \[[0-9a-f]{8}\] code: .+/-?[0-9]+$`},
	{Family: "BUG:", Source: "kernel/watchdog.c",
		Expr: `^BUG: soft lockup - CPU#[0-9]+ stuck for [0-9]+s! \[.+:-?[0-9]+\]$`},
	{Family: "BUG:", Source: "kernel/workqueue.c",
		Expr: `^BUG: workqueue (?:lockup - pool |leaked lock or atomic: |leaked atomic, lock or RCU: )`},
	{Family: "BUG:", Source: "kernel/locking/spinlock_debug.c", StackEnds: true,
		Expr: `^BUG: (?:spinlock [a-z ]+ on CPU#[0-9]+, .+/-?[0-9]+|rwlock [a-z ]+ on CPU#[0-9]+, .+/-?[0-9]+, [0-9a-f]+)$`},
	// BUG: lockdep's own.
	{Family: "BUG:", Source: "kernel/locking/lockdep.c", StackEnds: true,
		Expr: `^(?:BUG: MAX_[A-Z_]+ too low!|BUG: key [0-9a-f]+ has not been registered!|` +
			`BUG: looking up invalid subclass: [0-9]+|\[ BUG: Invalid wait context \])$`},

	// WARNING: __warn, from WARN*() and BUG_ON-free checks. 6.1 and 6.12
	// print the first two; later kernels the last two.
	{Family: "WARNING:", Source: "kernel/panic.c __warn",
		Expr: `^WARNING: CPU: [0-9]+ PID: -?[0-9]+ at \S`},
	{Family: "WARNING:", Source: "kernel/panic.c __warn (6.19+)",
		Expr: `^WARNING: (?:\S+:[0-9]+ )?at \S+, CPU#[0-9]+: .*/-?[0-9]+$`},
	// WARNING: lockdep and RCU.
	{Family: "WARNING:", Source: "kernel/locking/lockdep.c", StackEnds: true,
		Expr: `^WARNING: (?:possible circular locking dependency detected|possible recursive locking detected|` +
			`inconsistent lock state|possible irq lock inversion dependency detected|` +
			`[A-Z_-]+-safe -> [A-Z_-]+-unsafe lock order detected|bad unlock balance detected!|` +
			`bad contention detected!|held lock freed!|lock held when returning to user space!|` +
			`suspicious RCU usage|Nested lock was not taken|chain_key collision|.+/-?[0-9]+ still has locks held!)$`},

	{Family: "Kernel panic", Source: "kernel/panic.c panic",
		Expr: `^Kernel panic - not syncing: `},

	// kernel BUG at: BUG() and BUG_ON(), followed by "invalid opcode".
	{Family: "kernel BUG at", Source: "lib/bug.c report_bug", Lead: true,
		Expr: `^(?:kernel BUG at \S+:[0-9]+!|Kernel BUG at \S+(?: \[\S+\])? \[verbose debug info unavailable\])$`},

	// UBSAN: the report (lib/ubsan.c ubsan_prologue) and, with
	// CONFIG_UBSAN_TRAP, the trap's line before the oops (traps.c).
	{Family: "UBSAN:", Source: "lib/ubsan.c ubsan_prologue",
		Expr: `^UBSAN: [a-z]+(?:-[a-z]+)* in \S+:[0-9]+:[0-9]+$`},
	{Family: "UBSAN:", Source: "arch/x86/kernel/traps.c handle_bug", Lead: true,
		Expr: `^UBSAN: [a-z][a-z /-]* at \S+\+0x[0-9a-f]+/0x[0-9a-f]+`},

	// refcount_t: the five messages of refcount_warn_saturate, each
	// followed by the WARNING: line.
	{Family: "refcount_t:", Source: "lib/refcount.c", Lead: true,
		Expr: `^refcount_t: (?:saturated; leaking memory|addition on 0; use-after-free|underflow; use-after-free|` +
			`decrement hit 0; leaking memory|unknown saturation event!\?)\.$`},

	// CHECK_DATA_CORRUPTION in lib/list_debug.c: then BUG() (with
	// CONFIG_BUG_ON_DATA_CORRUPTION, as both Debian kernels have) or WARN.
	{Family: "list_add corruption", Source: "lib/list_debug.c", Lead: true,
		Expr: `^list_(?:add corruption\. |del corruption[.,] |add double add: new=)`},

	// SLUB's slab_bug: "BUG <cache> (<taint>): <what>", no colon.
	{Family: "BUG <slab cache>", Source: "mm/slub.c slab_bug",
		Expr: `^BUG \S+ \((?:Not tainted|Tainted: [^)]*)\): \S`},

	// kmemleak's suspected leak, as /sys/kernel/debug/kmemleak lists it
	// (and the log, with kmemleak.verbose=1): the object, then who
	// allocated it and the allocation's backtrace. The next object's line
	// ends it.
	{Family: "unreferenced object", Source: "mm/kmemleak.c print_unreferenced",
		Expr: `^unreferenced object 0x[0-9a-f]+ \(size [0-9]+\):$`},
}

// compiled is Formats with each expression compiled. The expressions are
// anchored, so a message that does not start like a report fails at once.
var compiled = func() []*regexp.Regexp {
	out := make([]*regexp.Regexp, len(Formats))
	for i, f := range Formats {
		out[i] = regexp.MustCompile(f.Expr)
	}
	return out
}()

// Match returns the format of the bug report that msg starts, if any.
func Match(msg string) (Format, bool) {
	msg = strings.TrimRight(msg, "\n")
	for i, re := range compiled {
		if re.MatchString(msg) {
			return Formats[i], true
		}
	}
	return Format{}, false
}
