// Command modlab builds, loads and tests Linux kernel modules in real kernels
// under QEMU, and answers as modinfo, lsmod, insmod, rmmod, modprobe, depmod,
// dmesg and kallsyms when called by those names.
package main

import (
	"os"

	"golang.org/x/term"

	"github.com/modlab/modlab/internal/cli"
)

func main() {
	env := cli.DefaultEnv()
	env.IsTerminal = term.IsTerminal(int(os.Stdout.Fd()))
	os.Exit(cli.Main(env, os.Args))
}
