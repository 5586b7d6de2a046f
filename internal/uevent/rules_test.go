package uevent

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func mustParse(t *testing.T, text string) *Rules {
	t.Helper()
	rs, err := ParseRules("test.rules", strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestParseRules(t *testing.T) {
	t.Parallel()
	rs := mustParse(t, `# the spec's rule, and friends

SUBSYSTEM=="chardev", ACTION=="add", RUN+="/path/to/trigger.sh"
  KERNEL=="tty[0-9]*"	ENV{ID_X}!="a|b" ,RUN="echo \"quoted\" \\ back"
DEVNAME=="/dev/chardev", \
    RUN{program}+="one", \
    RUN+="two"
ACTION=="remove"
`)
	want := []Rule{
		{File: "test.rules", Line: 3,
			Matches: []Match{{Key: "SUBSYSTEM", Patterns: []string{"chardev"}}, {Key: "ACTION", Patterns: []string{"add"}}},
			Runs:    []Run{{Append: true, Command: "/path/to/trigger.sh"}}},
		{File: "test.rules", Line: 4,
			Matches: []Match{{Key: "KERNEL", Patterns: []string{"tty[0-9]*"}}, {Key: "ENV", Env: "ID_X", Negate: true, Patterns: []string{"a", "b"}}},
			Runs:    []Run{{Command: `echo "quoted" \ back`}}},
		{File: "test.rules", Line: 5,
			Matches: []Match{{Key: "DEVNAME", Patterns: []string{"/dev/chardev"}}},
			Runs:    []Run{{Append: true, Command: "one"}, {Append: true, Command: "two"}}},
		{File: "test.rules", Line: 8, Matches: []Match{{Key: "ACTION", Patterns: []string{"remove"}}}},
	}
	if len(rs.Rules) != len(want) {
		t.Fatalf("got %d rules, want %d: %+v", len(rs.Rules), len(want), rs.Rules)
	}
	for i := range want {
		g, w := rs.Rules[i], want[i]
		if g.File != w.File || g.Line != w.Line || !slices.EqualFunc(g.Matches, w.Matches, matchEqual) || !slices.Equal(g.Runs, w.Runs) {
			t.Errorf("rule %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

func matchEqual(a, b Match) bool {
	return a.Key == b.Key && a.Env == b.Env && a.Negate == b.Negate && slices.Equal(a.Patterns, b.Patterns)
}

func TestParseRulesErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text string
		want       []string // one "file:line: message" substring per error, in order
	}{
		{"assignment instead of match", `SUBSYSTEM="chardev", RUN+="x"`,
			[]string{`test.rules:1: SUBSYSTEM= assigns, and only RUN can be assigned here: write SUBSYSTEM== to match`}},
		{"unknown key", "\n\nATTR{size}==\"0\", RUN+=\"x\"",
			[]string{"test.rules:3: ATTR{size}: unknown or unsupported key"}},
		{"lower-case key", `subsystem=="x"`, []string{"test.rules:1: subsystem: unknown or unsupported key"}},
		{"unquoted value", `ACTION==add`, []string{"test.rules:1: ACTION==: the value must be in double quotes"}},
		{"unterminated quote", `ACTION=="add, RUN+="x"`, []string{`test.rules:1: ACTION: expected a comma after the value "add, RUN+=", found "x"`}},
		{"missing closing quote", `RUN+="x`, []string{"test.rules:1: RUN+=: the value's closing double quote is missing"}},
		{"no operator", `ACTION "add"`, []string{"test.rules:1: ACTION: expected an operator"}},
		{"not a key", `"add"`, []string{`test.rules:1: expected a key such as SUBSYSTEM, found "\"add\""`}},
		{"RUN with ==", `RUN=="x"`, []string{"test.rules:1: RUN==: RUN takes += (add a command) or = (replace the commands so far)"}},
		{"RUN with :=", `RUN:="x"`, []string{"test.rules:1: RUN:=: RUN takes +="}},
		{"RUN builtin", `RUN{builtin}+="kmod load"`, []string{"test.rules:1: RUN{builtin} is not supported"}},
		{"empty RUN", `ACTION=="add", RUN+=" "`, []string{"test.rules:1: RUN: empty command"}},
		{"ENV without name", `ENV=="x"`, []string{"test.rules:1: ENV needs a property name: ENV{KEY}"}},
		{"braces on a plain key", `KERNEL{x}=="y"`, []string{"test.rules:1: KERNEL{x}: KERNEL takes no {...}"}},
		{"unclosed brace", `ENV{X=="y"`, []string{"test.rules:1: ENV{: missing }"}},
		{"unclosed bracket", `KERNEL=="tty[0-9"`, []string{"test.rules:1: KERNEL: a [ in the pattern has no closing ]"}},
		{"no comma between pairs", `ACTION=="add"RUN+="x"`, []string{`test.rules:1: ACTION: expected a comma after the value "add", found "R"`}},
		{"only commas", `, ,`, []string{"test.rules:1: a rule needs at least one"}},
		{"several errors, each with its line", "ACTION==\"add\", RUN+=\"ok\"\nSUBSYSTEM=\"x\"\n# fine\nFOO==\"1\"\n",
			[]string{"test.rules:2: SUBSYSTEM=", "test.rules:4: FOO: unknown"}},
		{"continued rule reports its first line", "ACTION==\"add\", \\\n  BAD==\"1\"", []string{"test.rules:1: BAD: unknown"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rs, err := ParseRules("test.rules", strings.NewReader(tt.text))
			if err == nil {
				t.Fatalf("parsed %q into %+v, want errors", tt.text, rs)
			}
			if rs != nil {
				t.Errorf("rules returned along with errors: %+v", rs)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tt.want) {
				t.Fatalf("errors:\n%s\nwant %d", err, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(lines[i], w) {
					t.Errorf("error %d = %q, want it to contain %q", i, lines[i], w)
				}
			}
			var se *SyntaxError
			if !errors.As(err, &se) || se.File != "test.rules" || se.Line < 1 {
				t.Errorf("error %v is not a *SyntaxError with a file and line", err)
			}
		})
	}
}

func TestParseRulesTooLong(t *testing.T) {
	t.Parallel()
	_, err := ParseRules("big.rules", strings.NewReader("ACTION==\"add\"\nRUN+=\""+strings.Repeat("x", maxLine)+"\"\n"))
	if err == nil || !strings.Contains(err.Error(), "big.rules:2: line longer than") {
		t.Fatalf("err = %v", err)
	}
}

func event(t *testing.T, msg string) *Event {
	t.Helper()
	e, err := Parse([]byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestMatch(t *testing.T) {
	t.Parallel()
	add := event(t, chardevAdd)
	rm := event(t, "remove@/devices/virtual/chardev/chardev\x00ACTION=remove\x00DEVPATH=/devices/virtual/chardev/chardev\x00SUBSYSTEM=chardev\x00MAJOR=247\x00MINOR=0\x00DEVNAME=chardev\x00SEQNUM=1510\x00")
	mod := event(t, "add@/module/chardev\x00ACTION=add\x00DEVPATH=/module/chardev\x00SUBSYSTEM=module\x00SEQNUM=1502\x00")
	tests := []struct {
		rule        string
		add, rm, md bool // matches chardev's add, its remove, the module's add
	}{
		{`SUBSYSTEM=="chardev", ACTION=="add"`, true, false, false},
		{`SUBSYSTEM=="chardev"`, true, true, false},
		{`ACTION=="add"`, true, false, true},
		{`ACTION!="add"`, false, true, false},
		{`ACTION=="add|remove", SUBSYSTEM!="module"`, true, true, false},
		{`KERNEL=="chardev"`, true, true, true}, // the module's kobject is called chardev too
		{`KERNEL=="char*", SUBSYSTEM=="chardev"`, true, true, false},
		{`DEVPATH=="/devices/virtual/*"`, true, true, false},
		{`DEVNAME=="chardev"`, true, true, false},
		{`DEVNAME=="/dev/chardev"`, true, true, false},
		{`DEVNAME=="/dev/char[a-z]ev"`, true, true, false},
		{`DEVNAME==""`, false, false, true}, // no DEVNAME: the empty string
		{`DEVNAME=="?*"`, true, true, false},
		{`ENV{MAJOR}=="247", ENV{MINOR}=="0"`, true, true, false},
		{`ENV{MAJOR}=="[0-9]*"`, true, true, false},
		{`ENV{SEQNUM}=="15[01]?"`, true, true, true},
		{`ENV{NOPE}!="?*"`, true, true, true},
		{`DRIVER=="x"`, false, false, false},
		{`RUN+="no matches: every event"`, true, true, true},
	}
	for _, tt := range tests {
		rs := mustParse(t, tt.rule)
		r := &rs.Rules[0]
		for _, c := range []struct {
			e    *Event
			want bool
		}{{add, tt.add}, {rm, tt.rm}, {mod, tt.md}} {
			if got := r.Applies(c.e); got != c.want {
				t.Errorf("%s on %s %s: %v, want %v", tt.rule, c.e.Action, c.e.DevPath, got, c.want)
			}
		}
	}
}

func TestCommands(t *testing.T) {
	t.Parallel()
	rs := mustParse(t, `
SUBSYSTEM=="chardev", ACTION=="add", RUN+="echo chardev loaded >>/tmp/log"
SUBSYSTEM=="chardev", ACTION=="remove", RUN+="echo chardev removed >>/tmp/log"
SUBSYSTEM=="chardev", RUN+="second", RUN+="third"
SUBSYSTEM=="module", RUN+="dropped"
SUBSYSTEM=="module", RUN="replaced"
`)
	for _, tt := range []struct {
		msg  string
		want []string
	}{
		{chardevAdd, []string{"echo chardev loaded >>/tmp/log", "second", "third"}},
		{"remove@/devices/virtual/chardev/chardev\x00SUBSYSTEM=chardev", []string{"echo chardev removed >>/tmp/log", "second", "third"}},
		{"add@/module/chardev\x00SUBSYSTEM=module", []string{"replaced"}},
		{"add@/devices/virtual/misc/x\x00SUBSYSTEM=misc", nil},
	} {
		e := event(t, tt.msg)
		if got := rs.Commands(e); !slices.Equal(got, tt.want) {
			t.Errorf("commands for %s %s: %q, want %q", e.Action, e.DevPath, got, tt.want)
		}
	}
}

// FuzzParseRules: any text either fails with file:line errors or parses
// into rules whose every match key is known and every RUN non-empty; and
// matching any event against them does not panic.
func FuzzParseRules(f *testing.F) {
	f.Add(`SUBSYSTEM=="chardev", ACTION=="add", RUN+="trigger.sh"`)
	f.Add("# c\n\nKERNEL==\"tty[!0-9]*|x\", ENV{A}!=\"\\\"\" \\\n RUN=\"y\"\n")
	f.Add(`ENV{=="x"`)
	f.Add(`DEVNAME=="/dev/[`)
	ev, _ := Parse([]byte(chardevAdd))
	f.Fuzz(func(t *testing.T, text string) {
		rs, err := ParseRules("f.rules", strings.NewReader(text))
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "f.rules:") {
					t.Fatalf("error line %q does not name the file", line)
				}
			}
			return
		}
		for _, r := range rs.Rules {
			if r.Line < 1 || len(r.Matches)+len(r.Runs) == 0 {
				t.Fatalf("rule %+v from %q", r, text)
			}
			for _, m := range r.Matches {
				if !matchKeys[m.Key] || len(m.Patterns) == 0 {
					t.Fatalf("match %+v from %q", m, text)
				}
			}
			for _, run := range r.Runs {
				if strings.TrimSpace(run.Command) == "" {
					t.Fatalf("empty RUN from %q", text)
				}
			}
		}
		rs.Commands(ev)
	})
}
