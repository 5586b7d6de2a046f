// Package kcheck decides whether the kernel is still healthy: it finds bug
// reports ("splats") in kernel log lines and new taint flags.
package kcheck

import (
	"strconv"
	"strings"
)

// Patterns are the kernel log prefixes that mean the kernel hit a bug.
var Patterns = []string{
	"BUG:",
	"WARNING:",
	"Oops",
	"general protection fault",
	"Kernel panic",
	"kernel BUG at",
	"UBSAN:",
	"refcount_t:",
}

// IsBugLine reports whether a kernel log message starts a bug report.
func IsBugLine(msg string) bool {
	for _, p := range Patterns {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

// IsTaskDeath reports whether a log line is the header of a report after
// which the kernel kills the running task: every die() prints its counter
// as "[#N]" (oopses, general protection faults, invalid opcodes from BUG()).
func IsTaskDeath(msg string) bool {
	i := strings.Index(msg, " [#")
	if i < 0 {
		return false
	}
	rest := msg[i+3:]
	j := 0
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		j++
	}
	return j > 0 && j < len(rest) && rest[j] == ']'
}

// Splat is one bug report: the line that matched and the lines after it
// that belong to the report (up to the end marker or a limit).
type Splat struct {
	First string
	Lines []string
}

// Text renders the report.
func (s Splat) Text() string { return strings.Join(s.Lines, "\n") }

// maxSplatLines bounds how much of a report is kept.
const maxSplatLines = 60

// FindSplats returns the bug reports in a sequence of log messages.
func FindSplats(msgs []string) []Splat {
	var out []Splat
	for i := 0; i < len(msgs); i++ {
		if !IsBugLine(msgs[i]) {
			continue
		}
		s := Splat{First: msgs[i]}
		j := i
		for ; j < len(msgs) && j-i < maxSplatLines; j++ {
			s.Lines = append(s.Lines, msgs[j])
			if strings.Contains(msgs[j], "---[ end trace") {
				j++
				break
			}
			if j > i && IsBugLine(msgs[j]) && !strings.HasPrefix(msgs[j], " ") &&
				!strings.Contains(msgs[i], "BUG:") {
				break
			}
		}
		out = append(out, s)
		i = j - 1
	}
	return out
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
