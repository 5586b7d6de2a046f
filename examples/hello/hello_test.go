//go:build modlab_guest

// Package hello_test checks, inside the lab's VM, what a user of the hello
// modules sees: the lines they log on load and unload, the parameters of
// hello-5 in the log and under /sys/module/hello_5/parameters, and how the
// kernel refuses bad values and a second load. `modlab test hello` runs it.
//
// The tests that load modules do not run in parallel: they share one
// kernel, and a module can only be loaded once at a time.
package hello_test

import (
	"debug/elf"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/modlab/modlab/lab/guesttest"
)

// own returns the log lines that start with the module's prefix
// ("hello_5: "), the prefix pr_fmt gives to everything the module logs.
func own(log *guesttest.Log, kname string) []string {
	var out []string
	for _, l := range log.Lines() {
		if strings.HasPrefix(l, kname+": ") {
			out = append(out, l)
		}
	}
	return out
}

// wantRun fails the test unless the module's own log lines contain want as
// one unbroken run, exactly once.
func wantRun(t *testing.T, log *guesttest.Log, kname string, want ...string) {
	t.Helper()
	lines := own(log, kname)
	found := 0
	for i := 0; i+len(want) <= len(lines); i++ {
		if slices.Equal(lines[i:i+len(want)], want) {
			found++
		}
	}
	if found != 1 {
		t.Fatalf("%s's log lines should contain, exactly once:\n\t%s\nthey are:\n\t%s",
			kname, strings.Join(want, "\n\t"), strings.Join(lines, "\n\t"))
	}
}

// wantNoLine fails the test if the module logged line.
func wantNoLine(t *testing.T, log *guesttest.Log, kname, line string) {
	t.Helper()
	if slices.Contains(own(log, kname), line) {
		t.Fatalf("%s logged %q and should not have", kname, line)
	}
}

// wantLine fails the test unless some line of the log is exactly line.
func wantLine(t *testing.T, log *guesttest.Log, line string) {
	t.Helper()
	lines := log.Lines()
	if !slices.Contains(lines, line) {
		t.Fatalf("kernel log lacks the line %q; it has:\n\t%s", line, strings.Join(lines, "\n\t"))
	}
}

func TestLoadUnload(t *testing.T) {
	tests := []struct {
		module     string
		init, exit string
	}{
		{"hello-1", "hello_1: Hello, world 1", "hello_1: Goodbye, world 1"},
		{"hello-2", "hello_2: Hello, world 2", "hello_2: Goodbye, world 2"},
		{"hello-3", "hello_3: Hello, world 3", "hello_3: Goodbye, world 3"},
		{"hello-4", "hello_4: Hello, world 4", "hello_4: Goodbye, world 4"},
		{"hello-5", "hello_5: Hello, world 5", "hello_5: Goodbye, world 5 (myint = 420)"},
		{"startstop", "startstop: started (init is in start.c)", "startstop: stopped (exit is in stop.c)"},
	}
	for _, tc := range tests {
		t.Run(tc.module, func(t *testing.T) {
			log := guesttest.KernelLog(t)
			m := guesttest.Load(t, tc.module)
			kname := guesttest.KernelName(tc.module)
			wantRun(t, log, kname, tc.init)
			wantNoLine(t, log, kname, tc.exit)
			if got := strings.TrimSpace(guesttest.ReadFile(t, filepath.Join(m.SysDir(), "initstate"))); got != "live" {
				t.Errorf("initstate after load = %q, want live", got)
			}

			m.Unload(t)
			wantRun(t, log, kname, tc.exit)
			if m.Loaded() {
				t.Errorf("%s still loaded after rmmod", m.Name)
			}
			if _, err := os.Stat(m.SysDir()); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s after rmmod: %v, want it gone", m.SysDir(), err)
			}
			log.Clean(t)
		})
	}
}

