package lab

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/modlab/modlab/lab/proto"
	"github.com/modlab/modlab/lab/userland"
)

// UnitSpec is one module folder to run in every selected kernel.
type UnitSpec struct {
	Name   string   // shown in reports ("hello", or the folder's name)
	Src    string   // the kbuild folder
	Params []string // "name=value" or "module.name=value"
	Exec   string   // a busybox sh command run with the modules loaded
	Shell  bool     // an interactive shell with the modules loaded
	// TestPkg is a Go package (relative to the source root) whose
	// modlab_guest tests run in the guest; the test loads modules itself.
	TestPkg string
	Timeout time.Duration
	// Files are copied into the guest (--file HOST[:GUEST]).
	Files []FileCopy
}

// CheckFolder says whether dir can be built as a unit: a directory with a
// Kbuild or a Makefile. Its error is meant for the person who named it.
func CheckFolder(dir string) error {
	st, err := os.Stat(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return fmt.Errorf("module folder %s does not exist", dir)
		}
		return fmt.Errorf("module folder: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("module folder %s is not a directory", dir)
	}
	if !hasKbuildFile(dir) {
		return fmt.Errorf("%s has no Kbuild or Makefile: not a kbuild module folder", dir)
	}
	// Its Go programs need a toolchain and names of their own.
	_, err = userland.Check(dir)
	return err
}

// FileCopy is a host file that travels into the guest for a unit: to
// Guest, or (when Guest is "") into the unit's files folder under the
// host file's base name. A relative Guest is taken in the unit's
// directory.
type FileCopy struct {
	Host, Guest string
}

// ParseFileCopy reads HOSTPATH[:GUESTPATH].
func ParseFileCopy(s string) (FileCopy, error) {
	host, guest, _ := strings.Cut(s, ":")
	if host == "" {
		return FileCopy{}, fmt.Errorf("--file %q: no host path", s)
	}
	st, err := os.Stat(host)
	if err != nil {
		return FileCopy{}, fmt.Errorf("--file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return FileCopy{}, fmt.Errorf("--file %s: not a regular file", host)
	}
	return FileCopy{Host: host, Guest: guest}, nil
}

// inUnit names the file in the unit's directory and, for an absolute
// guest path, where the guest copies it before the unit starts.
func (f FileCopy) inUnit() (name, copyTo string) {
	switch {
	case f.Guest == "":
		return proto.UnitFiles + "/" + filepath.Base(f.Host), ""
	case filepath.IsAbs(f.Guest):
		return proto.UnitFiles + "/" + filepath.Base(f.Guest), filepath.Clean(f.Guest)
	default:
		return filepath.Clean(f.Guest), ""
	}
}

// Options configure a Run.
type Options struct {
	Kernels  []Kernel
	CacheDir string
	SrcRoot  string // modlab's source tree (the examples' guest tests); may be ""
	// Self is the modlab binary the guest image gets as /init and tools
	// ("" is SelfBinary's choice: this program, or one built from SrcRoot).
	Self string
	// Accel is the accelerator: "auto" (KVM when it works here, else TCG;
	// also ""), "kvm" or "tcg" (see lab/accel).
	Accel string
	// Notice receives what a run says once, not per kernel (why KVM was not
	// used).
	Notice   func(msg string)
	Busybox  string // default /bin/busybox
	QEMU     string
	MemoryMB int
	Append   string // more kernel arguments
	Build    BuildOptions
	// CoverageDir, when set, asks for the units' line coverage, written
	// under CoverageDir/<release>/<unit>: on the kernels built with
	// CONFIG_GCOV_KERNEL the units are built with gcov profiling and the
	// guest sends their counters (see lab/coverage). Other kernels run as
	// usual, without coverage.
	CoverageDir string
	// Parallel bounds how many kernels boot at once (default: one more
	// than CPUs, see defaultParallel).
	Parallel int
	// HostVMs bounds how many VMs run at once on this host, counting every
	// modlab process that uses the same CacheDir (default: one more than
	// CPUs, as Parallel). A VM waits for a free slot before it boots (see
	// lab/vmslot).
	HostVMs int
	// ColdBoot boots every kernel, rather than restoring a guest saved at
	// /init's ready (lab/restore.go).
	ColdBoot bool
	// SnapshotDir is where the saved guests are kept (default
	// CacheDir/snapshots).
	SnapshotDir string
	// Progress receives a short status per kernel as things happen.
	Progress func(kernel, status string)
	// Interactive shell plumbing (Shell units).
	Stdin  *os.File
	Stdout *os.File
	// BootTimeout bounds the boot to "ready" (default 120s).
	BootTimeout time.Duration
	// Trace, if set, receives every guest event as it arrives, with the
	// guest's clock (MODLAB_TRACE=1 in the CLI).
	Trace func(kernel string, e proto.Event)
}

func (o *Options) progress(k, format string, a ...any) {
	if o.Progress != nil {
		o.Progress(k, fmt.Sprintf(format, a...))
	}
}
