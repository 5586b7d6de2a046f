package loaded

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// tree writes files (path -> content; a content of "->target" makes a
// symlink, a path ending in "/" an empty directory) under a new root.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, c := range files {
		full := filepath.Join(root, p)
		if strings.HasSuffix(p, "/") {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		if target, ok := strings.CutPrefix(c, "->"); ok {
			err = os.Symlink(target, full)
		} else {
			err = os.WriteFile(full, []byte(c), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestParseModules(t *testing.T) {
	t.Parallel()
	text := `export_provider 16384 1 export_user, Live 0xffffffffc0201000 (OE)
snd 98304 3 snd_a,snd_b,[permanent], Live 0x0000000000000000
loading 8192 1 - Loading 0xffffffffc01f0000 (OE+)
nounload 4096 - - Live 0xffffffffc01d0000
old 100 0 -

`
	mods, err := ParseModules(strings.NewReader(text), "modules")
	if err != nil {
		t.Fatal(err)
	}
	want := []Module{
		{Name: "export_provider", Size: 16384, Refcnt: 1, UsedBy: []string{"export_user"}, State: "Live", Address: 0xffffffffc0201000, Taints: "OE"},
		{Name: "snd", Size: 98304, Refcnt: 3, UsedBy: []string{"snd_a", "snd_b"}, Permanent: true, State: "Live"},
		{Name: "loading", Size: 8192, Refcnt: 1, State: "Loading", Address: 0xffffffffc01f0000, Taints: "OE+"},
		{Name: "nounload", Size: 4096, Refcnt: -1, State: "Live", Address: 0xffffffffc01d0000},
		{Name: "old", Size: 100},
	}
	if !reflect.DeepEqual(mods, want) {
		t.Errorf("ParseModules =\n%+v\nwant\n%+v", mods, want)
	}
}

func TestParseModulesErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ line, want string }{
		{"a 1 0", "modules:2: want at least 4 fields"},
		{"a x 0 - Live 0x0", `modules:2: module a: bad size "x"`},
		{"a -1 0 - Live 0x0", `bad size "-1"`},
		{"a 1 y - Live 0x0", `bad use count "y"`},
		{"a 1 -3 - Live 0x0", `bad use count "-3"`},
		{"a 1 0 b Live 0x0", `users "b" do not end in ','`},
		{"a 1 0 b,,c, Live 0x0", "empty name in users"},
		{"a 1 0 - Dead 0x0", `unknown state "Dead"`},
		{"a 1 0 - Live ffff", `bad address "ffff"`},
		{"a 1 0 - Live 0xzz", `bad address "0xzz"`},
		{"a 1 0 - Live 0x0 OE", `bad taint field "OE"`},
		{"a 1 0 - Live 0x0 (O) extra", `unexpected trailing fields "extra"`},
	}
	for _, tc := range tests {
		_, err := ParseModules(strings.NewReader("good 1 0 - Live 0x0\n"+tc.line+"\n"), "modules")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one containing %q", tc.line, err, tc.want)
		}
	}
}