func TestLoadTwice(t *testing.T) {
	tests := []struct{ module, init string }{
		{"hello-1", "hello_1: Hello, world 1"},
		{"hello-5", "hello_5: Hello, world 5"},
		{"startstop", "startstop: started (init is in start.c)"},
	}
	for _, tc := range tests {
		t.Run(tc.module, func(t *testing.T) {
			log := guesttest.KernelLog(t)
			m := guesttest.Load(t, tc.module)
			err := guesttest.TryLoad(t, tc.module)
			if !errors.Is(err, unix.EEXIST) {
				t.Fatalf("second load of %s: %v, want EEXIST", tc.module, err)
			}
			if !m.Loaded() {
				t.Fatalf("%s is gone after the failed second load", m.Name)
			}
			// The second load never ran init: the line is there once.
			wantRun(t, log, m.Name, tc.init)
			m.Unload(t)
			log.Clean(t)
		})
	}
}

// hello5Lines is what hello-5's init logs for the given values.
func hello5Lines(short, integer, long, str, arr0, arr1, count string) []string {
	return []string{
		"hello_5: Hello, world 5",
		"hello_5: myshort = " + short,
		"hello_5: myint = " + integer,
		"hello_5: mylong = " + long,
		`hello_5: mystring = "` + str + `"`,
		"hello_5: myintarray[0] = " + arr0,
		"hello_5: myintarray[1] = " + arr1,
		"hello_5: myintarray: " + count + " of 2 values given",
	}
}

func TestHello5Params(t *testing.T) {
	tests := []struct {
		name   string
		params []string
		log    []string
		sysfs  map[string]string // files under parameters/ and their contents
	}{
		{
			name: "defaults",
			log:  hello5Lines("1", "420", "9999", "blah", "420", "420", "0"),
			sysfs: map[string]string{
				"myshort": "1", "myint": "420", "mylong": "9999",
			},
		},
		{
			name: "all given",
			params: []string{"myshort=-7", "myint=123456", "mylong=-9876543210",
				`mystring="foo bar"`, "myintarray=-1,3"},
			log: hello5Lines("-7", "123456", "-9876543210", "foo bar", "-1", "3", "2"),
			sysfs: map[string]string{
				"myshort": "-7", "myint": "123456", "mylong": "-9876543210",
			},
		},
		{
			name:   "one array element",
			params: []string{"myintarray=7"},
			log:    hello5Lines("1", "420", "9999", "blah", "7", "420", "1"),
			sysfs:  map[string]string{"myshort": "1", "myint": "420", "mylong": "9999"},
		},
		{
			name:   "quoted whole parameter",
			params: []string{`"mystring=two words"`},
			log:    hello5Lines("1", "420", "9999", "two words", "420", "420", "0"),
			sysfs:  map[string]string{"myshort": "1", "myint": "420", "mylong": "9999"},
		},
		{
			name:   "hex and octal",
			params: []string{"myint=0x1f", "myshort=010", "mylong=-0x10"},
			log:    hello5Lines("8", "31", "-16", "blah", "420", "420", "0"),
			sysfs:  map[string]string{"myshort": "8", "myint": "31", "mylong": "-16"},
		},
		{
			name:   "limits of short",
			params: []string{"myshort=-32768", "myintarray=32767,-32768"},
			log:    hello5Lines("-32768", "420", "9999", "blah", "32767", "-32768", "2"),
			sysfs:  map[string]string{"myshort": "-32768", "myint": "420", "mylong": "9999"},
		},
		{
			name:   "last value wins",
			params: []string{"myint=1", "myint=2"},
			log:    hello5Lines("1", "2", "9999", "blah", "420", "420", "0"),
			sysfs:  map[string]string{"myshort": "1", "myint": "2", "mylong": "9999"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			log := guesttest.KernelLog(t)
			m := guesttest.Load(t, "hello-5", tc.params...)
			wantRun(t, log, m.Name, tc.log...)
			for param, want := range tc.sysfs {
				if got := m.Param(t, param); got != want {
					t.Errorf("parameters/%s = %q, want %q", param, got, want)
				}
			}
			m.Unload(t)
			log.Clean(t)
		})
	}
}

