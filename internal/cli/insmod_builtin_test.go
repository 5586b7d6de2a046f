package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/modlab/modlab/kmod/loader"
)

// TestInsmodBuiltinName: the kernel refuses a module that takes a built-in
// module's name with EINVAL, which kmod's insmod calls "Invalid
// parameters"; modlab's says which built-in module holds the name, and
// what the kernel logged. A loaded module of that name is not built in.
func TestInsmodBuiltinName(t *testing.T) {
	for _, tc := range []struct {
		name   string
		loaded bool // /proc/modules lists rtc_cmos
		errno  unix.Errno
		want   []string
	}{
		{"built in", false, unix.EINVAL, []string{
			"insmod: ERROR: could not insert module %KO%: Invalid parameters",
			"insmod: HINT: a built-in module named rtc_cmos exists (/sys/module/rtc_cmos, not in /proc/modules; see modules.builtin): a module cannot take its name",
			"insmod: HINT: kernel log: rtc_cmos: module is already loaded",
		}},
		{"loaded", true, unix.EEXIST, []string{
			"insmod: ERROR: could not insert module %KO%: File exists",
			"insmod: HINT: a module of that name is already loaded (see lsmod)",
		}},
	} {
		root := t.TempDir()
		kmsgPath := filepath.Join(root, "dev", "kmsg")
		os.MkdirAll(filepath.Dir(kmsgPath), 0o755)
		os.MkdirAll(filepath.Join(root, "proc"), 0o755)
		os.MkdirAll(filepath.Join(root, "sys", "module", "rtc_cmos", "parameters"), 0o755)
		os.WriteFile(kmsgPath, []byte("6,1,100,-;rtc_cmos: an older line\n"), 0o644)
		mods := ""
		if tc.loaded {
			mods = "rtc_cmos 16384 0 - Live 0x0000000000000000 (OE)\n"
		}
		os.WriteFile(filepath.Join(root, "proc", "modules"), []byte(mods), 0o444)
		ko := filepath.Join(t.TempDir(), "rtc-cmos.ko")
		os.WriteFile(ko, []byte("x"), 0o644)
		k := &fakeKernel{err: &loader.Error{Op: "load", Name: ko, Errno: tc.errno}, onLoad: func() {
			if tc.loaded {
				return
			}
			f, _ := os.OpenFile(kmsgPath, os.O_APPEND|os.O_WRONLY, 0)
			f.WriteString("3,2,200,-;rtc_cmos: module is already loaded\n")
			f.Close()
		}}
		useFakeKernel(t, k)
		_, errOut, code := runLoaded(root, nil, "insmod", ko)
		want := strings.ReplaceAll(strings.Join(tc.want, "\n")+"\n", "%KO%", ko)
		if code != 1 || errOut != want {
			t.Errorf("%s: exit %d, stderr\n%s\nwant\n%s", tc.name, code, errOut, want)
		}
	}
}
