package index

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func build(t testing.TB, entries [][3]string) []byte {
	t.Helper()
	tr := NewTrie()
	for i, e := range entries {
		prio := uint32(i)
		if e[2] != "" {
			prio = uint32(len(e[2]))
		}
		if _, err := tr.Insert(e[0], e[1], prio); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := tr.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestSearchExact(t *testing.T) {
	t.Parallel()
	data := build(t, [][3]string{
		{"ask", "v-ask", ""}, {"ate", "v-ate", ""}, {"on", "v-on", ""},
		{"once", "v-once", ""}, {"one", "v-one", ""}, {"on", "v-on2", ""},
	})
	r, err := Parse("test", data)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key, want string
		ok        bool
	}{
		{"ask", "v-ask", true}, {"ate", "v-ate", true}, {"on", "v-on", true},
		{"once", "v-once", true}, {"one", "v-one", true},
		{"o", "", false}, {"a", "", false}, {"onc", "", false}, {"onez", "", false}, {"", "", false}, {"zzz", "", false},
	} {
		got, ok, err := r.Search(tc.key)
		if err != nil || ok != tc.ok || got != tc.want {
			t.Errorf("Search(%q) = %q, %v, %v; want %q, %v", tc.key, got, ok, err, tc.want, tc.ok)
		}
	}
}

func TestSearchWild(t *testing.T) {
	t.Parallel()
	data := build(t, [][3]string{
		{"pci:v00001234d*", "mid", ""},
		{"pci:v0000*d0000ABCD", "other", ""},
		{"usb:v1234p[0-9]*", "usbmod", ""},
		{"fs-ext4", "ext4", ""},
		{"fs-ext?", "extany", ""},
		{"plain", "p1", ""},
		{"plain", "p2", ""},
	})
	r, err := Parse("test", data)
	if err != nil {
		t.Fatal(err)
	}
	names := func(vs []Value) string {
		var s []string
		for _, v := range vs {
			s = append(s, v.Value)
		}
		return strings.Join(s, ",")
	}
	for _, tc := range []struct{ key, want string }{
		{"pci:v00001234d0000ABCD", "mid,other"},
		{"pci:v00001234d00000001", "mid"},
		{"usb:v1234p5abc", "usbmod"},
		{"usb:v1234pxabc", ""},
		{"fs-ext4", "ext4,extany"},
		{"fs-ext3", "extany"},
		{"plain", "p1,p2"},
		{"nothing", ""},
	} {
		vs, err := r.SearchWild(tc.key)
		if err != nil {
			t.Fatal(err)
		}
		got := names(vs)
		// Priorities are insertion order, so sorting by them is stable.
		if got != tc.want {
			t.Errorf("SearchWild(%q) = %q, want %q", tc.key, got, tc.want)
		}
	}
}

func TestDumpRoundTrip(t *testing.T) {
	t.Parallel()
	in := [][3]string{{"b", "2", ""}, {"a", "1", ""}, {"ab", "3", ""}, {"abc", "4", ""}, {"b", "5", ""}}
	r, err := Parse("test", build(t, in))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := r.Dump(&buf, "alias "); err != nil {
		t.Fatal(err)
	}
	want := "alias a 1\nalias ab 3\nalias abc 4\nalias b 2\nalias b 5\n"
	if buf.String() != want {
		t.Errorf("Dump = %q, want %q", buf.String(), want)
	}
	all, err := r.All()
	if err != nil || len(all) != 4 || all[3].Key != "b" || len(all[3].Values) != 2 {
		t.Errorf("All = %+v, %v", all, err)
	}
}

func TestInsertRejectsNonASCII(t *testing.T) {
	t.Parallel()
	tr := NewTrie()
	if _, err := tr.Insert("caf\xc3\xa9", "x", 0); err == nil {
		t.Error("Insert accepted a non-ASCII key")
	}
	if dup, err := tr.Insert("k", "v", 0); dup || err != nil {
		t.Fatal(dup, err)
	}
	if dup, _ := tr.Insert("k", "v", 1); !dup {
		t.Error("duplicate value not reported")
	}
}

// TestCorrupt checks that damaged files give errors, never panics or
// endless loops.
func TestCorrupt(t *testing.T) {
	t.Parallel()
	good := build(t, [][3]string{{"alpha", "1", ""}, {"alpine", "2", ""}, {"beta*", "3", ""}})
	loop := append([]byte{}, good...)
	// Point the root at itself as its only child.
	binary.BigEndian.PutUint32(loop[8:], flagChilds|12)
	loop = append(loop[:12], 'a', 'a', 0, 0, 0, 0)
	binary.BigEndian.PutUint32(loop[14:], flagChilds|12)
	cases := map[string][]byte{
		"empty":     {},
		"short":     good[:10],
		"magic":     append([]byte{1, 2, 3, 4}, good[4:]...),
		"version":   append(append(append([]byte{}, good[:4]...), 0, 9, 0, 1), good[8:]...),
		"truncated": good[:len(good)-3],
		"loop":      loop,
	}
	for name, data := range cases {
		r, err := Parse(name, data)
		if err != nil {
			if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), name) {
				t.Errorf("%s: Parse error %v does not wrap ErrFormat or name the file", name, err)
			}
			continue
		}
		_, _, err1 := r.Search("alpha")
		_, err2 := r.SearchWild("alpaca")
		err3 := r.Dump(&bytes.Buffer{}, "")
		if err1 == nil && err2 == nil && err3 == nil && name != "truncated" {
			t.Errorf("%s: no error from any look-up", name)
		}
	}
}

