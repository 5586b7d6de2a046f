// Package coverage turns the gcov data that a unit's modules leave in the
// guest into line coverage of the unit's own source files: a summary per
// file (lines, functions, branches), an lcov tracefile and an HTML page per
// file with an index.
//
// How the data gets here: the modules are built with kbuild's
// GCOV_PROFILE=y ([MakeArgs]) against a kernel built with
// CONFIG_GCOV_KERNEL=y ([KernelSupport]). The kernel then keeps each
// object's counters in debugfs, under the path where the object was
// compiled (/sys/kernel/debug/gcov/<build dir>/<object>.gcda), and keeps
// them after the module is unloaded. The guest sends those .gcda files; on
// the host, [Generate] puts each beside its .gcno (written by the compiler
// in the build directory), runs gcov of the same GCC version with
// --json-format, and keeps the files that are the user's: the build
// directory is a copy of the user's folder, and the compiler's
// -ffile-prefix-map already names the user's files in the notes.
package coverage
