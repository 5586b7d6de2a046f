package guest

import (
	"strings"
	"testing"

	"github.com/modlab/modlab/lab/kcheck"
	"github.com/modlab/modlab/lab/proto"
)

// earlyKASAN is the start of a boot log in which KASAN reported a bug
// before /init ran: the kernel is tainted (B) and lockdep is off.
var earlyKASAN = []string{
	"Linux version 6.12.117 (root@lab) (gcc (Debian 12.2.0-14+deb12u1) 12.2.0) #1 SMP PREEMPT_DYNAMIC",
	"==================================================================",
	"BUG: KASAN: wild-memory-access in do_raw_spin_lock+0x6e/0x130",
	"Read of size 4 at addr 1fffffff82e1e0c4 by task swapper/0",
	"",
	"Call Trace:",
	" <TASK>",
	" dump_stack_lvl+0x5d/0x80",
	" kasan_report+0xb5/0xf0",
	" do_raw_spin_lock+0x6e/0x130",
	" </TASK>",
	"==================================================================",
	"Disabling lock debugging due to kernel taint",
	"Run /init as init process",
}

const lockdepOn = " lock-classes:                         1502 [max: 8192]\n debug_locks:                            1\n"
const lockdepOff = " lock-classes:                         1502 [max: 8192]\n debug_locks:                            0\n"

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
		{"debug kernel, clean", clean, "", lockdepOn, nil, 0},
		{"harmless taint", clean, "OE", lockdepOn, nil, 0},
		{"early KASAN report", earlyKASAN, "B", lockdepOff, []string{
			`the kernel reported 1 bug(s) while booting, first "BUG: KASAN: wild-memory-access in do_raw_spin_lock+0x6e/0x130"`,
			"the kernel is tainted (B) before any module was loaded",
			"lock debugging is off (debug_locks: 0 in /proc/lockdep_stats)"}, 1},
		{"tainted, nothing in the log", clean, "W", lockdepOn, []string{"tainted (W)"}, 0},
		{"lockdep off alone", clean, "", lockdepOff, []string{"lock debugging is off"}, 0},
		{"a module's look-alike is no report", append(clean, "mymod: BUG: counter wrapped"), "", lockdepOn, nil, 0},
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
		lockdepOn:                   {true, true},
		lockdepOff:                  {false, true},
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