func TestHello5UnknownParamIgnored(t *testing.T) {
	tests := []struct {
		name    string
		params  []string
		ignored string // the kernel's line about the unknown parameter
		log     []string
	}{
		{
			name:    "misspelt",
			params:  []string{"nosuch=1", "myint=5"},
			ignored: "hello_5: unknown parameter 'nosuch' ignored",
			log:     hello5Lines("1", "5", "9999", "blah", "420", "420", "0"),
		},
		{
			// Without double quotes the space ends the value, and the
			// rest is taken for a parameter of its own.
			name:    "space without quotes",
			params:  []string{"mystring=foo bar"},
			ignored: "hello_5: unknown parameter 'bar' ignored",
			log:     hello5Lines("1", "420", "9999", "foo", "420", "420", "0"),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			log := guesttest.KernelLog(t)
			m := guesttest.Load(t, "hello-5", tc.params...)
			wantLine(t, log, tc.ignored)
			wantRun(t, log, m.Name, tc.log...)
			m.Unload(t)
			log.Clean(t)
		})
	}
}

func TestHello5SysfsFiles(t *testing.T) {
	m := guesttest.Load(t, "hello-5")
	dir := filepath.Join(m.SysDir(), "parameters")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	modes := map[string]os.FileMode{}
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		modes[e.Name()] = fi.Mode()
	}
	// mystring and myintarray have mode 0: no file at all.
	want := map[string]os.FileMode{"myshort": 0o660, "myint": 0o644, "mylong": 0o400}
	if len(modes) != len(want) {
		t.Errorf("%s holds %v, want exactly %v", dir, modes, want)
	}
	for name, mode := range want {
		if got, ok := modes[name]; !ok || got != mode {
			t.Errorf("%s/%s: mode %v (present %v), want %v", dir, name, got, ok, mode)
		}
	}
}

func TestHello5WriteParam(t *testing.T) {
	log := guesttest.KernelLog(t)
	m := guesttest.Load(t, "hello-5")
	dir := filepath.Join(m.SysDir(), "parameters")
	steps := []struct {
		param, write string
		err          error // nil: the write succeeds
		after        string
	}{
		{"myint", "42", nil, "42"},
		{"myint", "abc", unix.EINVAL, "42"},
		{"myint", "12abc", unix.EINVAL, "42"},
		{"myint", "0x10\n", nil, "16"},
		{"myint", "-8", nil, "-8"},
		{"myshort", "-3", nil, "-3"},
		{"myshort", "40000", unix.ERANGE, "-3"},
		{"mylong", "1", unix.EACCES, "9999"}, // 0400: read-only, even for root
		{"myint", "42", nil, "42"},
	}
	for _, s := range steps {
		err := os.WriteFile(filepath.Join(dir, s.param), []byte(s.write), 0)
		switch {
		case s.err == nil && err != nil:
			t.Errorf("write %q to %s: %v", s.write, s.param, err)
		case s.err != nil && !errors.Is(err, s.err):
			t.Errorf("write %q to %s: %v, want %v", s.write, s.param, err, s.err)
		}
		if got := m.Param(t, s.param); got != s.after {
			t.Errorf("after writing %q, %s = %q, want %q", s.write, s.param, got, s.after)
		}
	}
	// The module sees the value written through sysfs.
	m.Unload(t)
	wantRun(t, log, m.Name, "hello_5: Goodbye, world 5 (myint = 42)")
	log.Clean(t)
}

func TestHello5BadValues(t *testing.T) {
	tests := []struct {
		name      string
		params    []string
		errno     unix.Errno
		complaint []string // the kernel's lines, in order
	}{
		{
			name:      "not a number",
			params:    []string{"myint=abc"},
			errno:     unix.EINVAL,
			complaint: []string{"hello_5: `abc' invalid for parameter `myint'"},
		},
		{
			name:   "three elements for two",
			params: []string{"myintarray=1,2,3"},
			errno:  unix.EINVAL,
			// The kernel cuts the list at the first comma while parsing
			// and does not put it back: its message shows only "1".
			complaint: []string{
				"myintarray: can only take 2 arguments",
				"hello_5: `1' invalid for parameter `myintarray'",
			},
		},
		{
			name:      "trailing garbage",
			params:    []string{"myint=5", "mylong=12abc"},
			errno:     unix.EINVAL,
			complaint: []string{"hello_5: `12abc' invalid for parameter `mylong'"},
		},
		{
			name:      "no value",
			params:    []string{"mystring"},
			errno:     unix.EINVAL,
			complaint: []string{"hello_5: `' invalid for parameter `mystring'"},
		},
		{
			name:      "bad array element",
			params:    []string{"myintarray=1,x"},
			errno:     unix.EINVAL,
			complaint: []string{"hello_5: `1' invalid for parameter `myintarray'"},
		},
		{
			name:      "too big for a short",
			params:    []string{"myshort=40000"},
			errno:     unix.ERANGE,
			complaint: []string{"hello_5: `40000' invalid for parameter `myshort'"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			log := guesttest.KernelLog(t)
			err := guesttest.TryLoad(t, "hello-5", tc.params...)
			if !errors.Is(err, tc.errno) {
				t.Fatalf("load with %q: %v, want %v", tc.params, err, tc.errno)
			}
			if (&guesttest.Module{Name: "hello_5"}).Loaded() {
				t.Errorf("hello_5 is loaded after a failed load")
			}
			log.Want(t, tc.complaint...)
			for _, c := range tc.complaint {
				wantLine(t, log, c)
			}
			// init never ran.
			wantNoLine(t, log, "hello_5", "hello_5: Hello, world 5")
			log.Clean(t)
		})
	}
}

