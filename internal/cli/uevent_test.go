package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modlab/modlab/internal/uevent"
)

// fakeEvents plays a list of kernel messages, then ends with io.EOF (or
// waits for the context, with wait set).
type fakeEvents struct {
	msgs   []string
	wait   bool
	closed bool
}

func (f *fakeEvents) Receive(ctx context.Context) (*uevent.Event, error) {
	if len(f.msgs) == 0 {
		if f.wait {
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return nil, io.EOF
	}
	m := f.msgs[0]
	f.msgs = f.msgs[1:]
	if m == "LOST" {
		return nil, uevent.ErrLost
	}
	e, err := uevent.Parse([]byte(m))
	if err != nil {
		return nil, err
	}
	e.Received = 1234*time.Second + 5678*time.Microsecond
	return e, nil
}

func (f *fakeEvents) Close() error { f.closed = true; return nil }

const (
	evModuleAdd  = "add@/module/chardev\x00ACTION=add\x00DEVPATH=/module/chardev\x00SUBSYSTEM=module\x00SEQNUM=1502\x00"
	evChardevAdd = "add@/devices/virtual/chardev/chardev\x00ACTION=add\x00DEVPATH=/devices/virtual/chardev/chardev\x00" +
		"SUBSYSTEM=chardev\x00MAJOR=247\x00MINOR=0\x00DEVNAME=chardev\x00SEQNUM=1501\x00"
	evChardevRemove = "remove@/devices/virtual/chardev/chardev\x00ACTION=remove\x00DEVPATH=/devices/virtual/chardev/chardev\x00" +
		"SUBSYSTEM=chardev\x00MAJOR=247\x00MINOR=0\x00DEVNAME=chardev\x00SEQNUM=1503\x00"
)

func background() (context.Context, context.CancelFunc) {
	return context.WithCancel(context.Background())
}

func runUeventWith(src *fakeEvents, args ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	env := &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
	c := ueventCmd{listen: func() (eventSource, error) { return src, nil }, shell: "/bin/sh", context: background}
	code = report(env, "uevent", c.run(env, args))
	return out.String(), errb.String(), code
}

func TestUeventMonitor(t *testing.T) {
	t.Parallel()
	src := &fakeEvents{msgs: []string{evChardevAdd, "LOST", evModuleAdd}}
	out, errOut, code := runUeventWith(src, "monitor")
	want := `monitor will print the received events for:
KERNEL - the kernel uevent

KERNEL[1234.005678] add      /devices/virtual/chardev/chardev (chardev)
ACTION=add
DEVPATH=/devices/virtual/chardev/chardev
SUBSYSTEM=chardev
MAJOR=247
MINOR=0
DEVNAME=chardev
SEQNUM=1501

KERNEL[1234.005678] add      /module/chardev (module)
ACTION=add
DEVPATH=/module/chardev
SUBSYSTEM=module
SEQNUM=1502

`
	if code != 0 || out != want {
		t.Errorf("exit %d, output:\n%s\nwant:\n%s", code, out, want)
	}
	if errOut != "uevent: WARNING: "+uevent.ErrLost.Error()+"\n" {
		t.Errorf("stderr %q", errOut)
	}
	if !src.closed {
		t.Error("the event source was not closed")
	}
}

func TestUeventMonitorSubsystemMatch(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		want []string // header lines
	}{
		{[]string{"-s", "chardev"}, []string{"add      /devices/virtual/chardev/chardev (chardev)", "remove   /devices/virtual/chardev/chardev (chardev)"}},
		{[]string{"--subsystem-match", "module", "-s", "chardev/disk"}, []string{"add      /module/chardev (module)"}},
		{[]string{"-s", "block"}, nil},
	} {
		src := &fakeEvents{msgs: []string{evChardevAdd, evModuleAdd, evChardevRemove}}
		out, _, code := runUeventWith(src, append([]string{"monitor"}, tt.args...)...)
		var got []string
		for _, l := range strings.Split(out, "\n") {
			if h, ok := strings.CutPrefix(l, "KERNEL[1234.005678] "); ok {
				got = append(got, h)
			}
		}
		if code != 0 || strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("monitor %q: exit %d, events %q, want %q", tt.args, code, got, tt.want)
		}
	}
}

