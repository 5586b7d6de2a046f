package kcheck

import (
	"slices"
	"strings"
	"testing"
)

func TestFindSplats(t *testing.T) {
	t.Parallel()
	log := []string{
		"hello_1: Hello world 1.",
		"------------[ cut here ]------------",
		"WARNING: CPU: 0 PID: 75 at /work/warn/warnon.c:12 warnon_init+0x15/0x20 [warnon]",
		"Modules linked in: warnon(OE+)",
		"---[ end trace 0000000000000000 ]---",
		"ordinary line",
		"BUG: kernel NULL pointer dereference, address: 0000000000000000",
	}
	got := FindSplats(log)
	if len(got) != 2 {
		t.Fatalf("found %d splats, want 2: %+v", len(got), got)
	}
	if got[0].First != log[2] || len(got[0].Lines) != 3 {
		t.Errorf("first splat = %+v", got[0])
	}
	if got[1].First != log[6] {
		t.Errorf("second splat = %+v", got[1])
	}
	if s := FindSplats([]string{"hello", "world"}); len(s) != 0 {
		t.Errorf("clean log gave splats: %+v", s)
	}
}

// reportLogs are whole reports as the two kernels print them, between
// module lines, with the splats FindSplats must cut out of them (each as
// its first and last line and its length).
var reportLogs = []struct {
	name  string
	log   []string
	want  [][2]string
	lines []int
}{
	{
		name: "6.12 NULL dereference: the BUG line keeps its oops",
		log: []string{
			"oops: dereferencing NULL on purpose",
			"BUG: kernel NULL pointer dereference, address: 0000000000000000",
			"#PF: supervisor write access in kernel mode",
			"#PF: error_code(0x0002) - not-present page",
			"PGD 0 P4D 0 ",
			"Oops: Oops: 0002 [#1] PREEMPT SMP NOPTI",
			"CPU: 0 UID: 0 PID: 80 Comm: modlab-init Tainted: G           OE      6.12.95+deb12-cloud-amd64 #1  Debian 6.12.95-1~bpo12+1",
			"RIP: 0010:nullderef_init+0x15/0xff0 [oops]",
			"Call Trace:",
			" <TASK>",
			" do_one_initcall+0x5b/0x320",
			" </TASK>",
			"Modules linked in: oops(OE+)",
			"CR2: 0000000000000000",
			"---[ end trace 0000000000000000 ]---",
			"RIP: 0010:nullderef_init+0x15/0xff0 [oops]",
		},
		want:  [][2]string{{"BUG: kernel NULL pointer dereference, address: 0000000000000000", "---[ end trace 0000000000000000 ]---"}},
		lines: []int{14},
	},
	{
		name: "6.1 BUG_ON: kernel BUG at, then invalid opcode",
		log: []string{
			"------------[ cut here ]------------",
			"kernel BUG at /tmp/bugon/bugon.c:14!",
			"invalid opcode: 0000 [#1] PREEMPT SMP NOPTI",
			"CPU: 0 PID: 77 Comm: modlab-init Tainted: G           OE      6.1.0-50-cloud-amd64 #1  Debian 6.1.162-1",
			"RIP: 0010:bugon_init+0x5/0x1000 [bugon]",
			"---[ end trace 0000000000000000 ]---",
		},
		want:  [][2]string{{"kernel BUG at /tmp/bugon/bugon.c:14!", "---[ end trace 0000000000000000 ]---"}},
		lines: []int{5},
	},
	{
		name: "refcount_t: the message and its WARNING are one report",
		log: []string{
			"------------[ cut here ]------------",
			"refcount_t: underflow; use-after-free.",
			"WARNING: CPU: 0 PID: 75 at lib/refcount.c:28 refcount_warn_saturate+0xba/0x110",
			"Modules linked in: rc(OE+)",
			"---[ end trace 0000000000000000 ]---",
			"rc: loaded",
		},
		want:  [][2]string{{"refcount_t: underflow; use-after-free.", "---[ end trace 0000000000000000 ]---"}},
		lines: []int{4},
	},
	{
		name: "list corruption with BUG_ON_DATA_CORRUPTION: three lines of one report",
		log: []string{
			"list_add corruption. prev->next should be next (ffffffffc0a02010), but was 0000000000000000. (prev=ffff888004a1b0c8).",
			"------------[ cut here ]------------",
			"kernel BUG at lib/list_debug.c:32!",
			"Oops: invalid opcode: 0000 [#1] PREEMPT SMP NOPTI",
			"---[ end trace 0000000000000000 ]---",
		},
		want:  [][2]string{{"list_add corruption. prev->next should be next (ffffffffc0a02010), but was 0000000000000000. (prev=ffff888004a1b0c8).", "---[ end trace 0000000000000000 ]---"}},
		lines: []int{5},
	},
	{
		name: "KASAN ends at its closing rule; a later WARNING is a report of its own",
		log: []string{
			"==================================================================",
			"BUG: KASAN: slab-use-after-free in uaf_init+0x8a/0xb0 [uaf]",
			"Read of size 4 at addr ffff888003e0c010 by task insmod/75",
			"Allocated by task 75:",
			" kasan_save_stack+0x22/0x50",
			"Freed by task 75:",
			" kfree+0xbd/0x2b0",
			"==================================================================",
			"Disabling lock debugging due to kernel taint",
			"uaf: read 0",
			"------------[ cut here ]------------",
			"WARNING: CPU: 0 PID: 75 at /tmp/uaf/uaf.c:30 uaf_init+0x9c/0xb0 [uaf]",
			"---[ end trace 0000000000000000 ]---",
		},
		want: [][2]string{
			{"BUG: KASAN: slab-use-after-free in uaf_init+0x8a/0xb0 [uaf]", "=================================================================="},
			{"WARNING: CPU: 0 PID: 75 at /tmp/uaf/uaf.c:30 uaf_init+0x9c/0xb0 [uaf]", "---[ end trace 0000000000000000 ]---"},
		},
		lines: []int{7, 2},
	},
	{
		name: "lockdep ends with its stack trace; the module's lines after it are not part of it",
		log: []string{
			"======================================================",
			"WARNING: possible circular locking dependency detected",
			"6.12.117 #1 Not tainted",
			"------------------------------------------------------",
			"insmod/75 is trying to acquire lock:",
			"stack backtrace:",
			"Call Trace:",
			" <TASK>",
			" dump_stack_lvl+0x5d/0x80",
			" </TASK>",
			"abba: done",
		},
		want:  [][2]string{{"WARNING: possible circular locking dependency detected", " </TASK>"}},
		lines: []int{9},
	},
	{
		name: "a sleeping-in-atomic report, then a NULL dereference",
		log: []string{
			"BUG: sleeping function called from invalid context at kernel/locking/mutex.c:283",
			"in_atomic(): 1, irqs_disabled(): 0, non_block: 0, pid: 75, name: insmod",
			"Call Trace:",
			" <TASK>",
			" </TASK>",
			"BUG: kernel NULL pointer dereference, address: 0000000000000008",
			"Oops: 0000 [#1] PREEMPT SMP NOPTI",
			"---[ end trace 0000000000000000 ]---",
		},
		want: [][2]string{
			{"BUG: sleeping function called from invalid context at kernel/locking/mutex.c:283", " </TASK>"},
			{"BUG: kernel NULL pointer dereference, address: 0000000000000008", "---[ end trace 0000000000000000 ]---"},
		},
		lines: []int{5, 3},
	},
	{
		name: "a module that prints every look-alike has no report",
		log:  lookAlikes,
	},
}

