package coverage

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// WriteLCOV writes files as an lcov tracefile (the format of lcov's
// geninfo(1), read by genhtml, IDEs and coverage services): per source
// file its functions (FN, FNDA, FNF, FNH), branches (BRDA, BRF, BRH) and
// lines (DA, LF, LH). A branch on a line that never ran is "-", as lcov
// writes it. test names the test (letters, digits and _ only; others
// become _).
func WriteLCOV(w io.Writer, test string, files []*File) error {
	bw := bufio.NewWriter(w)
	for _, f := range files {
		fmt.Fprintf(bw, "TN:%s\n", testName(test))
		fmt.Fprintf(bw, "SF:%s\n", oneLine(f.Source))
		for _, fn := range f.Functions {
			fmt.Fprintf(bw, "FN:%d,%s\n", fn.Start, oneLine(fn.Name))
		}
		for _, fn := range f.Functions {
			fmt.Fprintf(bw, "FNDA:%d,%s\n", fn.Count, oneLine(fn.Name))
		}
		fc := f.FunctionCounts()
		fmt.Fprintf(bw, "FNF:%d\nFNH:%d\n", fc.Found, fc.Hit)
		for _, l := range f.Lines {
			for i, b := range l.Branches {
				taken := "-"
				if l.Count > 0 {
					taken = fmt.Sprint(b)
				}
				fmt.Fprintf(bw, "BRDA:%d,0,%d,%s\n", l.Number, i, taken)
			}
		}
		bc := f.BranchCounts()
		fmt.Fprintf(bw, "BRF:%d\nBRH:%d\n", bc.Found, bc.Hit)
		for _, l := range f.Lines {
			fmt.Fprintf(bw, "DA:%d,%d\n", l.Number, l.Count)
		}
		lc := f.LineCounts()
		fmt.Fprintf(bw, "LF:%d\nLH:%d\n", lc.Found, lc.Hit)
		bw.WriteString("end_of_record\n")
	}
	return bw.Flush()
}

// testName makes s a test name lcov accepts.
func testName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '_' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' {
			return r
		}
		return '_'
	}, s)
}

// oneLine keeps a name from breaking the line-based format.
func oneLine(s string) string { return strings.NewReplacer("\n", " ", "\r", " ").Replace(s) }
