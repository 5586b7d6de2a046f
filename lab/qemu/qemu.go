// Package qemu starts and talks to the lab's virtual machines: the QEMU
// command line, the control port the guest's /init speaks on, the console
// log, and QMP, through which a guest is saved at "ready" and later
// started again from the file (state.go).
package qemu

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode"

	"github.com/modlab/modlab/lab/proto"
)

// KernelArgs starts every guest kernel's command line (VMConfig.Append
// follows it). loglevel=5 lets warnings reach the console log while
// keeping the boot chatter out.
//
// tsc=reliable turns off the kernel's check of the TSC against a second
// clock. QEMU's TSC follows the host's clock, also under TCG; the second
// clock (the HPET, or jiffies where there is no ACPI) is what goes wrong
// when the host has more busy VMs than CPUs and a guest's timer
// interrupts come late. Seen on both kinds of kernel: "Marking clocksource
// 'tsc' as unstable because the skew is too large", after which a Debian
// kernel reads the time from the emulated HPET, a slow device access on
// every read, and the debug kernel (then booted with acpi=off, no HPET)
// from jiffies: in one make test, a run that takes 21 s alone had its
// log's clock jump from 212 s to 3153 s, and it was the last VM of
// `go test ./lab` for over a minute.
const KernelArgs = "console=ttyS0 loglevel=5 panic=-1 rdinit=/init tsc=reliable"

// VMConfig describes one boot.
type VMConfig struct {
	QEMU string // the qemu-system-x86_64 binary ("" finds it in PATH)
	// Image is the kernel file QEMU boots (an ELF vmlinux with a PVH entry,
	// or a bzImage).
	Image string
	// Accel is the accelerator's arguments (accel.Choice.QEMUArgs);
	// nil means software emulation, "-accel tcg -cpu max".
	Accel     []string
	Initramfs string
	Disk      string // the work disk image
	MemoryMB  int    // guest memory (default 512)
	Append    string // more kernel arguments
	// ConsoleLog receives the serial console (the kernel's messages).
	ConsoleLog string
	// Interactive puts the console on Stdin/Stdout instead (for --shell);
	// ConsoleLog is then not written.
	Interactive bool
	Stdin       io.Reader
	Stdout      io.Writer
	// TmpDir holds the control and QMP sockets.
	TmpDir string
	// Restore, when set, is a guest saved at "ready" (VM.Save) to start
	// from instead of booting: the VM's first event is then not hello but
	// whatever the guest says after "go". The console log is appended to.
	Restore string
}

// VM is a running guest.
type VM struct {
	Config  VMConfig
	Args    []string // the QEMU command line, for reproduction
	Started time.Time
	events  chan proto.Event
	cmd     *exec.Cmd
	ctl     net.Conn
	exited  chan struct{}
	exitErr error
	mu      sync.Mutex
	bad     []string // control lines that were not events
	mon     *monitor // QMP, for Save; nil for an interactive console
}

// QEMUArgs builds the QEMU command line for cfg with the control socket at
// sock.
func QEMUArgs(cfg VMConfig, sock string) []string {
	mem := cfg.MemoryMB
	if mem == 0 {
		mem = 512
	}
	accel := cfg.Accel
	if accel == nil {
		accel = []string{"-accel", "tcg", "-cpu", "max"}
	}
	cmdline := KernelArgs
	if cfg.Append != "" {
		cmdline += " " + cfg.Append
	}
	args := []string{"-machine", "q35"}
	args = append(args, accel...)
	args = append(args, "-m", strconv.Itoa(mem), "-smp", "1",
		"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
		"-kernel", cfg.Image, "-initrd", cfg.Initramfs,
		"-append", cmdline,
	)
	switch {
	case cfg.Interactive:
		args = append(args, "-chardev", "stdio,id=con,signal=off")
	case cfg.Restore != "":
		// The console log starts with the saved guest's boot (see lab).
		args = append(args, "-chardev", "file,id=con,append=on,path="+cfg.ConsoleLog)
	default:
		args = append(args, "-chardev", "file,id=con,path="+cfg.ConsoleLog)
	}
	args = append(args,
		"-serial", "chardev:con",
		"-chardev", "socket,id=ctl,path="+sock,
		"-serial", "chardev:ctl",
		"-drive", "file="+cfg.Disk+",format=raw,if=virtio,cache=unsafe",
	)
	if !cfg.Interactive {
		args = append(args, "-qmp", "unix:"+filepath.Join(cfg.TmpDir, qmpSocket)+",server=on,wait=off")
	}
	if cfg.Restore != "" {
		args = append(args, "-incoming", "file:"+cfg.Restore)
	}
	return args
}

