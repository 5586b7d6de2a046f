// Package kmod is the root of modlab's kernel module library: the Go
// counterpart of kmod's libkmod. Each area lives in a package of its own:
//
//   - loader: load (finit_module/init_module) and unload (delete_module)
//   - kmsg: the kernel log records of /dev/kmsg, printed as dmesg does
//   - loaded: loaded modules (/proc/modules, /sys/module/NAME/...), lsmod
//   - kallsyms: /proc/kallsyms look-ups by name and by address
//
// Every package takes the paths it reads (a root directory, the kernel
// release) from its caller, so tests run against fixture trees.
package kmod
