package accel

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The test guest is what QEMU's PVH loader wants: a 32-bit little-endian
// x86 ELF whose PT_NOTE holds a Xen PHYS32_ENTRY note pointing into a
// PT_LOAD segment, with no Linux or multiboot header in its first 8 KiB.
func TestProbeImageIsPVH(t *testing.T) {
	t.Parallel()
	img := probeImage()
	f, err := elf.NewFile(bytes.NewReader(img))
	if err != nil {
		t.Fatalf("the probe image is not an ELF file: %v", err)
	}
	if f.Class != elf.ELFCLASS32 || f.Data != elf.ELFDATA2LSB || f.Machine != elf.EM_386 || f.Type != elf.ET_EXEC {
		t.Errorf("ELF header: %v %v %v %v, want 32-bit LSB i386 executable", f.Class, f.Data, f.Machine, f.Type)
	}
	var entry uint64
	var load *elf.Prog
	for _, p := range f.Progs {
		switch p.Type {
		case elf.PT_LOAD:
			load = p
		case elf.PT_NOTE:
			if p.Align != 4 {
				t.Errorf("PT_NOTE alignment %d, want 4 (QEMU pads note names to it)", p.Align)
			}
			note := make([]byte, p.Filesz)
			if _, err := p.ReadAt(note, 0); err != nil {
				t.Fatal(err)
			}
			le := binary.LittleEndian
			if len(note) < 20 || le.Uint32(note[0:]) != 4 || le.Uint32(note[4:]) != 4 ||
				le.Uint32(note[8:]) != xenPVHNote || string(note[12:16]) != "Xen\x00" {
				t.Fatalf("PT_NOTE = % x, want a Xen note of type %d", note, xenPVHNote)
			}
			entry = uint64(le.Uint32(note[16:]))
		}
	}
	if load == nil || entry == 0 {
		t.Fatalf("the probe image needs a PT_LOAD segment and a PVH entry (entry %#x)", entry)
	}
	if load.Paddr != probeLoadAddr || entry < load.Paddr || entry >= load.Paddr+load.Filesz {
		t.Errorf("PVH entry %#x is not inside the segment loaded at %#x+%#x", entry, load.Paddr, load.Filesz)
	}
	code := img[load.Off+entry-load.Paddr:][:len(probeCode)]
	if !bytes.Equal(code, probeCode) {
		t.Errorf("code at the PVH entry = % x, want % x", code, probeCode)
	}
	if len(img) < 8192 || bytes.Contains(img, []byte("HdrS")) {
		t.Errorf("the image must be 8 KiB with no Linux boot header, got %d bytes", len(img))
	}
}

func needQEMU(t *testing.T) string {
	t.Helper()
	qemu, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		t.Skip("qemu-system-x86_64 is not installed (run 'modlab setup')")
	}
	return qemu
}

// Under TCG, which works everywhere, the test guest runs and makes QEMU
// exit with its status: so a KVM probe that fails is KVM's fault.
func TestProbeRunsUnderTCG(t *testing.T) {
	t.Parallel()
	qemu := needQEMU(t)
	start := time.Now()
	if err := runProbe(context.Background(), qemu, probeImage(), tcgChoice.QEMUArgs(), 10*time.Second, nil); err != nil {
		t.Fatalf("the test guest under TCG: %v", err)
	}
	t.Logf("the test guest ran under TCG in %s", time.Since(start).Round(time.Millisecond))

	// The status is the guest's own doing: a guest that computes another
	// value is not taken for one that ran.
	img := probeImage()
	i := bytes.Index(img, probeCode)
	img[i+2] = 0x16 // mov eax, 0x16: writes 0x2c, QEMU exits with 89
	err := runProbe(context.Background(), qemu, img, tcgChoice.QEMUArgs(), 10*time.Second, nil)
	if err == nil || !strings.Contains(err.Error(), "status 89") {
		t.Errorf("a guest writing 0x2c: %v, want QEMU's exit status 89", err)
	}
}

// On this host, whatever its KVM, auto mode settles within the probe's
// timeout, picks TCG with a reason when KVM does not work (always when the
// CPU has no vmx/svm), keeps to its verdict for the rest of the boot, and
// kvm mode then fails at once.
func TestChooseOnThisHost(t *testing.T) {
	t.Parallel()
	needQEMU(t)
	var probes atomic.Int32
	opts := Options{CacheDir: t.TempDir(), OnProbe: func([]string) { probes.Add(1) }}
	start := time.Now()
	c, err := Choose(context.Background(), opts)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("Choose(auto): %v", err)
	}
	t.Logf("auto: %s after %s (%d probe): %s", c.Accel, took.Round(time.Millisecond), probes.Load(), c.Why)
	if took > DefaultProbeTimeout+time.Second {
		t.Errorf("Choose(auto) took %s, more than the probe's timeout %s + 1s", took, DefaultProbeTimeout)
	}
	switch c.Accel {
	case KVM:
		if c.CPU != "host" || c.Why != "" {
			t.Errorf("Choose(auto) = %+v, want -cpu host and no reason", c)
		}
	case TCG:
		if c.CPU != "max" || !strings.HasPrefix(c.Why, "KVM is not usable: ") || strings.Contains(c.Why, "\n") {
			t.Errorf("Choose(auto) = %+v, want -cpu max and one line saying why KVM is not usable", c)
		}
	default:
		t.Fatalf("Choose(auto) = %+v, want kvm or tcg", c)
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if has, known := virtFlags(string(b)); known && !has {
			if c.Accel != TCG {
				t.Errorf("this CPU has no vmx/svm flag, yet Choose picked %s", c.Accel)
			}
			if probes.Load() > 0 && !strings.Contains(c.Why, "vmx/svm") {
				t.Errorf("Why = %q, want it to name the missing vmx/svm flag", c.Why)
			}
		}
	}

	n := probes.Load()
	again, err := Choose(context.Background(), opts)
	if err != nil || again.Accel != c.Accel || again.Why != c.Why {
		t.Errorf("second Choose = %+v, %v, want the first one's verdict %+v", again, err, c)
	}
	if probes.Load() != n {
		t.Errorf("the second Choose in this boot ran QEMU again")
	}
	if n > 0 && !again.Cached {
		t.Errorf("the second Choose = %+v, want it marked as cached", again)
	}

	if c.Accel == TCG {
		for _, cacheDir := range []string{opts.CacheDir, t.TempDir()} { // cached, then fresh
			kvm := opts
			kvm.Mode, kvm.CacheDir = KVM, cacheDir
			start := time.Now()
			_, err := Choose(context.Background(), kvm)
			if took := time.Since(start); took > DefaultProbeTimeout+time.Second {
				t.Errorf("Choose(kvm) took %s, want at most the probe's timeout + 1s", took)
			}
			if err == nil || !strings.Contains(err.Error(), "kvm was asked for, but KVM is not usable: ") {
				t.Errorf("Choose(kvm) error = %v, want one saying KVM is not usable and why", err)
			}
		}
	}
}
