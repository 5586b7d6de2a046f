package coverage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// DataFile is one object's counters as the guest read them from
// /sys/kernel/debug/gcov.
type DataFile struct {
	// Path is the file's name there without the debugfs prefix: where the
	// object was compiled, with .gcda for .o (GCC names the data file after
	// the object; -ffile-prefix-map does not change it).
	Path string
	Data []byte
}

// Job is one unit's coverage in one kernel.
type Job struct {
	Name     string     // the unit: lcov's test name, the pages' title
	Kernel   string     // the kernel release, for the title
	Src      string     // the user's folder (absolute)
	BuildDir string     // its build directory: the objects and the compiler's .gcno files
	Modules  []string   // the built modules (.ko in BuildDir): their objects are the unit's code
	Data     []DataFile // what the guest sent
	OutDir   string     // where the tracefile and the pages go (an earlier run's output there is replaced)
	Gcov     string     // the gcov program ("" finds gcov or gcov-N of the compiler's version)
}

// Summary is a unit's coverage: the figures of each of the user's source
// files that has code, and where the lcov tracefile and HTML pages are.
type Summary struct {
	Files []FileSummary `json:"files"`
	Total FileSummary   `json:"total"`
	LCOV  string        `json:"lcov,omitempty"` // the lcov tracefile
	HTML  string        `json:"html,omitempty"` // the index page
	// Error says why there is no coverage (the lab could not collect or
	// read it). Coverage never changes a unit's verdict.
	Error string `json:"error,omitempty"`
}

// FileSummary is one source file's figures.
type FileSummary struct {
	File      string `json:"file"`             // its path in the user's folder; "total" in Summary.Total
	Source    string `json:"source,omitempty"` // the user's file (absolute)
	HTML      string `json:"html,omitempty"`   // its page
	Lines     Counts `json:"lines"`
	Functions Counts `json:"functions"`
	Branches  Counts `json:"branches"`
}

// Output names under Job.OutDir.
const (
	LCOVName  = "lcov.info"
	IndexName = "index.html"
	// marker says that a directory holds our output and may be replaced.
	marker = ".modlab-coverage"
)

// Generate makes the unit's coverage: it runs gcov over every object of
// the unit's modules, with the data the guest sent (an object without data
// never ran), keeps the user's own source files, and writes the lcov
// tracefile and the HTML pages into j.OutDir.
func Generate(ctx context.Context, j Job) (*Summary, error) {
	files, err := Files(ctx, j)
	if err != nil {
		return nil, err
	}
	if err := prepareOut(j.OutDir); err != nil {
		return nil, err
	}
	s := &Summary{Files: []FileSummary{}, Total: FileSummary{File: "total"},
		LCOV: filepath.Join(j.OutDir, LCOVName)}
	var lcov bytes.Buffer
	if err := WriteLCOV(&lcov, j.Name, files); err != nil {
		return nil, err
	}
	if err := os.WriteFile(s.LCOV, lcov.Bytes(), 0o644); err != nil {
		return nil, err
	}
	pages, err := WriteHTML(j.OutDir, fmt.Sprintf("Coverage of %s on %s", j.Name, j.Kernel), LCOVName, files)
	if err != nil {
		return nil, err
	}
	s.HTML = pages.Index
	for _, f := range files {
		fs := FileSummary{File: f.Rel, Source: f.Source, HTML: pages.Files[f.Source],
			Lines: f.LineCounts(), Functions: f.FunctionCounts(), Branches: f.BranchCounts()}
		s.Files = append(s.Files, fs)
		s.Total.Lines.add(fs.Lines)
		s.Total.Functions.add(fs.Functions)
		s.Total.Branches.add(fs.Branches)
	}
	return s, nil
}

