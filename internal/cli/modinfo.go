package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/modlab/modlab/kmod/compression"
	"github.com/modlab/modlab/kmod/moddir"
	"github.com/modlab/modlab/kmod/modfile"
	"github.com/modlab/modlab/kmod/modname"
)

const modinfoHelp = `Usage:
	modinfo [options] <modulename|filename> [args]
Options:
	-a, --author                Print only 'author'
	-d, --description           Print only 'description'
	-l, --license               Print only 'license'
	-p, --parameters            Print only 'parm'
	-n, --filename              Print only 'filename'
	-0, --null                  Use \0 instead of \n
	-m, --modname               Handle argument as module name instead of alias or filename
	-F, --field=FIELD           Print only provided FIELD
	-k, --set-version=VERSION   Use VERSION instead of ` + "`uname -r`" + `
	-b, --basedir=DIR           Use DIR as filesystem root for /lib/modules
	-V, --version               Show version
	-h, --help                  Show this help
`

// kmodFeatures is the second line of modinfo's --version, in kmod's
// words: the formats modlab reads, which are all of kmod's, gzip too.
const kmodFeatures = "+ZSTD +XZ +ZLIB +LIBCRYPTO -EXPERIMENTAL\n"

// modinfoOpts are the choices that shape modinfo's output.
type modinfoOpts struct {
	field string // "" prints every field
	sep   byte
}

// modinfoJob is one module to describe: a file, or a module found by name
// (with path "" when it is builtin or not in modules.dep).
type modinfoJob struct {
	name    string // module name, for error messages
	path    string // absolute path; "" when there is no file
	builtin bool   // builtin: information comes from modules.builtin.modinfo
	dir     *moddir.Dir
	// lookupErr is set when the name was not found: the job only reports.
	lookupErr error
	out, err  bytes.Buffer
	failed    bool
	done      chan struct{}
}

// runModinfo is kmod 30's modinfo: it prints the .modinfo fields of
// module files, or of modules found by name or alias in the module
// directory of a kernel release, with kmod's exact layout.
func runModinfo(env *Env, args []string) error {
	t := newTool(env, toolSpec{name: "modinfo", help: modinfoHelp, version: kmodVersion + kmodFeatures})
	fl := t.flags
	var o modinfoOpts
	o.sep = '\n'
	var (
		author, desc, license, parms, filename, null, byName bool
		field, release, basedir                              string
	)
	fl.BoolVarP(&author, "author", "a", false, "")
	fl.BoolVarP(&desc, "description", "d", false, "")
	fl.BoolVarP(&license, "license", "l", false, "")
	fl.BoolVarP(&parms, "parameters", "p", false, "")
	fl.BoolVarP(&filename, "filename", "n", false, "")
	fl.BoolVarP(&null, "null", "0", false, "")
	fl.BoolVarP(&byName, "modname", "m", false, "")
	fl.StringVarP(&field, "field", "F", "", "")
	fl.StringVarP(&release, "set-version", "k", "", "")
	fl.StringVarP(&basedir, "basedir", "b", "", "")
	if done, err := t.parse(args); done {
		return err
	}
	// Like getopt, the last of -a -d -l -p -n -F wins.
	for _, a := range lastFieldFlag(expandLongOptions(fl, args)) {
		switch a {
		case "author", "description", "license":
			o.field = a
		case "parameters":
			o.field = "parm"
		case "filename":
			o.field = "filename"
		case "field":
			o.field = field
		}
	}
	if null {
		o.sep = 0
	}
	names := fl.Args()
	if len(names) == 0 {
		t.log.errorf("missing module or filename.")
		return &ExitError{Code: 1}
	}

	dirs := &lazyDir{env: env, basedir: basedir, release: release, basedirSet: fl.Changed("basedir")}
	var jobs []*modinfoJob
	for _, arg := range names {
		js, err := resolveModinfoArg(dirs, arg, byName)
		if err != nil {
			// Printed in its turn, between the other modules' output.
			js = []*modinfoJob{{lookupErr: err}}
		}
		jobs = append(jobs, js...)
	}
	if runModinfoJobs(env, jobs, &o) {
		return &ExitError{Code: 1}
	}
	return nil
}

