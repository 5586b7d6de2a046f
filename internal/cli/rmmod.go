package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/syslog"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/modlab/modlab/kmod/loaded"
	"github.com/modlab/modlab/kmod/loader"
	"github.com/modlab/modlab/kmod/modfile"
)

const rmmodHelp = `Usage:
	%s [options] modulename ...
Options:
	-f, --force       forces a module unload and may crash your
	                  machine. This requires Forced Module Removal
	                  option in your kernel. DANGEROUS
	-s, --syslog      print to syslog, not stderr
	-v, --verbose     enables more messages
	-V, --version     show version
	-h, --help        show this help
`

// runRmmod is kmod 30's rmmod: for each module (a name, or the path of a
// module file), refuse when it is builtin, not loaded or in use (unless
// -f), else delete_module(2) it without waiting.
func runRmmod(env *Env, args []string) error {
	fl := pflag.NewFlagSet("rmmod", pflag.ContinueOnError)
	fl.SetOutput(env.Stderr)
	fl.Usage = func() {}
	var force, useSyslog, help, version bool
	var verbose int
	fl.BoolVarP(&force, "force", "f", false, "")
	fl.BoolVarP(&useSyslog, "syslog", "s", false, "")
	fl.CountVarP(&verbose, "verbose", "v", "")
	fl.BoolVarP(&help, "help", "h", false, "")
	fl.BoolVarP(&version, "version", "V", false, "")
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			fmt.Fprintf(env.Stdout, rmmodHelp, "rmmod")
			return nil
		}
		fmt.Fprintf(env.Stderr, "rmmod: %v\n", err)
		return &ExitError{Code: 1}
	}
	if help {
		fmt.Fprintf(env.Stdout, rmmodHelp, "rmmod")
		return nil
	}
	if version {
		fmt.Fprintln(env.Stdout, "kmod version 30")
		return nil
	}
	log := &kmodLog{prog: "rmmod", w: env.Stderr}
	if useSyslog {
		if sl, err := syslog.New(syslog.LOG_ERR|syslog.LOG_DAEMON, "rmmod"); err == nil {
			defer sl.Close()
			log.sys = sl
		}
	}
	if fl.NArg() == 0 {
		log.errorf("missing module name.")
		return &ExitError{Code: 1}
	}
	sys := loaded.Root(env.Root)
	kernel := openKernel(env, false)
	failed := 0
	for _, arg := range fl.Args() {
		// Like kmod's modname_normalize: "-" as "_", up to the first ".".
		name, _, _ := strings.Cut(loaded.Normalize(arg), ".")
		if _, err := os.Stat(arg); err == nil {
			name = modfile.NameFromPath(arg)
		}
		if !force && !rmmodCheck(env, sys, log, name) {
			failed++
			continue
		}
		var flags loader.UnloadFlags
		if force {
			flags |= loader.Force
		}
		if err := kernel.Unload(name, flags); err != nil {
			var le *loader.Error
			text := errText(err)
			if errors.As(err, &le) && le.Err == nil {
				text = loader.Explain("unload", le.Errno)
			}
			// libkmod logs the first line, rmmod itself the second.
			log.errorf("could not remove '%s': %s", name, text)
			log.errorf("could not remove module %s: %s", arg, text)
			if le != nil && le.Err == nil {
				if h := loader.Hint("unload", le.Errno); h != "" {
					log.hintf("%s", h)
				}
			}
			failed++
		}
	}
	if failed > 0 {
		return &ExitError{Code: 1}
	}
	return nil
}

// rmmodCheck is kmod's check_module_inuse: false (after saying why) when
// the module must not be removed.
func rmmodCheck(env *Env, sys loaded.System, log *kmodLog, name string) bool {
	if rel := runningRelease(env); rel != "" {
		if b, _ := loaded.IsBuiltin(env.Path("/lib/modules/"+rel), name); b {
			log.errorf("Module %s is builtin.", name)
			return false
		}
	}
	if _, err := sys.InitState(name); err != nil {
		log.errorf("Module %s is not currently loaded", name)
		return false
	}
	if holders, err := sys.Holders(name); err == nil && len(holders) > 0 {
		log.errorf("Module %s is in use by: %s", name, strings.Join(holders, " "))
		return false
	}
	n, err := sys.Refcnt(name)
	switch {
	case err == nil && n > 0:
		log.errorf("Module %s is in use", name)
		return false
	case errors.Is(err, fs.ErrNotExist):
		log.errorf("Module unloading is not supported")
		return false
	case err != nil:
		log.errorf("could not read integer from '%s/refcnt': '%s'", sys.ModuleDir(name), errText(err))
		return false
	}
	return true
}

// kmodLog prints messages the way kmod's tools do: "prog: ERROR: msg" on
// stderr, or "ERROR: msg" to syslog with -s.
type kmodLog struct {
	prog string
	w    io.Writer
	sys  *syslog.Writer
}

func (l *kmodLog) errorf(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	if l.sys != nil {
		l.sys.Err("ERROR: " + msg)
		return
	}
	fmt.Fprintf(l.w, "%s: ERROR: %s\n", l.prog, msg)
}

func (l *kmodLog) hintf(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	if l.sys != nil {
		l.sys.Notice("HINT: " + msg)
		return
	}
	fmt.Fprintf(l.w, "%s: HINT: %s\n", l.prog, msg)
}
