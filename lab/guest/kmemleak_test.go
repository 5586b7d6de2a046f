package guest

import (
	"strings"
	"testing"

	"github.com/modlab/modlab/lab/modtext"
)

// leakReport is /sys/kernel/debug/kmemleak after a scan on the debug
// kernel (6.12): a boot-time object of the kernel's own, then one of the
// leak module's, whose frame in the unloaded module is a bare address.
const leakReport = `unreferenced object 0xffff888003a4c000 (size 64):
  comm "swapper/0", pid 1, jiffies 4294667321
  hex dump (first 32 bytes):
    00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00  ................
    00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00  ................
  backtrace (crc 0):
    __kmalloc_cache_noprof+0x2d7/0x380
    acpi_os_map_iomem+0x1c5/0x450
    do_one_initcall+0xa4/0x380
unreferenced object 0xffff888005a1e800 (size 200):
  comm "modlab", pid 141, jiffies 4294681632
  hex dump (first 32 bytes):
    6c 65 61 6b 20 77 61 73 20 68 65 72 65 00 6b 6b  leak was here.kk
    6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b  kkkkkkkkkkkkkkkk
  backtrace (crc 4c3e2a8f):
    __kmalloc_cache_noprof+0x2d7/0x380
    0xffffffffc0205022
    do_one_initcall+0xa4/0x380
    do_init_module+0x28f/0x7b0
    __do_sys_finit_module+0x3b2/0x5e0
    do_syscall_64+0x9e/0x1a0
    entry_SYSCALL_64_after_hwframe+0x77/0x7f
`

func TestAttributeLeaks(t *testing.T) {
	t.Parallel()
	leakInit := modtext.Range{Start: 0xffffffffc0205000, End: 0xffffffffc0205080, Module: "leak",
		Funcs: []modtext.Func{{Name: "__pfx_leak_init", Off: 0, Size: 0x10}, {Name: "leak_init", Off: 0x10, Size: 0x50}}}
	other := modtext.Range{Start: 0xffffffffc0300000, End: 0xffffffffc0300100, Module: "other"}
	// The object was allocated at jiffies 4294681632.
	const at = 4294681632
	unit := func(name string, start uint64, rs ...modtext.Range) unitCode {
		return unitCode{unit: name, ranges: rs, start: start}
	}
	for _, tc := range []struct {
		name  string
		units []unitCode
		owner string   // "" when nobody owns it
		want  []string // what the report must contain
	}{
		{"the unit's module", []unitCode{unit("u1", at-500, other, leakInit)}, "u1", []string{
			"unreferenced object 0xffff888005a1e800 (size 200):",
			"\n    0xffffffffc0205022 leak_init+0x12/0x50 [leak]\n",
			"leak was here",
			"entry_SYSCALL_64_after_hwframe+0x77/0x7f",
		}},
		{"a range without functions still attributes",
			[]unitCode{unit("u1", at-500, modtext.Range{Start: 0xffffffffc0205000, End: 0xffffffffc0205023, Module: "leak"})},
			"u1", []string{"\n    0xffffffffc0205022\n"}},
		{"another module", []unitCode{unit("u1", at-500, other)}, "", nil},
		{"the range ends before the frame",
			[]unitCode{unit("u1", at-500, modtext.Range{Start: 0xffffffffc0205000, End: 0xffffffffc0205022, Module: "leak"})}, "", nil},
		{"no unit", nil, "", nil},
		// Two units' modules lay at the same place in turn: the object is
		// the one's that ran when it was allocated.
		{"the same place, first unit", []unitCode{unit("u1", at-500, leakInit), unit("u2", at+1500, leakInit)}, "u1", nil},
		{"the same place, second unit", []unitCode{unit("u1", at-2500, leakInit), unit("u2", at-500, leakInit)}, "u2", nil},
		{"no jiffies: the last one", []unitCode{unit("u1", 0, leakInit), unit("u2", 0, leakInit)}, "u2", nil},
		{"allocated before the unit started", []unitCode{unit("u2", at+1500, leakInit)}, "", nil},
	} {
		got := attributeLeaks(leakReport, tc.units)
		n := 0
		for u, reports := range got {
			n += len(reports)
			if u != tc.owner {
				t.Errorf("%s: %s got %q", tc.name, u, reports)
			}
		}
		if tc.owner == "" {
			continue
		}
		if n != 1 || len(got[tc.owner]) != 1 {
			t.Fatalf("%s: got %d reports (%q), want 1 for %s", tc.name, n, got, tc.owner)
		}
		r := got[tc.owner][0]
		for _, w := range tc.want {
			if !strings.Contains(r, w) {
				t.Errorf("%s: report lacks %q:\n%s", tc.name, w, r)
			}
		}
		if strings.Contains(r, "swapper") {
			t.Errorf("%s: the kernel's own object was attributed too:\n%s", tc.name, r)
		}
	}
}

