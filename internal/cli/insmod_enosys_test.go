package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/modlab/modlab/kmod/loader"
)

// TestInsmodENOSYS: ENOSYS means no module support only on a kernel without
// /proc/modules. On a kernel with module support it is the module's init
// returning -ENOSYS (LKMPG's GPIO examples do when there is no GPIO), and
// insmod shows what the module logged while it ran.
func TestInsmodENOSYS(t *testing.T) {
	tests := []struct {
		name    string
		modules bool
		want    []string // stderr, line by line
	}{
		{"no module support", false, []string{
			"insmod: ERROR: could not insert module %KO%: Function not implemented",
			"insmod: HINT: the running kernel has no module support: it was built without CONFIG_MODULES",
			"insmod: HINT: %ROOT%/proc/modules does not exist either: modules cannot be loaded on this kernel at all",
		}},
		{"init returned -ENOSYS", true, []string{
			"insmod: ERROR: could not insert module %KO%: Function not implemented",
			"insmod: HINT: the module's init function returned -ENOSYS: the kernel has module support, so the module itself refused to load; its own log lines say why",
			"insmod: HINT: kernel log: bottomhalf: requesting the LED GPIOs",
			"insmod: HINT: kernel log: Unable to request GPIOs for LEDs: -517",
		}},
	}
	for _, tc := range tests {
		root := t.TempDir()
		kmsgPath := filepath.Join(root, "dev", "kmsg")
		os.MkdirAll(filepath.Dir(kmsgPath), 0o755)
		os.MkdirAll(filepath.Join(root, "proc"), 0o755)
		os.WriteFile(kmsgPath, []byte("6,1,100,-;bottomhalf: an older line\n"), 0o644)
		if tc.modules {
			os.WriteFile(filepath.Join(root, "proc", "modules"), nil, 0o444)
		}
		ko := filepath.Join(t.TempDir(), "bottomhalf.ko")
		os.WriteFile(ko, []byte("x"), 0o644)
		k := &fakeKernel{err: &loader.Error{Op: "load", Name: ko, Errno: unix.ENOSYS}, onLoad: func() {
			if !tc.modules {
				return
			}
			// What the module's init logs; the second line has no prefix,
			// as in LKMPG's bottomhalf.c.
			f, _ := os.OpenFile(kmsgPath, os.O_APPEND|os.O_WRONLY, 0)
			f.WriteString("6,2,200,-;bottomhalf: requesting the LED GPIOs\n3,3,300,-;Unable to request GPIOs for LEDs: -517\n")
			f.Close()
		}}
		useFakeKernel(t, k)
		_, errOut, code := runLoaded(root, nil, "insmod", ko)
		want := strings.NewReplacer("%KO%", ko, "%ROOT%", root).Replace(strings.Join(tc.want, "\n") + "\n")
		if code != 1 || errOut != want {
			t.Errorf("%s: exit %d, stderr\n%s\nwant\n%s", tc.name, code, errOut, want)
		}
	}
}
