package cli

import (
	"bytes"
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// usageCases are wrong invocations that every tool must word exactly as
// the one it stands in for, with the same exit status. None of them gets
// as far as touching a module.
var usageCases = [][]string{
	{"insmod", "--bogus"},
	{"insmod", "-Z"},
	{"insmod"},
	{"insmod", "-"},
	{"rmmod", "--bogus"},
	{"rmmod", "-Z"},
	{"rmmod"},
	{"rmmod", "--verb"}, // getopt_long takes a unique prefix
	{"modprobe", "--bogus"},
	{"modprobe", "-Z"},
	{"modprobe", "-C"},
	{"modprobe", "--config"},
	{"modprobe"},
	{"modprobe", "--dry"},
	{"modprobe", "-w", "soon", "x"},
	{"depmod", "--bogus"},
	{"depmod", "-Z"},
	{"depmod", "-b"},
	{"depmod", "--basedir"},
	{"depmod", "-P", "ab"},
	{"depmod", "not-a-version"},
	{"modinfo", "--bogus"},
	{"modinfo", "-F"},
	{"modinfo"},
	{"lsmod", "extra"},
	{"lsmod", "--"},
	{"lsmod", "-V"},
}

// TestUsageMatchesKmod runs each wrong invocation through modlab and
// through kmod's own tool (called by its bare name, as kmod prints
// argv[0]) and compares stderr and the exit status.
func TestUsageMatchesKmod(t *testing.T) {
	t.Parallel()
	for _, argv := range usageCases {
		t.Run(strings.Join(argv, " "), func(t *testing.T) {
			t.Parallel()
			path := kmodTool(t, argv[0])
			var kout, kerr bytes.Buffer
			cmd := &exec.Cmd{Path: path, Args: argv, Stdout: &kout, Stderr: &kerr}
			code := 0
			var ee *exec.ExitError
			if err := cmd.Run(); errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			out, errOut, gotCode := runLoaded(t.TempDir(), nil, argv...)
			if gotCode != code || errOut != kerr.String() || out != kout.String() {
				t.Errorf("modlab: exit %d, stdout %q, stderr %q\nkmod:   exit %d, stdout %q, stderr %q",
					gotCode, out, errOut, code, kout.String(), kerr.String())
			}
		})
	}
}

// TestHelpAndVersion: -h and -V answer on stdout with status 0, for every
// tool that has them, through the same preamble.
func TestHelpAndVersion(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		argv []string
		want string // start of stdout
	}{
		{[]string{"insmod", "-h"}, "Usage:\n\tinsmod [options] filename [args]\n"},
		{[]string{"rmmod", "--help"}, "Usage:\n\trmmod [options] modulename ...\n"},
		{[]string{"modprobe", "-h"}, "Usage:\n\tmodprobe [options] [-i] [-b] modulename\n"},
		{[]string{"depmod", "--help"}, "Usage:\n\tdepmod -[aA] [options] [forced_version]\n"},
		{[]string{"modinfo", "-h"}, "Usage:\n\tmodinfo [options] <modulename|filename> [args]\n"},
		{[]string{"kallsyms", "--help"}, "Usage:\n\tkallsyms [options] NAME|MODULE:NAME|0xADDRESS ...\n"},
		{[]string{"dmesg", "-h"}, "\nUsage:\n dmesg [options]\n"},
		{[]string{"lsmod", "-h"}, "Usage: lsmod\n"},
		{[]string{"insmod", "-V"}, "kmod version 30\n"},
		{[]string{"rmmod", "--version"}, "kmod version 30\n"},
		{[]string{"modprobe", "-V"}, "kmod version 30\n"},
		{[]string{"depmod", "-V"}, "kmod version 30\n"},
		{[]string{"modinfo", "--version"}, "kmod version 30\n+ZSTD +XZ +ZLIB +LIBCRYPTO -EXPERIMENTAL\n"},
		// "modlab help CMD" asks the command for --help.
		{[]string{"help", "rmmod"}, "Usage:\n\trmmod [options] modulename ...\n"},
	} {
		out, errOut, code := runLoaded(t.TempDir(), nil, tc.argv...)
		if code != 0 || errOut != "" || !strings.HasPrefix(out, tc.want) {
			t.Errorf("%q: exit %d, stderr %q, stdout %q; want 0 and stdout starting %q", tc.argv, code, errOut, out, tc.want)
		}
	}
}

// TestModlabAndUtilLinuxUsage: kallsyms words mistakes as modlab's own
// commands do (status 2), dmesg as util-linux does (status 1).
func TestModlabAndUtilLinuxUsage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		argv   []string
		code   int
		stderr string
	}{
		{[]string{"kallsyms", "--bogus"}, 2, "kallsyms: unknown flag: --bogus\nTry 'kallsyms --help' for more information.\n"},
		{[]string{"kallsyms"}, 2, "kallsyms: missing symbol name or address\nTry 'kallsyms --help' for more information.\n"},
		{[]string{"dmesg", "extra"}, 1, "dmesg: bad usage\nTry 'dmesg --help' for more information.\n"},
		{[]string{"dmesg", "-V"}, 1, "dmesg: unknown shorthand flag: 'V' in -V\nTry 'dmesg --help' for more information.\n"},
	} {
		_, errOut, code := runLoaded(t.TempDir(), nil, tc.argv...)
		if code != tc.code || errOut != tc.stderr {
			t.Errorf("%q: exit %d, stderr %q; want %d, %q", tc.argv, code, errOut, tc.code, tc.stderr)
		}
	}
}

func TestLogger(t *testing.T) {
	t.Parallel()
	var w, stdout bytes.Buffer
	l := newLogger("tool", &w)
	l.flush = func() { stdout.WriteString("[flushed]") }
	l.errorf("could not %s", "load")
	l.hintf("why")
	l.warnf("careful")
	l.logf(levelNotice, "hidden at the default verbosity")
	if err := l.fatalf("stop"); err != errFatal {
		t.Errorf("a printed FATAL message returned %v, want errFatal", err)
	}
	l.printf("unrecognized option '--x'")
	want := "tool: ERROR: could not load\ntool: HINT: why\ntool: WARNING: careful\ntool: FATAL: stop\ntool: unrecognized option '--x'\n"
	if w.String() != want {
		t.Errorf("logged\n%q\nwant\n%q", w.String(), want)
	}
	if stdout.String() != strings.Repeat("[flushed]", 5) {
		t.Errorf("stdout was flushed %q, want before each of the 5 messages", stdout.String())
	}

	// -v shows NOTICE; -q (LOG_EMERG) hides everything, and a hidden
	// FATAL message does not end the run, as in kmod.
	w.Reset()
	l.verbosity = levelNotice
	l.logf(levelNotice, "now shown")
	l.verbosity = levelEmerg
	l.errorf("hidden")
	l.hintf("hidden")
	if err := l.fatalf("hidden"); err != nil {
		t.Errorf("a hidden FATAL message returned %v", err)
	}
	if w.String() != "tool: NOTICE: now shown\n" {
		t.Errorf("with -v then -q: %q", w.String())
	}
}
