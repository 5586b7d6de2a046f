package moddir_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/modlab/modlab/internal/fakemod"
	"github.com/modlab/modlab/kmod/depmod"
	"github.com/modlab/modlab/kmod/moddir"
	"github.com/modlab/modlab/kmod/modname"
)

const tree = `
module kernel/lib/core-lib.ko
  export core_fn
module kernel/drivers/net/my-nic.ko.xz
  modinfo alias=pci:v00001234d*sv*sd*bc*sc*i*
  modinfo alias=net-my[0-9]
  import core_fn
module kernel/drivers/net/other.ko
  modinfo alias=pci:v00001234d00005678sv*sd*bc*sc*i*
builtin kernel/fs/ext4/ext4.ko
  modinfo softdep=pre: crc32c
  modinfo alias=fs-ext4
  modinfo license=GPL
builtin kernel/fs/vfat.ko
  modinfo alias=fs-vfat
`

func fixture(t *testing.T) *moddir.Dir {
	t.Helper()
	root := t.TempDir()
	if _, err := fakemod.BuildTree(tree, root, "1.0"); err != nil {
		t.Fatal(err)
	}
	dm, err := depmod.Load(depmod.Options{BaseDir: root, Release: "1.0", ConfigPaths: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := dm.WriteFiles(); err != nil {
		t.Fatal(err)
	}
	d, err := moddir.Open(root, "1.0")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestLookup(t *testing.T) {
	t.Parallel()
	d := fixture(t)
	dir := d.Path()
	for _, tc := range []struct {
		name string
		want []moddir.Module
	}{
		{"core_lib", []moddir.Module{{Name: "core_lib", Path: dir + "/kernel/lib/core-lib.ko"}}},
		{"core-lib", []moddir.Module{{Name: "core_lib", Path: dir + "/kernel/lib/core-lib.ko"}}},
		{"symbol:core_fn", []moddir.Module{{Name: "core_lib", Path: dir + "/kernel/lib/core-lib.ko", Alias: "symbol:core_fn"}}},
		{"net-my3", []moddir.Module{{Name: "my_nic", Path: dir + "/kernel/drivers/net/my-nic.ko.xz", Alias: "net_my3"}}},
		{"pci:v00001234d00005678sv00sd00bc00sc00i00", []moddir.Module{
			{Name: "my_nic", Path: dir + "/kernel/drivers/net/my-nic.ko.xz", Alias: "pci:v00001234d00005678sv00sd00bc00sc00i00"},
			{Name: "other", Path: dir + "/kernel/drivers/net/other.ko", Alias: "pci:v00001234d00005678sv00sd00bc00sc00i00"},
		}},
		{"ext4", []moddir.Module{{Name: "ext4", Builtin: true}}},
		{"fs-vfat", []moddir.Module{{Name: "vfat", Builtin: true, Alias: "fs_vfat"}}},
		{"nothing", nil},
	} {
		got, err := d.Lookup(tc.name)
		if err != nil {
			t.Errorf("Lookup(%q): %v", tc.name, err)
			continue
		}
		if len(got) == 0 && len(tc.want) == 0 {
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Lookup(%q) = %+v\nwant %+v", tc.name, got, tc.want)
		}
	}
	if _, err := d.Lookup("bad]name"); err == nil {
		t.Error("Lookup of an unbalanced bracket succeeded")
	}
	line, ok, err := d.Dep("my_nic")
	if err != nil || !ok || !reflect.DeepEqual(line.Deps, []string{dir + "/kernel/lib/core-lib.ko"}) {
		t.Errorf("Dep(my_nic) = %+v, %v, %v", line, ok, err)
	}
}

func TestBuiltinModinfo(t *testing.T) {
	t.Parallel()
	d := fixture(t)
	got, err := d.BuiltinModinfo("ext4")
	want := []string{"softdep=pre: crc32c", "alias=fs-ext4", "license=GPL"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("BuiltinModinfo(ext4) = %q, %v; want %q", got, err, want)
	}
	if got, err := d.BuiltinModinfo("nope"); err != nil || got != nil {
		t.Errorf("BuiltinModinfo(nope) = %q, %v", got, err)
	}
	os.WriteFile(d.File("modules.builtin.modinfo"), []byte("ext4.license=GPL\x00nodot\x00"), 0o644)
	if _, err := d.BuiltinModinfo("zzz"); err == nil || !strings.Contains(err.Error(), "modules.builtin.modinfo") || !strings.Contains(err.Error(), "offset 17") {
		t.Errorf("corrupt modules.builtin.modinfo: err = %v", err)
	}
	os.Remove(d.File("modules.builtin.modinfo"))
	if _, err := d.BuiltinModinfo("ext4"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: err = %v", err)
	}
}

func TestMissingAndCorruptIndexes(t *testing.T) {
	t.Parallel()
	d := fixture(t)
	os.Remove(d.File("modules.alias.bin"))
	if got, err := d.Lookup("net-my1"); err != nil || len(got) != 0 {
		t.Errorf("without modules.alias.bin: %+v, %v (libkmod finds nothing, no error)", got, err)
	}
	os.WriteFile(d.File("modules.dep.bin"), []byte("garbage garbage"), 0o644)
	d2, _ := moddir.OpenPath(d.Path())
	if _, err := d2.Lookup("core_lib"); err == nil || !strings.Contains(err.Error(), "modules.dep.bin") {
		t.Errorf("corrupt modules.dep.bin: err = %v", err)
	}
}

func TestTextFiles(t *testing.T) {
	t.Parallel()
	deps, err := moddir.ReadDepText("modules.dep", strings.NewReader("a.ko: b.ko c.ko\n\nb.ko:\n"))
	if err != nil || len(deps) != 2 || !reflect.DeepEqual(deps[0].Deps, []string{"b.ko", "c.ko"}) {
		t.Errorf("ReadDepText = %+v, %v", deps, err)
	}
	for _, tc := range []struct {
		parse func() error
		want  string
	}{
		{func() error {
			_, err := moddir.ReadDepText("modules.dep", strings.NewReader("a.ko:\nno colon\n"))
			return err
		}, "modules.dep:2:"},
		{func() error {
			_, err := moddir.ReadAliasText("modules.alias", strings.NewReader("# c\nalias x y\nalias z\n"))
			return err
		}, "modules.alias:3:"},
		{func() error {
			_, err := moddir.ReadBuiltinText("modules.builtin", strings.NewReader("a.ko\nb c\n"))
			return err
		}, "modules.builtin:2:"},
	} {
		if err := tc.parse(); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("error %v, want one starting %q", err, tc.want)
		}
	}
}

// TestInstalledKernels checks, for every installed kernel, that each
// module of the text modules.dep is found through the .bin index at the
// same path with the same dependencies.
func TestInstalledKernels(t *testing.T) {
	t.Parallel()
	dirs, _ := filepath.Glob("/lib/modules/*/modules.dep.bin")
	if len(dirs) == 0 {
		t.Skip("no installed kernel with modules.dep.bin")
	}
	for _, p := range dirs {
		d, err := moddir.OpenPath(filepath.Dir(p))
		if err != nil {
			t.Fatal(err)
		}
		text, err := d.DepText()
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range text {
			name := modname.FromPath(e.Path)
			mods, err := d.Lookup(name)
			if err != nil || len(mods) != 1 || mods[0].Path != d.Path()+"/"+e.Path {
				t.Errorf("%s: Lookup(%s) = %+v, %v", d.Path(), name, mods, err)
				continue
			}
			line, _, _ := d.Dep(name)
			if len(line.Deps) != len(e.Deps) {
				t.Errorf("%s: %s has %d deps in .bin, %d in text", d.Path(), name, len(line.Deps), len(e.Deps))
			}
		}
		builtin, err := d.BuiltinText()
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range builtin {
			name := modname.FromPath(b)
			// (Lookup may answer from modules.alias first, as libkmod
			// does for "crc32", so ask the builtin index directly.)
			if ok, err := d.IsBuiltin(name); err != nil || !ok {
				t.Errorf("%s: builtin %s not in modules.builtin.bin: %v", d.Path(), name, err)
			}
		}
	}
}

func FuzzTextParsers(f *testing.F) {
	f.Add("a.ko: b.ko\nalias x y\n#c\n")
	f.Add("kernel/fs/ext4.ko\n:\n")
	f.Fuzz(func(t *testing.T, s string) {
		moddir.ReadDepText("f", strings.NewReader(s))
		moddir.ReadAliasText("f", strings.NewReader(s))
		moddir.ReadBuiltinText("f", strings.NewReader(s))
	})
}

// An empty modules.builtin.bin, as depmod writes for a tree without
// modules.builtin, means "nothing is builtin", not a broken index.
func TestEmptyBuiltinIndex(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	dir := filepath.Join(base, "lib/modules/6.1.0-test")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "modules.builtin.bin"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := moddir.Open(base, "6.1.0-test")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if b, err := d.IsBuiltin("ext4"); err != nil || b {
		t.Errorf("IsBuiltin(ext4) on an empty index = %v, %v; want false, nil", b, err)
	}
}
