package cli

import (
	"errors"
	"io/fs"
	"os"
	"strings"

	"github.com/modlab/modlab/kmod/loaded"
	"github.com/modlab/modlab/kmod/loader"
	"github.com/modlab/modlab/kmod/modname"
)

const rmmodHelp = `Usage:
	rmmod [options] modulename ...
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
	t := newTool(env, toolSpec{name: "rmmod", help: rmmodHelp, version: kmodVersion})
	var force, useSyslog bool
	var verbose int
	t.flags.BoolVarP(&force, "force", "f", false, "")
	t.flags.BoolVarP(&useSyslog, "syslog", "s", false, "")
	t.flags.CountVarP(&verbose, "verbose", "v", "")
	if done, err := t.parse(args); done {
		return err
	}
	log := t.log
	log.verbosity = levelError + level(verbose) // kmod's rmmod starts at LOG_ERR
	if useSyslog {
		defer log.useSyslog()()
	}
	if t.flags.NArg() == 0 {
		log.errorf("missing module name.")
		return &ExitError{Code: 1}
	}
	sys := loaded.Root(env.Root)
	kernel := openKernel(env, false)
	failed := 0
	for _, arg := range t.flags.Args() {
		// A module file names its module; anything else is a name.
		name := modname.Normalize(arg)
		if _, err := os.Stat(arg); err == nil {
			name = modname.FromPath(arg)
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
func rmmodCheck(env *Env, sys loaded.System, log *logger, name string) bool {
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