// lastFieldFlag lists, in command-line order, the long names of the
// flags that choose a field, so the last one given wins as with getopt.
func lastFieldFlag(args []string) []string {
	short := map[byte]string{'a': "author", 'd': "description", 'l': "license", 'p': "parameters", 'n': "filename", 'F': "field"}
	withArg := map[byte]bool{'F': true, 'k': true, 'b': true}
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		if strings.HasPrefix(a, "--") {
			name, _, hasVal := strings.Cut(a[2:], "=")
			for _, long := range short {
				if name == long {
					out = append(out, long)
				}
			}
			if !hasVal && (name == "field" || name == "set-version" || name == "basedir") {
				i++
			}
			continue
		}
		if len(a) < 2 || a[0] != '-' {
			continue
		}
		for j := 1; j < len(a); j++ {
			if long, ok := short[a[j]]; ok {
				out = append(out, long)
			}
			if withArg[a[j]] {
				if j == len(a)-1 {
					i++
				}
				break
			}
		}
	}
	return out
}

// lazyDir opens the module directory on the first name look-up, so that
// modinfo on files works where there is none (as on this host).
type lazyDir struct {
	env        *Env
	basedir    string
	basedirSet bool
	release    string
	dir        *moddir.Dir
	err        error
	opened     bool
}

func (l *lazyDir) get() (*moddir.Dir, error) {
	if l.opened {
		return l.dir, l.err
	}
	l.opened = true
	rel := l.release
	if rel == "" {
		rel = runningRelease(l.env)
	}
	base := l.basedir
	if !l.basedirSet {
		base = l.env.Root
		if base == "/" {
			base = ""
		}
	}
	l.dir, l.err = moddir.Open(base, rel)
	return l.dir, l.err
}

// isModuleFilename tells whether modinfo takes an argument as a module
// file rather than a name: an existing file with a module file ending.
// modlab reads every format, .ko.gz too, where Debian's kmod (without
// zlib) does not.
func isModuleFilename(name string) bool {
	st, err := os.Stat(name)
	if err != nil || !st.Mode().IsRegular() {
		return false
	}
	_, ok := compression.FormatOf(name)
	return ok
}

func absPath(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	wd, err := os.Getwd()
	if err != nil {
		return p
	}
	return wd + "/" + p
}

func resolveModinfoArg(dirs *lazyDir, arg string, byName bool) ([]*modinfoJob, error) {
	if !byName && isModuleFilename(arg) {
		return []*modinfoJob{{name: modname.FromPath(arg), path: absPath(arg)}}, nil
	}
	d, err := dirs.get()
	if byName {
		if err != nil {
			return nil, fmt.Errorf("Module name %s not found.", arg)
		}
		m := moddir.Module{Name: modname.Normalize(arg)}
		if err := d.Resolve(&m); err != nil || (m.Path == "" && !m.Builtin) {
			return nil, fmt.Errorf("Module name %s not found.", arg)
		}
		return []*modinfoJob{{name: m.Name, path: m.Path, builtin: m.Builtin, dir: d}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("Module %s not found.", arg)
	}
	mods, err := d.Lookup(arg)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("Module %s not found.", arg)
		}
		return nil, fmt.Errorf("Module alias %s not found.", arg)
	}
	if len(mods) == 0 {
		return nil, fmt.Errorf("Module %s not found.", arg)
	}
	jobs := make([]*modinfoJob, len(mods))
	for i, m := range mods {
		jobs[i] = &modinfoJob{name: m.Name, path: m.Path, builtin: m.Builtin, dir: d}
	}
	return jobs, nil
}

// runModinfoJobs describes every module, several at a time (decompressing
// .ko.xz files is the slow part), and prints the results in order. It
// reports whether any failed.
func runModinfoJobs(env *Env, jobs []*modinfoJob, o *modinfoOpts) bool {
	window := make(chan struct{}, 2*runtime.GOMAXPROCS(0)+2)
	for _, j := range jobs {
		j.done = make(chan struct{})
	}
	go func() {
		for _, j := range jobs {
			window <- struct{}{}
			go func() {
				defer close(j.done)
				j.failed = !describeModule(j, o)
			}()
		}
	}()
	failed := false
	for _, j := range jobs {
		<-j.done
		env.Stdout.Write(j.out.Bytes())
		env.Stderr.Write(j.err.Bytes())
		failed = failed || j.failed
		<-window
	}
	return failed
}

