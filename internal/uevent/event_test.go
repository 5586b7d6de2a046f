package uevent

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// A message as the 6.12 kernel sends it when chardev's device_create runs.
const chardevAdd = "add@/devices/virtual/chardev/chardev\x00ACTION=add\x00DEVPATH=/devices/virtual/chardev/chardev\x00" +
	"SUBSYSTEM=chardev\x00MAJOR=247\x00MINOR=0\x00DEVNAME=chardev\x00SEQNUM=1503\x00"

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, msg   string
		action, dev string
		props       []string // KEY=VALUE
		err         string   // substring of the error; "" for success
	}{
		{
			name: "device add", msg: chardevAdd,
			action: "add", dev: "/devices/virtual/chardev/chardev",
			props: []string{"ACTION=add", "DEVPATH=/devices/virtual/chardev/chardev", "SUBSYSTEM=chardev",
				"MAJOR=247", "MINOR=0", "DEVNAME=chardev", "SEQNUM=1503"},
		},
		{
			name: "module load, no final NUL", msg: "add@/module/chardev\x00ACTION=add\x00DEVPATH=/module/chardev\x00SUBSYSTEM=module\x00SEQNUM=7",
			action: "add", dev: "/module/chardev",
			props: []string{"ACTION=add", "DEVPATH=/module/chardev", "SUBSYSTEM=module", "SEQNUM=7"},
		},
		{
			name: "values may hold = and spaces", msg: "change@/devices/x\x00ACTION=change\x00MODALIAS=a=b c\x00EMPTY=\x00",
			action: "change", dev: "/devices/x", props: []string{"ACTION=change", "MODALIAS=a=b c", "EMPTY="},
		},
		{name: "header only", msg: "remove@/devices/y", action: "remove", dev: "/devices/y"},
		{name: "empty fields are skipped", msg: "add@/d\x00\x00A=1\x00\x00", action: "add", dev: "/d", props: []string{"A=1"}},
		{name: "empty message", msg: "", err: "not ACTION@DEVPATH"},
		{name: "no @", msg: "add/devices/x\x00A=1", err: "not ACTION@DEVPATH"},
		{name: "no action", msg: "@/devices/x", err: "has no action"},
		{name: "relative devpath", msg: "add@devices/x", err: "has no device path"},
		{name: "control byte in header", msg: "add@/devices/\nx", err: "has no device path"},
		{name: "property without =", msg: "add@/d\x00ACTION", err: "not KEY=VALUE"},
		{name: "property without key", msg: "add@/d\x00=x", err: "not KEY=VALUE"},
		{name: "key with a space", msg: "add@/d\x00A B=x", err: "has the key"},
		{name: "ACTION disagrees", msg: "add@/d\x00ACTION=remove", err: "ACTION=remove in a message whose header says add@/d"},
		{name: "DEVPATH disagrees", msg: "add@/d\x00DEVPATH=/e", err: "DEVPATH=/e"},
		{name: "too long", msg: "add@/d\x00A=" + strings.Repeat("x", MaxMessage), err: "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, err := Parse([]byte(tt.msg))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Parse = %v, %v; want an error containing %q", e, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if e.Action != tt.action || e.DevPath != tt.dev {
				t.Errorf("action %q devpath %q, want %q %q", e.Action, e.DevPath, tt.action, tt.dev)
			}
			if got := e.Environ(); !slices.Equal(got, tt.props) && !(len(got) == 0 && len(tt.props) == 0) {
				t.Errorf("properties %q, want %q", got, tt.props)
			}
		})
	}
}

func TestParseNotKernel(t *testing.T) {
	t.Parallel()
	_, err := Parse([]byte("libudev\x00\xfe\xed\xca\xfe binary header"))
	if !errors.Is(err, ErrNotKernel) {
		t.Fatalf("Parse of a libudev message = %v, want ErrNotKernel", err)
	}
}

func TestEventAccessors(t *testing.T) {
	t.Parallel()
	e, err := Parse([]byte(chardevAdd + "MINOR=1\x00"))
	if err != nil {
		t.Fatal(err)
	}
	if e.Subsystem() != "chardev" || e.Kernel() != "chardev" || e.Value("DEVNAME") != "chardev" {
		t.Errorf("subsystem %q kernel %q devname %q", e.Subsystem(), e.Kernel(), e.Value("DEVNAME"))
	}
	if v, ok := e.Get("MINOR"); !ok || v != "1" {
		t.Errorf("Get(MINOR) = %q, %v; want the last value, 1", v, ok)
	}
	if v, ok := e.Get("NOPE"); ok || v != "" {
		t.Errorf("Get(NOPE) = %q, %v", v, ok)
	}
}

// FuzzParse: any bytes either fail to parse or give an event whose header
// and properties make the same message again.
func FuzzParse(f *testing.F) {
	f.Add([]byte(chardevAdd))
	f.Add([]byte("remove@/module/chardev\x00ACTION=remove\x00DEVPATH=/module/chardev\x00SUBSYSTEM=module\x00SEQNUM=9\x00"))
	f.Add([]byte("libudev\x00xyz"))
	f.Add([]byte("add@/d\x00\x00=\x00A==\x00"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		e, err := Parse(msg)
		if err != nil {
			return
		}
		if e.Action == "" || !strings.HasPrefix(e.DevPath, "/") {
			t.Fatalf("accepted %q with action %q devpath %q", msg, e.Action, e.DevPath)
		}
		again := e.Action + "@" + e.DevPath + "\x00"
		for _, kv := range e.Environ() {
			again += kv + "\x00"
		}
		e2, err := Parse([]byte(again))
		if err != nil {
			t.Fatalf("re-encoded %q does not parse: %v", again, err)
		}
		if !slices.Equal(e2.Environ(), e.Environ()) || e2.Action != e.Action || e2.DevPath != e.DevPath {
			t.Fatalf("round trip changed %q into %q", msg, again)
		}
		for _, p := range e.Properties {
			if p.Key == "" || strings.ContainsAny(p.Key, "= \x00") {
				t.Fatalf("bad key %q from %q", p.Key, msg)
			}
		}
	})
}
