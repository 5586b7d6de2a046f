package kmsg

import (
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want Record
	}{
		{"plain", "6,339,5140900,-;NET: Registered PF_INET6 protocol family\n",
			Record{Level: Info, Seq: 339, Time: 5140900 * time.Microsecond, Message: "NET: Registered PF_INET6 protocol family"}},
		{"dictionary", "6,187,365035,-;acpi PNP0A08:00: _OSC: OS supports [ASPM]\n SUBSYSTEM=acpi\n DEVICE=+acpi:PNP0A08:00\n",
			Record{Level: Info, Seq: 187, Time: 365035 * time.Microsecond, Message: "acpi PNP0A08:00: _OSC: OS supports [ASPM]",
				Dict: []KV{{"SUBSYSTEM", "acpi"}, {"DEVICE", "+acpi:PNP0A08:00"}}}},
		{"continuation and caller", "4,12,100,c,caller=T42;more text\n",
			Record{Level: Warning, Seq: 12, Time: 100 * time.Microsecond, Cont: true, Caller: "T42", Message: "more text"}},
		{"user facility", "30,5,1,-;daemon[1]: hi\n",
			Record{Level: Info, Facility: 3, Seq: 5, Time: time.Microsecond, Message: "daemon[1]: hi"}},
		{"escapes", `14,1,0,-;a\x0ab\x09c \x5cx41 \xzz \x4`,
			Record{Level: Info, Facility: 1, Seq: 1, Message: "a\nb\tc \\x41 \\xzz \\x4"}},
		{"no flags field (before Linux 3.5 layout)", "6,1,2;old\n",
			Record{Level: Info, Seq: 1, Time: 2 * time.Microsecond, Message: "old"}},
		{"empty message", "6,1,2,-;\n", Record{Level: Info, Seq: 1, Time: 2 * time.Microsecond}},
		{"semicolon in text", "6,1,2,-;a;b\n", Record{Level: Info, Seq: 1, Time: 2 * time.Microsecond, Message: "a;b"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse([]byte(tc.in))
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Parse(%q)\n got %+v\nwant %+v", tc.in, got, tc.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"", "no ';'"},
		{"hello world\n", "no ';'"},
		{"6,1\n2,-;x", "header ends before ';'"},
		{"6,1;x", "has 2 fields"},
		{"x,1,2,-;m", `bad priority "x"`},
		{"-6,1,2,-;m", `bad priority "-6"`},
		{"6,y,2,-;m", `bad sequence number "y"`},
		{"6,1,-5,-;m", `bad timestamp "-5"`},
		{"6,1,99999999999999999999,-;m", "bad timestamp"},
	}
	for _, tc := range tests {
		_, err := Parse([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", tc.in, err, tc.want)
		}
	}
}

func TestSplit(t *testing.T) {
	t.Parallel()
	dump := "6,1,0,-;one\n SUBSYSTEM=a\n DEVICE=b\n6,2,0,-;two\n6,3,0,-;three without newline"
	got := Split([]byte(dump))
	want := []string{"6,1,0,-;one\n SUBSYSTEM=a\n DEVICE=b\n", "6,2,0,-;two\n", "6,3,0,-;three without newline"}
	if len(got) != len(want) {
		t.Fatalf("Split gave %d records, want %d: %q", len(got), len(want), got)
	}
	for i := range want {
		if string(got[i]) != want[i] {
			t.Errorf("record %d = %q, want %q", i, got[i], want[i])
		}
	}
	if n := len(Split(nil)); n != 0 {
		t.Errorf("Split(nil) gave %d records", n)
	}
}

// TestReaderDump reads a dump file through the raw-syscall reader, as
// dmesg does with a fixture root.
func TestReaderDump(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "kmsg")
	dump := "6,1,10,-;one\n SUBSYSTEM=a\n4,2,20,-;two\n"
	if err := os.WriteFile(p, []byte(dump), 0o644); err != nil {
		t.Fatal(err)
	}
	recs, err := ReadAll(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].Message != "one" || recs[0].Get("SUBSYSTEM") != "a" || recs[1].Level != Warning {
		t.Errorf("ReadAll = %+v", recs)
	}
	// SeekEnd skips what is there; records appended later are read when
	// following.
	r, err := Open(p, true)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.poll = 5 * time.Millisecond
	if err := r.SeekEnd(); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(30 * time.Millisecond)
		f, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
		f.WriteString("3,3,30,-;three\n")
		f.Close()
	}()
	done := make(chan Record, 1)
	go func() {
		rec, _ := r.Next()
		done <- rec
	}()
	select {
	case rec := <-done:
		if rec.Message != "three" || rec.Level != Err {
			t.Errorf("followed record = %+v", rec)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("following a dump file did not see the appended record")
	}
}

// TestReaderDevice reads the real /dev/kmsg when this machine lets us.
func TestReaderDevice(t *testing.T) {
	t.Parallel()
	recs, err := ReadAll("/dev/kmsg")
	if err != nil {
		t.Skipf("no readable /dev/kmsg here: %v", err)
	}
	if len(recs) == 0 {
		t.Skip("/dev/kmsg is empty")
	}
	for i := 1; i < len(recs); i++ {
		if recs[i].Seq <= recs[i-1].Seq {
			t.Fatalf("sequence numbers not increasing: %d then %d", recs[i-1].Seq, recs[i].Seq)
		}
	}
	r, err := Open("/dev/kmsg", false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.SeekEnd(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); err != io.EOF {
		// Something may have logged in between; that is fine, but an
		// error is not.
		if err != nil {
			t.Errorf("Next after SeekEnd: %v", err)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"6,339,5140900,-;NET: Registered PF_INET6 protocol family\n",
		"6,187,365035,-;acpi: x\n SUBSYSTEM=acpi\n DEVICE=+acpi:PNP0A08:00\n",
		"4,12,100,c,caller=T42;more\\x0a text\n",
		"14,1,0,-;a\\x0ab\\x09c \\x5cx41 \\xzz \\x4",
		"6,1,2;old\n", ";", "6,1,2,-;", "\\x", "6,1\n2,-;x",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Parse(b)
		if err != nil {
			return
		}
		if r.Level < 0 || r.Level > 7 || r.Time < 0 {
			t.Fatalf("Parse(%q) = %+v: level or time out of range", b, r)
		}
		// Formatting any parsed record must not panic either.
		var fm Formatter
		fm.Format(r)
		fm.Raw = true
		fm.Format(r)
		jsonString(r.Message)
		for _, rec := range Split(b) {
			Parse(rec)
		}
	})
}
