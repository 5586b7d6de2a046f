package loader

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// procRoot makes a fixture /proc, with /proc/modules when modules is true.
func procRoot(t *testing.T, modules bool) string {
	t.Helper()
	proc := filepath.Join(t.TempDir(), "proc")
	if err := os.MkdirAll(proc, 0o755); err != nil {
		t.Fatal(err)
	}
	if modules {
		if err := os.WriteFile(filepath.Join(proc, "modules"), nil, 0o444); err != nil {
			t.Fatal(err)
		}
	}
	return proc
}

// TestLoadENOSYS: ENOSYS from a kernel with module support is the module's
// init refusing to load; from a kernel without, there is no module support.
func TestLoadENOSYS(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		modules bool
		errno   unix.Errno
		init    bool
		want    string
	}{
		{"init returned -ENOSYS", true, unix.ENOSYS, true,
			"could not load /tmp/bottomhalf.ko: Function not implemented (the module's init function returned -ENOSYS: " +
				"the kernel has module support, so the module itself refused to load; its own log lines say why)"},
		{"no module support", false, unix.ENOSYS, false,
			"could not load /tmp/bottomhalf.ko: Function not implemented (the running kernel has no module support: it was built without CONFIG_MODULES)"},
		{"other errors keep their hint", true, unix.EEXIST, false,
			"could not load /tmp/bottomhalf.ko: File exists (a module of that name is already loaded (see lsmod))"},
	}
	for _, tc := range tests {
		l := &Loader{ProcDir: procRoot(t, tc.modules)}
		err := l.loadErr("/tmp/bottomhalf.ko", tc.errno)
		var le *Error
		if !errors.As(err, &le) || le.InitFailed != tc.init || !errors.Is(err, tc.errno) {
			t.Errorf("%s: loadErr = %#v, want errno %v and InitFailed %v", tc.name, err, tc.errno, tc.init)
			continue
		}
		if err.Error() != tc.want {
			t.Errorf("%s: Error() =\n%s\nwant\n%s", tc.name, err, tc.want)
		}
	}
}

func TestInitHint(t *testing.T) {
	t.Parallel()
	if h := InitHint(unix.ENODEV); !strings.HasPrefix(h, "the module's init function returned -ENODEV:") {
		t.Errorf("InitHint(ENODEV) = %q", h)
	}
	if HasModuleSupport(procRoot(t, false)) || !HasModuleSupport(procRoot(t, true)) {
		t.Error("HasModuleSupport does not follow /proc/modules")
	}
}

func TestModuleLines(t *testing.T) {
	t.Parallel()
	msgs := []string{
		"bottomhalf: loading out-of-tree module taints kernel.",
		"bottomhalf: module verification failed: signature and/or required key missing - tainting kernel",
		"bottomhalf: requesting the LED GPIOs",
		"Unable to request GPIOs for LEDs: -517",
		"virtio_net virtio0: link up",
		"loading bottomhalf.ko failed",
	}
	if got := ModuleLines("bottomhalf", "/w/bottomhalf.ko", true, msgs); !slices.Equal(got, msgs[2:]) {
		t.Errorf("init ran: lines %q, want all but the taint notices", got)
	}
	want := []string{msgs[2], msgs[5]}
	if got := ModuleLines("bottomhalf", "/w/bottomhalf.ko", false, msgs); !slices.Equal(got, want) {
		t.Errorf("load failed before init: lines %q, want %q", got, want)
	}
}
