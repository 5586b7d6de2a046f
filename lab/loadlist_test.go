package lab

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseLoadList(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want []string
		err  string
	}{
		{in: "hello-sysfs\n", want: []string{"hello_sysfs"}},
		{in: "# which modules a plain run loads\n\n  hello_sysfs.ko  # the int\nexport-provider\n",
			want: []string{"hello_sysfs", "export_provider"}},
		{in: "a b\n", err: "x.load:1: one module a line"},
		{in: "# nothing\n\n", err: "x.load names no module"},
		{in: "", err: "names no module"},
	} {
		got, err := parseLoadList(strings.NewReader(tc.in), "x.load")
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parseLoadList(%q) = %q, %v; want an error with %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("parseLoadList(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestReadLoadListAbsent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if got, err := readLoadList(dir); got != nil || err != nil {
		t.Fatalf("no %s: %q, %v; want nil, nil", LoadListFile, got, err)
	}
	if err := os.WriteFile(filepath.Join(dir, LoadListFile), []byte("m1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := readLoadList(dir); err != nil || !slices.Equal(got, []string{"m1"}) {
		t.Fatalf("with %s: %q, %v", LoadListFile, got, err)
	}
}

func TestSelectModules(t *testing.T) {
	t.Parallel()
	order := []string{"/b/base.ko", "/b/user-a.ko", "/b/other.ko", "/b/user-b.ko"}
	deps := map[string][]string{
		"/b/user-a.ko": {"base", "virtio_blk"}, // virtio_blk: not the folder's
		"/b/user-b.ko": {"user_a"},
	}
	depends := func(m string) ([]string, error) { return deps[m], nil }
	for _, tc := range []struct {
		want []string
		out  []string
		err  string
	}{
		{want: []string{"other"}, out: []string{"/b/other.ko"}},
		{want: []string{"user_b"}, out: []string{"/b/base.ko", "/b/user-a.ko", "/b/user-b.ko"}},
		{want: []string{"other", "base", "other"}, out: []string{"/b/base.ko", "/b/other.ko"}},
		{want: []string{"simple"}, err: "modlab.load names simple, which the folder does not build (it builds base, user-a, other, user-b)"},
	} {
		got, err := selectModules(order, tc.want, depends)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("selectModules(%q) = %q, %v; want error %q", tc.want, got, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.out) {
			t.Errorf("selectModules(%q) = %q, %v; want %q", tc.want, got, err, tc.out)
		}
	}
}

func FuzzParseLoadList(f *testing.F) {
	f.Add("hello-sysfs\n# c\n\nx.ko\n")
	f.Add("a b\n")
	f.Fuzz(func(t *testing.T, in string) {
		names, err := parseLoadList(strings.NewReader(in), "f")
		if err == nil && len(names) == 0 {
			t.Fatal("no error and no names")
		}
		for _, n := range names {
			if n == "" || strings.ContainsAny(n, " \t\n#-.") {
				t.Fatalf("name %q from %q", n, in)
			}
		}
	})
}