func TestFindSplatsReports(t *testing.T) {
	t.Parallel()
	for _, tc := range reportLogs {
		got := FindSplats(tc.log)
		if len(got) != len(tc.want) {
			t.Errorf("%s: %d splats, want %d:\n%+v", tc.name, len(got), len(tc.want), got)
			continue
		}
		for i, s := range got {
			last := s.Lines[len(s.Lines)-1]
			if s.First != tc.want[i][0] || s.Lines[0] != s.First || last != tc.want[i][1] || len(s.Lines) != tc.lines[i] {
				t.Errorf("%s: splat %d runs %q .. %q (%d lines), want %q .. %q (%d lines)",
					tc.name, i, s.First, last, len(s.Lines), tc.want[i][0], tc.want[i][1], tc.lines[i])
			}
		}
	}
}

// TestSplatLimit: a report with no end is cut at maxSplatLines.
func TestSplatLimit(t *testing.T) {
	t.Parallel()
	log := []string{"WARNING: CPU: 0 PID: 1 at x.c:1 f+0x1/0x2"}
	for i := 0; i < 2*maxSplatLines; i++ {
		log = append(log, "line")
	}
	got := FindSplats(log)
	if len(got) != 1 || len(got[0].Lines) != maxSplatLines {
		t.Errorf("got %d splats, first of %d lines; want one of %d", len(got), len(got[0].Lines), maxSplatLines)
	}
}

