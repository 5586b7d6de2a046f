package loader

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// builtinRoot makes a fixture /sys and /proc: /sys/module/NAME for each of
// sysModules, and /proc/modules listing procModules.
func builtinRoot(t *testing.T, sysModules, procModules []string) (sysDir, procDir string) {
	t.Helper()
	root := t.TempDir()
	sysDir, procDir = filepath.Join(root, "sys"), filepath.Join(root, "proc")
	for _, m := range sysModules {
		if err := os.MkdirAll(filepath.Join(sysDir, "module", m, "parameters"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(procDir, 0o755); err != nil {
		t.Fatal(err)
	}
	var lines string
	for _, m := range procModules {
		lines += m + " 16384 0 - Live 0x0000000000000000 (OE)\n"
	}
	if err := os.WriteFile(filepath.Join(procDir, "modules"), []byte(lines), 0o444); err != nil {
		t.Fatal(err)
	}
	return sysDir, procDir
}

func TestIsBuiltin(t *testing.T) {
	t.Parallel()
	sysDir, procDir := builtinRoot(t, []string{"rtc_cmos", "license_gpl", "printk"}, []string{"license_gpl", "rtc_cmos_x"})
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"rtc_cmos", true},     // in /sys/module only: built in
		{"printk", true},       // built-in code with parameters counts too
		{"license_gpl", false}, // loaded: /proc/modules lists it
		{"nosuch", false},      // neither
		{"rtc-cmos", false},    // a file's spelling, not the kernel's
		{"", false},
		{"../module", false},
	} {
		if got := IsBuiltin(sysDir, procDir, tc.name); got != tc.want {
			t.Errorf("IsBuiltin(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
	// Without /proc/modules nothing can be said.
	if IsBuiltin(sysDir, filepath.Join(t.TempDir(), "proc"), "rtc_cmos") {
		t.Error("IsBuiltin without /proc/modules = true")
	}
}

// TestLoadBuiltinName: a load refused with EINVAL (or EEXIST) for a name
// that a built-in module holds says so; the same errno for another module
// keeps its usual hint.
func TestLoadBuiltinName(t *testing.T) {
	t.Parallel()
	sysDir, procDir := builtinRoot(t, []string{"rtc_cmos", "export_provider"}, []string{"export_provider"})
	l := &Loader{SysDir: sysDir, ProcDir: procDir}
	for _, tc := range []struct {
		file  string
		errno unix.Errno
		want  string
	}{
		{"/m/rtc-cmos.ko", unix.EINVAL, "could not load /m/rtc-cmos.ko: Invalid parameters (a built-in module named rtc_cmos exists " +
			"(/sys/module/rtc_cmos, not in /proc/modules; see modules.builtin): a module cannot take its name)"},
		{"/m/rtc_cmos.ko.xz", unix.EEXIST, "could not load /m/rtc_cmos.ko.xz: File exists (a built-in module named rtc_cmos exists " +
			"(/sys/module/rtc_cmos, not in /proc/modules; see modules.builtin): a module cannot take its name)"},
		{"/m/rtc-cmos.ko", unix.ENOENT, "could not load /m/rtc-cmos.ko: Unknown symbol in module " +
			"(the kernel log names the missing symbol or parameter; load the module that exports the symbol first)"},
		{"/m/export-provider.ko", unix.EEXIST, "could not load /m/export-provider.ko: File exists (a module of that name is already loaded (see lsmod))"},
		{"/m/hello.ko", unix.EINVAL, "could not load /m/hello.ko: Invalid parameters (a parameter value is malformed; the kernel log says which)"},
	} {
		err := l.loadErr(tc.file, tc.errno)
		if err.Error() != tc.want {
			t.Errorf("%s, %v:\n got %s\nwant %s", tc.file, tc.errno, err, tc.want)
		}
	}
}
