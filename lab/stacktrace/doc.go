// Package stacktrace points the stack frames of a kernel bug report at the
// source of the out-of-tree modules they fall in, the way the kernel's
// scripts/decode_stacktrace.sh does with addr2line.
//
// A report (a "splat": an oops, a WARNING, a KFENCE report) names each
// frame as func+0xOFF/0xSIZE [module]:
//
//	RIP: 0010:set_leds+0x5/0x40 [kbleds]
//	WARNING: CPU: 0 PID: 81 at /src/warnon/warnon.c:19 warnon_init+0x2d/0x1000 [warnon]
//	Call Trace:
//	 kbleds_init+0x58/0x1000 [kbleds]
//	 ? __pfx_kbleds_init+0x10/0x10 [kbleds]
//
// Given the unstripped .ko of each module, [Annotate] appends the source
// position to every such line (" (kbleds.c:57)"), with the chain of
// inlined calls when the code was inlined, innermost first, as
// `addr2line -i` prints it. The faulting address (RIP, or a WARNING's) is
// looked up as it is; a call-trace entry is a return address, so the
// address before it is looked up, which names the line of the call.
//
// A .ko is a relocatable object: all its sections start at address 0, so
// .text, .init.text and .exit.text overlap in its DWARF. [Open] gives each
// allocated section an address of its own (it relocates the symbol table
// before reading the DWARF), then finds a frame's function by name in its
// own section.
package stacktrace
