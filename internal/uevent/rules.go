package uevent

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Rules is a parsed rules file.
type Rules struct {
	File  string
	Rules []Rule
}

// Rule is one line of a rules file: every match must hold for its
// assignments to apply.
type Rule struct {
	File    string
	Line    int // where the rule starts, from 1
	Matches []Match
	Runs    []Run
}

// Match is one KEY=="PATTERN" or KEY!="PATTERN" of a rule.
type Match struct {
	// Key is ACTION, DEVPATH, KERNEL, SUBSYSTEM, DRIVER, DEVNAME or ENV.
	Key string
	// Env is the property ENV{...} names.
	Env string
	// Negate is true for !=.
	Negate bool
	// Patterns are the alternatives of the value, split at '|'.
	Patterns []string
}

// Run is one RUN assignment.
type Run struct {
	// Append is true for +=; = replaces the commands gathered so far.
	Append bool
	// Command is a shell command line.
	Command string
}

// SyntaxError is one malformed rule.
type SyntaxError struct {
	File string
	Line int
	Msg  string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// matchKeys are the keys a rule may match on.
var matchKeys = map[string]bool{
	"ACTION": true, "DEVPATH": true, "KERNEL": true, "SUBSYSTEM": true,
	"DRIVER": true, "DEVNAME": true, "ENV": true,
}

const supportedKeys = "ACTION, DEVPATH, KERNEL, SUBSYSTEM, DRIVER, DEVNAME, ENV{KEY} and RUN"

// maxLine bounds a logical line (after continuations), as udev does.
const maxLine = 64 << 10

// ParseRules reads a rules file; name is used in error messages. When
// lines are malformed the error joins one *SyntaxError per line, in order,
// and no rules are returned.
func ParseRules(name string, r io.Reader) (*Rules, error) {
	rs := &Rules{File: name}
	var errs []error
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), maxLine)
	lineNo := 0
	for {
		text, start, ok, err := nextLogicalLine(sc, &lineNo)
		if err != nil {
			errs = append(errs, &SyntaxError{File: name, Line: lineNo + 1, Msg: err.Error()})
			break
		}
		if !ok {
			break
		}
		trimmed := strings.TrimSpace(text)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		rule, err := parseRule(trimmed)
		if err != nil {
			errs = append(errs, &SyntaxError{File: name, Line: start, Msg: err.Error()})
			continue
		}
		rule.File, rule.Line = name, start
		rs.Rules = append(rs.Rules, rule)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return rs, nil
}

// nextLogicalLine joins lines that end in a backslash with the next one.
// start is the number of the first physical line.
func nextLogicalLine(sc *bufio.Scanner, lineNo *int) (text string, start int, ok bool, err error) {
	var b strings.Builder
	for sc.Scan() {
		*lineNo++
		if b.Len() == 0 {
			start = *lineNo
		}
		line := strings.TrimSuffix(sc.Text(), "\r")
		if cont, found := strings.CutSuffix(line, "\\"); found {
			b.WriteString(cont)
			if b.Len() > maxLine {
				return "", start, false, fmt.Errorf("line longer than %d bytes", maxLine)
			}
			continue
		}
		b.WriteString(line)
		return b.String(), start, true, nil
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return "", start, false, fmt.Errorf("line longer than %d bytes", maxLine)
		}
		return "", start, false, err
	}
	if b.Len() > 0 {
		// A backslash on the last line continues into nothing.
		return b.String(), start, true, nil
	}
	return "", 0, false, nil
}

// parseRule reads KEY[{ATTR}] OP "VALUE" pairs separated by commas or
// spaces.
func parseRule(s string) (Rule, error) {
	var rule Rule
	for {
		s = strings.TrimLeft(s, " \t,")
		if s == "" {
			break
		}
		key, attr, op, value, rest, err := parsePair(s)
		if err != nil {
			return Rule{}, err
		}
		s = rest
		if rest != "" && !strings.ContainsAny(rest[:1], " \t,") {
			return Rule{}, fmt.Errorf("%s: expected a comma after the value %q, found %q", keyName(key, attr), shorten(value), rest[:1])
		}
		switch {
		case key == "RUN":
			if attr != "" && attr != "program" {
				return Rule{}, fmt.Errorf("RUN{%s} is not supported: RUN and RUN{program} run a shell command", attr)
			}
			if op != "+=" && op != "=" {
				return Rule{}, fmt.Errorf("RUN%s: RUN takes += (add a command) or = (replace the commands so far)", op)
			}
			if strings.TrimSpace(value) == "" {
				return Rule{}, errors.New("RUN: empty command")
			}
			rule.Runs = append(rule.Runs, Run{Append: op == "+=", Command: value})
		case matchKeys[key]:
			if key == "ENV" && attr == "" {
				return Rule{}, errors.New("ENV needs a property name: ENV{KEY}")
			}
			if key != "ENV" && attr != "" {
				return Rule{}, fmt.Errorf("%s{%s}: %s takes no {...}", key, attr, key)
			}
			if op != "==" && op != "!=" {
				return Rule{}, fmt.Errorf("%s%s assigns, and only RUN can be assigned here: write %s== to match", keyName(key, attr), op, keyName(key, attr))
			}
			if err := checkPattern(value); err != nil {
				return Rule{}, fmt.Errorf("%s: %w", keyName(key, attr), err)
			}
			rule.Matches = append(rule.Matches, Match{Key: key, Env: attr, Negate: op == "!=", Patterns: strings.Split(value, "|")})
		default:
			return Rule{}, fmt.Errorf("%s: unknown or unsupported key (modlab uevent knows %s)", keyName(key, attr), supportedKeys)
		}
	}
	if len(rule.Matches) == 0 && len(rule.Runs) == 0 {
		return Rule{}, errors.New("a rule needs at least one KEY==\"value\" or RUN+=\"command\"")
	}
	return rule, nil
}

