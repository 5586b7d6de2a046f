package coverage

import (
	"sort"
)

// File is the coverage of one source file, summed over every object that
// compiled code from it.
type File struct {
	Source    string     // the user's file (absolute)
	Rel       string     // its path in the user's folder, for display
	Lines     []Line     // the executable lines, by number
	Functions []Function // by start line
}

// Line is one executable line.
type Line struct {
	Number int
	Count  int64 // how many times it ran
	// Branches are the counts of the branches that leave the line's
	// blocks, in gcov's order.
	Branches []int64
}

// Function is one function whose definition starts in the file.
type Function struct {
	Name       string
	Start, End int   // its lines
	Count      int64 // how many times it was called
}

// Counts is how many things of a kind were found and how many ran.
type Counts struct {
	Found int `json:"found"`
	Hit   int `json:"hit"`
}

// Percent is Hit as a share of Found (100 when nothing was found).
func (c Counts) Percent() float64 {
	if c.Found == 0 {
		return 100
	}
	return 100 * float64(c.Hit) / float64(c.Found)
}

func (c *Counts) add(o Counts) { c.Found += o.Found; c.Hit += o.Hit }

// LineCounts counts the executable lines and those that ran.
func (f *File) LineCounts() Counts {
	c := Counts{Found: len(f.Lines)}
	for _, l := range f.Lines {
		if l.Count > 0 {
			c.Hit++
		}
	}
	return c
}

// FunctionCounts counts the functions and those that were called.
func (f *File) FunctionCounts() Counts {
	c := Counts{Found: len(f.Functions)}
	for _, fn := range f.Functions {
		if fn.Count > 0 {
			c.Hit++
		}
	}
	return c
}

// BranchCounts counts the branches and those that were taken.
func (f *File) BranchCounts() Counts {
	var c Counts
	for _, l := range f.Lines {
		for _, b := range l.Branches {
			c.Found++
			if b > 0 {
				c.Hit++
			}
		}
	}
	return c
}

// merger sums gcov's per-object documents into one File per source file.
type merger struct {
	files map[string]*fileAcc
}

type fileAcc struct {
	rel   string
	lines map[int]*Line
	funcs map[funcKey]*Function
}

type funcKey struct {
	name  string
	start int
}

func newMerger() *merger { return &merger{files: map[string]*fileAcc{}} }

// add sums one gcov file entry into the source file src.
func (m *merger) add(src, rel string, f gcovFile) {
	acc := m.files[src]
	if acc == nil {
		acc = &fileAcc{rel: rel, lines: map[int]*Line{}, funcs: map[funcKey]*Function{}}
		m.files[src] = acc
	}
	for _, gl := range f.Lines {
		l := acc.lines[gl.LineNumber]
		if l == nil {
			l = &Line{Number: gl.LineNumber}
			acc.lines[gl.LineNumber] = l
		}
		l.Count = addCount(l.Count, gl.Count)
		for i, b := range gl.Branches {
			if i == len(l.Branches) {
				l.Branches = append(l.Branches, 0)
			}
			l.Branches[i] = addCount(l.Branches[i], b.Count)
		}
	}
	for _, gf := range f.Functions {
		k := funcKey{gf.Name, gf.StartLine}
		fn := acc.funcs[k]
		if fn == nil {
			fn = &Function{Name: gf.Name, Start: gf.StartLine, End: gf.EndLine}
			acc.funcs[k] = fn
		}
		fn.Count = addCount(fn.Count, gf.ExecutionCount)
	}
}

// addCount adds two counts, stopping at the largest int64.
func addCount(a, b int64) int64 {
	if s := a + b; s >= a {
		return s
	}
	return 1<<63 - 1
}

// result returns the files that have code, by path.
func (m *merger) result() []*File {
	var out []*File
	for src, acc := range m.files {
		if len(acc.lines) == 0 && len(acc.funcs) == 0 {
			continue
		}
		f := &File{Source: src, Rel: acc.rel}
		for _, l := range acc.lines {
			f.Lines = append(f.Lines, *l)
		}
		sort.Slice(f.Lines, func(i, j int) bool { return f.Lines[i].Number < f.Lines[j].Number })
		for _, fn := range acc.funcs {
			f.Functions = append(f.Functions, *fn)
		}
		sort.Slice(f.Functions, func(i, j int) bool {
			a, b := f.Functions[i], f.Functions[j]
			if a.Start != b.Start {
				return a.Start < b.Start
			}
			return a.Name < b.Name
		})
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Rel < out[j].Rel })
	return out
}
