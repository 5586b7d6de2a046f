package kmsg

import (
	"strings"
	"testing"
	"time"
)

func TestFormat(t *testing.T) {
	t.Parallel()
	rec := Record{Level: Info, Time: 1234567 * time.Microsecond, Message: "hello"}
	multi := Record{Level: Warning, Facility: 3, Time: 2 * time.Second, Message: "one\ntwo"}
	boot := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		f    Formatter
		r    Record
		want string
	}{
		{"default", Formatter{}, rec, "[    1.234567] hello\n"},
		{"decode", Formatter{Decode: true}, rec, "kern  :info  : [    1.234567] hello\n"},
		{"raw", Formatter{Raw: true}, multi, "<28>[    2.000000] one\n                   two\n"},
		{"notime", Formatter{Time: TimeNone}, multi, "one\ntwo\n"},
		{"notime decode indents", Formatter{Time: TimeNone, Decode: true}, multi, "daemon:warn  : one\n               two\n"},
		{"force prefix", Formatter{ForcePrefix: true}, multi, "[    2.000000] one\n[    2.000000] two\n"},
		{"ctime drops microseconds", Formatter{Time: TimeCtime, Boot: boot, Location: time.UTC}, rec, "[Wed Nov 25 10:00:01 2026] hello\n"},
		{"iso", Formatter{Time: TimeISO, Boot: boot, Location: time.UTC}, rec, "2026-11-25T10:00:01,234567+00:00 hello\n"},
		{"empty message", Formatter{Decode: true}, Record{}, "\n"},
		{"escapes", Formatter{Time: TimeNone}, Record{Message: "a\x00b\x7fc\td\xffé"}, "a\\x00b\\x7fc\td\\xffé\n"},
		{"noescape", Formatter{Time: TimeNone, NoEscape: true}, Record{Message: "a\x7fb"}, "a\x7fb\n"},
		{"unknown facility has no decode", Formatter{Decode: true, Time: TimeNone}, Record{Facility: 16, Message: "x"}, "x\n"},
	}
	for _, tc := range tests {
		if got := tc.f.Format(tc.r); got != tc.want {
			t.Errorf("%s: Format = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestDelta(t *testing.T) {
	t.Parallel()
	f := Formatter{Time: TimeDelta}
	var out []string
	for _, us := range []int64{0, 0, 1500, 1000000} {
		out = append(out, f.Format(Record{Time: time.Duration(us) * time.Microsecond, Message: "m"}))
	}
	want := []string{"[<    0.000000>] m\n", "[<    0.000000>] m\n", "[<    0.000000>] m\n", "[<    0.998500>] m\n"}
	// util-linux counts a previous time of exactly zero as "none": the
	// record at 1.5 ms after two at 0 has a delta of 0.
	if strings.Join(out, "") != strings.Join(want, "") {
		t.Errorf("deltas = %q, want %q", out, want)
	}
}

func TestLevelsAndFacilities(t *testing.T) {
	t.Parallel()
	s, err := ParseLevels("err,WARN,7")
	if err != nil || !s.Has(Err) || !s.Has(Warning) || !s.Has(Debug) || s.Has(Info) {
		t.Errorf("ParseLevels = %b, %v", s, err)
	}
	if _, err := ParseLevels("err,bogus"); err == nil || err.Error() != "unknown level 'bogus'" {
		t.Errorf("ParseLevels(bogus) error = %v", err)
	}
	if _, err := ParseFacilities("12"); err == nil || err.Error() != "unknown facility '12'" {
		t.Errorf("ParseFacilities(12) error = %v", err)
	}
	fs, _ := ParseFacilities("kern,daemon")
	f := Filter{Facilities: &fs}
	if !f.Accept(Record{Facility: 3}) || f.Accept(Record{Facility: 1}) || f.Accept(Record{Facility: 16}) {
		t.Error("facility filter")
	}
}

func TestJSON(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	j := &JSONWriter{W: &b}
	j.Write(Record{Level: Info, Time: 1500 * time.Microsecond, Message: "a \"q\" \\ \t\n\x01"})
	j.Write(Record{Message: ""}) // left out
	j.Write(Record{Level: Err, Facility: 1, Message: "b"})
	j.Close()
	want := `{
   "dmesg": [
      {
         "pri": 6,
         "time":     0.001500,
         "msg": "a \"q\" \\ \t\n\u0001"
      },{
         "pri": 11,
         "time":     0.000000,
         "msg": "b"
      }
   ]
}
`
	if b.String() != want {
		t.Errorf("JSON =\n%s\nwant\n%s", b.String(), want)
	}
	var empty strings.Builder
	(&JSONWriter{W: &empty}).Close()
	if empty.Len() != 0 {
		t.Errorf("JSON of no records = %q, want nothing (as util-linux)", empty.String())
	}
}
