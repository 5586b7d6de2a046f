// Package kmod is the root of modlab's kernel module library: the Go
// counterpart of kmod's libkmod. Each area lives in a package of its own:
//
//   - loader: load (finit_module/init_module) and unload (delete_module)
//   - kmsg: the kernel log records of /dev/kmsg
//
// Every package takes the paths it reads (a root directory, the kernel
// release) from its caller, so tests run against fixture trees.
package kmod
