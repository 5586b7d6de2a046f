package lab

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/modlab/modlab/lab/proto"
)

// WriteTable prints a results table (unit by kernel) and, below it, the
// details of every failure.
func WriteTable(w io.Writer, results []KernelResult) {
	units := unitNames(results)
	width := 8
	for _, u := range units {
		if len(u) > width {
			width = len(u)
		}
	}
	fmt.Fprintf(w, "%-*s", width+2, "MODULE")
	for _, r := range results {
		fmt.Fprintf(w, "  %-26s", r.Kernel)
	}
	fmt.Fprintln(w)
	for _, name := range units {
		fmt.Fprintf(w, "%-*s", width+2, name)
		for _, r := range results {
			cell := "-"
			if r.Infra != "" {
				cell = "LAB ERROR"
			}
			for _, u := range r.Units {
				if u.Name == name {
					cell = strings.ToUpper(u.Status)
					if n := len(u.Tests); n > 0 {
						cell += fmt.Sprintf(" (%d/%d tests)", countTests(u.Tests, proto.Pass), n)
					}
				}
			}
			fmt.Fprintf(w, "  %-26s", cell)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "%-*s", width+2, "(time)")
	for _, r := range results {
		fmt.Fprintf(w, "  %-26s", fmt.Sprintf("%.1fs", r.Phases.Total.Seconds()))
	}
	fmt.Fprintln(w)
	for _, r := range results {
		writeDetails(w, r)
	}
	fmt.Fprintln(w)
	for _, r := range results {
		if r.ConsoleLog != "" {
			fmt.Fprintf(w, "console log %s: %s\n", r.Kernel, r.ConsoleLog)
		}
	}
}

func countTests(ts []TestResult, status string) int {
	n := 0
	for _, t := range ts {
		if t.Status == status {
			n++
		}
	}
	return n
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

func writeDetails(w io.Writer, r KernelResult) {
	if r.Retried != "" {
		fmt.Fprintf(w, "\n[%s] note: the first boot was retried: %s\n", r.Kernel, indent(r.Retried))
	}
	if r.Infra != "" {
		fmt.Fprintf(w, "\n[%s] LAB ERROR: %s\n  console log: %s\n  QEMU: %s\n", r.Kernel, indent(r.Infra), r.ConsoleLog, r.QEMU)
	}
	for _, u := range r.Units {
		if u.Status == proto.Pass {
			continue
		}
		fmt.Fprintf(w, "\n[%s] %s FAILED: %s\n", r.Kernel, u.Name, u.Reason)
		for _, s := range u.Steps {
			if s.Status == proto.Fail {
				fmt.Fprintf(w, "  step %s: %s\n", s.Name, s.Msg)
			}
		}
		for _, t := range u.Tests {
			if t.Status == proto.Fail {
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
}

func indent(s string) string { return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ") }

// WriteKTAP prints results in KTAP version 1: one top-level test per unit
// per kernel, with the Go tests (or steps) as subtests.
func WriteKTAP(w io.Writer, results []KernelResult) {
	fmt.Fprintln(w, "KTAP version 1")
	n := 0
	for _, r := range results {
		n += len(r.Units)
		if r.Infra != "" && len(r.Units) == 0 {
			n++
		}
	}
	fmt.Fprintf(w, "1..%d\n", n)
	i := 0
	for _, r := range results {
		if r.Infra != "" && len(r.Units) == 0 {
			i++
			fmt.Fprintf(w, "# lab error: %s\n", firstLine(r.Infra))
			fmt.Fprintf(w, "not ok %d %s\n", i, r.Kernel)
			continue
		}
		for _, u := range r.Units {
			i++
			name := u.Name + " " + r.Kernel
			fmt.Fprintf(w, "    KTAP version 1\n")
			fmt.Fprintf(w, "    # Subtest: %s\n", name)
			subs := subtests(u)
			fmt.Fprintf(w, "    1..%d\n", len(subs))
			for j, s := range subs {
				for _, l := range s.diag {
					fmt.Fprintf(w, "    # %s\n", l)
				}
				fmt.Fprintf(w, "    %s %d %s%s\n", okWord(s.status), j+1, s.name, skipDirective(s.status))
			}
			if u.Status != proto.Pass {
				for _, l := range strings.Split(u.Reason, "; ") {
					fmt.Fprintf(w, "# %s\n", l)
				}
				for _, s := range u.Splats {
					for _, l := range strings.Split(s, "\n") {
						fmt.Fprintf(w, "# %s\n", l)
					}
				}
			}
			fmt.Fprintf(w, "%s %d %s\n", okWord(u.Status), i, name)
		}
	}
}

type subtest struct {
	name, status string
	diag         []string
}

func subtests(u UnitResult) []subtest {
	var out []subtest
	for _, s := range u.Steps {
		if s.Status == proto.Fail || len(u.Tests) == 0 {
			var diag []string
			if s.Msg != "" {
				diag = []string{s.Msg}
			}
			out = append(out, subtest{s.Name, s.Status, diag})
		}
	}
	for _, t := range u.Tests {
		var diag []string
		if t.Status != proto.Pass && t.Output != "" {
			diag = strings.Split(strings.TrimRight(t.Output, "\n"), "\n")
		}
		out = append(out, subtest{t.Name, t.Status, diag})
	}
	return out
}

func okWord(status string) string {
	if status == proto.Pass || status == proto.Skip {
		return "ok"
	}
	return "not ok"
}

func skipDirective(status string) string {
	if status == proto.Skip {
		return " # SKIP"
	}
	return ""
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// WriteJSON prints the results as one JSON document.
func WriteJSON(w io.Writer, results []KernelResult) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Results []KernelResult `json:"results"`
	}{results})
}
