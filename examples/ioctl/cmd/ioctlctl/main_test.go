package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A /proc/devices as the kernel prints it, with ioctltest among the
// character devices and a block device of the same name that must not be
// taken for it.
const procDevices = `Character devices:
  1 mem
  4 /dev/vc/0
  4 tty
 10 misc
247 ioctltest
254 gpiochip

Block devices:
  8 sd
 99 ioctltest
259 blkext
`

func TestCharMajor(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, text, dev string
		want            uint32
		wantErr         string
	}{
		{"found", procDevices, "ioctltest", 247, ""},
		{"first of the list", procDevices, "mem", 1, ""},
		{"only block", procDevices, "sd", 0, `no character device "sd"`},
		{"absent", procDevices, "chardev", 0, `no character device "chardev" (is the module loaded?)`},
		{"no section header", "247 ioctltest\n", "ioctltest", 0, "no character device"},
		{"major too large", "Character devices:\n4096 ioctltest\n", "ioctltest", 0, `bad line "4096 ioctltest"`},
		{"not a number", "Character devices:\nx ioctltest\n", "ioctltest", 0, `bad line "x ioctltest"`},
		{"empty", "", "ioctltest", 0, "no character device"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := charMajor(strings.NewReader(tc.text), tc.dev)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("charMajor = %d, %v; want an error with %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("charMajor = %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}

// FuzzCharMajor: any text, no panic; a major found is printed on a line of
// the character section with the name.
func FuzzCharMajor(f *testing.F) {
	f.Add(procDevices, "ioctltest")
	f.Add("Character devices:\n 0 x\n\n", "x")
	f.Fuzz(func(t *testing.T, text, name string) {
		m, err := charMajor(strings.NewReader(text), name)
		if err != nil {
			return
		}
		if m >= 1<<12 || !strings.Contains(text, name) {
			t.Fatalf("charMajor(%q, %q) = %d", text, name, m)
		}
	})
}

// ctl runs a command line the way main does.
func ctl(t *testing.T, devices string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(&env{stdout: &out, stderr: &errb, procDevices: devices}, args)
	return out.String(), errb.String(), code
}

// TestCommandLine checks what a user sees without the device: usage
// errors exit 2 with the usage; failures exit 1 with the errno decoded.
// (The device itself is exercised in the VM by examples/ioctl's test.)
func TestCommandLine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	noDev := filepath.Join(dir, "devices")
	if err := os.WriteFile(noDev, []byte("Character devices:\n  1 mem\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		stdout   string // exact, when not empty
		inStderr string
	}{
		{"no command", nil, 2, "", "ioctlctl: no command\nUsage:"},
		{"unknown command", []string{"frob", "/dev/x"}, 2, "", `unknown command "frob"`},
		{"get without path", []string{"get"}, 2, "", "get takes 1 argument(s), got 0"},
		{"set without byte", []string{"set", "/dev/x"}, 2, "", "set takes 2 argument(s), got 1"},
		{"set a word", []string{"set", "/dev/x", "hi"}, 2, "", `"hi" is not a byte`},
		{"set 256", []string{"set", "/dev/x", "256"}, 2, "", `"256" is not a byte`},
		{"read bad N", []string{"read", "/dev/x", "many"}, 2, "", "read: N must be a number of bytes"},
		{"read bad --set", []string{"read", "/dev/x", "4", "--set", "0x100"}, 2, "", `"0x100" is not a byte`},
		{"flag of another command", []string{"get", "--set", "1", "/dev/x"}, 2, "", "get: no option --set"},
		{"unknown flag", []string{"get", "--bogus", "/dev/x"}, 2, "", "unknown flag: --bogus"},
		{"help", []string{"help"}, 0, usage, ""},
		{"get missing file", []string{"get", filepath.Join(dir, "nothing")}, 1, "",
			"ioctlctl: open " + filepath.Join(dir, "nothing") + ": ENOENT (no such file or directory)\n"},
		{"get on /dev/null", []string{"get", "/dev/null"}, 1, "",
			"ioctlctl: /dev/null: IOCTL_VALGET: ENOTTY (inappropriate ioctl for device)\n"},
		{"set --num on /dev/null", []string{"set", "--num", "/dev/null", "7"}, 1, "",
			"ioctlctl: /dev/null: IOCTL_VALSET_NUM: ENOTTY (inappropriate ioctl for device)\n"},
		{"read any file", []string{"read", "/dev/zero", "20"}, 0,
			"00000000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n" +
				"00000010  00 00 00 00                                       |....|\n", ""},
		{"read at end of file", []string{"read", "/dev/null", "1"}, 1, "",
			"ioctlctl: read /dev/null: end of file after 0 of 1 bytes\n"},
		{"mknod without the module", []string{"mknod", filepath.Join(dir, "node")}, 1, "",
			`ioctlctl: mknod ` + filepath.Join(dir, "node") + `: ` + noDev + `: no character device "ioctltest" (is the module loaded?)` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, errOut, code := ctl(t, noDev, tc.args...)
			if code != tc.code {
				t.Errorf("exit status %d, want %d (stderr %q)", code, tc.code, errOut)
			}
			if tc.stdout != "" && out != tc.stdout {
				t.Errorf("stdout %q, want %q", out, tc.stdout)
			}
			if tc.code != 0 && out != "" {
				t.Errorf("stdout %q on failure, want nothing", out)
			}
			if !strings.Contains(errOut, tc.inStderr) {
				t.Errorf("stderr %q lacks %q", errOut, tc.inStderr)
			}
			if tc.code == 2 && !strings.Contains(errOut, usage) {
				t.Errorf("a usage error without the usage: %q", errOut)
			}
		})
	}
}
