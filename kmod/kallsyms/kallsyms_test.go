package kallsyms

import (
	"os"
	"strings"
	"testing"
)

const sample = `0000000000000000 A fixed_percpu_data
0000000000001000 A cpu_debug_store
ffffffff81000000 T _stext
ffffffff81000000 T _text
ffffffff810a2c10 T _printk
ffffffff810a2c90 t printk_sprint
ffffffff82400000 B _end
ffffffff82300000 r __ksymtab__printk
ffffffffc0201000 t show_calls	[export_provider]
ffffffffc0201030 t export_provider_add	[export_provider]
ffffffffc0202000 r __ksymtab_export_provider_add	[export_provider]
ffffffffc0206200 r __ksymtab_export_provider_calls	[export_user]
ffffffffc0203000 D export_provider_calls	[export_provider]
ffffffffc0206100 t show_calls	[export_user]
ffffffffc0206000 t user_init	[export_user]
`

func load(t *testing.T, text string) *Table {
	t.Helper()
	tab, err := Parse(strings.NewReader(text), "kallsyms")
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

func TestLookup(t *testing.T) {
	t.Parallel()
	tab := load(t, sample)
	tests := []struct {
		q    string
		want []string
	}{
		{"_printk", []string{"ffffffff810a2c10 T _printk"}},
		{"show_calls", []string{"ffffffffc0201000 t show_calls\t[export_provider]", "ffffffffc0206100 t show_calls\t[export_user]"}},
		{"export_user:show_calls", []string{"ffffffffc0206100 t show_calls\t[export_user]"}},
		{"vmlinux:_printk", []string{"ffffffff810a2c10 T _printk"}},
		{"vmlinux:show_calls", nil},
		{"nosuch", nil},
	}
	for _, tc := range tests {
		var got []string
		for _, s := range tab.Lookup(tc.q) {
			got = append(got, s.String())
		}
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("Lookup(%q) = %q, want %q", tc.q, got, tc.want)
		}
	}
	if s := tab.Lookup("_printk")[0]; !s.Global() || tab.Lookup("show_calls")[0].Global() {
		t.Error("Global() is wrong")
	}
	for name, want := range map[string]bool{"export_provider_add": true, "export_provider_calls": false, "_printk": true, "printk_sprint": false} {
		if got := tab.Exported(tab.Lookup(name)[0]); got != want {
			t.Errorf("Exported(%s) = %v, want %v", name, got, want)
		}
	}
}

func TestAddr(t *testing.T) {
	t.Parallel()
	tab := load(t, sample)
	tests := []struct {
		addr uint64
		want string
		ok   bool
	}{
		{0xffffffff81000000, "_stext+0x0/0xa2c10", true},
		{0xffffffff810a2c15, "_printk+0x5/0x80", true},
		{0xffffffffc0201045, "export_provider_add+0x15/0xfd0 [export_provider]", true},
		// Last symbol of its module: no size.
		{0xffffffffc0203010, "export_provider_calls+0x10 [export_provider]", true},
		// Module symbols need not be sorted in the file.
		{0xffffffffc0206010, "user_init+0x10/0x100 [export_user]", true},
		// The per-CPU absolute symbols never answer an address.
		{0x1000, "", false},
		{0x10, "", false},
	}
	for _, tc := range tests {
		loc, ok := tab.Addr(tc.addr)
		if ok != tc.ok || (ok && loc.String() != tc.want) {
			t.Errorf("Addr(%#x) = %q, %v; want %q, %v", tc.addr, loc.String(), ok, tc.want, tc.ok)
		}
	}
}

func TestHidden(t *testing.T) {
	t.Parallel()
	if load(t, sample).Hidden() {
		t.Error("sample reads as hidden")
	}
	hidden := strings.Join([]string{
		"0000000000000000 A fixed_percpu_data",
		"0000000000000000 T _stext",
		"0000000000000000 t show_calls\t[export_provider]",
	}, "\n")
	if !load(t, hidden).Hidden() {
		t.Error("all-zero table does not read as hidden")
	}
	// Only per-CPU symbols at zero (the top of any kallsyms) tell nothing.
	if load(t, "0000000000000000 A fixed_percpu_data\n").Hidden() || load(t, "").Hidden() {
		t.Error("a table of only absolute symbols reads as hidden")
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ line, want string }{
		{"ffffffff81000000 T", "kallsyms:2: want \"ADDRESS TYPE NAME [MODULE]\""},
		{"zz T name", `kallsyms:2: bad address "zz"`},
		{"ffffffff81000000 TT name", `bad symbol type "TT"`},
		{"ffffffff81000000 1 name", `bad symbol type "1"`},
		{"ffffffff81000000 t name mod", `bad module field "mod"`},
		{"ffffffff81000000 t name [] ", `bad module field "[]"`},
		{"ffffffff81000000 t a b c d", "want \"ADDRESS"},
	}
	for _, tc := range tests {
		_, err := Parse(strings.NewReader("ffffffff81000000 T _stext\n"+tc.line+"\n"), "kallsyms")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one containing %q", tc.line, err, tc.want)
		}
	}
}

// TestHostKallsyms parses this machine's /proc/kallsyms, when there is one,
// and looks up a symbol every kernel has.
func TestHostKallsyms(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/proc/kallsyms"); err != nil {
		t.Skip("no /proc/kallsyms here")
	}
	tab, err := Load("/proc")
	if err != nil {
		t.Fatal(err)
	}
	syms := tab.Lookup("vprintk")
	if len(syms) == 0 {
		t.Fatal("vprintk not found in /proc/kallsyms")
	}
	if tab.Hidden() {
		t.Skip("addresses are hidden for this user")
	}
	loc, ok := tab.Addr(syms[0].Addr + 1)
	if !ok || loc.Offset != 1 || loc.Symbol.Addr != syms[0].Addr {
		t.Errorf("Addr(vprintk+1) = %v, %v", loc, ok)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(sample)
	f.Add("0000000000000000 A x\n")
	f.Add("ffffffff81000000 t name [m]\nffffffff81000000 t name [\n")
	f.Fuzz(func(t *testing.T, s string) {
		tab, err := Parse(strings.NewReader(s), "kallsyms")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "kallsyms:") {
				t.Fatalf("error %q does not name the file and line", err)
			}
			return
		}
		tab.Hidden()
		for _, sym := range tab.Symbols {
			if got := tab.Lookup(sym.Name); len(got) == 0 {
				t.Fatalf("Lookup(%q) finds nothing", sym.Name)
			}
			if loc, ok := tab.Addr(sym.Addr); ok && (loc.Symbol.Addr > sym.Addr || loc.Offset != sym.Addr-loc.Symbol.Addr) {
				t.Fatalf("Addr(%#x) = %+v", sym.Addr, loc)
			}
			_ = sym.String()
		}
	})
}
