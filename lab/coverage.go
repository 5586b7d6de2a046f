package lab

import (
	"context"
	"path/filepath"
	"strings"
	"sync"

	"github.com/modlab/modlab/lab/coverage"
	"github.com/modlab/modlab/lab/proto"
)

// kernelCoverage is a kernel run's part in --coverage (Options.CoverageDir):
// whether its units are built with gcov profiling, and the gcov data and
// complaints the guest sent for each unit.
type kernelCoverage struct {
	once sync.Once
	on   bool
	data map[string][]coverage.DataFile
	errs map[string][]string
}

// coverageOn says whether this kernel's units get coverage: it was asked
// for, and the kernel has gcov (CONFIG_GCOV_KERNEL).
func (r *kernelRun) coverageOn() bool {
	r.cov.once.Do(func() {
		r.cov.on = r.o.CoverageDir != "" && coverage.KernelSupport(r.k.BuildDir) == nil
	})
	return r.cov.on
}

// buildOptions are the kbuild options of this kernel's units: the run's,
// with gcov profiling when the kernel gives coverage (a build of its own
// in the cache: variantDir keeps it apart from the plain one).
func (r *kernelRun) buildOptions() BuildOptions {
	opt := r.o.Build
	opt.Nice = r.nice // a faster kernel's builds yield to the slowest's, as its VM does
	if r.coverageOn() {
		opt.MakeArgs = append(append([]string(nil), opt.MakeArgs...), coverage.MakeArgs()...)
	}
	return opt
}

// coveragePath is what the guest collects for a built unit: the build
// directory, which is where the kernel files the objects' gcov data
// (under proto.GcovRoot); "" without coverage.
func (r *kernelRun) coveragePath(b builtUnit) string {
	if !r.coverageOn() || b.res == nil {
		return ""
	}
	return b.res.Dir
}

// addCoverage keeps a coverage event of the guest's.
func (r *kernelRun) addCoverage(e proto.Event) {
	if r.cov.data == nil {
		r.cov.data, r.cov.errs = map[string][]coverage.DataFile{}, map[string][]string{}
	}
	if e.Msg != "" {
		r.cov.errs[e.Unit] = append(r.cov.errs[e.Unit], e.Msg)
		return
	}
	r.cov.data[e.Unit] = append(r.cov.data[e.Unit], coverage.DataFile{Path: e.Name, Data: e.Data})
}

// makeCoverage turns each unit's gcov data into its coverage report
// (lcov tracefile and HTML under CoverageDir/<release>/<unit>) and puts
// the figures in the unit's result. Units that did not run to their end
// in the guest get none; a failure to make it is said in the summary and
// never changes the verdict.
func (r *kernelRun) makeCoverage(ctx context.Context) {
	if !r.coverageOn() {
		return
	}
	r.progress("coverage")
	for i, u := range r.units {
		res := &r.res.Units[i]
		b := r.builds[i]
		if b.res == nil || b.err != nil || (res.Status != proto.Pass && res.Status != proto.Fail) ||
			(r.ended != "" && res.Reason == r.ended) {
			continue
		}
		if errs := r.cov.errs[u.Name]; len(errs) > 0 {
			res.Coverage = &coverage.Summary{Error: strings.Join(errs, "; ")}
			continue
		}
		src, err := filepath.Abs(u.Src)
		if err != nil {
			res.Coverage = &coverage.Summary{Error: err.Error()}
			continue
		}
		s, err := coverage.Generate(ctx, coverage.Job{
			Name: u.Name, Kernel: r.k.Release, Src: src, BuildDir: b.res.Dir,
			Modules: b.res.Modules, Data: r.cov.data[u.Name],
			OutDir: filepath.Join(r.o.CoverageDir, pathName(r.k.Release), pathName(u.Name)),
		})
		if err != nil {
			s = &coverage.Summary{Error: err.Error()}
		}
		res.Coverage = s
	}
}

// pathName makes a release or a unit's name one path element.
func pathName(s string) string {
	s = strings.ReplaceAll(s, string(filepath.Separator), "_")
	if s == "" || s == "." || s == ".." {
		return "_" + s
	}
	return s
}
