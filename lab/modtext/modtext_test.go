package modtext

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadCode reads a relocatable object's executable sections and
// functions, as the guest does with a module's .ko.
func TestLoadCode(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("cc"); err != nil {
		t.Skip("no C compiler")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "m.c")
	os.WriteFile(src, []byte(`
int counter;
int one(int x) { counter += x; return counter * 3; }
static __attribute__((section(".init.text"), used)) int two(int x) { return one(x) + one(x + 1); }
int init_module(int x) __attribute__((alias("two")));
`), 0o644)
	obj := filepath.Join(dir, "m.ko")
	if out, err := exec.Command("cc", "-O1", "-fno-asynchronous-unwind-tables", "-c", "-o", obj, src).CombinedOutput(); err != nil {
		t.Fatalf("cc: %v\n%s", err, out)
	}
	m := Load{Name: "m", File: obj, Sections: map[string]uint64{
		".text": 0xffffffffc0001000, ".init.text": 0xffffffffc0009000, ".data": 0xffffffffc0003000}}
	rs, err := m.Code()
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 {
		t.Fatalf("ranges = %+v, want .text and .init.text", rs)
	}
	for _, r := range rs {
		if r.End <= r.Start || r.Module != "m" {
			t.Errorf("bad range %+v", r)
		}
		fn := "one"
		if r.Start == 0xffffffffc0009000 {
			fn = "two" // not its alias, init_module: kallsyms names the first in the table
		}
		if got := r.Name(r.Start + 1); !strings.HasPrefix(got, fn+"+0x1/0x") || !strings.HasSuffix(got, " [m]") {
			t.Errorf("name(start+1) in %#x = %q, want %s+0x1/0x... [m]", r.Start, got, fn)
		}
		if got := r.Name(r.End + 100); got != "" {
			t.Errorf("name past the end = %q", got)
		}
	}
	m.Sections = map[string]uint64{".data": 1}
	if _, err := m.Code(); err == nil {
		t.Error("a module with no loaded code section gave ranges")
	}
}
