package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/modlab/modlab/internal/uevent"
)

const ueventHelp = `Usage: modlab uevent monitor [--subsystem-match SUBSYSTEM[/DEVTYPE]]...
       modlab uevent run [--verbose] [--check] RULES-FILE

Kernel device events (uevents), without udev.

monitor  prints each kernel uevent as it arrives, like
         'udevadm monitor --kernel --property': a line with the time (seconds
         since boot), the action, the device path and the subsystem, then the
         event's KEY=VALUE properties and a blank line.
    -s, --subsystem-match SUBSYSTEM[/DEVTYPE]  only events of this subsystem
                                               (and device type); repeatable

run      runs commands for the events that match rules in RULES-FILE, a
         subset of udev's rules: match keys ACTION, DEVPATH, KERNEL,
         SUBSYSTEM, DRIVER, DEVNAME and ENV{KEY} with == and !=, globs
         (*, ?, [a-z], [!a-z]) and alternatives (a|b); RUN+="command" and
         RUN="command"; # comments; a trailing \ continues a line. Each
         command runs with /bin/sh -c, one after another, with the event's
         properties (ACTION, DEVPATH, SUBSYSTEM, DEVNAME, MAJOR, MINOR, ...)
         in its environment. A malformed rules file is reported (FILE:LINE:
         message) with exit status 2, and nothing runs.
    -v, --verbose  say which commands each event runs
        --check    only check the rules file

Both run until interrupted (SIGINT or SIGTERM) and then exit with status 0.
Example:
    SUBSYSTEM=="chardev", ACTION=="add", RUN+="echo chardev loaded >>/tmp/chardev.log"
`

// eventSource is where the command's events come from: the kernel's
// netlink socket, or a test's list.
type eventSource interface {
	Receive(ctx context.Context) (*uevent.Event, error)
	Close() error
}

// ueventCmd is `modlab uevent` with the outside world it needs: tests
// replace the event source and the shell.
type ueventCmd struct {
	listen func() (eventSource, error)
	// shell runs a RUN command: argv[0] of "sh -c CMD".
	shell string
	// context is what ends the command: SIGINT or SIGTERM.
	context func() (context.Context, context.CancelFunc)
}

func runUevent(env *Env, args []string) error {
	c := ueventCmd{
		listen: func() (eventSource, error) { return uevent.Listen() },
		shell:  "/bin/sh",
		context: func() (context.Context, context.CancelFunc) {
			return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		},
	}
	return c.run(env, args)
}

func (c ueventCmd) run(env *Env, args []string) error {
	if len(args) == 0 {
		return usagef("uevent needs a subcommand: monitor or run")
	}
	switch args[0] {
	case "-h", "--help", "help":
		io.WriteString(env.Stdout, ueventHelp)
		return nil
	case "monitor":
		return c.monitor(env, args[1:])
	case "run":
		return c.runRules(env, args[1:])
	}
	return usagef("unknown uevent subcommand %q: monitor or run", args[0])
}

func ueventFlags(env *Env, name string) *pflag.FlagSet {
	fs := newFlagSet("uevent "+name, "", env.Stdout)
	fs.Usage = func() { io.WriteString(env.Stdout, ueventHelp) }
	return fs
}

// subsystemFilter is one --subsystem-match.
type subsystemFilter struct{ subsystem, devtype string }

func (f subsystemFilter) match(e *uevent.Event) bool {
	return e.Subsystem() == f.subsystem && (f.devtype == "" || e.Value("DEVTYPE") == f.devtype)
}

func (c ueventCmd) monitor(env *Env, args []string) error {
	fs := ueventFlags(env, "monitor")
	subs := fs.StringArrayP("subsystem-match", "s", nil, "")
	if help, err := parse(fs, args); help || err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usagef("uevent monitor takes no arguments (got %q)", fs.Arg(0))
	}
	var filters []subsystemFilter
	for _, s := range *subs {
		sub, dt, _ := strings.Cut(s, "/")
		if sub == "" {
			return usagef("--subsystem-match %q: no subsystem", s)
		}
		filters = append(filters, subsystemFilter{sub, dt})
	}
	ctx, cancel := c.context()
	defer cancel()
	src, err := c.listen()
	if err != nil {
		return err
	}
	defer src.Close()
	// udevadm's banner, printed once the socket is listening: from here on
	// no event is missed.
	if _, err := io.WriteString(env.Stdout, "monitor will print the received events for:\nKERNEL - the kernel uevent\n\n"); err != nil {
		return err
	}
	log := newLogger("uevent", env.Stderr)
	return receiveUevents(ctx, src, log, func(e *uevent.Event) error {
		if len(filters) > 0 && !matchesAny(filters, e) {
			return nil
		}
		_, err := io.WriteString(env.Stdout, formatUevent(e))
		return err
	})
}

