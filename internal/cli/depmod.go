package cli

import (
	"bufio"
	"errors"
	"fmt"
	"strings"

	"github.com/modlab/modlab/kmod/depmod"
)

const depmodHelp = `Usage:
	depmod -[aA] [options] [forced_version]

If no arguments (except options) are given, "depmod -a" is assumed

depmod will output a dependency list suitable for the modprobe utility.

Options:
	-a, --all            Probe all modules
	-A, --quick          Only does the work if there's a new module
	-e, --errsyms        Report not supplied symbols
	-n, --show           Write the dependency file on stdout only
	-P, --symbol-prefix  Architecture symbol prefix
	-C, --config=PATH    Read configuration from PATH
	-v, --verbose        Enable verbose mode
	-w, --warn           Warn on duplicates
	-V, --version        show version
	-h, --help           show this help

The following options are useful for people managing distributions:
	-b, --basedir=DIR    Use DIR as filesystem root for /lib/modules
	-F, --filesyms=FILE  Use the file instead of the
	                     current kernel symbols.
	-E, --symvers=FILE   Use Module.symvers file to check
	                     symbol versions.
`

// isVersionNumber is depmod's test for a release argument: it must start
// like sscanf's "%u.%u" (digits, a dot, digits; blanks and a sign allowed
// before each number).
func isVersionNumber(s string) bool {
	num := func(s string) (string, bool) {
		s = strings.TrimLeft(s, " \t\n\v\f\r")
		if s != "" && (s[0] == '+' || s[0] == '-') {
			s = s[1:]
		}
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return s[i:], i > 0
	}
	rest, ok := num(s)
	if !ok || !strings.HasPrefix(rest, ".") {
		return false
	}
	_, ok = num(rest[1:])
	return ok
}

// runDepmod is kmod 30's depmod: it indexes the modules of a kernel
// release and writes modules.dep, the other map files and their binary
// indexes into the module directory (or the text files to stdout with -n).
func runDepmod(env *Env, args []string) error {
	t := newTool(env, toolSpec{name: "depmod", help: depmodHelp, version: kmodVersion})
	fl := t.flags
	var (
		all, quick, errsyms, show, warnDups bool
		unresolved, quiet, root, mapOpt     bool
		verbose                             int
		basedir, symvers, filesyms, prefix  string
		configs                             []string
	)
	fl.BoolVarP(&all, "all", "a", false, "")
	fl.BoolVarP(&quick, "quick", "A", false, "")
	fl.StringVarP(&basedir, "basedir", "b", "", "")
	fl.StringArrayVarP(&configs, "config", "C", nil, "")
	fl.StringVarP(&symvers, "symvers", "E", "", "")
	fl.StringVarP(&filesyms, "filesyms", "F", "", "")
	fl.BoolVarP(&errsyms, "errsyms", "e", false, "")
	fl.BoolVarP(&unresolved, "unresolved-error", "u", false, "")
	fl.BoolVarP(&quiet, "quiet", "q", false, "")
	fl.BoolVarP(&root, "root", "r", false, "")
	fl.CountVarP(&verbose, "verbose", "v", "")
	fl.BoolVarP(&show, "show", "n", false, "")
	fl.BoolVar(&show, "dry-run", false, "")
	fl.StringVarP(&prefix, "symbol-prefix", "P", "", "")
	fl.BoolVarP(&warnDups, "warn", "w", false, "")
	fl.BoolVarP(&mapOpt, "map", "m", false, "")
	if done, err := t.parse(args); done {
		return err
	}
	log := t.log
	for _, f := range []struct {
		set  bool
		name string
	}{{unresolved, "unresolved-error"}, {quiet, "quiet"}, {root, "root"}, {mapOpt, "map"}} {
		if f.set {
			log.warnf("Ignored deprecated option --%s", f.name)
		}
	}
	if len(prefix) > 1 {
		return log.fatalf("-P only takes a single char")
	}
	rest := fl.Args()
	release := ""
	if len(rest) > 0 {
		if !isVersionNumber(rest[0]) {
			log.errorf("Bad version passed %s", rest[0])
			return &ExitError{Code: 1}
		}
		release, rest = rest[0], rest[1:]
	} else {
		release = runningRelease(env)
	}
	if len(rest) == 0 {
		all = true
	}
	base := basedir
	if !fl.Changed("basedir") {
		base = env.Root
		if base == "/" {
			base = ""
		}
	}
	out := bufio.NewWriter(env.Stdout)
	defer out.Flush()
	log.flush = func() { out.Flush() }
	if quick {
		if show {
			return nil
		}
		if depmod.UpToDate(base, release) {
			return nil
		}
		all = true
	}
	o := depmod.Options{
		BaseDir:      base,
		Release:      release,
		ConfigRoot:   env.Root,
		Symvers:      symvers,
		SystemMap:    filesyms,
		PrintUnknown: errsyms,
		WarnDups:     warnDups,
		Warn:         func(s string) { log.warnf("%s", s) },
	}
	if len(configs) > 0 {
		o.ConfigPaths = configs
	}
	if prefix != "" {
		o.SymbolPrefix = prefix[0]
	}
	if verbose > 0 {
		o.Show = func(s string) { fmt.Fprintln(out, s) }
	}
	if !all {
		o.Files = rest
	}
	d, err := depmod.Load(o)
	if err != nil {
		var ce *depmod.CycleError
		if errors.As(err, &ce) {
			for _, c := range ce.Cycles {
				log.errorf("Cycle detected: %s", c)
			}
			log.errorf("Found %d modules in dependency cycles!", ce.Modules)
			return &ExitError{Code: 1}
		}
		return log.fatalf("%v", err)
	}
	if show {
		return d.WriteText(out)
	}
	if err := d.WriteFiles(); err != nil {
		log.errorf("%v", err)
		return &ExitError{Code: 1}
	}
	return nil
}
