package cli

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/modlab/modlab/kmod/loaded"
)

// runLsmod is kmod 30's lsmod: the modules of /proc/modules, with size,
// use count and users read from /sys/module as kmod does (see
// loaded.System.Lsmod for where modlab falls back to /proc/modules).
func runLsmod(env *Env, args []string) error {
	t := newTool(env, toolSpec{name: "lsmod", help: "Usage: lsmod\n", usage: usageLineUsage})
	// kmod's lsmod takes no arguments at all; modlab's answers -h too.
	if len(args) > 1 || len(args) == 1 && args[0] != "-h" && args[0] != "--help" {
		return t.badUsage("")
	}
	if done, err := t.parse(args); done {
		return err
	}
	sys := loaded.Root(env.Root)
	entries, err := sys.Lsmod()
	if err != nil {
		// kmod's own words, not its logger's.
		fmt.Fprintf(env.Stderr, "Error: could not get list of modules: %s\n", errText(err))
		if errors.Is(err, fs.ErrNotExist) {
			t.log.hintf("%s does not exist: the running kernel has no module support (built without CONFIG_MODULES), or /proc is not mounted", sys.ModulesFile())
		}
		return &ExitError{Code: 1}
	}
	return loaded.WriteLsmod(env.Stdout, entries)
}
