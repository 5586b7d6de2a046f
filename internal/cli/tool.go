package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/modlab/modlab/kmod/loader"
)

// usageStyle is how a tool words a wrong option or argument: each tool
// keeps the words of the one it stands in for.
type usageStyle int

const (
	// getoptUsage is kmod's: getopt_long's own words ("insmod:
	// unrecognized option '--x'"), exit status 1. Long options may be
	// abbreviated, as getopt_long allows.
	getoptUsage usageStyle = iota
	// tryHelpUsage is util-linux's: "dmesg: MSG", then "Try 'dmesg
	// --help' for more information.", exit status 1.
	tryHelpUsage
	// modlabUsage is modlab's own: worded as util-linux's, exit status 2.
	modlabUsage
	// usageLineUsage is lsmod's: its one-line usage on stderr, exit
	// status 1.
	usageLineUsage
)

// kmodVersion is what kmod 30's tools print for --version.
const kmodVersion = "kmod version 30\n"

// toolSpec is what sets one tool's preamble apart from the others'.
type toolSpec struct {
	name string
	// help is printed on stdout for -h and --help.
	help string
	// version is printed on stdout for -V and --version; a tool without
	// it has no such options.
	version string
	usage   usageStyle
}

// tool is one run of a command: the preamble every kmod-compatible tool
// (and kallsyms, dmesg and lsmod) shares. Its flag set already has
// -h/--help, and -V/--version when the tool has a version; its logger
// words messages as the tool does.
type tool struct {
	toolSpec
	env   *Env
	flags *pflag.FlagSet
	log   *logger

	wantHelp, wantVersion bool
}

// newTool starts a run of the tool spec describes.
func newTool(env *Env, spec toolSpec) *tool {
	fl := pflag.NewFlagSet(spec.name, pflag.ContinueOnError)
	fl.SetOutput(io.Discard)
	fl.Usage = func() {}
	t := &tool{toolSpec: spec, env: env, flags: fl, log: newLogger(spec.name, env.Stderr)}
	fl.BoolVarP(&t.wantHelp, "help", "h", false, "")
	if spec.version != "" {
		fl.BoolVarP(&t.wantVersion, "version", "V", false, "")
	}
	return t
}

// parse reads the options. done is true when the command has nothing
// more to do: --help or --version was answered (err is nil), or the
// options were wrong (err carries the exit status; the words are out).
func (t *tool) parse(args []string) (done bool, err error) {
	if t.usage == getoptUsage {
		args = expandLongOptions(t.flags, args)
	}
	if err := t.flags.Parse(args); err != nil {
		if t.usage == getoptUsage {
			return true, t.badUsage(getoptMessage(err))
		}
		return true, t.badUsage(err.Error())
	}
	switch {
	case t.wantHelp:
		io.WriteString(t.env.Stdout, t.help)
		return true, nil
	case t.wantVersion:
		io.WriteString(t.env.Stdout, t.version)
		return true, nil
	}
	return false, nil
}

// badUsage reports a wrong invocation in the tool's words and returns the
// error that gives its exit status.
func (t *tool) badUsage(msg string) error {
	switch t.usage {
	case tryHelpUsage:
		t.log.printf("%s", msg)
		tryHelp(t.env.Stderr, t.name)
		return &ExitError{Code: 1}
	case modlabUsage:
		return &UsageError{Msg: msg} // Main prints it
	case usageLineUsage:
		io.WriteString(t.env.Stderr, t.help)
		return &ExitError{Code: 1}
	}
	t.log.printf("%s", msg)
	return &ExitError{Code: 1}
}

// tryHelp is the line util-linux's tools and modlab print after a usage
// error.
func tryHelp(w io.Writer, name string) {
	fmt.Fprintf(w, "Try '%s --help' for more information.\n", name)
}

// expandLongOptions completes abbreviated long options ("--auth") the way
// getopt_long accepts them, when the prefix names one option only.
func expandLongOptions(fl *pflag.FlagSet, args []string) []string {
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		name, val, hasVal := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !strings.HasPrefix(a, "--") || name == "" || fl.Lookup(name) != nil {
			out = append(out, a)
			continue
		}
		var match string
		n := 0
		fl.VisitAll(func(f *pflag.Flag) {
			if strings.HasPrefix(f.Name, name) {
				match = f.Name
				n++
			}
		})
		if n == 1 {
			a = "--" + match
			if hasVal {
				a += "=" + val
			}
		}
		out = append(out, a)
	}
	return out
}

// getoptMessage words a flag parsing error as getopt_long does.
func getoptMessage(err error) string {
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "unknown flag: "):
		return fmt.Sprintf("unrecognized option '%s'", strings.TrimPrefix(msg, "unknown flag: "))
	case strings.HasPrefix(msg, "unknown shorthand flag: "):
		if _, rest, ok := strings.Cut(msg, "'"); ok {
			if c, _, ok := strings.Cut(rest, "'"); ok {
				return fmt.Sprintf("invalid option -- '%s'", c)
			}
		}
	case strings.HasPrefix(msg, "flag needs an argument: --"):
		return fmt.Sprintf("option '%s' requires an argument", strings.TrimPrefix(msg, "flag needs an argument: "))
	case strings.HasPrefix(msg, "flag needs an argument: '"):
		if c, _, ok := strings.Cut(strings.TrimPrefix(msg, "flag needs an argument: '"), "'"); ok {
			return fmt.Sprintf("option requires an argument -- '%s'", c)
		}
	}
	return msg
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

// runningRelease is the running kernel's release, the release the tools
// use when none is given: MODLAB_RELEASE when set, else
// <root>/proc/sys/kernel/osrelease (so a fixture root decides), else
// uname(2).
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
