package report

import (
	"fmt"
	"io"
	"strings"
)

// Format is a report format.
type Format string

// The report formats.
const (
	Table Format = "table" // for people: a unit-by-kernel table, then the failures
	KTAP  Format = "ktap"  // the kernel's test format, KTAP version 1
	JSON  Format = "json"  // everything, for scripts
	JUnit Format = "junit" // JUnit XML, for CI systems
)

// Formats lists the formats, the default first.
var Formats = []Format{Table, KTAP, JSON, JUnit}

// ParseFormat checks a format's name; "" is Table.
func ParseFormat(s string) (Format, error) {
	if s == "" {
		return Table, nil
	}
	for _, f := range Formats {
		if Format(s) == f {
			return f, nil
		}
	}
	names := make([]string, len(Formats))
	for i, f := range Formats {
		names[i] = string(f)
	}
	return "", fmt.Errorf("unknown report format %q (%s)", s, strings.Join(names, ", "))
}

// Write prints results in format f on w, then the closing line,
// "modlab: N passed, N failed", which counts the same verdicts: on w after
// a table, on errw after KTAP, JSON or JUnit so that w holds one
// well-formed document (CI logs, which merge both, end with the line). It returns the summary; the run
// failed unless it is OK.
func Write(w, errw io.Writer, f Format, results []KernelResult) (Summary, error) {
	if f == "" {
		f = Table
	}
	sum := Summarize(results)
	closing := w
	var err error
	switch f {
	case Table:
		WriteTable(w, results)
	case KTAP:
		WriteKTAP(w, results)
		closing = errw
	case JSON:
		err = WriteJSON(w, results)
		closing = errw
	case JUnit:
		err = WriteJUnit(w, results)
		closing = errw
	default:
		_, err = ParseFormat(string(f))
	}
	if err != nil {
		return sum, err
	}
	_, err = fmt.Fprintf(closing, "modlab: %s\n", sum)
	return sum, err
}