// Boot starts QEMU. The guest's events arrive on Events; the channel is
// closed when the control connection ends (the guest powered off or died).
func Boot(ctx context.Context, cfg VMConfig) (*VM, error) {
	qemu := qemuBinary(cfg)
	if _, err := exec.LookPath(qemu); err != nil {
		return nil, fmt.Errorf("QEMU not found (run 'modlab setup'): %w", err)
	}
	sock := filepath.Join(cfg.TmpDir, "ctl.sock")
	os.Remove(sock)
	os.Remove(filepath.Join(cfg.TmpDir, qmpSocket))
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	defer ln.Close()
	vm := &VM{Config: cfg, Args: append([]string{qemu}, QEMUArgs(cfg, sock)...),
		events: make(chan proto.Event, 64), exited: make(chan struct{})}
	vm.cmd = exec.CommandContext(ctx, qemu, vm.Args[1:]...)
	// A VM must not outlive modlab (killed, or a test binary timing out).
	vm.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stderr strings.Builder
	vm.cmd.Stderr = &stderr
	if cfg.Interactive {
		vm.cmd.Stdin, vm.cmd.Stdout = cfg.Stdin, cfg.Stdout
	}
	vm.Started = time.Now()
	if err := vm.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start QEMU: %w", err)
	}
	go func() {
		vm.exitErr = vm.cmd.Wait()
		if vm.exitErr != nil && stderr.Len() > 0 {
			vm.exitErr = fmt.Errorf("%w: %s", vm.exitErr, strings.TrimSpace(stderr.String()))
		}
		close(vm.exited)
	}()
	type accepted struct {
		c   net.Conn
		err error
	}
	ch := make(chan accepted, 1)
	go func() {
		c, err := ln.Accept()
		ch <- accepted{c, err}
	}()
	select {
	case a := <-ch:
		if a.err != nil {
			vm.Kill()
			return nil, fmt.Errorf("control socket: %w", a.err)
		}
		vm.ctl = a.c
	case <-vm.exited:
		return nil, fmt.Errorf("QEMU exited at start: %v", vm.exitErr)
	case <-time.After(30 * time.Second):
		vm.Kill()
		return nil, errors.New("QEMU did not connect its control port within 30s")
	}
	if !cfg.Interactive {
		// QEMU listens on its QMP socket before it connects the control
		// port: this does not wait.
		if vm.mon, err = dialMonitor(filepath.Join(cfg.TmpDir, qmpSocket), 10*time.Second); err != nil {
			vm.Kill()
			return nil, err
		}
	}
	if cfg.Restore != "" {
		if err := vm.resume(60 * time.Second); err != nil {
			vm.Kill()
			return nil, err
		}
	}
	go vm.readEvents()
	return vm, nil
}

