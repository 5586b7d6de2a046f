// Package kmod is the root of modlab's kernel module library: the Go
// counterpart of kmod's libkmod. Each area lives in a package of its own:
//
//   - modname: module names as the kernel spells them ('-' as '_'), from
//     a name, an alias or a module file's path
//   - compression: module file formats (.ko, .ko.xz, .ko.zst, .ko.gz):
//     endings, magic bytes, decompression
//   - loader: load (finit_module/init_module) and unload (delete_module)
//   - kmsg: the kernel log records of /dev/kmsg, printed as dmesg does
//   - loaded: loaded modules (/proc/modules, /sys/module/NAME/...), lsmod
//   - kallsyms: /proc/kallsyms look-ups by name and by address
//   - modfile: a module file (any format compression reads): .modinfo,
//     parameters, signature, exported symbols, modversions
//   - moddir: a module directory (/lib/modules/RELEASE): name and alias
//     look-ups, dependencies, builtin modules
//   - index: the binary .bin index format libkmod reads
//   - modconf: modprobe.d configuration and the kernel command line
//   - modprobe: a name to the ordered list of modules to load or remove
//   - depmod: modules.dep, modules.alias and the rest, text and .bin
//
// Every package takes the paths it reads (a root directory, the kernel
// release) from its caller, so tests run against fixture trees.
package kmod
