// Package kcheck decides whether the kernel is still healthy: it finds bug
// reports ("splats") in kernel log lines and new taint flags.
//
// A report is known by its first line, in one of the formats the kernel
// prints it in (Formats, taken from the 6.1 and 6.12 sources), matched
// from the start of the log message. Kernel reports have no prefix; a
// module's own messages do (pr_fmt), or use the words in other ways, and
// are never taken for reports.
package kcheck

import (
	"fmt"
	"strconv"
	"strings"
)

// IsBugLine reports whether a kernel log message starts a bug report: it
// has one of Formats, from its first character.
func IsBugLine(msg string) bool {
	_, ok := Match(msg)
	return ok
}

// IsTaskDeath reports whether a log line is the header of a report after
// which the kernel kills the running task: die() prints it, counting
// oopses as "[#N]" (oopses, general protection faults, invalid opcodes
// from BUG()).
func IsTaskDeath(msg string) bool {
	f, ok := Match(msg)
	return ok && f.Dies
}

// Splat is one bug report: the line that matched and the lines after it
// that belong to the report (up to the end marker or a limit).
type Splat struct {
	First string
	Lines []string
}

// Text renders the report.
func (s Splat) Text() string { return strings.Join(s.Lines, "\n") }

// maxSplatLines bounds how much of a report is kept: a lockdep report with
// its chain and stacks runs to about a hundred lines.
const maxSplatLines = 150

// FindSplats returns the bug reports in a sequence of log messages. A
// report runs from its first line to the first of: the end marker that
// __warn and oops_end print ("---[ end trace"), a line of "=" after the
// first line (KASAN, KFENCE and UBSAN frame their reports with them), the
// end of the stack trace for reports that end with one, the next report,
// or maxSplatLines. A lead line ("BUG: kernel NULL pointer dereference",
// "kernel BUG at", "refcount_t: ...") keeps the oops header or WARNING:
// line that follows it in the same report.
func FindSplats(msgs []string) []Splat {
	var out []Splat
	for i := 0; i < len(msgs); i++ {
		f, ok := Match(msgs[i])
		if !ok {
			continue
		}
		s := Splat{First: msgs[i], Lines: []string{msgs[i]}}
		headed, stackEnds := !f.Lead, f.StackEnds
		j := i + 1
		for ; j < len(msgs) && len(s.Lines) < maxSplatLines; j++ {
			m := msgs[j]
			if g, ok := Match(m); ok {
				if headed {
					break // the next report
				}
				headed, stackEnds = !g.Lead, g.StackEnds
			}
			s.Lines = append(s.Lines, m)
			if endsReport(m, stackEnds) {
				j++
				break
			}
		}
		out = append(out, s)
		i = j - 1
	}
	return out
}

// endsReport reports whether a line inside a report is its last.
func endsReport(m string, stackEnds bool) bool {
	if strings.HasPrefix(m, "---[ end trace") || strings.HasPrefix(m, "---[ end Kernel panic") {
		return true
	}
	m = strings.TrimSpace(m)
	if len(m) >= 20 && strings.Trim(m, "=") == "" {
		return true
	}
	return stackEnds && m == "</TASK>"
}

// Taint flags, in the order of /proc/sys/kernel/tainted's bits.
const taintLetters = "PFSRMBUDAWCIOELKXTN"

// BadTaints are the flags that mean the kernel hit a bug: D (died/oops),
// W (warning), B (bad page), L (soft lockup).
const BadTaints = "DWBL"

// Taint is the value of /proc/sys/kernel/tainted.
type Taint uint64

// ParseTaint reads the decimal number the kernel prints.
func ParseTaint(s string) (Taint, error) {
	v, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
	return Taint(v), err
}

// Letters spells the set flags the way oops reports do ("OE").
func (t Taint) Letters() string {
	var b strings.Builder
	for i := 0; i < len(taintLetters); i++ {
		if t&(1<<uint(i)) != 0 {
			b.WriteByte(taintLetters[i])
		}
	}
	return b.String()
}

// ParseLetters is the inverse of Letters: "OE" is the O and E flags.
func ParseLetters(s string) (Taint, error) {
	var t Taint
	for _, c := range s {
		i := strings.IndexRune(taintLetters, c)
		if i < 0 {
			return 0, fmt.Errorf("%q is not a taint flag (%s)", c, taintLetters)
		}
		t |= 1 << uint(i)
	}
	return t, nil
}

// NewBad returns the bad flags set in after that were not set in before.
func NewBad(before, after Taint) string {
	var b strings.Builder
	for _, c := range after.Letters() {
		if strings.ContainsRune(BadTaints, c) && !strings.ContainsRune(before.Letters(), c) {
			b.WriteRune(c)
		}
	}
	return b.String()
}
