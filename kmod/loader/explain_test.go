package loader

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestExplain checks the wording against kmod 30: tools/insmod.c
// mod_strerror for "load", tools/modprobe.c for "probe", strerror for
// "unload" (tools/rmmod.c).
func TestExplain(t *testing.T) {
	t.Parallel()
	tests := []struct {
		op    string
		errno unix.Errno
		want  string
	}{
		{"load", unix.ENOEXEC, "Invalid module format"},
		{"load", unix.ENOENT, "Unknown symbol in module"},
		{"load", unix.ESRCH, "Module has wrong symbol version"},
		{"load", unix.EINVAL, "Invalid parameters"},
		{"load", unix.EEXIST, "File exists"},
		{"load", unix.ENOSYS, "Function not implemented"},
		{"load", unix.EKEYREJECTED, "Key was rejected by service"},
		{"probe", unix.EEXIST, "Module already in kernel"},
		{"probe", unix.ENOENT, "Unknown symbol in module, or unknown parameter (see dmesg)"},
		{"probe", unix.ENOEXEC, "Exec format error"},
		{"unload", unix.EWOULDBLOCK, "Resource temporarily unavailable"},
		{"unload", unix.ENOENT, "No such file or directory"},
		{"unload", unix.EBUSY, "Device or resource busy"},
		{"unload", 0, "Success"},
	}
	for _, tc := range tests {
		if got := Explain(tc.op, tc.errno); got != tc.want {
			t.Errorf("Explain(%q, %v) = %q, want %q", tc.op, tc.errno, got, tc.want)
		}
	}
}

func TestErrorText(t *testing.T) {
	t.Parallel()
	e := &Error{Op: "unload", Name: "export_provider", Errno: unix.EWOULDBLOCK}
	want := "could not unload export_provider: Resource temporarily unavailable (the module is in use: see its holders and refcnt in /sys/module)"
	if e.Error() != want {
		t.Errorf("Error() = %q, want %q", e.Error(), want)
	}
	if Hint("load", unix.ENOSYS) == "" || Hint("load", unix.E2BIG) != "" {
		t.Error("Hint: a hint for ENOSYS, none for E2BIG")
	}
}
