// Package cli holds the modlab commands. Every command is a function of an
// Env and its arguments, so tests run it with buffers and a fixture root.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Env is what a command may touch of the outside world. Tests replace all of
// it; nothing else is read from globals.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Root is prefixed to every system path (/lib/modules, /proc, /sys,
	// /etc/modprobe.d, /dev/kmsg, /boot). "" or "/" is the real system.
	Root string
	// Getenv reads the environment.
	Getenv func(string) string
	// IsTerminal reports whether Stdout is an interactive terminal.
	IsTerminal bool
}

// Path joins Root and an absolute system path.
func (e *Env) Path(p string) string {
	if e.Root == "" || e.Root == "/" {
		return p
	}
	return filepath.Join(e.Root, p)
}

// Command is one verb of the multi-call binary.
type Command struct {
	Name    string
	Summary string
	Run     func(env *Env, args []string) error
}

// ExitError carries an exit status without a message of its own (the
// command already printed what went wrong).
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// UsageError is a wrong invocation; main prints it with a hint to --help.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

func usagef(format string, a ...any) error { return &UsageError{Msg: fmt.Sprintf(format, a...)} }

// Commands lists every verb. The kmod-compatible ones also answer when the
// binary is called by their name through a link.
func Commands() []Command {
	cmds := []Command{
		{"setup", "install what the lab needs (packages, kernels, QEMU)", runSetup},
		{"kernels", "list the kernels the lab can use", runKernels},
		{"build", "build a kbuild module folder for each kernel", runBuild},
		{"run", "build, boot, load a module folder, run a command, unload", runRun},
		{"test", "run the examples' in-VM tests on each kernel", runTest},
		{"bench", "time a bare boot against a module run, phase by phase", runBench},
		{"modinfo", "show information about a kernel module", runModinfo},
		{"lsmod", "show the status of modules in the kernel", runLsmod},
		{"insmod", "insert a module into the kernel", runInsmod},
		{"rmmod", "remove a module from the kernel", runRmmod},
		{"modprobe", "add or remove modules, with dependencies", runModprobe},
		{"depmod", "generate modules.dep and map files", runDepmod},
		{"dmesg", "print the kernel ring buffer", runDmesg},
		{"kallsyms", "look up kernel symbols by name or address", runKallsyms},
		{"uevent", "print kernel uevents, or run commands for them from udev-style rules", runUevent},
	}
	return cmds
}

// Lookup finds a command by name.
func Lookup(name string) (Command, bool) {
	for _, c := range Commands() {
		if c.Name == name {
			return c, true
		}
	}
	return Command{}, false
}

// Main runs the binary: by argv[0] when called through a link named after a
// command, otherwise by its first argument. It returns the exit status.
func Main(env *Env, argv []string) int {
	prog := filepath.Base(argv[0])
	args := argv[1:]
	cmd, ok := Lookup(prog)
	if !ok {
		if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
			if len(args) > 1 {
				if c, ok := Lookup(args[1]); ok {
					return report(env, c.Name, c.Run(env, []string{"--help"}))
				}
			}
			printHelp(env.Stdout)
			if len(args) == 0 {
				return 2
			}
			return 0
		}
		cmd, ok = Lookup(args[0])
		if !ok {
			newLogger("modlab", env.Stderr).printf("unknown command %q (see 'modlab help')", args[0])
			return 2
		}
		args = args[1:]
	}
	return report(env, cmd.Name, cmd.Run(env, args))
}

func report(env *Env, name string, err error) int {
	if err == nil {
		return 0
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	log := newLogger(name, env.Stderr)
	var ue *UsageError
	if errors.As(err, &ue) {
		log.printf("%s", ue.Msg)
		tryHelp(env.Stderr, name)
		return 2
	}
	log.errorf("%v", err)
	return 1
}

func printHelp(w io.Writer) {
	var b strings.Builder
	b.WriteString("modlab: build, load and test Linux kernel modules in real kernels under QEMU.\n\n")
	b.WriteString("Usage: modlab COMMAND [ARGS]...   (or call a kmod command through a link of its name)\n\nCommands:\n")
	for _, c := range Commands() {
		fmt.Fprintf(&b, "  %-10s %s\n", c.Name, c.Summary)
	}
	b.WriteString("  help CMD   show the help of a command\n")
	b.WriteString("\nLinks: ln -s modlab /usr/local/sbin/modinfo (likewise lsmod, insmod, rmmod,\n")
	b.WriteString("modprobe, depmod, dmesg, kallsyms) makes modlab answer to that name.\n")
	io.WriteString(w, b.String())
}

// DefaultEnv is the real process environment.
func DefaultEnv() *Env {
	return &Env{
		Stdin:  os.Stdin,
		Stdout: os.Stdout,
		Stderr: os.Stderr,
		Root:   os.Getenv("MODLAB_ROOT"),
		Getenv: os.Getenv,
	}
}
