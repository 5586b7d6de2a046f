// Package guest is the lab VM's /init. It mounts the kernel's filesystems,
// loads the drivers for the work disk, says "ready" on the control port
// (/dev/ttyS1), waits for the host's "go", reads the work (a cpio archive on
// /dev/vda), runs each unit (load modules, run a command, a Go test binary or
// a shell, unload), checks the kernel log and taint flags around every unit,
// reports JSON events on the control port and stops the VM.
//
// It is not a binary of its own: the modlab binary is copied into the image
// as /init and calls Main when it runs as PID 1 (see IsInit), so the guest
// runs the very tools the host has. It must never exit: an /init that exits
// panics the kernel. Failures are reported as a "fatal" event.
package guest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/u-root/u-root/pkg/cpio"
	"golang.org/x/sys/unix"

	"github.com/modlab/modlab/kmod/loader"
	"github.com/modlab/modlab/lab/proto"
)

const (
	// workChunk is how much of the work disk one direct read brings in.
	workChunk   = 1 << 20
	ctlPort     = "/dev/ttyS1"
	workDisk    = "/dev/vda"
	workRoot    = "/work"
	bootModules = "/etc/modlab/boot-modules"
)

type guest struct {
	ctl    *os.File
	kernel string
	ld     loader.Loader
	leaks  *kmemleak // nil when the kernel has no kmemleak
	// leakUnits are the units whose modules ran, for the leak check
	// after the last unit.
	leakUnits []unitCode
}

// IsInit reports whether the process was started as the guest's /init (PID
// 1) or as one of /init's own children ("--modlab-..." arguments), rather
// than as a command.
func IsInit(args []string) bool {
	return os.Getpid() == 1 || (len(args) > 1 && strings.HasPrefix(args[1], childFlagPrefix))
}

// childFlagPrefix starts the arguments /init re-executes itself with.
const childFlagPrefix = "--modlab-"

// Main runs /init (or one of its children) and never returns.
func Main() {
	if len(os.Args) > 1 && strings.HasPrefix(os.Args[1], childFlagPrefix) {
		os.Exit(childMain(os.Args[1:]))
	}
	if os.Getenv("modlab_bare") == "1" {
		// A bare boot, the benchmark's baseline: stop at once.
		stopVM()
	}
	g := &guest{}
	defer func() {
		if r := recover(); r != nil {
			g.fatal(fmt.Errorf("panic: %v\n%s", r, debug.Stack()))
		}
	}()
	if err := g.main(); err != nil {
		g.fatal(err)
	}
	g.stop()
}

func (g *guest) main() error {
	if err := mountAll(); err != nil {
		return err
	}
	os.Setenv("PATH", proto.GuestPath)
	os.Setenv("HOME", "/root")
	var err error
	if g.ctl, err = openControl(ctlPort); err != nil {
		return err
	}
	var u unix.Utsname
	unix.Uname(&u)
	g.kernel = unix.ByteSliceToString(u.Release[:])
	g.send(proto.Event{Ev: proto.EvHello, Kernel: g.kernel})

	if err := g.loadBootModules(); err != nil {
		return err
	}
	if err := waitFor(workDisk, 10*time.Second); err != nil {
		return err
	}
	g.send(g.ready())
	if err := g.waitGo(); err != nil {
		return err
	}
	plan, err := readWork(workDisk, workRoot)
	if err != nil {
		return err
	}
	from, err := startAt(plan.From, len(plan.Units))
	if err != nil {
		return err
	}
	if err := takeHostState(plan); err != nil {
		return err
	}
	lockdep := lockdepOn()
	for i := from; i < len(plan.Units); i++ {
		g.runUnit(plan.Units[i])
		if i+1 == len(plan.Units) {
			break
		}
		if why := lostChecks(lockdep, lockdepOn(), plan.Units[i].Name); why != "" {
			g.send(proto.Event{Ev: proto.EvFresh, From: i + 1, Msg: why})
			break
		}
	}
	if err := g.sendLeaks(); err != nil {
		return err
	}
	g.send(proto.Event{Ev: proto.EvDone})
	return nil
}

func mountAll() error {
	mounts := []struct{ src, dst, fstype string }{
		{"proc", "/proc", "proc"},
		{"sysfs", "/sys", "sysfs"},
		{"devtmpfs", "/dev", "devtmpfs"},
		{"tmpfs", "/tmp", "tmpfs"},
		{"tmpfs", "/run", "tmpfs"},
		{"tmpfs", workRoot, "tmpfs"},
		{"devpts", "/dev/pts", "devpts"},
	}
	for _, m := range mounts {
		if err := os.MkdirAll(m.dst, 0o755); err != nil {
			return fmt.Errorf("mkdir %s: %w", m.dst, err)
		}
		if err := unix.Mount(m.src, m.dst, m.fstype, 0, ""); err != nil && err != unix.EBUSY {
			return fmt.Errorf("mount %s on %s: %w", m.fstype, m.dst, err)
		}
	}
	// An empty /mnt, as on any Linux system, for commands that mount there.
	if err := os.MkdirAll("/mnt", 0o755); err != nil {
		return fmt.Errorf("mkdir /mnt: %w", err)
	}
	// debugfs and tracefs are useful to examples; absence is not an error.
	unix.Mount("debugfs", "/sys/kernel/debug", "debugfs", 0, "")
	return nil
}

// openControl opens the control serial port in raw mode, so that neither
// side's bytes are rewritten (no CR/LF mapping, no echo).
func openControl(path string) (*os.File, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open control port %s: %w", path, err)
	}
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, fmt.Errorf("control port %s: %w", path, err)
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR |
		unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB | unix.CBAUD
	t.Cflag |= unix.CS8 | unix.B115200
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, t); err != nil {
		return nil, fmt.Errorf("control port %s raw mode: %w", path, err)
	}
	return os.NewFile(uintptr(fd), path), nil
}

