package fnmatch

import "testing"

func TestMatch(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		pat, name string
		want      bool
	}{
		{"", "", true},
		{"", "a", false},
		{"abc", "abc", true},
		{"abc", "abd", false},
		{"a*", "a", true},
		{"a*", "abc/def", true}, // '*' crosses '/' without FNM_PATHNAME
		{"*", ".hidden", true},  // and matches a leading dot
		{"a*c", "abbbc", true},
		{"a*c", "abbbd", false},
		{"a*b*c", "aXbYbZc", true},
		{"?", "", false},
		{"a?c", "abc", true},
		{"[abc]", "b", true},
		{"[!abc]", "b", false},
		{"[^abc]", "d", true},
		{"[a-c]x", "bx", true},
		{"[a-c]x", "dx", false},
		{"[]]", "]", true},
		{"[!]]", "a", true},
		{"[a-]", "-", true},
		{"[[:digit:]]*", "7up", true},
		{"[[:alpha:]]", "7", false},
		{"[[:xdigit:]][[:upper:]]", "fA", true},
		{"[", "[", true}, // unterminated bracket is literal
		{"[ab", "[ab", true},
		{"\\*", "*", true},
		{"\\*", "a", false},
		{"a\\", "a\\", false}, // a trailing backslash matches nothing
		{"pci:v00008086d*sv*sd*bc03sc*i*", "pci:v00008086d00001234sv0000sd0000bc03sc00i00", true},
		{"pci:v00008086d*sv*sd*bc03sc*i*", "pci:v00008086d00001234sv0000sd0000bc02sc00i00", false},
		{"of:N*T*Cfsl,imx[0-9]*", "of:NfooTbarCfsl,imx6q", true},
	} {
		if got := Match(tc.pat, tc.name); got != tc.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tc.pat, tc.name, got, tc.want)
		}
	}
}

func FuzzMatch(f *testing.F) {
	f.Add("a*[b-d]?\\e", "abce")
	f.Add("[[:alpha:]", "[")
	f.Fuzz(func(t *testing.T, pat, name string) {
		Match(pat, name)
		if !Match(pat, pat) && !containsMeta(pat) {
			t.Errorf("literal pattern %q does not match itself", pat)
		}
	})
}

func containsMeta(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', '\\':
			return true
		}
	}
	return false
}