// Files is Generate without the output: the coverage of the user's
// source files, by path in the folder.
func Files(ctx context.Context, j Job) ([]*File, error) {
	notes, err := notesFiles(j.BuildDir, j.Modules)
	if err != nil {
		return nil, err
	}
	if len(notes) == 0 {
		return nil, fmt.Errorf("no gcov notes (.gcno) in %s: were the modules built with GCOV_PROFILE=y?", j.BuildDir)
	}
	tmp, err := os.MkdirTemp("", "modlab-gcov-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	// The notes files, each with its data file if the guest sent one.
	heads := map[string]header{}
	var want gccVersion
	for i, rel := range notes {
		b, err := os.ReadFile(filepath.Join(j.BuildDir, rel))
		if err != nil {
			return nil, err
		}
		h, err := parseHeader(b)
		if err == nil && h.data {
			err = errors.New("a data file, not notes")
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", rel, err)
		}
		v, err := h.gcc()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", rel, err)
		}
		if i == 0 {
			want = v
		} else if v != want {
			return nil, fmt.Errorf("%s was compiled by GCC %s, %s by GCC %s", notes[0], want, rel, v)
		}
		heads[strings.TrimSuffix(rel, ".gcno")] = h
		if err := writeFile(filepath.Join(tmp, rel), b); err != nil {
			return nil, err
		}
	}
	for _, d := range j.Data {
		rel, ok := within(j.BuildDir, d.Path)
		stem := strings.TrimSuffix(rel, ".gcda")
		nh, known := heads[stem]
		if !ok || stem == rel || !known {
			continue // not one of the unit's objects
		}
		h, err := parseHeader(d.Data)
		if err == nil && !h.data {
			err = errors.New("notes, not data")
		}
		if err != nil {
			return nil, fmt.Errorf("data file %s from the guest is not gcov data: %w", d.Path, err)
		}
		if h.stamp != nh.stamp {
			return nil, fmt.Errorf("data file %s does not belong to the notes file beside its object (stamps %08x, %08x): was the folder rebuilt meanwhile?", d.Path, h.stamp, nh.stamp)
		}
		if err := writeFile(filepath.Join(tmp, rel), d.Data); err != nil {
			return nil, err
		}
	}
	gcov, err := findGcov(ctx, want, j.Gcov)
	if err != nil {
		return nil, err
	}
	docs, err := runGcov(ctx, gcov, tmp, notes)
	if err != nil {
		return nil, err
	}
	m := newMerger()
	for _, d := range docs {
		for _, f := range d.Files {
			if src, rel, ok := j.userFile(d.CWD, f.File); ok {
				m.add(src, rel, f)
			}
		}
	}
	return m.result(), nil
}

// notesFiles lists the .gcno files of the modules' objects, relative to
// dir. kbuild lists each module's objects in MODULE.mod; without those
// files, every .gcno in dir but the module glue's (.mod.gcno) counts.
func notesFiles(dir string, modules []string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	addObj := func(obj string) {
		if !filepath.IsAbs(obj) {
			obj = filepath.Join(dir, obj)
		}
		rel, ok := within(dir, obj)
		if !ok || !strings.HasSuffix(rel, ".o") {
			return
		}
		n := strings.TrimSuffix(rel, ".o") + ".gcno"
		if _, err := os.Stat(filepath.Join(dir, n)); err == nil && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	listed := true
	for _, ko := range modules {
		b, err := os.ReadFile(strings.TrimSuffix(ko, ".ko") + ".mod")
		if err != nil {
			listed = false
			break
		}
		for _, obj := range strings.Fields(string(b)) {
			addObj(obj)
		}
	}
	if !listed || len(modules) == 0 {
		err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && p != dir && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			name := d.Name()
			if d.Type().IsRegular() && strings.HasSuffix(name, ".gcno") && !strings.HasSuffix(name, ".mod.gcno") && !strings.HasPrefix(name, ".") {
				addObj(strings.TrimSuffix(p, ".gcno") + ".o")
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(out)
	return out, nil
}

// userFile maps a source file named in gcov's output to the user's file:
// a path in the user's folder, or in the build directory that copies it
// (when the compiler could not be given -ffile-prefix-map), that exists in
// the folder. Kernel headers and the build's own generated files are not
// the user's.
func (j *Job) userFile(cwd, name string) (src, rel string, ok bool) {
	if !filepath.IsAbs(name) {
		name = filepath.Join(cwd, name)
	}
	for _, base := range []string{j.Src, j.BuildDir} {
		r, ok := within(base, name)
		if !ok || strings.HasSuffix(r, ".mod.c") {
			continue
		}
		p := filepath.Join(j.Src, r)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, filepath.ToSlash(r), true
		}
	}
	return "", "", false
}

// within returns path relative to dir, if it lies inside dir.
func within(dir, path string) (string, bool) {
	if dir == "" {
		return "", false
	}
	r, err := filepath.Rel(dir, filepath.Clean(path))
	if err != nil || !filepath.IsLocal(r) {
		return "", false
	}
	return r, true
}

// prepareOut makes dir empty for our output: it removes an earlier run's
// output (a directory with our marker) and refuses to write into a
// directory that holds anything else.
func prepareOut(dir string) error {
	if dir == "" {
		return errors.New("no output directory for coverage")
	}
	ents, err := os.ReadDir(dir)
	switch {
	case err == nil && len(ents) > 0:
		if _, err := os.Stat(filepath.Join(dir, marker)); err != nil {
			return fmt.Errorf("coverage output %s is a directory with other files in it: not replacing it", dir)
		}
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
	case err != nil && !os.IsNotExist(err):
		return fmt.Errorf("coverage output: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, marker), []byte("modlab coverage output: this directory is replaced by the next run\n"), 0o644)
}
