package userland

import (
	"reflect"
	"testing"
)

func TestParseGoMod(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want goMod
	}{
		{"module only", "module example.com/m\n\ngo 1.22\n", goMod{Path: "example.com/m"}},
		{"quoted module and comment", "// the module\nmodule \"example.com/q\" // trailing\n", goMod{Path: "example.com/q"}},
		{"replace line", "module m\nreplace example.com/a => ../a\nreplace example.com/b v1.2.0 => ./b\n",
			goMod{Path: "m", Replaces: []localReplace{{"example.com/a", "../a"}, {"example.com/b", "./b"}}}},
		{"replace block", "module m\n\nreplace (\n\texample.com/a => /abs/a\n\texample.com/b => example.com/c v1.0.0 // a module, not a folder\n\texample.com/d v0.1.0 => ../d\n)\n",
			goMod{Path: "m", Replaces: []localReplace{{"example.com/a", "/abs/a"}, {"example.com/d", "../d"}}}},
		{"not a local path", "module m\nreplace example.com/a => example.com/b v1.0.0\nreplace example.com/c => c\n", goMod{Path: "m"}},
		{"garbage", "modul x\nreplace =>\nreplace (\n=> ./x\n", goMod{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := parseGoMod([]byte(tt.in)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseGoMod = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func FuzzParseGoMod(f *testing.F) {
	f.Add([]byte("module m\nreplace (\n\ta => ../a\n)\n"))
	f.Add([]byte("module \"x\\\"y\"\nreplace `a` v1 => `./b`\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m := parseGoMod(b)
		for _, r := range m.Replaces {
			if r.Old == "" || !isLocalPath(r.Dir) {
				t.Fatalf("replacement %+v is not old => local folder", r)
			}
		}
	})
}