func keyName(key, attr string) string {
	if attr != "" {
		return key + "{" + attr + "}"
	}
	return key
}

// parsePair reads one KEY[{ATTR}] OP "VALUE" from the start of s.
func parsePair(s string) (key, attr, op, value, rest string, err error) {
	i := 0
	for i < len(s) && (s[i] >= 'A' && s[i] <= 'Z' || s[i] >= 'a' && s[i] <= 'z' || s[i] >= '0' && s[i] <= '9' || s[i] == '_') {
		i++
	}
	key = s[:i]
	if key == "" {
		return "", "", "", "", "", fmt.Errorf("expected a key such as SUBSYSTEM, found %q", firstWord(s))
	}
	s = s[i:]
	if strings.HasPrefix(s, "{") {
		end := strings.IndexByte(s, '}')
		if end < 0 {
			return "", "", "", "", "", fmt.Errorf("%s{: missing }", key)
		}
		attr = s[1:end]
		if attr == "" || strings.ContainsAny(attr, " \t\"={") {
			return "", "", "", "", "", fmt.Errorf("%s{%s}: bad name in braces", key, attr)
		}
		s = s[end+1:]
	}
	s = strings.TrimLeft(s, " \t")
	for _, o := range []string{"==", "!=", "+=", "-=", ":=", "="} {
		if strings.HasPrefix(s, o) {
			op = o
			break
		}
	}
	if op == "" {
		return "", "", "", "", "", fmt.Errorf("%s: expected an operator (==, != or +=) after the key", keyName(key, attr))
	}
	s = strings.TrimLeft(s[len(op):], " \t")
	if !strings.HasPrefix(s, `"`) {
		return "", "", "", "", "", fmt.Errorf("%s%s: the value must be in double quotes", keyName(key, attr), op)
	}
	var b strings.Builder
	for j := 1; j < len(s); j++ {
		c := s[j]
		switch {
		case c == '\\' && j+1 < len(s) && (s[j+1] == '"' || s[j+1] == '\\'):
			b.WriteByte(s[j+1])
			j++
		case c == '"':
			return key, attr, op, b.String(), s[j+1:], nil
		default:
			b.WriteByte(c)
		}
	}
	return "", "", "", "", "", fmt.Errorf("%s%s: the value's closing double quote is missing", keyName(key, attr), op)
}

// shorten cuts a value for an error message.
func shorten(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}

func firstWord(s string) string {
	if i := strings.IndexAny(s, " \t,"); i >= 0 {
		return s[:i]
	}
	return s
}

// Applies reports whether e satisfies every match of the rule.
func (r *Rule) Applies(e *Event) bool {
	for _, m := range r.Matches {
		if !m.Matches(e) {
			return false
		}
	}
	return true
}

// Matches reports whether the event's value for the key fits one of the
// patterns (none of them, for !=). A missing property is the empty
// string, as in udev: ENV{X}=="" matches an event without X.
func (m *Match) Matches(e *Event) bool {
	v := m.value(e)
	hit := false
	for _, p := range m.Patterns {
		if m.Key == "DEVNAME" && strings.HasPrefix(p, "/dev/") && v != "" && !strings.HasPrefix(v, "/") {
			// The kernel's DEVNAME is relative to /dev; udev's (and a
			// rule writer's) is absolute.
			if Glob(p, "/dev/"+v) {
				hit = true
				break
			}
			continue
		}
		if Glob(p, v) {
			hit = true
			break
		}
	}
	return hit != m.Negate
}

func (m *Match) value(e *Event) string {
	switch m.Key {
	case "ACTION":
		return e.Action
	case "DEVPATH":
		return e.DevPath
	case "KERNEL":
		return e.Kernel()
	case "ENV":
		return e.Value(m.Env)
	}
	return e.Value(m.Key)
}

// Commands returns the commands an event runs, in order: the rules are
// read top to bottom, and each that matches adds its RUN+= commands to the
// list (a RUN= empties the list first), as udev gathers its RUN list.
func (rs *Rules) Commands(e *Event) []string {
	var cmds []string
	for i := range rs.Rules {
		r := &rs.Rules[i]
		if !r.Applies(e) {
			continue
		}
		for _, run := range r.Runs {
			if !run.Append {
				cmds = cmds[:0]
			}
			cmds = append(cmds, run.Command)
		}
	}
	return cmds
}
