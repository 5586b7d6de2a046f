// Package accel decides how QEMU runs the lab's guests: under KVM when the
// host's KVM really works, under TCG (QEMU's own CPU emulation) otherwise.
//
// "Works" is measured, not assumed. A /dev/kvm that exists and answers its
// API version can still be useless: on some hosts a guest under
// -accel kvm hangs without a word, or QEMU aborts with -cpu host. So,
// after the cheap checks of the device, Choose boots a test guest of a few
// dozen bytes (a PVH ELF that QEMU enters straight in 32-bit protected
// mode; it writes a known value to isa-debug-exit) with a short timeout.
// The verdict is cached per host boot and QEMU binary, so only the first
// run after a boot pays for the probe.
package accel
