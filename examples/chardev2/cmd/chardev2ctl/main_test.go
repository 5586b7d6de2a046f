package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRunOnTheHost checks what needs no chardev2 device: usage mistakes,
// and the errors the kernel gives for a node that is not chardev2 (the
// real device is exercised in the guest, by examples/chardev2's tests).
func TestRunOnTheHost(t *testing.T) {
	plain := filepath.Join(t.TempDir(), "plain")
	if err := os.WriteFile(plain, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "missing")
	for _, tc := range []struct {
		args    []string
		usage   bool   // a usage error (exit status 2)
		errno   error  // the errno of a refused call (exit status 1)
		message string // the whole error message, when errno is set
	}{
		{args: nil, usage: true},
		{args: []string{"frob"}, usage: true},
		{args: []string{"get", "extra"}, usage: true},
		{args: []string{"set"}, usage: true},
		{args: []string{"set", "a", "b"}, usage: true},
		{args: []string{"nth"}, usage: true},
		{args: []string{"nth", "x"}, usage: true},
		{args: []string{"--nosuch", "get"}, usage: true},
		{args: []string{"-d"}, usage: true},
		{args: []string{"-d", missing, "get"}, errno: unix.ENOENT,
			message: "open " + missing + ": No such file or directory"},
		{args: []string{"-d", plain, "get"}, errno: unix.ENOTTY,
			message: "IOCTL_GET_MSG: Inappropriate ioctl for device"},
		{args: []string{"-d", plain, "set", "hi"}, errno: unix.ENOTTY,
			message: "IOCTL_SET_MSG: Inappropriate ioctl for device"},
		{args: []string{"--device", plain, "nth", "0"}, errno: unix.ENOTTY,
			message: "IOCTL_GET_NTH_BYTE: Inappropriate ioctl for device"},
	} {
		var out bytes.Buffer
		err := run(&out, tc.args)
		var ue *usageError
		switch {
		case tc.usage:
			if !errors.As(err, &ue) {
				t.Errorf("%q: %v, want a usage error", tc.args, err)
			}
		case !errors.Is(err, tc.errno) || errors.As(err, &ue) || err.Error() != tc.message:
			t.Errorf("%q: %v, want %q (%v)", tc.args, err, tc.message, tc.errno)
		}
		if out.Len() != 0 {
			t.Errorf("%q printed %q", tc.args, out.String())
		}
	}
}

func TestHelp(t *testing.T) {
	var out bytes.Buffer
	if err := run(&out, []string{"-h"}); err != nil || out.String() != usage {
		t.Errorf("-h: %v, printed %q", err, out.String())
	}
}
