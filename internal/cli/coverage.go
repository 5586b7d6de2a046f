package cli

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/modlab/modlab/lab"
	"github.com/modlab/modlab/lab/coverage"
)

// coverageFlags are the --coverage options of run and test.
type coverageFlags struct {
	on  bool
	dir string
	fs  *pflag.FlagSet
}

// defaultCoverageDir is where coverage goes unless told: beside the user,
// like the output of go test -coverprofile or gcovr.
const defaultCoverageDir = "modlab-coverage"

func (c *coverageFlags) register(fs *pflag.FlagSet) {
	fs.BoolVar(&c.on, "coverage", false, "line coverage of the modules' sources: gcov profiling, on kernels built with it (--kernel debug)")
	fs.StringVar(&c.dir, "coverage-dir", defaultCoverageDir, "where --coverage writes, per kernel and unit: DIR/RELEASE/UNIT/lcov.info and index.html (implies --coverage)")
	c.fs = fs
}

// apply checks --coverage against the selected kernels and sets the
// run's coverage directory. Coverage needs a kernel built with
// CONFIG_GCOV_KERNEL: when no selected kernel is, nothing is run (a usage
// error); kernels without it run as usual, and the user is told.
func (c *coverageFlags) apply(env *Env, o *lab.Options) error {
	if c.fs != nil && c.fs.Changed("coverage-dir") {
		c.on = true
	}
	if !c.on {
		return nil
	}
	var with, without []string
	for _, k := range o.Kernels {
		if err := coverage.KernelSupport(k.BuildDir); err != nil {
			without = append(without, k.Release)
			continue
		}
		with = append(with, k.Release)
	}
	if len(with) == 0 {
		return usagef("--coverage needs a kernel built with gcov (CONFIG_GCOV_KERNEL=y), and %s %s not: use --kernel debug (the lab's debug kernel has gcov; 'modlab kernels build-debug' builds it)",
			strings.Join(without, ", "), map[bool]string{true: "is", false: "are"}[len(without) == 1])
	}
	for _, k := range without {
		fmt.Fprintf(env.Stderr, "modlab: no coverage on %s: its kernel has no gcov (CONFIG_GCOV_KERNEL); the debug kernel has (--kernel debug)\n", k)
	}
	dir, err := filepath.Abs(c.dir)
	if err != nil {
		return fmt.Errorf("--coverage-dir: %w", err)
	}
	o.CoverageDir = dir
	return nil
}

// printCoverage says where each unit's coverage went, on stderr, for the
// formats meant for machines (the table shows it with the figures).
func printCoverage(env *Env, format string, results []lab.KernelResult) {
	if format == "table" || format == "" {
		return
	}
	for _, r := range results {
		for _, u := range r.Units {
			switch c := u.Coverage; {
			case c == nil:
			case c.Error != "":
				fmt.Fprintf(env.Stderr, "modlab: no coverage of %s on %s: %s\n", u.Name, r.Kernel, c.Error)
			default:
				fmt.Fprintf(env.Stderr, "modlab: coverage of %s on %s: lines %d/%d, functions %d/%d, branches %d/%d: %s\n",
					u.Name, r.Kernel, c.Total.Lines.Hit, c.Total.Lines.Found, c.Total.Functions.Hit, c.Total.Functions.Found,
					c.Total.Branches.Hit, c.Total.Branches.Found, c.HTML)
			}
		}
	}
}
