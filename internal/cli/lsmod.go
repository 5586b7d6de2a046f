package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/modlab/modlab/kmod/loaded"
	"github.com/modlab/modlab/kmod/loader"
)

// runLsmod is kmod 30's lsmod: the modules of /proc/modules, with size,
// use count and users read from /sys/module as kmod does (see
// loaded.System.Lsmod for where modlab falls back to /proc/modules).
func runLsmod(env *Env, args []string) error {
	if len(args) == 1 && (args[0] == "--help" || args[0] == "-h") {
		fmt.Fprintln(env.Stdout, "Usage: lsmod")
		return nil
	}
	if len(args) != 0 {
		fmt.Fprintln(env.Stderr, "Usage: lsmod")
		return &ExitError{Code: 1}
	}
	sys := loaded.Root(env.Root)
	entries, err := sys.Lsmod()
	if err != nil {
		fmt.Fprintf(env.Stderr, "Error: could not get list of modules: %s\n", errText(err))
		if errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(env.Stderr, "lsmod: HINT: %s does not exist: the running kernel has no module support (built without CONFIG_MODULES), or /proc is not mounted\n", sys.ModulesFile())
		}
		return &ExitError{Code: 1}
	}
	return loaded.WriteLsmod(env.Stdout, entries)
}

// errText is strerror's text for an error that carries an errno, else the
// error's own text.
func errText(err error) string {
	var errno unix.Errno
	if errors.As(err, &errno) {
		return loader.Strerror(errno)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// runningRelease is the running kernel's release: MODLAB_RELEASE when
// set, else <root>/proc/sys/kernel/osrelease (so a fixture root decides),
// else uname(2).
func runningRelease(env *Env) string {
	if env.Getenv != nil {
		if r := env.Getenv("MODLAB_RELEASE"); r != "" {
			return r
		}
	}
	if b, err := os.ReadFile(env.Path("/proc/sys/kernel/osrelease")); err == nil {
		if r := strings.TrimSpace(string(b)); r != "" {
			return r
		}
	}
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}
