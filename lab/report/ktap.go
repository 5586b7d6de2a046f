package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/modlab/modlab/lab/proto"
)

// WriteKTAP prints results in KTAP version 1, nested the way the kernel's
// own tests nest: one top-level test per kernel, one subtest per unit, and
// under each unit its leaf tests.
//
// Consumers such as the kernel's tools/testing/kunit/kunit_parser.py count
// leaf tests only, so a unit's leaves fail whenever the unit fails: its
// steps (all of them, or only the failed ones when it has Go tests) and Go
// tests, then "kernel log clean" (with the kernel's bug reports as
// diagnostics) and "no new taint". A unit the guest never ran has one
// failing leaf instead, "build", "prepare" or "run", with the reason; and
// a lab error is a failing "lab" leaf of its kernel. Should a verdict ever
// fail with no failing leaf to show for it, a failing "verdict" leaf is
// added, so no failure can go uncounted.
func WriteKTAP(w io.Writer, results []KernelResult) {
	k := &ktap{w: w}
	k.line("KTAP version 1")
	k.line("1..%d", len(results))
	for i := range results {
		k.kernel(i+1, &results[i])
	}
}

type ktap struct {
	w     io.Writer
	depth int
}

// leaf is a test with no subtests.
type leaf struct {
	name   string
	status string // a proto status: pass, skip or (anything else) fail
	diag   []string
}

func (k *ktap) kernel(n int, r *KernelResult) {
	name := ktapName(r.Kernel)
	v := r.Verdict()
	var extra []leaf
	switch {
	case v.Outcome == LabError:
		extra = append(extra, leaf{"lab", proto.Fail, textLines("lab error: " + r.Infra)})
	case !v.OK() && !anyUnitFailed(r):
		extra = append(extra, leaf{"verdict", proto.Fail, textLines(v.Reason)})
	}
	k.depth++
	k.line("KTAP version 1")
	k.line("# Subtest: %s", name)
	if r.Accel != "" {
		k.diag("accel: " + r.Accel)
	}
	if r.Retried != "" {
		k.diag("retried: " + firstLine(r.Retried))
	}
	for _, f := range r.Fresh {
		k.diag("fresh boot: " + f)
	}
	if r.ConsoleLog != "" {
		k.diag("console log: " + r.ConsoleLog)
	}
	k.line("1..%d", len(r.Units)+len(extra))
	for i := range r.Units {
		k.unit(i+1, r, i)
	}
	for j, l := range extra {
		k.leaf(len(r.Units)+j+1, l)
	}
	k.depth--
	k.result(v.OK(), n, name, "")
}

func anyUnitFailed(r *KernelResult) bool {
	for i := range r.Units {
		if !r.UnitVerdict(i).OK() {
			return true
		}
	}
	return false
}

func (k *ktap) unit(n int, r *KernelResult, i int) {
	u := &r.Units[i]
	v := r.UnitVerdict(i)
	name := ktapName(u.Name)
	leaves := unitLeaves(u, v)
	k.depth++
	k.line("KTAP version 1")
	k.line("# Subtest: %s", name)
	k.line("1..%d", len(leaves))
	for j, l := range leaves {
		if ktapName(l.name) == name {
			// The parser would take it for the unit's own result line.
			l.name += " (leaf)"
		}
		k.leaf(j+1, l)
	}
	k.depth--
	if !v.OK() {
		why := firstLine(v.Reason)
		if v.Outcome == NotRan {
			why = "not run: " + why
		}
		for _, l := range strings.Split(why, "; ") {
			k.diag(l)
		}
	}
	k.result(v.OK(), n, name, "")
}

