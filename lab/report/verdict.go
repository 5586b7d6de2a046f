package report

import (
	"fmt"
	"strings"

	"github.com/modlab/modlab/lab/proto"
)

// Outcome names how a unit, or a kernel's run, ended.
type Outcome string

// Outcomes. Only Passed is a success.
const (
	Passed Outcome = "pass"
	// Failed: a step, a Go test or the kernel's health failed, or the host
	// could not prepare the unit for the guest.
	Failed Outcome = "fail"
	// BuildError: the unit did not build for the kernel.
	BuildError Outcome = "build-error"
	// NotRan: the guest never ran the unit, because the lab failed first.
	NotRan Outcome = "not-run"
	// LabError (kernels only): the lab failed, not a module: the boot,
	// QEMU, the guest's /init.
	LabError Outcome = "lab-error"
)

// Verdict is an outcome and, unless it passed, why.
type Verdict struct {
	Outcome Outcome
	Reason  string
}

// OK reports whether the verdict is a pass.
func (v Verdict) OK() bool { return v.Outcome == Passed }

// UnitVerdict decides the outcome of r.Units[i]; every report takes it from
// here. The unit passes only when the guest said so and nothing reported
// for it says otherwise: no failed step or Go test, no kernel bug report,
// no new taint flag. A lab error that happened after the unit's own verdict
// leaves that verdict alone: it fails the kernel (see Verdict), and counts
// as one more failure of its own (see Summarize).
func (r *KernelResult) UnitVerdict(i int) Verdict {
	u := &r.Units[i]
	why := "the guest did not report on it"
	if r.Infra != "" {
		why = "lab error: " + firstLine(r.Infra)
	}
	switch {
	case u.Stage == StageBuild:
		return Verdict{BuildError, orElse(u.Reason, "the build failed")}
	case u.Stage != "":
		return Verdict{Failed, orElse(u.Reason, "the host could not prepare the unit ("+u.Stage+")")}
	case u.Status == NotRun:
		// The outcome says "not run"; the reason says why.
		return Verdict{NotRan, orElse(strings.TrimPrefix(u.Reason, "not run: "), why)}
	case u.Status == proto.Run:
		return Verdict{Failed, orElse(u.Reason, "it started but never finished: "+why)}
	}
	problems := unitProblems(u)
	if u.Status == proto.Pass && len(problems) == 0 {
		return Verdict{Outcome: Passed}
	}
	switch {
	case u.Reason != "":
		why = u.Reason
	case len(problems) > 0:
		why = strings.Join(problems, "; ")
	default:
		why = fmt.Sprintf("the guest reported it as %q", u.Status)
	}
	return Verdict{Failed, why}
}

// unitProblems lists what went wrong in the guest, in the words of the
// reports.
func unitProblems(u *UnitResult) []string {
	var why []string
	for _, s := range u.Steps {
		if !okStatus(s.Status) {
			why = append(why, s.Name+": "+s.Msg)
		}
	}
	for _, t := range u.Tests {
		if !okStatus(t.Status) {
			why = append(why, t.Name+" failed")
		}
	}
	if len(u.Splats) > 0 {
		why = append(why, "kernel bug: "+firstLine(u.Splats[0]))
	}
	if u.BadTaint != "" {
		why = append(why, "new taint "+u.BadTaint)
	}
	return why
}

// Verdict decides the outcome of the kernel's run: a lab error if the lab
// failed at any point (before, during or after the units), a failure if a
// unit did not pass or none ran, a pass otherwise.
func (r *KernelResult) Verdict() Verdict {
	if r.Infra != "" {
		return Verdict{LabError, firstLine(r.Infra)}
	}
	if len(r.Units) == 0 {
		return Verdict{Failed, "no unit ran"}
	}
	var failed []string
	for i := range r.Units {
		if !r.UnitVerdict(i).OK() {
			failed = append(failed, r.Units[i].Name)
		}
	}
	if len(failed) > 0 {
		return Verdict{Failed, "did not pass: " + strings.Join(failed, ", ")}
	}
	return Verdict{Outcome: Passed}
}

// OK reports whether every unit passed and the lab worked.
func (r *KernelResult) OK() bool { return r.Verdict().OK() }

// Summary counts the verdicts of a run: every unit in every kernel, plus
// the kernels whose run failed on its own account.
type Summary struct {
	Passed int `json:"passed"`
	// Failed counts every failure: the units that did not pass (those not
	// run and those that did not build included) and each lab error.
	Failed      int `json:"failed"`
	NotRun      int `json:"not_run"`
	BuildErrors int `json:"build_errors"`
	LabErrors   int `json:"lab_errors"`
}

// Summarize counts the verdicts of every unit and kernel in results.
func Summarize(results []KernelResult) Summary {
	var s Summary
	for k := range results {
		r := &results[k]
		for i := range r.Units {
			switch r.UnitVerdict(i).Outcome {
			case Passed:
				s.Passed++
				continue
			case NotRan:
				s.NotRun++
			case BuildError:
				s.BuildErrors++
			}
			s.Failed++
		}
		switch v := r.Verdict(); {
		case v.Outcome == LabError:
			s.LabErrors++
			s.Failed++
		case !v.OK() && len(r.Units) == 0:
			s.Failed++ // nothing ran, and nothing else says so
		}
	}
	return s
}

// OK reports whether nothing failed.
func (s Summary) OK() bool { return s.Failed == 0 }

// String is the closing line's count: "2 passed, 3 failed (1 not run,
// 1 build error, 1 lab error)".
func (s Summary) String() string {
	out := fmt.Sprintf("%d passed, %d failed", s.Passed, s.Failed)
	var parts []string
	if s.NotRun > 0 {
		parts = append(parts, fmt.Sprintf("%d not run", s.NotRun))
	}
	if s.BuildErrors > 0 {
		parts = append(parts, plural(s.BuildErrors, "build error"))
	}
	if s.LabErrors > 0 {
		parts = append(parts, plural(s.LabErrors, "lab error"))
	}
	if len(parts) > 0 {
		out += " (" + strings.Join(parts, ", ") + ")"
	}
	return out
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// okStatus: a step or a Go test that passed or was skipped.
func okStatus(status string) bool { return status == proto.Pass || status == proto.Skip }

func orElse(s, def string) string {
	if s != "" {
		return s
	}
	return def
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
