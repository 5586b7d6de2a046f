package coverage

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// What gcov --json-format prints for each data file it reads (GCC's
// "Invoking Gcov" documentation; format_version 1 is GCC 9 to 13, 2 adds
// fields we do not read). With --stdout, one document per data file
// follows the other.
type gcovDoc struct {
	FormatVersion string     `json:"format_version"`
	GCCVersion    string     `json:"gcc_version"`
	CWD           string     `json:"current_working_directory"`
	DataFile      string     `json:"data_file"`
	Files         []gcovFile `json:"files"`
}

type gcovFile struct {
	File      string         `json:"file"`
	Functions []gcovFunction `json:"functions"`
	Lines     []gcovLine     `json:"lines"`
}

type gcovFunction struct {
	Name           string `json:"name"`
	DemangledName  string `json:"demangled_name"`
	StartLine      int    `json:"start_line"`
	EndLine        int    `json:"end_line"`
	ExecutionCount int64  `json:"execution_count"`
	Blocks         int    `json:"blocks"`
	BlocksExecuted int    `json:"blocks_executed"`
}

type gcovLine struct {
	LineNumber      int          `json:"line_number"`
	Count           int64        `json:"count"`
	FunctionName    string       `json:"function_name"`
	UnexecutedBlock bool         `json:"unexecuted_block"`
	Branches        []gcovBranch `json:"branches"`
}

type gcovBranch struct {
	Count       int64 `json:"count"`
	Fallthrough bool  `json:"fallthrough"`
	Throw       bool  `json:"throw"`
}

// maxLine bounds the line numbers we accept: far beyond any real source,
// low enough that a corrupt number cannot make us allocate or print
// without end.
const maxLine = 10_000_000

// parseGcovJSON reads the documents gcov printed, and checks what the
// rest of the package relies on: files with names, lines and functions
// with line numbers in range, counts that are not negative.
func parseGcovJSON(r io.Reader) ([]gcovDoc, error) {
	dec := json.NewDecoder(r)
	var docs []gcovDoc
	for {
		var d gcovDoc
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("gcov's JSON: %w", err)
		}
		if err := d.check(); err != nil {
			return nil, fmt.Errorf("gcov's JSON for %q: %w", d.DataFile, err)
		}
		docs = append(docs, d)
	}
}

func (d *gcovDoc) check() error {
	if d.FormatVersion == "" {
		return errors.New("no format_version: not gcov's JSON")
	}
	for _, f := range d.Files {
		if f.File == "" {
			return errors.New("a file without a name")
		}
		for _, fn := range f.Functions {
			if fn.Name == "" || !lineOK(fn.StartLine) || !lineOK(fn.EndLine) || fn.ExecutionCount < 0 {
				return fmt.Errorf("%s: bad function %q (lines %d-%d, count %d)", f.File, fn.Name, fn.StartLine, fn.EndLine, fn.ExecutionCount)
			}
		}
		for _, l := range f.Lines {
			if !lineOK(l.LineNumber) || l.Count < 0 {
				return fmt.Errorf("%s: bad line %d (count %d)", f.File, l.LineNumber, l.Count)
			}
			for _, b := range l.Branches {
				if b.Count < 0 {
					return fmt.Errorf("%s:%d: negative branch count", f.File, l.LineNumber)
				}
			}
		}
	}
	return nil
}

func lineOK(n int) bool { return n >= 1 && n <= maxLine }