// describeModule writes one module's block as kmod's modinfo_do does.
func describeModule(j *modinfoJob, o *modinfoOpts) bool {
	log := newLogger("modinfo", &j.err)
	if j.lookupErr != nil {
		log.errorf("%v", j.lookupErr)
		return false
	}
	w := &j.out
	filename := j.path
	noFile := filename == ""
	if noFile {
		if o.field == "" {
			fmt.Fprintf(w, "%-16s%s%c", "name:", j.name, o.sep)
		} else if o.field == "name" {
			fmt.Fprintf(w, "%s%c", j.name, o.sep)
		}
		filename = "(builtin)"
	}
	if o.field == "filename" {
		fmt.Fprintf(w, "%s%c", filename, o.sep)
		return true
	} else if o.field == "" {
		fmt.Fprintf(w, "%-16s%s%c", "filename:", filename, o.sep)
	}

	var info []modfile.Info
	switch {
	case j.builtin:
		strs, err := j.dir.BuiltinModinfo(j.name)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				// An old kernel without modules.builtin.modinfo.
				return true
			}
			log.errorf("could not get modinfo from '%s': %v", j.name, err)
			return false
		}
		info = make([]modfile.Info, len(strs))
		for i, s := range strs {
			k, v, _ := strings.Cut(s, "=")
			info[i] = modfile.Info{Key: k, Value: v}
		}
	case noFile:
		log.errorf("could not get modinfo from '%s': %v", j.name, "module not in modules.dep")
		return false
	default:
		m, err := modfile.Open(j.path)
		if err != nil {
			log.errorf("could not get modinfo from '%s': %v", j.name, err)
			return false
		}
		info = m.KmodInfo()
		m.Close()
	}
	writeModinfo(w, log, info, o)
	return true
}

func writeModinfo(w *bytes.Buffer, log *logger, info []modfile.Info, o *modinfoOpts) {
	if o.field == "parm" {
		for _, p := range kmodParams(log, info) {
			switch {
			case !p.HasDesc:
				fmt.Fprintf(w, "%s: (%s)%c", p.Name, p.Type, o.sep)
			case p.HasType:
				fmt.Fprintf(w, "%s:%s (%s)%c", p.Name, p.Description, p.Type, o.sep)
			default:
				fmt.Fprintf(w, "%s:%s%c", p.Name, p.Description, o.sep)
			}
		}
		return
	}
	var parmInfo []modfile.Info
	for _, in := range info {
		if o.field != "" {
			if in.Key == o.field {
				w.WriteString(in.Value)
				w.WriteByte(o.sep)
			}
			continue
		}
		if in.Key == "parm" || in.Key == "parmtype" {
			parmInfo = append(parmInfo, in)
			continue
		}
		if o.sep == 0 {
			w.WriteString(in.Key)
			w.WriteByte('=')
			w.WriteString(in.Value)
			w.WriteByte(0)
			continue
		}
		// printf("%s:%-*s", key, 15-keylen, ""): a negative width is a
		// left-justified field of its absolute value.
		w.WriteString(in.Key)
		w.WriteByte(':')
		pad := 15 - len(in.Key)
		if pad < 0 {
			pad = -pad
		}
		for range pad {
			w.WriteByte(' ')
		}
		w.WriteString(in.Value)
		w.WriteByte(o.sep)
	}
	if o.field != "" {
		return
	}
	for _, p := range kmodParams(log, parmInfo) {
		switch {
		case !p.HasDesc:
			fmt.Fprintf(w, "%-16s%s:%s%c", "parm:", p.Name, p.Type, o.sep)
		case p.HasType:
			fmt.Fprintf(w, "%-16s%s:%s (%s)%c", "parm:", p.Name, p.Description, p.Type, o.sep)
		default:
			fmt.Fprintf(w, "%-16s%s:%s%c", "parm:", p.Name, p.Description, o.sep)
		}
	}
}

// kmodParams merges parm and parmtype entries and returns them in the
// order kmod prints them: kmod keeps them in a list it prepends to, so the
// last parameter to appear comes first. Entries without ':' are reported.
func kmodParams(log *logger, info []modfile.Info) []modfile.Param {
	params, bad := modfile.MergeParams(info)
	for _, b := range bad {
		log.errorf("Found invalid \"%s=%s\": missing ':'", b.Key, b.Value)
	}
	for i, j := 0, len(params)-1; i < j; i, j = i+1, j-1 {
		params[i], params[j] = params[j], params[i]
	}
	return params
}
