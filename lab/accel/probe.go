package accel

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The test guest. QEMU's x86 machines boot an ELF -kernel that carries a
// Xen PVH note (XEN_ELFNOTE_PHYS32_ENTRY) by loading its PT_LOAD segments
// at their physical addresses and jumping to the note's address in 32-bit
// protected mode (hw/i386/x86-common.c, load_elfboot). The code computes
// 0x15+0x15 and writes it to isa-debug-exit, which makes QEMU exit with
// status (0x2a<<1)|1: the guest ran instructions, or the status is wrong.
const (
	probeLoadAddr = 0x100000 // 1 MiB, above the BIOS
	xenPVHNote    = 18       // XEN_ELFNOTE_PHYS32_ENTRY
	debugExitPort = 0xf4
	probeValue    = 0x2a
	// probeExitStatus is QEMU's exit status when the test guest ran.
	probeExitStatus = probeValue<<1 | 1
	// probeImageSize pads the file so that QEMU, which reads the first
	// 8 KiB of a -kernel for Linux and multiboot headers, finds zeros.
	probeImageSize = 8192
)

// probeCode is the guest, in 32-bit x86.
var probeCode = []byte{
	0xfa,                         // cli
	0xb8, 0x15, 0x00, 0x00, 0x00, // mov eax, 0x15
	0x01, 0xc0, //                   add eax, eax
	0xe7, debugExitPort, //          out 0xf4, eax
	0xf4,       //                   hlt
	0xeb, 0xfd, //                   jmp back to hlt
}

// probeImage returns the test guest as a 32-bit ELF executable.
func probeImage() []byte {
	const (
		ehdrSize = 52
		phdrSize = 32
		noteOff  = ehdrSize + 2*phdrSize
		noteSize = 12 + 4 + 4 // header, "Xen\0", the entry address
		codeOff  = noteOff + noteSize
	)
	end := uint32(codeOff + len(probeCode))
	entry := uint32(probeLoadAddr + codeOff)
	var ident [elf.EI_NIDENT]byte
	copy(ident[:], elf.ELFMAG)
	ident[elf.EI_CLASS] = byte(elf.ELFCLASS32)
	ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	hdr := elf.Header32{
		Ident:     ident,
		Type:      uint16(elf.ET_EXEC),
		Machine:   uint16(elf.EM_386),
		Version:   uint32(elf.EV_CURRENT),
		Entry:     entry,
		Phoff:     ehdrSize,
		Ehsize:    ehdrSize,
		Phentsize: phdrSize,
		Phnum:     2,
	}
	load := elf.Prog32{
		Type: uint32(elf.PT_LOAD), Off: 0,
		Vaddr: probeLoadAddr, Paddr: probeLoadAddr,
		Filesz: end, Memsz: end,
		Flags: uint32(elf.PF_R | elf.PF_X), Align: 0x1000,
	}
	note := elf.Prog32{
		Type: uint32(elf.PT_NOTE), Off: noteOff,
		Vaddr: probeLoadAddr + noteOff, Paddr: probeLoadAddr + noteOff,
		Filesz: noteSize, Memsz: noteSize,
		Flags: uint32(elf.PF_R), Align: 4,
	}
	var b bytes.Buffer
	le := binary.LittleEndian
	binary.Write(&b, le, hdr)
	binary.Write(&b, le, load)
	binary.Write(&b, le, note)
	binary.Write(&b, le, [3]uint32{4, 4, xenPVHNote}) // namesz, descsz, type
	b.WriteString("Xen\x00")
	binary.Write(&b, le, entry)
	b.Write(probeCode)
	b.Write(make([]byte, probeImageSize-b.Len()))
	return b.Bytes()
}

// probeArgs is QEMU's command line for the test guest under the
// accelerator options accel.
func probeArgs(image string, accel []string) []string {
	args := []string{"-machine", "q35", "-m", "32", "-nodefaults", "-no-user-config",
		"-display", "none", "-no-reboot"}
	args = append(args, accel...)
	return append(args, "-kernel", image,
		"-device", fmt.Sprintf("isa-debug-exit,iobase=%#x,iosize=0x04", debugExitPort))
}

// errProbeTimeout marks a test guest that did not finish in time.
var errProbeTimeout = errors.New("the test guest did not finish in time")

// runProbe boots the test guest image with the accelerator options accel
// and returns nil when QEMU exits with probeExitStatus. Otherwise the error
// says what QEMU did (errProbeTimeout when it had to be killed), unless ctx
// itself ended: then it is ctx's error.
func runProbe(ctx context.Context, qemu string, image []byte, accel []string, timeout time.Duration, onStart func([]string)) error {
	dir, err := os.MkdirTemp("", "modlab-kvm-probe-")
	if err != nil {
		return fmt.Errorf("probe directory: %w", err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "probe.elf")
	if err := os.WriteFile(path, image, 0o644); err != nil {
		return fmt.Errorf("probe image: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	args := probeArgs(path, accel)
	if onStart != nil {
		onStart(append([]string{qemu}, args...))
	}
	cmd := exec.CommandContext(pctx, qemu, args...)
	cmd.Dir = dir // where a core dump would land
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = time.Second
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	ran := errors.As(err, &exit) && exit.ExitCode() == probeExitStatus
	switch {
	case ran:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case pctx.Err() != nil:
		return errProbeTimeout
	case err == nil:
		return fmt.Errorf("QEMU exited with status 0 before the test guest ran%s", said(stderr.String()))
	case exit != nil:
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return fmt.Errorf("QEMU died of %s%s", unix.SignalName(ws.Signal()), said(stderr.String()))
		}
		return fmt.Errorf("QEMU exited with status %d%s", exit.ExitCode(), said(stderr.String()))
	default:
		return fmt.Errorf("start QEMU: %w", err)
	}
}

// probeKVM boots the test guest under KVM with the CPU model the lab will
// use, and turns the outcome into a verdict. Only ctx's end is an error.
func probeKVM(ctx context.Context, qemu string, o Options) (verdict, error) {
	err := runProbe(ctx, qemu, probeImage(), kvmChoice.QEMUArgs(), o.ProbeTimeout, o.OnProbe)
	if err == nil {
		return verdict{Usable: true}, nil
	}
	if ctx.Err() != nil {
		return verdict{}, fmt.Errorf("probe KVM: %w", err)
	}
	what := "a test guest under " + strings.Join(kvmChoice.QEMUArgs(), " ")
	var reason string
	if errors.Is(err, errProbeTimeout) {
		reason = fmt.Sprintf("%s did not finish within %s", what, o.ProbeTimeout)
	} else {
		reason = fmt.Sprintf("%s failed: %v", what, err)
	}
	if fact := cpuFact(o.CPUInfo); fact != "" {
		reason += " (" + fact + ")"
	}
	return verdict{Reason: reason}, nil
}

// said is the most telling line of QEMU's output as ": line", or "": the
// first error, else the first line. QEMU's own name is cut off the front.
func said(out string) string {
	var first, errLine string
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if i := strings.Index(l, ": "); i > 0 && strings.HasPrefix(filepath.Base(l[:i]), "qemu") {
			l = l[i+2:]
		}
		if first == "" {
			first = l
		}
		if errLine == "" && strings.Contains(strings.ToLower(l), "error") {
			errLine = l
		}
	}
	if errLine != "" {
		first = errLine
	}
	if first == "" {
		return ""
	}
	const max = 200
	if len(first) > max {
		first = first[:max] + "..."
	}
	return ": " + first
}
