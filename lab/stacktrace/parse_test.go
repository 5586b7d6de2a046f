package stacktrace

import (
	"strings"
	"testing"
)

func TestParseLine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		line string
		ok   bool
		want Frame
	}{
		{"RIP: 0010:nullderef_init+0x18/0x1000 [oops]", true,
			Frame{Kind: Fault, Func: "nullderef_init", Module: "oops", Off: 0x18, Size: 0x1000}},
		{"WARNING: CPU: 0 PID: 81 at /src/warnon/warnon.c:19 warnon_init+0x2d/0x1000 [warnon]", true,
			Frame{Kind: Fault, Func: "warnon_init", Module: "warnon", Off: 0x2d, Size: 0x1000}},
		{" kbleds_init+0x58/0x1000 [kbleds]", true,
			Frame{Kind: Return, Func: "kbleds_init", Module: "kbleds", Off: 0x58, Size: 0x1000}},
		{" ? __pfx_kbleds_init+0x10/0x10 [kbleds]", true,
			Frame{Kind: Return, Unreliable: true, Func: "__pfx_kbleds_init", Module: "kbleds", Off: 0x10, Size: 0x10}},
		{" my_read.cold+0x5/0x9 [my-mod 0123456789abcdef0123456789abcdef01234567]\r", true,
			Frame{Kind: Return, Func: "my_read.cold", Module: "my_mod", Off: 5, Size: 9}},
		{"BUG: KFENCE: use-after-free read in test_uaf+0x2f/0x80 [kfence_test]", true,
			Frame{Kind: Fault, Func: "test_uaf", Module: "kfence_test", Off: 0x2f, Size: 0x80}},
		{"[    2.739389] RIP: 0010:nullderef_init+0x18/0x1000 [oops]\r", true,
			Frame{Kind: Fault, Func: "nullderef_init", Module: "oops", Off: 0x18, Size: 0x1000}},
		{"[    2.742132]  ? set_leds+0x5/0x40 [kbleds]", true,
			Frame{Kind: Return, Unreliable: true, Func: "set_leds", Module: "kbleds", Off: 5, Size: 0x40}},
		// Frames in the kernel itself, and lines that only look alike.
		{" do_one_initcall+0x59/0x220", false, Frame{}},
		{"RIP: 0033:0x40a8ae", false, Frame{}},
		{" ? 0xffffffffc0207000", false, Frame{}},
		{"Modules linked in: kbleds(OE+) virtio_blk", false, Frame{}},
		{"mymod: value is f+0x1/0x2 [not a module]", false, Frame{}},
		{" f+0xzz/0x10 [m]", false, Frame{}},
		{" f+0x10/0x [m]", false, Frame{}},
		{" +0x10/0x20 [m]", false, Frame{}},
		{"[m]", false, Frame{}},
		{"", false, Frame{}},
	} {
		got, ok := ParseLine(tc.line)
		if ok != tc.ok || ok && !framesEqual(got, tc.want) {
			t.Errorf("ParseLine(%q) = %+v, %v; want %+v, %v", tc.line, got, ok, tc.want, tc.ok)
		}
	}
}

func framesEqual(a, b Frame) bool {
	return a.Kind == b.Kind && a.Unreliable == b.Unreliable && a.Func == b.Func &&
		a.Module == b.Module && a.Off == b.Off && a.Size == b.Size
}

func TestParseIndexes(t *testing.T) {
	t.Parallel()
	splat := "BUG: kernel NULL pointer dereference, address: 0000000000000010\n" +
		"RIP: 0010:set_leds+0x5/0x40 [kbleds]\n" +
		"Call Trace:\n <TASK>\n kbleds_init+0x58/0x1000 [kbleds]\n do_one_initcall+0x59/0x220\n"
	fr := Parse(splat)
	if len(fr) != 2 || fr[0].Index != 1 || fr[0].Kind != Fault || fr[1].Index != 4 || fr[1].Kind != Return {
		t.Errorf("Parse = %+v; want set_leds (line 1, fault) and kbleds_init (line 4, return)", fr)
	}
}

func TestAnnotateLeavesWhatItCannotPlace(t *testing.T) {
	t.Parallel()
	splat := "RIP: 0010:set_leds+0x5/0x40 [kbleds]\n kbleds_init+0x58/0x1000 [kbleds]\n"
	for _, mods := range []map[string]string{
		nil,
		{"other": "/nonexistent/other.ko"},
		{"kbleds": "/nonexistent/kbleds.ko"},
		{"kbleds": "parse_test.go"}, // not an ELF file
	} {
		if got := Annotate(splat, mods); got != splat {
			t.Errorf("Annotate with %v changed the report:\n%s", mods, got)
		}
	}
}

func TestPosition(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		f    Frame
		want string
	}{
		{Frame{File: "oops.c", Line: 23}, "oops.c:23"},
		{Frame{File: "kbleds.c", Line: 57, Inlined: []Location{{"set_leds", "kbleds.c", 78}}},
			"kbleds.c:57 in set_leds, inlined at kbleds.c:78"},
		{Frame{File: "/usr/src/h/include/linux/tty.h", Line: 10, Inlined: []Location{
			{"tty_get", "kbleds.c", 57}, {"set_leds", "kbleds.c", 78}}},
			"/usr/src/h/include/linux/tty.h:10 in tty_get, inlined at kbleds.c:57 in set_leds, inlined at kbleds.c:78"},
		{Frame{}, ""},
	} {
		if got := tc.f.Position(); got != tc.want {
			t.Errorf("Position() = %q, want %q", got, tc.want)
		}
	}
}

// FuzzParse feeds arbitrary reports to the frame parser and to Annotate:
// nothing may panic, every frame must point at a line that names its
// function and module, and with no module file to read Annotate must
// return the report unchanged.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"RIP: 0010:nullderef_init+0x18/0x1000 [oops]",
		"WARNING: CPU: 0 PID: 81 at /src/w.c:19 warnon_init+0x2d/0x1000 [warnon]",
		" ? __pfx_kbleds_init+0x10/0x10 [kbleds]\n kbleds_init+0x58/0x1000 [kbleds]",
		" f.cold+0x5/0x9 [m 0123abcd]\r\n",
		"[]\n [ ]\n+0x/0x [a]\n:+0x1/0x1 [a]",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lines := strings.Split(s, "\n")
		for _, fr := range Parse(s) {
			if fr.Index < 0 || fr.Index >= len(lines) {
				t.Fatalf("frame %+v: line index out of range", fr)
			}
			l := lines[fr.Index]
			if fr.Func == "" || !strings.Contains(l, fr.Func+"+0x") || fr.Module == "" {
				t.Fatalf("frame %+v does not match its line %q", fr, l)
			}
		}
		if got := Annotate(s, map[string]string{"kbleds": "/nonexistent.ko", "oops": "/nonexistent.ko"}); got != s {
			t.Fatalf("Annotate without module files changed %q to %q", s, got)
		}
	})
}
