package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/modlab/modlab/lab/proto"
)

// The reports carry text from modules, tests and the kernel: whatever it
// holds, KTAP stays KTAP that the kernel's parser reads as modlab means it,
// JUnit stays well-formed XML, and JSON stays JSON.
func FuzzReports(f *testing.F) {
	f.Add("hello", "TestLoad", "output", "WARNING: at x.c:1", "")
	f.Add("a#b", "- TestX#01", "ok 1 fake\r# Subtest: x", "reboot: System halted\n1..3", "boot failed\nList of all partitions:")
	f.Add("exec", "exec", "\x00\x1b[0m\xff\u2028", "KTAP version 1", "not ok 1 x")
	f.Add("", " ", "]]>", "# Subtest: y", "\n")
	f.Fuzz(func(t *testing.T, unit, test, output, splat, infra string) {
		results := []KernelResult{{Kernel: k612, Accel: "tcg", Infra: infra, Units: []UnitResult{
			{Name: unit, Status: proto.Fail, Steps: []proto.Event{step(test, proto.Pass, output)},
				Tests:  []TestResult{{Name: test, Status: proto.Fail, Output: output}},
				Output: []string{output}, Splats: []string{splat}, Taint: "W", BadTaint: "W", Reason: output},
			{Name: "clean", Status: proto.Pass, Steps: []proto.Event{step("exec", proto.Pass, "")}},
		}}}

		var b bytes.Buffer
		WriteKTAP(&b, results)
		if !utf8.Valid(b.Bytes()) {
			t.Fatalf("KTAP is not UTF-8:\n%s", b.Bytes())
		}
		c, err := checkKTAP(b.String())
		if err != nil {
			t.Fatalf("%v\n%s", err, b.String())
		}
		wantFailed := 3 // the test, kernel log clean, no new taint
		if infra != "" {
			wantFailed++ // lab
		}
		if c.failed != wantFailed || c.passed != 3 {
			t.Fatalf("KTAP leaves: %d passed, %d failed; want 3 and %d\n%s", c.passed, c.failed, wantFailed, b.String())
		}

		b.Reset()
		if err := WriteJUnit(&b, results); err != nil {
			t.Fatal(err)
		}
		var doc junitDoc
		if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
			t.Fatalf("JUnit: %v\n%s", err, b.Bytes())
		}
		if len(doc.Suites) != 1 || doc.Suites[0].Tests != len(doc.Suites[0].Cases) || doc.Failures != 2 {
			t.Fatalf("JUnit counts %+v\n%s", doc.junitCounts, b.Bytes())
		}

		b.Reset()
		if err := WriteJSON(&b, results); err != nil || !json.Valid(b.Bytes()) {
			t.Fatalf("JSON: %v\n%s", err, b.Bytes())
		}
		WriteTable(&b, results)
	})
}

// ktapCheck reads KTAP the way the kernel's kunit_parser.py does, strictly:
// a test is "KTAP version 1", "# Subtest: NAME" (below the top), a plan
// "1..N", then N subtests or leaves, each ended by "ok|not ok I NAME" one
// level out; diagnostics ("# ...") may come before any line but a plan.
type ktapCheck struct {
	lines          []string
	i              int
	passed, failed int
}

var (
	ktapLine = regexp.MustCompile(`^(ok|not ok) ([0-9]+) ([^#]*?)( # SKIP)?$`)
	ktapPlan = regexp.MustCompile(`^1\.\.([0-9]+)$`)
	// The kernel's parser stops reading at these, anywhere in a line.
	ktapEnd = regexp.MustCompile(`List of all partitions:|Kernel panic - not syncing: VFS:|reboot: System halted`)
)

func checkKTAP(out string) (*ktapCheck, error) {
	c := &ktapCheck{lines: strings.Split(strings.TrimSuffix(out, "\n"), "\n")}
	for n, l := range c.lines {
		if ktapEnd.MatchString(l) {
			return c, fmt.Errorf("line %d ends a kernel log for the parser: %q", n+1, l)
		}
	}
	if _, err := c.test(0); err != nil {
		return c, err
	}
	c.diags(0)
	if c.i < len(c.lines) {
		return c, fmt.Errorf("line %d: %q after the last test", c.i+1, c.lines[c.i])
	}
	return c, nil
}

// at returns line i without its indentation at depth d, or ok=false.
func (c *ktapCheck) at(d int) (string, bool) {
	if c.i >= len(c.lines) {
		return "", false
	}
	ind := strings.Repeat("    ", d)
	l := c.lines[c.i]
	if !strings.HasPrefix(l, ind) || strings.HasPrefix(l[len(ind):], " ") {
		return "", false
	}
	return l[len(ind):], true
}

func (c *ktapCheck) diags(d int) {
	for {
		l, ok := c.at(d)
		if !ok || !strings.HasPrefix(l, "#") || strings.HasPrefix(l, "# Subtest:") {
			return
		}
		c.i++
	}
}

func (c *ktapCheck) expect(d int, what string) (string, error) {
	l, ok := c.at(d)
	if !ok {
		got := "the end"
		if c.i < len(c.lines) {
			got = strconv.Quote(c.lines[c.i])
		}
		return "", fmt.Errorf("line %d: want %s at depth %d, got %s", c.i+1, what, d, got)
	}
	c.i++
	return l, nil
}

// test reads a test whose header is at depth d and its subtests, and
// returns its name.
func (c *ktapCheck) test(d int) (string, error) {
	if l, err := c.expect(d, "KTAP version 1"); err != nil || l != "KTAP version 1" {
		return "", fmt.Errorf("line %d: want KTAP version 1: %q %v", c.i, l, err)
	}
	name := ""
	if d > 0 {
		l, err := c.expect(d, "# Subtest:")
		if err != nil || !strings.HasPrefix(l, "# Subtest: ") {
			return "", fmt.Errorf("line %d: want # Subtest: %q %v", c.i, l, err)
		}
		name = strings.TrimPrefix(l, "# Subtest: ")
	}
	c.diags(d)
	l, err := c.expect(d, "a plan")
	m := ktapPlan.FindStringSubmatch(l)
	if err != nil || m == nil {
		return "", fmt.Errorf("line %d: want a plan: %q %v", c.i, l, err)
	}
	n, _ := strconv.Atoi(m[1])
	for j := 1; j <= n; j++ {
		c.diags(d)
		sub := ""
		leaf := true
		if l, ok := c.at(d + 1); ok && l == "KTAP version 1" {
			leaf = false
			if sub, err = c.test(d + 1); err != nil {
				return "", err
			}
			c.diags(d)
		}
		l, err := c.expect(d, "a result")
		m := ktapLine.FindStringSubmatch(l)
		if err != nil || m == nil {
			return "", fmt.Errorf("line %d: want result %d: %q %v", c.i, j, l, err)
		}
		switch {
		case m[2] != strconv.Itoa(j):
			return "", fmt.Errorf("line %d: result %s, want %d", c.i, m[2], j)
		case m[3] == "" || strings.HasPrefix(m[3], "- ") || m[3] != strings.TrimSpace(m[3]):
			return "", fmt.Errorf("line %d: bad name %q", c.i, m[3])
		case !leaf && m[3] != sub:
			return "", fmt.Errorf("line %d: result for %q ends subtest %q", c.i, m[3], sub)
		case leaf && d > 0 && m[3] == name:
			return "", fmt.Errorf("line %d: leaf %q has its parent's name", c.i, m[3])
		case leaf && m[1] == "ok":
			c.passed++
		case leaf && m[4] == "":
			c.failed++
		}
	}
	return name, nil
}
