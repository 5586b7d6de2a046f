package kcheck

import "testing"

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
}

func TestIsTaskDeath(t *testing.T) {
	t.Parallel()
	for msg, want := range map[string]bool{
		"Oops: 0002 [#1] PREEMPT SMP NOPTI": true,
		"Oops: general protection fault, probably for non-canonical address 0xdead: 0000 [#2] SMP": true,
		"invalid opcode: 0000 [#1] PREEMPT SMP NOPTI":                                              true,
		"WARNING: CPU: 0 PID: 75 at warnon.c:12 warnon_init+0x15/0x20 [warnon]":                    false,
		"hello [#] world": false,
		"ends with [#12":  false,
	} {
		if got := IsTaskDeath(msg); got != want {
			t.Errorf("IsTaskDeath(%q) = %v, want %v", msg, got, want)
		}
	}
}
