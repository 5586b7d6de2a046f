package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/modlab/modlab/lab/proto"
)

// WriteTable prints a results table (unit by kernel, with each kernel's
// verdict and time) and, below it, the details of every failure.
func WriteTable(w io.Writer, results []KernelResult) {
	units := unitNames(results)
	rows := [][]string{{"MODULE"}}
	for _, r := range results {
		head := r.Kernel
		if r.Accel != "" {
			head += " (" + r.Accel + ")"
		}
		rows[0] = append(rows[0], head)
	}
	for _, name := range units {
		row := []string{name}
		for k := range results {
			row = append(row, unitCell(&results[k], name))
		}
		rows = append(rows, row)
	}
	verdicts, times := []string{"(kernel)"}, []string{"(time)"}
	for k := range results {
		verdicts = append(verdicts, outcomeWord(results[k].Verdict().Outcome))
		times = append(times, fmt.Sprintf("%.1fs", results[k].Phases.Total.Seconds()))
	}
	rows = append(rows, verdicts, times)
	writeColumns(w, rows)

	for k := range results {
		writeDetails(w, &results[k])
	}
	writeCoverage(w, results)
	fmt.Fprintln(w)
	for _, r := range results {
		if r.ConsoleLog != "" {
			fmt.Fprintf(w, "console log %s: %s\n", r.Kernel, r.ConsoleLog)
		}
	}
}

// unitCell is a unit's verdict in one kernel, "-" if the kernel has no
// result for it.
func unitCell(r *KernelResult, name string) string {
	for i, u := range r.Units {
		if u.Name != name {
			continue
		}
		cell := outcomeWord(r.UnitVerdict(i).Outcome)
		if n := len(u.Tests); n > 0 {
			pass := 0
			for _, t := range u.Tests {
				if t.Status == proto.Pass {
					pass++
				}
			}
			cell += fmt.Sprintf(" (%d/%d tests)", pass, n)
		}
		return cell
	}
	return "-"
}

func outcomeWord(o Outcome) string {
	return strings.ToUpper(strings.ReplaceAll(string(o), "-", " "))
}

// writeColumns prints rows with every column as wide as its widest cell.
func writeColumns(w io.Writer, rows [][]string) {
	var width []int
	for _, row := range rows {
		for i, c := range row {
			if i == len(width) {
				width = append(width, 0)
			}
			width[i] = max(width[i], len(c))
		}
	}
	for _, row := range rows {
		var b strings.Builder
		for i, c := range row {
			if i > 0 {
				b.WriteString("  ")
			}
			fmt.Fprintf(&b, "%-*s", width[i], c)
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

func unitNames(results []KernelResult) []string {
	var names []string
	seen := map[string]bool{}
	for _, r := range results {
		for _, u := range r.Units {
			if !seen[u.Name] {
				seen[u.Name] = true
				names = append(names, u.Name)
			}
		}
	}
	return names
}

func writeDetails(w io.Writer, r *KernelResult) {
	if r.Retried != "" {
		fmt.Fprintf(w, "\n[%s] note: the first boot was retried: %s\n", r.Kernel, indent(r.Retried))
	}
	for _, f := range r.Fresh {
		fmt.Fprintf(w, "\n[%s] note: a fresh boot for the units after: %s\n", r.Kernel, f)
	}
	if r.Infra != "" {
		fmt.Fprintf(w, "\n[%s] LAB ERROR: %s\n", r.Kernel, indent(r.Infra))
		if r.ConsoleLog != "" {
			fmt.Fprintf(w, "  console log: %s\n", r.ConsoleLog)
		}
		if r.QEMU != "" {
			fmt.Fprintf(w, "  QEMU: %s\n", r.QEMU)
		}
	}
	for i := range r.Units {
		u := &r.Units[i]
		v := r.UnitVerdict(i)
		if v.OK() {
			continue
		}
		word := "FAILED"
		if v.Outcome != Failed {
			word = outcomeWord(v.Outcome)
		}
		fmt.Fprintf(w, "\n[%s] %s %s: %s\n", r.Kernel, u.Name, word, indent(v.Reason))
		writeEvidence(w, u)
	}
}

// writeEvidence prints what a failed unit left behind: failed steps and
// tests, its command's output, kernel bug reports, new taint flags.
func writeEvidence(w io.Writer, u *UnitResult) {
	for _, s := range u.Steps {
		if !okStatus(s.Status) {
			fmt.Fprintf(w, "  step %s: %s\n", s.Name, s.Msg)
		}
	}
	for _, t := range u.Tests {
		if !okStatus(t.Status) {
			fmt.Fprintf(w, "  --- FAIL: %s (%.2fs)\n", t.Name, t.Elapsed)
			if t.Output != "" {
				fmt.Fprintf(w, "    %s\n", indent(t.Output))
			}
		}
	}
	if len(u.Output) > 0 && len(u.Tests) == 0 {
		fmt.Fprintf(w, "  output:\n    %s\n", indent(strings.Join(u.Output, "\n")))
	}
	for _, s := range u.Splats {
		fmt.Fprintf(w, "  kernel bug report:\n    %s\n", indent(s))
	}
	if u.BadTaint != "" {
		fmt.Fprintf(w, "  new taint flags: %s (now %s)\n", u.BadTaint, u.Taint)
	}
}

func indent(s string) string { return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ") }
