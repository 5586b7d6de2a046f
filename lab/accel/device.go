package accel

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// kvmGetAPIVersion is KVM_GET_API_VERSION, _IO(KVMIO, 0x00); every kernel
// since 2.6.22 answers kvmAPIVersion.
const (
	kvmGetAPIVersion = 0xAE00
	kvmAPIVersion    = 12
)

// checkKVMDevice does the cheap checks: the device opens read-write and
// answers the API version KVM has had since 2007. The error is the reason,
// in words a user can act on.
func checkKVMDevice(path string) error {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("no %s (is the kvm_intel or kvm_amd module loaded, or is this a VM without nested virtualisation?)", path)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%s cannot be opened for reading and writing (permission denied: add your user to the group that owns it, usually kvm)", path)
	case err != nil:
		return fmt.Errorf("%s cannot be opened: %w", path, err)
	}
	defer unix.Close(fd)
	v, err := unix.IoctlRetInt(fd, kvmGetAPIVersion)
	if err != nil {
		return fmt.Errorf("%s does not answer KVM_GET_API_VERSION: %w", path, err)
	}
	if v != kvmAPIVersion {
		return fmt.Errorf("%s speaks KVM API version %d, not %d", path, v, kvmAPIVersion)
	}
	return nil
}

// virtFlags reports whether a /proc/cpuinfo text shows hardware
// virtualisation (vmx for Intel, svm for AMD); known is false when it has
// no flags line to tell.
func virtFlags(cpuinfo string) (has, known bool) {
	for _, line := range strings.Split(cpuinfo, "\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(name) != "flags" {
			continue
		}
		for _, f := range strings.Fields(value) {
			if f == "vmx" || f == "svm" {
				return true, true
			}
		}
		return false, true
	}
	return false, false
}

// cpuFact is a fact about the CPU that explains a failed probe, or "".
func cpuFact(cpuinfoPath string) string {
	b, err := os.ReadFile(cpuinfoPath)
	if err != nil {
		return ""
	}
	if has, known := virtFlags(string(b)); known && !has {
		return "this CPU has no vmx/svm flag"
	}
	return ""
}
