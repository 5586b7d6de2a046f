// Package refused_test checks, on the host, that modpost refuses the two
// module folders under examples/license/refused at build time on every
// Debian kernel, and that `modlab run` reports modpost's own message with a
// build error: a proprietary module that uses a GPL-only symbol (gplonly)
// and a module without MODULE_LICENSE (nolicense). Nothing of theirs ever
// reaches a kernel; examples/license's guest test shows what a kernel does
// with such a module when one gets past the build.
package refused_test

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/modlab/modlab/internal/cli"
	"github.com/modlab/modlab/lab/labtest"
)

func TestModpostRefuses(t *testing.T) {
	// kbuild for each kernel, then QEMU (the boot stops at the build error).
	ks, root, _ := labtest.Setup(t)
	for _, tc := range []struct {
		folder string
		want   *regexp.Regexp // modpost's line, verbatim
	}{
		{"gplonly", regexp.MustCompile(`(?m)^    ERROR: modpost: GPL-incompatible module license-gplonly\.ko uses GPL-only symbol 'ktime_get_mono_fast_ns'$`)},
		{"nolicense", regexp.MustCompile(`(?m)^    ERROR: modpost: missing MODULE_LICENSE\(\) in /\S+/license-none\.o$`)},
	} {
		t.Run(tc.folder, func(t *testing.T) {
			var out, errb bytes.Buffer
			env := &cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: os.Getenv}
			dir := filepath.Join(root, "examples", "license", "refused", tc.folder)
			code := cli.Main(env, []string{"modlab", "run", dir, "--kernel", "debian"})
			got := out.String()
			if code != 1 {
				t.Errorf("modlab run %s exited %d, want 1\nstdout:\n%s\nstderr:\n%s", dir, code, got, errb.String())
			}
			for _, k := range ks {
				sec := section(got, "["+k.Release+"] "+tc.folder+" BUILD ERROR: ")
				if sec == "" {
					t.Errorf("%s: the report has no build error for %s:\n%s", k.Release, tc.folder, got)
					continue
				}
				if !tc.want.MatchString(sec) {
					t.Errorf("%s: the build error lacks modpost's message %s:\n%s", k.Release, tc.want, sec)
				}
			}
			n := strconv.Itoa(len(ks))
			if want := "modlab: 0 passed, " + n + " failed (" + n + " build errors)\n"; !strings.HasSuffix(got, want) {
				t.Errorf("closing line: want %q, output:\n%s", want, got)
			}
		})
	}
}

// section returns the report's text from the line that starts with head to
// the next blank line.
func section(s, head string) string {
	i := strings.Index(s, "\n"+head)
	if i < 0 {
		return ""
	}
	s = s[i+1:]
	if j := strings.Index(s, "\n\n"); j >= 0 {
		s = s[:j]
	}
	return s
}