func TestSysfs(t *testing.T) {
	t.Parallel()
	root := tree(t, map[string]string{
		"proc/modules":                               "p 16384 2 u1,u2, Live 0x0 (OE)\nnosys 4096 3 - Live 0x0\n",
		"sys/module/p/initstate":                     "live\n",
		"sys/module/p/refcnt":                        "2\n",
		"sys/module/p/coresize":                      "20480\n",
		"sys/module/p/taint":                         "OE\n",
		"sys/module/p/holders/snd_hda_codec_realtek": "->../../snd_hda_codec_realtek",
		"sys/module/p/holders/snd_hda_intel":         "->../../snd_hda_intel",
		"sys/module/p/holders/snd_hda_codec_hdmi":    "->../../snd_hda_codec_hdmi",
		"sys/module/p/parameters/answer":             "42\n",
		"sys/module/p/parameters/name":               "hello\n",
		"sys/module/coming_no_state/refcnt":          "0\n",
		"sys/module/weird/initstate":                 "sleeping\n",
		"sys/module/badref/refcnt":                   "many\n",
	})
	s := Root(root)
	if st, err := s.InitState("p"); err != nil || st != Live {
		t.Errorf("InitState(p) = %q, %v", st, err)
	}
	if st, err := s.InitState("coming-no-state"); err != nil || st != Coming {
		t.Errorf("InitState of a directory without initstate = %q, %v; want coming (as libkmod)", st, err)
	}
	if _, err := s.InitState("absent"); !errors.Is(err, ErrNotLoaded) {
		t.Errorf("InitState(absent) error = %v, want ErrNotLoaded", err)
	}
	if _, err := s.InitState("weird"); err == nil || !strings.Contains(err.Error(), `unknown state "sleeping"`) {
		t.Errorf("InitState(weird) error = %v", err)
	}
	if n, err := s.Refcnt("p"); n != 2 || err != nil {
		t.Errorf("Refcnt = %d, %v", n, err)
	}
	if _, err := s.Refcnt("badref"); err == nil || !strings.Contains(err.Error(), `not a number: "many"`) {
		t.Errorf("Refcnt(badref) error = %v", err)
	}
	if v, err := s.Taint("p"); v != "OE" || err != nil {
		t.Errorf("Taint = %q, %v", v, err)
	}
	// Kernfs order, not alphabetical: realtek sorts after intel.
	h, err := s.Holders("p")
	if want := []string{"snd_hda_codec_hdmi", "snd_hda_intel", "snd_hda_codec_realtek"}; err != nil || !slices.Equal(h, want) {
		t.Errorf("Holders = %q, %v; want %q", h, err, want)
	}
	ps, err := s.Parameters("p")
	if err != nil || len(ps) != 2 || ps[0] != (Param{Name: "answer", Value: "42"}) || ps[1] != (Param{Name: "name", Value: "hello"}) {
		t.Errorf("Parameters = %+v, %v", ps, err)
	}
	entries, err := s.Lsmod()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	WriteLsmod(&b, entries)
	want := "Module                  Size  Used by\n" +
		"p                      20480  2 snd_hda_codec_hdmi,snd_hda_intel,snd_hda_codec_realtek\n" +
		"nosys                   4096  3\n"
	if b.String() != want {
		t.Errorf("lsmod =\n%s\nwant\n%s", b.String(), want)
	}
}

func TestIsBuiltin(t *testing.T) {
	t.Parallel()
	root := tree(t, map[string]string{"modules.builtin": "kernel/drivers/tty/serial/8250/8250.ko\nkernel/crypto/crc32c_generic.ko\n"})
	for name, want := range map[string]bool{"8250": true, "crc32c-generic": true, "crc32c_generic": true, "ext4": false} {
		if got, err := IsBuiltin(root, name); got != want || err != nil {
			t.Errorf("IsBuiltin(%s) = %v, %v; want %v", name, got, err, want)
		}
	}
	if got, err := IsBuiltin(filepath.Join(root, "nope"), "8250"); got || err != nil {
		t.Errorf("IsBuiltin without modules.builtin = %v, %v", got, err)
	}
}

// TestKernfsOrderMatchesSysfs checks KernfsSort against the real sysfs of
// this machine: readdir there returns kernfs order.
func TestKernfsOrderMatchesSysfs(t *testing.T) {
	t.Parallel()
	checked := 0
	for _, d := range []string{"/sys/module", "/sys/class", "/sys/bus", "/sys/kernel", "/sys/devices/system/cpu"} {
		f, err := os.Open(d)
		if err != nil {
			continue
		}
		ents, err := f.ReadDir(-1) // directory order, unsorted
		f.Close()
		if err != nil || len(ents) < 2 {
			continue
		}
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		sorted := slices.Clone(names)
		KernfsSort(sorted)
		if !slices.Equal(sorted, names) {
			t.Errorf("%s: kernfs order %q, KernfsSort gives %q", d, names, sorted)
		}
		checked++
	}
	if checked == 0 {
		t.Skip("no sysfs mounted here")
	}
}

func FuzzParseModules(f *testing.F) {
	f.Add("export_provider 16384 1 export_user, Live 0xffffffffc0201000 (OE)\n")
	f.Add("snd 98304 3 snd_a,snd_b,[permanent], Live 0x0000000000000000\nx 1 - - Loading 0x1 (OE+)\n")
	f.Add("a 1 0 b,,c, Live 0x0\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		mods, err := ParseModules(strings.NewReader(s), "modules")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "modules:") {
				t.Fatalf("error %q does not name the file and line", err)
			}
			return
		}
		for _, m := range mods {
			if m.Name == "" || m.Size < 0 || m.Refcnt < -1 {
				t.Fatalf("ParseModules(%q) gave %+v", s, m)
			}
		}
		var b bytes.Buffer
		var es []Entry
		for _, m := range mods {
			es = append(es, Entry{Name: m.Name, Size: m.Size, Refcnt: m.Refcnt, Holders: m.UsedBy})
		}
		if err := WriteLsmod(&b, es); err != nil {
			t.Fatal(err)
		}
	})
}
