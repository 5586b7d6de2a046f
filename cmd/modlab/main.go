// Command modlab builds, loads and tests Linux kernel modules in real kernels
// under QEMU, and answers as modinfo, lsmod, insmod, rmmod, modprobe, depmod,
// dmesg and kallsyms when called by those names.
//
// The same binary is the lab's guest /init: the host copies itself into the
// guest image, so the tools a module author uses in the VM are these.
package main

import (
	"os"

	"golang.org/x/term"

	"github.com/modlab/modlab/internal/cli"
	"github.com/modlab/modlab/lab/guest"
)

func main() {
	if guest.IsInit(os.Args) {
		guest.Main() // never returns
	}
	env := cli.DefaultEnv()
	env.IsTerminal = term.IsTerminal(int(os.Stdout.Fd()))
	os.Exit(cli.Main(env, os.Args))
}