// unitLeaves are the leaf tests of a unit; at least one fails when its
// verdict v does.
func unitLeaves(u *UnitResult, v Verdict) []leaf {
	switch {
	case v.Outcome == BuildError:
		return []leaf{{"build", proto.Fail, textLines(v.Reason)}}
	case u.Stage != "":
		return []leaf{{"prepare", proto.Fail, textLines(v.Reason)}}
	case v.Outcome == NotRan:
		return []leaf{{"run", proto.Fail, textLines("not run: " + v.Reason)}}
	}
	var out []leaf
	for _, s := range u.Steps {
		if !okStatus(s.Status) || len(u.Tests) == 0 {
			out = append(out, leaf{s.Name, s.Status, textLines(s.Msg)})
		}
	}
	for _, t := range u.Tests {
		var diag []string
		if t.Status != proto.Pass {
			diag = textLines(t.Output)
		}
		out = append(out, leaf{t.Name, t.Status, diag})
	}
	clean := leaf{name: "kernel log clean", status: proto.Pass}
	for _, s := range u.Splats {
		clean.status = proto.Fail
		clean.diag = append(clean.diag, textLines(s)...)
	}
	taint := leaf{name: "no new taint", status: proto.Pass}
	if u.BadTaint != "" {
		taint.status = proto.Fail
		taint.diag = []string{fmt.Sprintf("new taint flags: %s (now %s)", u.BadTaint, u.Taint)}
	}
	out = append(out, clean, taint)
	if !v.OK() {
		for _, l := range out {
			if !okStatus(l.status) {
				return out
			}
		}
		out = append(out, leaf{"verdict", proto.Fail, textLines(v.Reason)})
	}
	return out
}

func (k *ktap) leaf(n int, l leaf) {
	for _, d := range l.diag {
		k.diag(d)
	}
	directive := ""
	if l.status == proto.Skip {
		directive = " # SKIP"
	}
	k.result(okStatus(l.status), n, ktapName(l.name), directive)
}

func (k *ktap) result(ok bool, n int, name, directive string) {
	word := "not ok"
	if ok {
		word = "ok"
	}
	k.line("%s %d %s%s", word, n, name, directive)
}

func (k *ktap) line(format string, a ...any) {
	fmt.Fprintf(k.w, "%s%s\n", strings.Repeat("    ", k.depth), fmt.Sprintf(format, a...))
}

// diag prints one diagnostic line: valid UTF-8, with no line break of any
// kind (a reader may split on \r or U+2028 too). The kernel's parser ends
// a log at "reboot: System halted" and two other phrases wherever they
// occur, and takes "# Subtest:" for a test header, so those get a space
// before their colon.
func (k *ktap) diag(s string) {
	s = ktapDefuse.Replace(strings.Map(flatten, strings.ToValidUTF8(s, "\uFFFD")))
	if strings.HasPrefix(s, "Subtest:") {
		s = "Subtest :" + s[len("Subtest:"):]
	}
	k.line("# %s", s)
}

var ktapDefuse = strings.NewReplacer(
	"List of all partitions:", "List of all partitions :",
	"Kernel panic - not syncing: VFS:", "Kernel panic - not syncing : VFS:",
	"reboot: System halted", "reboot : System halted",
)

// textLines splits text into diagnostic lines (diag makes each fit).
func textLines(s string) []string {
	s = strings.TrimRight(s, "\r\n")
	if s == "" {
		return nil
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	return lines
}

// ktapName makes a test name KTAP can carry: one line, no "#" (it starts a
// directive), no leading "- " (a parser drops it).
func ktapName(s string) string {
	s = strings.Map(flatten, strings.ToValidUTF8(s, "\uFFFD"))
	s = strings.ReplaceAll(s, "#", "_")
	s = strings.TrimSpace(s)
	for strings.HasPrefix(s, "- ") {
		s = strings.TrimSpace(s[2:])
	}
	if s == "" {
		s = "(unnamed)"
	}
	return s
}

// flatten turns line and page breaks into spaces.
func flatten(r rune) rune {
	switch r {
	case '\n', '\r', '\v', '\f', 0x1c, 0x1d, 0x1e, 0x85, 0x2028, 0x2029:
		return ' '
	}
	return r
}