// TestDebianIndexes reads the installed kernels' .bin files (written by
// Debian's depmod) and checks them against the text files next to them,
// and that our writer reproduces each .bin byte for byte from its entries.
func TestDebianIndexes(t *testing.T) {
	t.Parallel()
	dirs, _ := filepath.Glob("/lib/modules/*/modules.dep.bin")
	if len(dirs) == 0 {
		t.Skip("no installed kernel with modules.dep.bin")
	}
	for _, p := range dirs {
		dir := filepath.Dir(p)
		for _, name := range []string{"modules.dep.bin", "modules.alias.bin", "modules.symbols.bin", "modules.builtin.bin", "modules.builtin.alias.bin"} {
			data, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			r, err := Parse(name, data)
			if err != nil {
				t.Fatal(err)
			}
			all, err := r.All()
			if err != nil {
				t.Fatalf("%s/%s: %v", dir, name, err)
			}
			if name == "modules.dep.bin" {
				text, _ := os.ReadFile(filepath.Join(dir, "modules.dep"))
				if n := strings.Count(string(text), "\n"); n != len(all) {
					t.Errorf("%s: %d keys, modules.dep has %d lines", dir, len(all), n)
				}
			}
			// Rebuild: insert values in priority order, as depmod does.
			type kv struct {
				k string
				v Value
			}
			var flat []kv
			for _, e := range all {
				for _, v := range e.Values {
					flat = append(flat, kv{e.Key, v})
				}
			}
			sort.SliceStable(flat, func(i, j int) bool { return flat[i].v.Priority < flat[j].v.Priority })
			tr := NewTrie()
			for _, x := range flat {
				tr.Insert(x.k, x.v.Value, x.v.Priority)
			}
			var buf bytes.Buffer
			tr.WriteTo(&buf)
			if !bytes.Equal(buf.Bytes(), data) {
				t.Errorf("%s/%s: rewritten index differs (%d bytes vs %d)", dir, name, buf.Len(), len(data))
			}
		}
	}
}

func FuzzReader(f *testing.F) {
	f.Add(build(f, [][3]string{{"ab", "1", ""}, {"a*", "2", ""}, {"b[0-9]", "3", ""}}), "ab")
	f.Add(build(f, [][3]string{{"pci:v*", "x", ""}}), "pci:v1")
	f.Add([]byte{0xb0, 0x07, 0xf4, 0x57, 0, 2, 0, 1, 0xa0, 0, 0, 12, 'a', 'a', 0xa0, 0, 0, 12}, "a")
	f.Fuzz(func(t *testing.T, data []byte, key string) {
		r, err := Parse("fuzz", data)
		if err != nil {
			return
		}
		r.Search(key)
		r.SearchWild(key)
		r.Dump(&bytes.Buffer{}, "")
		r.All()
	})
}
