package lab

import (
	"io"

	"github.com/modlab/modlab/lab/report"
)

// The results of a run live in package report, with the writers and the
// verdicts; these names keep the lab's code and callers as they were.
type (
	KernelResult = report.KernelResult
	UnitResult   = report.UnitResult
	TestResult   = report.TestResult
	Phases       = report.Phases
)

// NotRun is the status of a unit the guest has not reported on: it counts
// as a failure.
const NotRun = report.NotRun

// WriteTable prints a results table; see report.WriteTable.
func WriteTable(w io.Writer, results []KernelResult) { report.WriteTable(w, results) }