func uptime() float64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts)
	return float64(ts.Sec) + float64(ts.Nsec)/1e9
}

func (g *guest) send(e proto.Event) {
	e.Time = uptime()
	if g.ctl == nil {
		fmt.Fprintf(os.Stderr, "modlab-init: %s\n", e.Marshal())
		return
	}
	g.ctl.Write(e.Marshal())
}

func (g *guest) fatal(err error) {
	fmt.Fprintf(os.Stderr, "modlab-init: fatal: %v\n", err)
	g.send(proto.Event{Ev: proto.EvFatal, Msg: err.Error()})
	g.stop()
}

func (g *guest) stop() {
	if g.ctl != nil {
		// Wait until the events have left the UART: the VM stops at once.
		unix.IoctlSetInt(int(g.ctl.Fd()), unix.TCSBRK, 1)
	}
	unix.Sync()
	stopVM()
}

// stopVM ends the VM with a reset, never returns. QEMU runs with
// -no-reboot, so a reset ends it as a power-off would, and a reset works
// on every kernel: powering off needs ACPI, and a kernel booted with
// acpi=off (a user's --append may say so) turns a power-off into a halt,
// and QEMU would wait for ever.
func stopVM() {
	unix.Reboot(unix.LINUX_REBOOT_CMD_RESTART)
	for {
		time.Sleep(time.Hour)
	}
}

// loadBootModules loads the drivers the work disk needs, as listed by the
// host when it made the initramfs (empty where they are built in).
func (g *guest) loadBootModules() error {
	b, err := os.ReadFile(bootModules)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, p := range strings.Fields(string(b)) {
		if err := g.ld.LoadFile(p, ""); err != nil && !isErrno(err, unix.EEXIST) {
			return fmt.Errorf("boot module: %w", err)
		}
	}
	return nil
}

func waitFor(path string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not appear within %v", path, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (g *guest) waitGo() error {
	r := bufio.NewReader(g.ctl)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return fmt.Errorf("control port: %w", err)
		}
		if strings.TrimSpace(line) == proto.Go {
			return nil
		}
	}
}

// readWork reads the archive from the work disk and unpacks it into root.
func readWork(disk, root string) (*proto.Plan, error) {
	d, err := openDirect(disk, workChunk)
	if err != nil {
		return nil, fmt.Errorf("work disk: %w", err)
	}
	defer d.Close()
	// The guest may have read the disk's first blocks when the driver
	// probed it, before the host wrote the work: drop that cache (direct
	// reads pass it by; reads where O_DIRECT was refused do not).
	unix.IoctlSetInt(d.fd, unix.BLKFLSBUF, 0)
	hdr := make([]byte, proto.HeaderSize)
	if _, err := d.ReadAt(hdr, 0); err != nil {
		return nil, fmt.Errorf("work disk header: %w", err)
	}
	size, err := proto.ParseHeader(hdr)
	if err != nil {
		return nil, err
	}
	// Each file is copied from the disk to its place, not through one
	// buffer of the whole archive (tens of MB of test binaries, whose
	// pages cost much on the debug kernel).
	rr := cpio.Newc.Reader(io.NewSectionReader(d, proto.HeaderSize, size))
	if err := cpio.ForEachRecord(rr, func(rec cpio.Record) error {
		return cpio.CreateFileInRoot(rec, root, false)
	}); err != nil {
		return nil, fmt.Errorf("unpack work: %w", err)
	}
	pb, err := os.ReadFile(filepath.Join(root, "plan.json"))
	if err != nil {
		return nil, fmt.Errorf("work has no plan: %w", err)
	}
	var p proto.Plan
	if err := json.Unmarshal(pb, &p); err != nil {
		return nil, fmt.Errorf("plan.json: %w", err)
	}
	return &p, nil
}

// takeHostState sets the guest's clock to the host's and adds the plan's
// seed to the kernel's entropy pool. A guest restored from a state saved
// at ready (lab/restore.go) would otherwise keep the clock of the boot
// that was saved, and share its random state with every other guest
// restored from it.
func takeHostState(p *proto.Plan) error {
	if p.Time != 0 {
		ts := unix.NsecToTimespec(p.Time)
		if err := unix.ClockSettime(unix.CLOCK_REALTIME, &ts); err != nil {
			return fmt.Errorf("set the clock: %w", err)
		}
	}
	if len(p.Seed) > 0 {
		if err := reseed(p.Seed); err != nil {
			return fmt.Errorf("add the host's seed: %w", err)
		}
	}
	return nil
}

// reseed mixes seed into the kernel's input pool (not credited: the
// pool's estimate stays the kernel's) and makes the kernel's random
// number generator draw from the pool now rather than at its next
// scheduled reseed.
func reseed(seed []byte) error {
	fd, err := unix.Open("/dev/urandom", unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if _, err := unix.Write(fd, seed); err != nil {
		return err
	}
	// ENODATA: the generator is not seeded yet, and will draw from the
	// pool when it is.
	if err := unix.IoctlSetInt(fd, unix.RNDRESEEDCRNG, 0); err != nil && err != unix.ENODATA {
		return fmt.Errorf("RNDRESEEDCRNG: %w", err)
	}
	return nil
}

func isErrno(err error, errno unix.Errno) bool {
	var le *loader.Error
	if e, ok := err.(*loader.Error); ok {
		le = e
	}
	return le != nil && le.Errno == errno
}
