package modprobe

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/modlab/modlab/kmod/index"
	"github.com/modlab/modlab/kmod/modconf"
	"github.com/modlab/modlab/kmod/moddir"
	"github.com/modlab/modlab/kmod/modname"
)

// writeDir writes a module directory from modules.dep-style lines (and
// the matching modules.dep.bin), creating empty module files for the paths
// listed in files.
func writeDir(t *testing.T, dep []string, files []string, builtin []string) *moddir.Dir {
	t.Helper()
	dir := t.TempDir()
	tr := index.NewTrie()
	for i, l := range dep {
		p, _, _ := strings.Cut(l, ":")
		if _, err := tr.Insert(modname.FromPath(p), l, uint32(i)); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Create(filepath.Join(dir, "modules.dep.bin"))
	if err != nil {
		t.Fatal(err)
	}
	tr.WriteTo(f)
	f.Close()
	bt := index.NewTrie()
	for _, b := range builtin {
		bt.Insert(b, "", 0)
	}
	f, _ = os.Create(filepath.Join(dir, "modules.builtin.bin"))
	bt.WriteTo(f)
	f.Close()
	for _, p := range files {
		p = filepath.Join(dir, p)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, nil, 0o644)
	}
	d, err := moddir.OpenPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

type step struct {
	kind     ActionKind
	name     string
	opts     string
	required bool
}

func probe(t *testing.T, r *Resolver, name string, f Flags) []step {
	t.Helper()
	mods, err := r.Lookup(name)
	if err != nil || len(mods) == 0 {
		t.Fatalf("Lookup(%s) = %v, %v", name, mods, err)
	}
	res, err := r.Probe(mods[0], f)
	if err != nil {
		t.Fatal(err)
	}
	var out []step
	for _, a := range res.Actions {
		out = append(out, step{a.Kind, a.Name, a.Options, a.Required})
	}
	return out
}

func TestProbeOrderAndFlags(t *testing.T) {
	t.Parallel()
	d := writeDir(t, []string{
		"a.ko: b.ko c.ko",
		"b.ko: c.ko",
		"c.ko:",
		"s.ko:",
	}, []string{"a.ko", "b.ko", "c.ko", "s.ko"}, []string{"bi"})
	cfg := &modconf.Config{}
	cfg.Parse("t.conf", strings.NewReader("options a x=1\noptions c y=2\nsoftdep a pre: s bi post: nothere\n"))
	r := New(d, cfg)
	got := probe(t, r, "a", Flags{IgnoreLoaded: true, ExtraOptions: "z=3"})
	want := []step{
		{Insmod, "c", "y=2 ", true},
		{Insmod, "b", "", true},
		{Insmod, "s", "", false},
		{Builtin, "bi", "", false},
		{Insmod, "a", "x=1 z=3", true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("probe a:\n got %+v\nwant %+v", got, want)
	}
	// -i: no softdeps.
	got = probe(t, r, "a", Flags{IgnoreLoaded: true, IgnoreCommands: true})
	if len(got) != 3 || got[2].name != "a" {
		t.Errorf("probe -i a = %+v", got)
	}
}

// TestCyclicModulesDep checks that a modules.dep whose entries depend on
// each other (which depmod refuses to write) neither hangs nor loops.
func TestCyclicModulesDep(t *testing.T) {
	t.Parallel()
	d := writeDir(t, []string{"a.ko: b.ko", "b.ko: a.ko"}, []string{"a.ko", "b.ko"}, nil)
	cfg := &modconf.Config{}
	cfg.Parse("t.conf", strings.NewReader("softdep a pre: b\nsoftdep b pre: a\n"))
	r := New(d, cfg)
	got := probe(t, r, "a", Flags{IgnoreLoaded: true})
	if len(got) == 0 || len(got) > 4 {
		t.Errorf("probe on a cycle = %+v", got)
	}
}

// TestMissingModuleFile checks that a dependency modules.dep names but
// that does not exist is reported with the file that named it.
func TestMissingModuleFile(t *testing.T) {
	t.Parallel()
	d := writeDir(t, []string{"a.ko: gone.ko", "gone.ko:"}, []string{"a.ko"}, nil)
	var warnings []string
	r := New(d, nil)
	r.Warn = func(s string) { warnings = append(warnings, s) }
	got := probe(t, r, "a", Flags{IgnoreLoaded: true})
	if len(got) != 1 || got[0].name != "a" {
		t.Errorf("probe = %+v", got)
	}
	if len(warnings) == 0 || !strings.Contains(warnings[0], "modules.dep") || !strings.Contains(warnings[0], "gone.ko") {
		t.Errorf("warnings = %q", warnings)
	}
}

func TestBlacklistAndInstall(t *testing.T) {
	t.Parallel()
	d := writeDir(t, []string{"a.ko:", "i.ko:"}, []string{"a.ko", "i.ko"}, nil)
	cfg := &modconf.Config{}
	cfg.Parse("t.conf", strings.NewReader("blacklist a\nalias al a\ninstall i* echo $CMDLINE_OPTS\n"))
	r := New(d, cfg)
	for _, tc := range []struct {
		name string
		f    Flags
		bl   bool
	}{{"a", Flags{IgnoreLoaded: true}, false}, {"a", Flags{IgnoreLoaded: true, UseBlacklist: true}, true}, {"al", Flags{IgnoreLoaded: true}, true}} {
		mods, _ := r.Lookup(tc.name)
		res, err := r.Probe(mods[0], tc.f)
		if err != nil || res.Blacklisted != tc.bl {
			t.Errorf("%s %+v: blacklisted %v, %v; want %v", tc.name, tc.f, res.Blacklisted, err, tc.bl)
		}
	}
	got := probe(t, r, "i", Flags{IgnoreLoaded: true})
	if len(got) != 1 || got[0].kind != Install {
		t.Errorf("install: %+v", got)
	}
}
