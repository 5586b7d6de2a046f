package uevent

import (
	"strings"
	"testing"
)

func TestGlob(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true},
		{"", "a", false},
		{"chardev", "chardev", true},
		{"chardev", "chardev2", false},
		{"char*", "chardev2", true},
		{"*", "", true},
		{"*", "/devices/virtual/x", true}, // '*' crosses '/'
		{"/devices/*/chardev", "/devices/virtual/chardev/chardev", true},
		{"/devices/*/chardev", "/devices/virtual/chardev/chardev2", false},
		{"/devices/*/chardev", "/devices/virtual/chardev", true},
		{"/devices/*chardev", "/devices/virtual/chardev/chardev", true},
		{"*dev*", "chardev", true},
		{"a*b*c", "aXbYbZc", true},
		{"a*b*c", "aXbYbZ", false},
		{"?", "", false},
		{"?", "x", true},
		{"tty?", "tty1", true},
		{"tty?", "tty10", false},
		{"tty[0-9]", "tty7", true},
		{"tty[0-9]", "ttyS", false},
		{"tty[!0-9]", "ttyS", true},
		{"tty[^0-9]", "tty5", false},
		{"[]]", "]", true},
		{"[!]]", "]", false},
		{"[a-]", "-", true},
		{"[abc]x", "bx", true},
		{"sd[a-c][0-9]*", "sdb12", true},
		{"sd[a-c][0-9]*", "sdd1", false},
		{`\*`, "*", true},
		{`\*`, "x", false},
		{`a\`, `a\`, true},
		{"[", "[", true}, // unclosed: literal
		{"x[y", "x[y", true},
		{"x[y", "xy", false},
		{"*?", "", false},
		{"*?", "a", true},
		{"**a", "bba", true},
	}
	for _, tt := range tests {
		if got := Glob(tt.pattern, tt.s); got != tt.want {
			t.Errorf("Glob(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

func TestCheckPattern(t *testing.T) {
	t.Parallel()
	for p, want := range map[string]string{
		"chardev":  "",
		"tty[0-9]": "",
		`a\*`:      "",
		"x[y":      "no closing ]",
		`ab\`:      "ends in a backslash",
		"[]":       "no closing ]",
		"[]]":      "",
	} {
		err := checkPattern(p)
		if (err == nil) != (want == "") || err != nil && !strings.Contains(err.Error(), want) {
			t.Errorf("checkPattern(%q) = %v, want %q", p, err, want)
		}
	}
}

// FuzzGlob: no pattern makes Glob panic or loop, a string always matches
// itself with its special bytes escaped, and "*" matches everything.
func FuzzGlob(f *testing.F) {
	f.Add("tty[0-9]*", "tty12")
	f.Add("[!a-", "[!a-")
	f.Add(`*\`, `x\`)
	f.Fuzz(func(t *testing.T, pattern, s string) {
		Glob(pattern, s)
		if !Glob("*", s) {
			t.Fatalf("* does not match %q", s)
		}
		var esc strings.Builder
		for i := 0; i < len(s); i++ {
			if strings.IndexByte(`*?[\`, s[i]) >= 0 {
				esc.WriteByte('\\')
			}
			esc.WriteByte(s[i])
		}
		if !Glob(esc.String(), s) {
			t.Fatalf("escaped %q does not match %q", esc.String(), s)
		}
		if !Glob(esc.String()+"*", s+pattern) {
			t.Fatalf("%q* does not match %q", esc.String(), s+pattern)
		}
	})
}
