package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/modlab/modlab/kmod/kmsg"
	"github.com/modlab/modlab/kmod/loader"
	"github.com/modlab/modlab/kmod/moddir"
	"github.com/modlab/modlab/kmod/modfile"
	"github.com/modlab/modlab/kmod/modname"
)

// moduleSyscalls is how insmod and rmmod reach the kernel.
type moduleSyscalls interface {
	LoadFile(path, params string) error
	Unload(name string, flags loader.UnloadFlags) error
}

// openKernel gives the real system calls; tests replace it (in tests that
// do not run in parallel) so that no fixture name ever reaches the kernel.
var openKernel = func(env *Env, ignoreVersions bool) moduleSyscalls {
	return &loader.Loader{SysDir: env.Path("/sys"), ProcDir: env.Path("/proc"), IgnoreVersions: ignoreVersions}
}

const insmodHelp = `Usage:
	insmod [options] filename [args]
Options:
	-f, --force       ignore the vermagic and modversions checks (taints the kernel)
	-V, --version     show version
	-h, --help        show this help
`

// runInsmod is kmod 30's insmod: load one module file with parameters
// ("name=value" words, passed to the kernel joined by spaces). Failures
// read as kmod's, followed by HINT lines that say why.
func runInsmod(env *Env, args []string) error {
	t := newTool(env, toolSpec{name: "insmod", help: insmodHelp, version: kmodVersion})
	var force, ignored bool
	t.flags.BoolVarP(&force, "force", "f", false, "")
	t.flags.BoolVarP(&ignored, "p", "p", false, "") // kmod ignores -p and -s too
	t.flags.BoolVarP(&ignored, "s", "s", false, "")
	if done, err := t.parse(args); done {
		return err
	}
	log := t.log
	rest := t.flags.Args()
	if len(rest) == 0 {
		log.errorf("missing filename.")
		return &ExitError{Code: 1}
	}
	file := rest[0]
	if file == "-" {
		log.errorf("this tool does not support loading from stdin!")
		return &ExitError{Code: 1}
	}
	params := strings.Join(rest[1:], " ")
	if _, err := os.Stat(file); err != nil {
		log.errorf("could not load module %s: %s", file, errText(err))
		return &ExitError{Code: 1}
	}
	// Follow the kernel log from now on: when the load fails, the
	// kernel's own words about the module are the best hint.
	klog, _ := kmsg.Open(env.Path("/dev/kmsg"), false)
	if klog != nil {
		defer klog.Close()
		if klog.SeekEnd() != nil {
			klog.Close()
			klog = nil
		}
	}
	err := openKernel(env, force).LoadFile(file, params)
	if err == nil {
		return nil
	}
	var le *loader.Error
	if !errors.As(err, &le) || le.Err != nil {
		log.errorf("could not insert module %s: %s", file, errText(err))
		return &ExitError{Code: 1}
	}
	log.errorf("could not insert module %s: %s", file, loader.Explain("load", le.Errno))
	initFailed := le.InitFailed || loader.InitFailed(le.Errno, env.Path("/proc"))
	for _, h := range insmodHints(env, file, le.Errno, initFailed, klog) {
		log.hintf("%s", h)
	}
	return &ExitError{Code: 1}
}

// insmodHints explains a failed load: the general cause of the errno (or
// that the module's init returned it, or that a built-in module has the
// name: EINVAL, which kmod calls "Invalid parameters"), the vermagic of the file against the
// running kernel for ENOEXEC, and what the kernel logged about the module
// meanwhile: every line when its init ran, since they are its own.
func insmodHints(env *Env, file string, errno unix.Errno, initFailed bool, klog *kmsg.Reader) []string {
	var hints []string
	name := modname.FromPath(file)
	if initFailed {
		hints = append(hints, loader.InitHint(errno))
	} else if (errno == unix.EINVAL || errno == unix.EEXIST) && loader.IsBuiltin(env.Path("/sys"), env.Path("/proc"), name) {
		hints = append(hints, loader.BuiltinHint(name))
	} else if h := loader.Hint("load", errno); h != "" {
		hints = append(hints, h)
	}
	if errno == unix.ENOSYS && !initFailed {
		if _, err := os.Stat(env.Path("/proc/modules")); err != nil {
			hints = append(hints, env.Path("/proc/modules")+" does not exist either: modules cannot be loaded on this kernel at all")
		}
	}
	if errno == unix.ENOEXEC {
		m, err := modfile.Open(file)
		if err != nil {
			hints = append(hints, fmt.Sprintf("%s is not a usable module file: %v", file, err))
		} else {
			vm := m.Vermagic()
			m.Close()
			rel := runningRelease(env)
			got, _, _ := strings.Cut(vm, " ")
			switch {
			case vm == "":
				hints = append(hints, file+" has no vermagic in .modinfo")
			case got != rel:
				hints = append(hints, fmt.Sprintf("%s was built for %s (vermagic %q); the running kernel is %s", file, got, vm, rel))
			}
		}
	}
	if klog != nil {
		var msgs []string
		for {
			rec, err := klog.Next()
			if err != nil {
				break
			}
			msgs = append(msgs, rec.Message)
		}
		logged := loader.ModuleLines(name, file, initFailed, msgs)
		for _, l := range logged {
			hints = append(hints, "kernel log: "+l)
		}
		if errno == unix.ENOENT {
			hints = append(hints, exporterHints(env, runningRelease(env), logged)...)
		}
	}
	return hints
}

// exporterHints names, for each "Unknown symbol NAME" line the kernel
// logged, the module that exports NAME, when the running kernel's module
// directory knows one (modules.symbols).
func exporterHints(env *Env, release string, logged []string) []string {
	var syms []string
	for _, l := range logged {
		_, rest, ok := strings.Cut(l, "Unknown symbol ")
		if !ok {
			continue
		}
		if sym, _, _ := strings.Cut(rest, " "); sym != "" {
			syms = append(syms, sym)
		}
	}
	if len(syms) == 0 || release == "" {
		return nil
	}
	d, err := moddir.Open(env.Path("/"), release)
	if err != nil {
		return nil
	}
	defer d.Close()
	var hints []string
	for _, sym := range syms {
		mods, err := d.SymbolModules("symbol:" + sym)
		if err != nil || len(mods) == 0 {
			continue
		}
		hints = append(hints, fmt.Sprintf("%s is exported by module %s: load it first (modprobe loads it for you)",
			sym, strings.Join(mods, ", ")))
	}
	return hints
}
