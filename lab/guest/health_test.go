package guest

import (
	"strings"
	"testing"

	"github.com/modlab/modlab/lab/kcheck"
	"github.com/modlab/modlab/lab/proto"
)

// earlyKASAN is the log of a boot of the debug kernel's bzImage under
// "-cpu max" (5-level paging) in which KASAN reported a bug before /init
// ran, in an interrupt that came during identify_cpu(): the kernel is
// tainted (B) and lockdep is off.
var earlyKASAN = []string{
	"clocksource: tsc-early: mask: 0xffffffffffffffff max_cycles: 0x256be814f12, max_idle_ns: 440795336072 ns",
	"Calibrating delay loop (skipped), value calculated using timer frequency.. 5192.23 BogoMIPS (lpj=2596117)",
	"==================================================================",
	"BUG: KASAN: wild-memory-access in do_raw_spin_lock+0x122/0x270",
	"Write of size 4 at addr ff110000011140a8 by task swapper/0/0",
	"",
	"CPU: 0 UID: 0 PID: 0 Comm: swapper/0 Not tainted 6.12.117-modlab-debug #1 ",
	"Hardware name: QEMU Standard PC (Q35 + ICH9, 2009), BIOS 1.16.3-debian-1.16.3-2~bpo12+1 04/01/2014",
	"Call Trace:",
	" <IRQ>",
	" dump_stack_lvl+0x66/0xa0",
	" kasan_report+0xe0/0x110",
	" ? do_raw_spin_lock+0x122/0x270",
	" kasan_check_range+0x100/0x1b0",
	" do_raw_spin_lock+0x122/0x270",
	" ? __pfx_do_raw_spin_lock+0x10/0x10",
	" handle_edge_irq+0x31/0xbb0",
	" __common_interrupt+0x7e/0x1e0",
	" common_interrupt+0x7b/0x90",
	" </IRQ>",
	" <TASK>",
	" asm_common_interrupt+0x26/0x40",
	"RIP: 0010:identify_cpu+0x2c3/0x1d50",
	"Code: 0f 85 5a 1a 00 00 41 c7 40 24 00 00 00 00 4c 89 c7 48 89 74 24 10 4c 89 44 24 08 e8 37 ee ff ff 48 8b 7c 24 08 e8 8d eb ff ff <48> 8b 7c 24 08 e8 f3 cb 00 00 48 8b 7c 24 08 e8 d9 f0 ff ff 4c 8b",
	"RSP: 0000:ffffffffa5a07e80 EFLAGS: 00010286",
	"RAX: 0000000000000000 RBX: 0000000000279d15 RCX: 0000000000000004",
	"RDX: 0000000000000002 RSI: ffffffffa503ea8c RDI: ffffffffa653fe22",
	"RBP: ffffffffa653fec0 R08: ffffffffa653fe20 R09: 0000000000000004",
	"R10: ffffffffa653fe2c R11: 0000000000000001 R12: ffffffffa653fe41",
	"R13: ffffffffa653ff58 R14: ffffffffa653fe40 R15: ffffffffa653ff30",
	" arch_cpu_finalize_init+0x25/0x350",
	" start_kernel+0x30b/0x420",
	" x86_64_start_reservations+0x18/0x30",
	" x86_64_start_kernel+0xf4/0x150",
	" common_startup_64+0x12c/0x138",
	" </TASK>",
	"==================================================================",
	"Disabling lock debugging due to kernel taint",
	"x86/cpu: User Mode Instruction Prevention (UMIP) activated",
}

const lockdepOnStats = " lock-classes:                         1502 [max: 8192]\n debug_locks:                            1\n"
const lockdepOffStats = " lock-classes:                         1502 [max: 8192]\n debug_locks:                            0\n"

func TestJudgeHealth(t *testing.T) {
	t.Parallel()
	clean := []string{"Linux version 6.12.117", "Run /init as init process"}
	for _, tc := range []struct {
		name   string
		msgs   []string
		taint  string
		stats  string
		want   []string // in the problems, in order; none: healthy
		splats int
	}{
		{"Debian kernel, clean", clean, "", "", nil, 0},
		{"debug kernel, clean", clean, "", lockdepOnStats, nil, 0},
		{"harmless taint", clean, "OE", lockdepOnStats, nil, 0},
		{"early KASAN report", earlyKASAN, "B", lockdepOffStats, []string{
			`the kernel reported 1 bug(s) while booting, first "BUG: KASAN: wild-memory-access in do_raw_spin_lock+0x122/0x270"`,
			"the kernel is tainted (B) before any module was loaded",
			"lock debugging is off (debug_locks: 0 in /proc/lockdep_stats)"}, 1},
		{"tainted, nothing in the log", clean, "W", lockdepOnStats, []string{"tainted (W)"}, 0},
		{"lockdep off alone", clean, "", lockdepOffStats, []string{"lock debugging is off"}, 0},
		{"a module's look-alike is no report", append(clean, "mymod: BUG: counter wrapped"), "", lockdepOnStats, nil, 0},
	} {
		taint, err := kcheck.ParseLetters(tc.taint)
		if err != nil {
			t.Fatal(err)
		}
		h := judgeHealth(tc.msgs, taint, tc.stats)
		if h.ok() != (len(tc.want) == 0) || len(h.problems) != len(tc.want) {
			t.Errorf("%s: problems %q, want %d like %q", tc.name, h.problems, len(tc.want), tc.want)
			continue
		}
		for i, w := range tc.want {
			if !strings.Contains(h.problems[i], w) {
				t.Errorf("%s: problem %d = %q, want it to say %q", tc.name, i, h.problems[i], w)
			}
		}
		if len(h.splats) != tc.splats {
			t.Errorf("%s: %d reports, want %d: %q", tc.name, len(h.splats), tc.splats, h.splats)
		}
		var e proto.Event
		h.event(&e)
		if (e.Unhealthy == "") != h.ok() || len(e.Splats) != tc.splats {
			t.Errorf("%s: ready event %+v does not carry the verdict", tc.name, e)
		}
	}
}

func TestDebugLocks(t *testing.T) {
	t.Parallel()
	for stats, want := range map[string][2]bool{
		lockdepOnStats:              {true, true},
		lockdepOffStats:             {false, true},
		"":                          {false, false},
		" debug_locks: x\n":         {false, false},
		" lock-classes: 1 [max: 8]": {false, false},
	} {
		on, ok := debugLocks(stats)
		if on != want[0] || ok != want[1] {
			t.Errorf("debugLocks(%q) = %v, %v; want %v, %v", stats, on, ok, want[0], want[1])
		}
	}
}

func TestLostChecks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		before, now bool
		want        bool
	}{
		{true, false, true},
		{true, true, false},
		{false, false, false}, // no lockdep, or off since ready (the host never gets there)
		{false, true, false},
	} {
		got := lostChecks(tc.before, tc.now, "lockinv")
		if (got != "") != tc.want {
			t.Errorf("lostChecks(%v, %v) = %q, want a reason: %v", tc.before, tc.now, got, tc.want)
		}
		if got != "" && !strings.Contains(got, "during unit lockinv") {
			t.Errorf("reason %q does not name the unit", got)
		}
	}
}

func TestStartAt(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		from int
		n    int
		want int
		ok   bool
	}{
		{0, 3, 0, true},
		{2, 3, 2, true},
		{3, 3, 0, false},
		{-1, 3, 0, false},
		{0, 0, 0, true},
	} {
		got, err := startAt(tc.from, tc.n)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("startAt(%d, %d) = %d, %v; want %d, ok %v", tc.from, tc.n, got, err, tc.want, tc.ok)
		}
	}
}