func TestUeventUsage(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		msg  string
	}{
		{nil, "uevent: uevent needs a subcommand: monitor or run\n"},
		{[]string{"watch"}, `uevent: unknown uevent subcommand "watch": monitor or run` + "\n"},
		{[]string{"monitor", "extra"}, `uevent: uevent monitor takes no arguments (got "extra")` + "\n"},
		{[]string{"monitor", "-s", "/disk"}, `uevent: --subsystem-match "/disk": no subsystem` + "\n"},
		{[]string{"run"}, "uevent: uevent run needs one rules file\n"},
		{[]string{"run", "--bogus", "x"}, "uevent: unknown flag: --bogus\n"},
	} {
		_, errOut, code := runUeventWith(&fakeEvents{}, tt.args...)
		if code != 2 || !strings.HasPrefix(errOut, tt.msg) {
			t.Errorf("uevent %q: exit %d, stderr %q; want 2 and %q", tt.args, code, errOut, tt.msg)
		}
	}
	out, _, code := runUeventWith(&fakeEvents{}, "run", "--help")
	if code != 0 || !strings.HasPrefix(out, "Usage: modlab uevent monitor") {
		t.Errorf("run --help: exit %d, %q", code, out)
	}
}

func writeRules(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "99-test.rules")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestUeventRun: matching rules run their commands through the shell, in
// order, with the event's properties in the environment; other events run
// nothing; a failing command is reported and the next ones still run.
func TestUeventRun(t *testing.T) {
	t.Parallel()
	log := filepath.Join(t.TempDir(), "trigger.log")
	rules := writeRules(t, `# as the spec's trigger.sh, and a remove rule
SUBSYSTEM=="chardev", ACTION=="add", RUN+="echo chardev loaded >>`+log+`"
SUBSYSTEM=="chardev", ACTION=="remove", RUN+="echo chardev removed >>`+log+`"
SUBSYSTEM=="chardev", \
  RUN+="echo \"$ACTION $DEVNAME $MAJOR:$MINOR seq $SEQNUM\" >>`+log+`", RUN+="exit 3"
KERNEL=="chardev", SUBSYSTEM=="module", RUN+="echo module $DEVPATH >>`+log+`"
`)
	src := &fakeEvents{msgs: []string{evChardevAdd, evModuleAdd, evChardevRemove,
		"add@/devices/virtual/misc/other\x00SUBSYSTEM=misc\x00"}}
	out, errOut, code := runUeventWith(src, "run", "-v", rules)
	if code != 0 {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	want := "chardev loaded\nadd chardev 247:0 seq 1501\nmodule /module/chardev\nchardev removed\nremove chardev 247:0 seq 1503\n"
	if string(b) != want {
		t.Errorf("log:\n%s\nwant:\n%s", b, want)
	}
	wantErr := []string{
		"uevent: 4 rules from " + rules + "; waiting for kernel uevents",
		"uevent: add /devices/virtual/chardev/chardev (chardev): RUN echo chardev loaded >>" + log,
		`uevent: add /devices/virtual/chardev/chardev (chardev): RUN echo "$ACTION $DEVNAME $MAJOR:$MINOR seq $SEQNUM" >>` + log,
		"uevent: add /devices/virtual/chardev/chardev (chardev): RUN exit 3",
		`uevent: WARNING: RUN "exit 3" for add /devices/virtual/chardev/chardev: exit status 3`,
	}
	lines := strings.Split(errOut, "\n")
	if len(lines) < len(wantErr) {
		t.Fatalf("stderr:\n%s", errOut)
	}
	for i, w := range wantErr {
		if lines[i] != w {
			t.Errorf("stderr line %d = %q, want %q", i, lines[i], w)
		}
	}
	if n := strings.Count(errOut, "WARNING"); n != 2 {
		t.Errorf("%d warnings, want 2 (exit 3 on add and on remove):\n%s", n, errOut)
	}
}

// TestUeventStops: with no events coming, monitor and run wait until
// their context ends (SIGINT or SIGTERM, for real), then exit 0 and close
// the socket.
func TestUeventStops(t *testing.T) {
	t.Parallel()
	rules := writeRules(t, `ACTION=="add", RUN+="true"`)
	for _, args := range [][]string{{"monitor"}, {"run", rules}} {
		src := &fakeEvents{wait: true}
		env := &Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" }}
		ctx, cancel := context.WithCancel(context.Background())
		c := ueventCmd{listen: func() (eventSource, error) { return src, nil }, shell: "/bin/sh",
			context: func() (context.Context, context.CancelFunc) { return ctx, cancel }}
		done := make(chan error, 1)
		go func() { done <- c.run(env, args) }()
		select {
		case err := <-done:
			t.Fatalf("%q returned before it was stopped: %v", args, err)
		case <-time.After(50 * time.Millisecond):
		}
		cancel()
		select {
		case err := <-done:
			if err != nil || !src.closed {
				t.Errorf("%q after stop: %v, socket closed %v", args, err, src.closed)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%q did not stop", args)
		}
	}
}

// TestUeventRunMalformed: a rules file with mistakes names each with its
// line, exits 2, and never listens nor runs anything.
func TestUeventRunMalformed(t *testing.T) {
	t.Parallel()
	marker := filepath.Join(t.TempDir(), "ran")
	rules := writeRules(t, `SUBSYSTEM=="chardev", ACTION=="add", RUN+="touch `+marker+`"
SUBSYSTEM="chardev", RUN+="touch `+marker+`"

ATTR{dev}=="1", RUN+="touch `+marker+`"
`)
	listened := false
	var out, errb bytes.Buffer
	env := &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
	c := ueventCmd{listen: func() (eventSource, error) {
		listened = true
		return &fakeEvents{msgs: []string{evChardevAdd}}, nil
	}, shell: "/bin/sh", context: background}
	code := report(env, "uevent", c.run(env, []string{"run", rules}))
	want := rules + `:2: SUBSYSTEM= assigns, and only RUN can be assigned here: write SUBSYSTEM== to match
` + rules + `:4: ATTR{dev}: unknown or unsupported key (modlab uevent knows ACTION, DEVPATH, KERNEL, SUBSYSTEM, DRIVER, DEVNAME, ENV{KEY} and RUN)
uevent: ERROR: ` + rules + `: 2 rules malformed: nothing runs
`
	if code != 2 || errb.String() != want || out.String() != "" {
		t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant:\n%s", code, out.String(), errb.String(), want)
	}
	if listened {
		t.Error("the command listened for events despite the bad rules")
	}
	if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a command ran: %v", err)
	}

	out.Reset()
	errb.Reset()
	code = report(env, "uevent", c.run(env, []string{"run", "--check", rules}))
	if code != 2 || !strings.Contains(errb.String(), ":2: SUBSYSTEM= assigns") {
		t.Errorf("--check of bad rules: exit %d, stderr %q", code, errb.String())
	}
	good := writeRules(t, "ACTION==\"add\", RUN+=\"true\"\n# nothing\nACTION==\"remove\"\n")
	out.Reset()
	code = report(env, "uevent", c.run(env, []string{"run", "--check", good}))
	if code != 0 || out.String() != good+": 2 rules\n" {
		t.Errorf("--check of good rules: exit %d, stdout %q", code, out.String())
	}
	errb.Reset()
	code = report(env, "uevent", c.run(env, []string{"run", filepath.Join(t.TempDir(), "missing.rules")}))
	if code != 2 || !strings.Contains(errb.String(), "uevent: ERROR: open ") {
		t.Errorf("missing rules file: exit %d, stderr %q", code, errb.String())
	}
}