// FuzzFindSplats: whatever the log, every splat starts at a bug line, is
// a run of consecutive log lines within the limit, and splats do not
// overlap.
func FuzzFindSplats(f *testing.F) {
	for _, tc := range reportLogs {
		f.Add(strings.Join(tc.log, "\n"))
	}
	f.Fuzz(func(t *testing.T, text string) {
		log := strings.Split(text, "\n")
		next := 0
		for _, s := range FindSplats(log) {
			if len(s.Lines) == 0 || len(s.Lines) > maxSplatLines || s.Lines[0] != s.First || !IsBugLine(s.First) {
				t.Fatalf("bad splat %+v", s)
			}
			start := next
			for start < len(log) && log[start] != s.First {
				if IsBugLine(log[start]) {
					t.Fatalf("bug line %q starts no splat", log[start])
				}
				start++
			}
			if start+len(s.Lines) > len(log) || !slices.Equal(log[start:start+len(s.Lines)], s.Lines) {
				t.Fatalf("splat %q is not a run of log lines after line %d", s.Lines, next)
			}
			next = start + len(s.Lines)
		}
	})
}

func TestTaint(t *testing.T) {
	t.Parallel()
	before, _ := ParseTaint("12288\n") // O, E
	if got := before.Letters(); got != "OE" {
		t.Errorf("Letters(12288) = %q, want OE", got)
	}
	after := before | 1<<9 | 1<<7 // W, D
	if got := NewBad(before, after); got != "DW" {
		t.Errorf("NewBad = %q, want DW", got)
	}
	if got := NewBad(after, after); got != "" {
		t.Errorf("NewBad(same) = %q, want empty", got)
	}
	if _, err := ParseTaint("x"); err == nil {
		t.Error("ParseTaint(x) gave no error")
	}
	for _, s := range []string{"", "OE", "DW", "BW", taintLetters} {
		got, err := ParseLetters(s)
		if err != nil || got.Letters() != s {
			t.Errorf("ParseLetters(%q) = %q, %v; want the same flags back", s, got.Letters(), err)
		}
	}
	if _, err := ParseLetters("Wz"); err == nil {
		t.Error("ParseLetters(Wz) gave no error")
	}
}

func TestIsTaskDeath(t *testing.T) {
	t.Parallel()
	for msg, want := range map[string]bool{
		"Oops: 0002 [#1] PREEMPT SMP NOPTI": true,
		"Oops: general protection fault, probably for non-canonical address 0xdead: 0000 [#2] SMP": true,
		"invalid opcode: 0000 [#1] PREEMPT SMP NOPTI":                                              true,
		"WARNING: CPU: 0 PID: 75 at warnon.c:12 warnon_init+0x15/0x20 [warnon]":                    false,
		"hello [#] world":                             false,
		"ends with [#12":                              false,
		"mymod: item [#3] done":                       false,
		"mymod: Oops: 0002 [#1] PREEMPT SMP NOPTI":    false,
		"Oops: Oops: 0002 [#1] PREEMPT SMP NOPTI":     true,
		"Oops: invalid opcode: 0000 [#1] PREEMPT SMP": true,
	} {
		if got := IsTaskDeath(msg); got != want {
			t.Errorf("IsTaskDeath(%q) = %v, want %v", msg, got, want)
		}
	}
}