func (vm *VM) readEvents() {
	defer close(vm.events)
	if vm.mon != nil {
		defer vm.mon.close() // the control port ends with QEMU
	}
	sc := bufio.NewScanner(vm.ctl)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for sc.Scan() {
		line := trimNoise(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		e, err := proto.ParseEvent(line)
		if err != nil {
			vm.mu.Lock()
			vm.bad = append(vm.bad, err.Error())
			vm.mu.Unlock()
			continue
		}
		vm.events <- e
	}
}

// trimNoise drops what is not text at the start and end of a control
// line: white space, and bytes no event contains. The serial line can
// carry noise before the guest's first byte: booted with acpi=off, the
// debug kernel's probe of the legacy UARTs left a 0xff ahead of the
// guest's first event, which was then lost.
func trimNoise(line []byte) []byte {
	noise := func(r rune) bool { return r <= ' ' || r >= 0x7f }
	return bytes.TrimRightFunc(bytes.TrimLeftFunc(line, noise), unicode.IsSpace)
}

// Events delivers the guest's events.
func (vm *VM) Events() <-chan proto.Event { return vm.events }

// Go tells the guest the work disk is ready.
func (vm *VM) Go() error {
	_, err := io.WriteString(vm.ctl, proto.Go+"\n")
	return err
}

// Wait waits up to d for QEMU to exit, and kills it after that.
func (vm *VM) Wait(d time.Duration) error {
	select {
	case <-vm.exited:
		return vm.exitErr
	case <-time.After(d):
		vm.Kill()
		<-vm.exited
		return fmt.Errorf("QEMU did not exit within %v after the guest finished; killed", d)
	}
}

// ExitReason waits up to 2 s for QEMU to exit and says how it ended:
// "exit status 0" for a guest that powered off or panicked (with
// -no-reboot both look alike), QEMU's own error message otherwise.
func (vm *VM) ExitReason() string {
	select {
	case <-vm.exited:
		if vm.exitErr == nil {
			return "QEMU exited with status 0"
		}
		return "QEMU: " + vm.exitErr.Error()
	case <-time.After(2 * time.Second):
		return "QEMU still running"
	}
}

// Exited is closed when QEMU has exited.
func (vm *VM) Exited() <-chan struct{} { return vm.exited }

// Kill stops QEMU at once.
func (vm *VM) Kill() {
	if vm.cmd.Process != nil {
		vm.cmd.Process.Kill()
	}
	if vm.ctl != nil {
		vm.ctl.Close()
	}
	if vm.mon != nil {
		vm.mon.close()
	}
}

// Renice lowers the CPU priority of QEMU's threads (the vCPU's among
// them) to nice n. Linux keeps a priority per thread, so each thread in
// /proc/PID/task is set; a thread QEMU starts later inherits the
// priority of the one that starts it. Lowering needs no privilege.
func (vm *VM) Renice(n int) error {
	pid := vm.cmd.Process.Pid
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return fmt.Errorf("renice QEMU: %w", err)
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		// A thread that ended meanwhile is no error.
		if err := syscall.Setpriority(syscall.PRIO_PROCESS, tid, n); err != nil && err != syscall.ESRCH {
			return fmt.Errorf("renice QEMU thread %d: %w", tid, err)
		}
	}
	return nil
}

// BadLines are control-port lines that were not events.
func (vm *VM) BadLines() []string {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	return append([]string(nil), vm.bad...)
}

// CommandLine renders the QEMU command line for a person to rerun.
func (vm *VM) CommandLine() string {
	var b strings.Builder
	for i, a := range vm.Args {
		if i > 0 {
			b.WriteByte(' ')
		}
		if strings.ContainsAny(a, " \t'\"$") {
			b.WriteString("'" + strings.ReplaceAll(a, "'", `'\''`) + "'")
		} else {
			b.WriteString(a)
		}
	}
	return b.String()
}

// ConsoleTail returns the last lines of the console log that explain a
// crash: from the first bug line on, or the last n lines.
func ConsoleTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	for i, l := range lines {
		if strings.Contains(l, "Kernel panic") || strings.Contains(l, "BUG:") ||
			strings.Contains(l, "Oops") || strings.Contains(l, "general protection fault") {
			if i+n < len(lines) {
				lines = lines[:i+n]
			}
			return strings.Join(lines[i:], "\n")
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