// modinfo reads the "key=value" strings of a module file's .modinfo
// section, what modinfo(8) prints.
func modinfo(t *testing.T, module string) []string {
	t.Helper()
	f, err := elf.Open(guesttest.ModulePath(t, module))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		t.Fatalf("%s has no .modinfo section", module)
	}
	b, err := sec.Data()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range strings.Split(string(b), "\x00") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func TestModinfo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		module string
		want   []string
	}{
		{"hello-1", []string{"license=GPL"}},
		{"hello-4", []string{
			"license=GPL",
			"author=The modlab authors",
			"description=A module that documents itself with MODULE_* macros",
		}},
		{"hello-5", []string{
			"parmtype=myshort:short",
			"parm=myshort:A short integer (owner and group may change it in sysfs)",
			"parmtype=myint:int",
			"parmtype=mylong:long",
			"parmtype=mystring:charp",
			"parm=mystring:A character string (not in sysfs)",
			"parmtype=myintarray:array of int",
			"parm=myintarray:Up to two integers, comma-separated (not in sysfs)",
		}},
		{"startstop", []string{"license=GPL", "description=One module built from two source files"}},
	}
	for _, tc := range tests {
		t.Run(tc.module, func(t *testing.T) {
			t.Parallel()
			info := modinfo(t, tc.module)
			for _, w := range tc.want {
				if !slices.Contains(info, w) {
					t.Errorf("%s's modinfo lacks %q; it has:\n\t%s", tc.module, w, strings.Join(info, "\n\t"))
				}
			}
		})
	}
}

// TestSections checks where __init, __exit and __initdata put things: the
// sections the kernel frees after loading (or never keeps, for exit code
// of a built-in module).
func TestSections(t *testing.T) {
	t.Parallel()
	tests := []struct {
		module, symbol, section string
	}{
		{"hello-1", "hello_1_init", ".text"},
		{"hello-1", "hello_1_exit", ".text"},
		{"hello-2", "hello_2_init", ".init.text"},
		{"hello-2", "hello_2_exit", ".exit.text"},
		{"hello-3", "hello_3_data", ".init.data"},
		{"startstop", "startstop_init", ".init.text"},
		{"startstop", "startstop_exit", ".exit.text"},
	}
	for _, tc := range tests {
		t.Run(tc.module+"/"+tc.symbol, func(t *testing.T) {
			t.Parallel()
			f, err := elf.Open(guesttest.ModulePath(t, tc.module))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			syms, err := f.Symbols()
			if err != nil {
				t.Fatal(err)
			}
			i := slices.IndexFunc(syms, func(s elf.Symbol) bool { return s.Name == tc.symbol })
			if i < 0 {
				t.Fatalf("%s has no symbol %s", tc.module, tc.symbol)
			}
			idx := int(syms[i].Section)
			if idx <= 0 || idx >= len(f.Sections) {
				t.Fatalf("%s: symbol %s has section index %d", tc.module, tc.symbol, idx)
			}
			// GCC may put plain code in .text.unlikely or the like.
			got := f.Sections[idx].Name
			if got != tc.section && !(tc.section == ".text" && strings.HasPrefix(got, ".text.")) {
				t.Errorf("%s: %s is in %s, want %s", tc.module, tc.symbol, got, tc.section)
			}
		})
	}
}
