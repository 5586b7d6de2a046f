// Package uevent receives the kernel's device events (uevents) and runs
// commands for them from rules in a subset of udev's rules language: the
// part of udev that the examples need, with no udev on the machine.
//
// When a driver adds or removes a device (device_create, device_destroy),
// loads a module, binds a driver, ... the kernel broadcasts a uevent on the
// NETLINK_KOBJECT_UEVENT netlink family, multicast group 1. A message is
// "ACTION@DEVPATH" followed by "KEY=VALUE" properties, each ended by a NUL
// byte:
//
//	add@/devices/virtual/chardev/chardev\0ACTION=add\0DEVPATH=/devices/virtual/chardev/chardev\0
//	SUBSYSTEM=chardev\0MAJOR=247\0MINOR=0\0DEVNAME=chardev\0SEQNUM=1234\0
//
// Parse reads one such message into an Event; Listen opens the socket and
// Conn.Receive returns the kernel's events as they arrive.
//
// ParseRules reads rules such as
//
//	SUBSYSTEM=="chardev", ACTION=="add", RUN+="/usr/local/bin/trigger.sh"
//
// and Rules.Commands says which commands an event runs. The subset: match
// keys ACTION, DEVPATH, KERNEL, SUBSYSTEM, DRIVER, DEVNAME and ENV{KEY},
// with == and != and shell-style globs (*, ?, [a-z], [!a-z]) whose
// alternatives are separated by |; RUN with += (append) and = (replace the
// commands gathered so far); comments, blank lines and lines continued with
// a backslash. Anything else is a syntax error that names the file and
// line: a rules file is either understood whole or not used at all.
package uevent