func TestJiffiesLine(t *testing.T) {
	t.Parallel()
	timerList := "cpu: 0\n clock 0:\n  .base:       ffff88801f428a40\n" +
		"  .next_timer     : 4294686000\n  .idle_expires   : 21500000000 nsecs\njiffies: 4294685969\n\n"
	m := jiffiesLine.FindStringSubmatch(timerList)
	if m == nil || m[1] != "4294685969" {
		t.Errorf("jiffies line: %q", m)
	}
	for line, want := range map[string]string{
		`  comm "exe", pid 69, jiffies 4294685969`:            "4294685969",
		`  comm "kworker/0:1", pid 12, jiffies 4294685969`:    "4294685969",
		`  comm "exe", pid 69, jiffies 4294685969 (age 5.1s)`: "",
	} {
		got := ""
		if m := allocatedAt.FindStringSubmatch(line); m != nil {
			got = m[1]
		}
		if got != want {
			t.Errorf("allocatedAt(%q) = %q, want %q", line, got, want)
		}
	}
}

func TestFrameAddr(t *testing.T) {
	t.Parallel()
	for line, want := range map[string]uint64{
		"    0xffffffffc0205022":                                    0xffffffffc0205022,
		"    [<ffffffffc0205022>] 0xffffffffc0205022":               0xffffffffc0205022, // before 6.8
		"    [<ffffffffc0205022>] leak_init+0x12/0x50 [leak]":       0xffffffffc0205022,
		"    __kmalloc_cache_noprof+0x2d7/0x380":                    0,
		"  comm \"modlab\", pid 141, jiffies 4294681632":            0,
		"    6c 65 61 6b 20 77 61 73 20 68 65 72 65 00 6b 6b  leak": 0,
		"    0xzz": 0,
		"":         0,
	} {
		got, ok := frameAddr(line)
		if got != want || ok != (want != 0) {
			t.Errorf("frameAddr(%q) = %#x, %v; want %#x", line, got, ok, want)
		}
	}
}

func FuzzAttributeLeaks(f *testing.F) {
	f.Add(leakReport, uint64(0xffffffffc0205000), uint64(0x80))
	f.Add("unreferenced object 0x1 (size 1):\n  backtrace:\n    0x10\n", uint64(0), uint64(0x100))
	f.Fuzz(func(t *testing.T, report string, start, size uint64) {
		r := modtext.Range{Start: start, End: start + size, Module: "m", Funcs: []modtext.Func{{Name: "f", Size: size / 2}}}
		got := attributeLeaks(report, []unitCode{{unit: "u", ranges: []modtext.Range{r}, start: start}})
		for u, reports := range got {
			for _, s := range reports {
				if u != "u" || !strings.HasPrefix(s, "unreferenced object ") {
					t.Fatalf("%s got a report that does not start with kmemleak's line: %q", u, s)
				}
			}
		}
	})
}