func matchesAny(filters []subsystemFilter, e *uevent.Event) bool {
	for _, f := range filters {
		if f.match(e) {
			return true
		}
	}
	return false
}

// formatUevent prints an event as udevadm monitor --kernel --property does.
func formatUevent(e *uevent.Event) string {
	var b strings.Builder
	us := e.Received / time.Microsecond
	fmt.Fprintf(&b, "KERNEL[%d.%06d] %-8s %s (%s)\n", us/1e6, us%1e6, e.Action, e.DevPath, e.Subsystem())
	for _, p := range e.Properties {
		b.WriteString(p.Key + "=" + p.Value + "\n")
	}
	b.WriteString("\n")
	return b.String()
}

// receiveUevents hands each event to fn until ctx ends (a nil error), the source
// ends (io.EOF: nil), or receiving or fn fails.
func receiveUevents(ctx context.Context, src eventSource, log *logger, fn func(*uevent.Event) error) error {
	for {
		e, err := src.Receive(ctx)
		switch {
		case ctx.Err() != nil, errors.Is(err, io.EOF):
			return nil
		case errors.Is(err, uevent.ErrLost):
			log.warnf("%v", err)
			continue
		case err != nil:
			return err
		}
		if err := fn(e); err != nil {
			return err
		}
	}
}

func (c ueventCmd) runRules(env *Env, args []string) error {
	fs := ueventFlags(env, "run")
	verbose := fs.BoolP("verbose", "v", false, "")
	check := fs.Bool("check", false, "")
	if help, err := parse(fs, args); help || err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("uevent run needs one rules file")
	}
	log := newLogger("uevent", env.Stderr)
	name := fs.Arg(0)
	rules, err := loadRules(name)
	if err != nil {
		var se *uevent.SyntaxError
		if !errors.As(err, &se) {
			log.errorf("%v", err)
			return &ExitError{Code: 2}
		}
		fmt.Fprintln(env.Stderr, err)
		n := 1
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			n = len(j.Unwrap())
		}
		log.errorf("%s: %s malformed: nothing runs", name, nRules(n))
		return &ExitError{Code: 2}
	}
	if *check {
		fmt.Fprintf(env.Stdout, "%s: %s\n", name, nRules(len(rules.Rules)))
		return nil
	}
	ctx, cancel := c.context()
	defer cancel()
	src, err := c.listen()
	if err != nil {
		return err
	}
	defer src.Close()
	log.printf("%s from %s; waiting for kernel uevents", nRules(len(rules.Rules)), name)
	return receiveUevents(ctx, src, log, func(e *uevent.Event) error {
		for _, cmd := range rules.Commands(e) {
			if *verbose {
				log.printf("%s %s (%s): RUN %s", e.Action, e.DevPath, e.Subsystem(), cmd)
			}
			if err := c.runCommand(ctx, env, cmd, e); err != nil {
				log.warnf("RUN %q for %s %s: %v", cmd, e.Action, e.DevPath, err)
			}
		}
		return nil
	})
}

func loadRules(name string) (*uevent.Rules, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return uevent.ParseRules(name, f)
}

// runCommand runs one RUN command to its end, with the event's properties
// added to the environment. When the command is told to stop (ctx), the
// command gets SIGTERM, and 5 seconds later SIGKILL.
func (c ueventCmd) runCommand(ctx context.Context, env *Env, command string, e *uevent.Event) error {
	cmd := exec.CommandContext(ctx, c.shell, "-c", command)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	cmd.Env = withEventEnv(os.Environ(), e.Environ())
	cmd.Stdout, cmd.Stderr = env.Stdout, env.Stderr
	return cmd.Run()
}

// withEventEnv is base with the variables of add set (replacing any of the
// same name).
func withEventEnv(base, add []string) []string {
	set := map[string]bool{}
	for _, kv := range add {
		k, _, _ := strings.Cut(kv, "=")
		set[k] = true
	}
	out := make([]string, 0, len(base)+len(add))
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if !set[k] {
			out = append(out, kv)
		}
	}
	return append(out, add...)
}

// nRules is "1 rule", "2 rules".
func nRules(n int) string {
	if n == 1 {
		return "1 rule"
	}
	return fmt.Sprintf("%d rules", n)
}
