package report

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/modlab/modlab/lab/coverage"
)

// writeCoverage prints the line coverage of every unit that has some
// (--coverage): per source file, the lines, functions and branches that
// ran of those that exist, and where the lcov tracefile and the HTML
// pages are.
func writeCoverage(w io.Writer, results []KernelResult) {
	for _, r := range results {
		for _, u := range r.Units {
			c := u.Coverage
			if c == nil {
				continue
			}
			fmt.Fprintf(w, "\ncoverage of %s on %s:", u.Name, r.Kernel)
			if c.Error != "" {
				fmt.Fprintf(w, " none: %s\n", indent(c.Error))
				continue
			}
			fmt.Fprintln(w)
			rows := [][]string{{"FILE", "LINES", "FUNCTIONS", "BRANCHES"}}
			for _, f := range append(append([]coverage.FileSummary(nil), c.Files...), c.Total) {
				rows = append(rows, []string{f.File, covCell(f.Lines), covCell(f.Functions), covCell(f.Branches)})
			}
			var b bytes.Buffer
			writeColumns(&b, rows)
			fmt.Fprint(w, "  "+strings.ReplaceAll(strings.TrimSuffix(b.String(), "\n"), "\n", "\n  ")+"\n")
			if c.LCOV != "" {
				fmt.Fprintf(w, "  lcov: %s\n", c.LCOV)
			}
			if c.HTML != "" {
				fmt.Fprintf(w, "  html: %s\n", c.HTML)
			}
		}
	}
}

// covCell is "hit/found percent" ("0/0" when there is nothing to count).
func covCell(c coverage.Counts) string {
	if c.Found == 0 {
		return "0/0"
	}
	return fmt.Sprintf("%d/%d %5.1f%%", c.Hit, c.Found, c.Percent())
}
