package accel

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseMode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{"", Auto, false},
		{"auto", Auto, false},
		{"kvm", KVM, false},
		{" TCG ", TCG, false},
		{"hvf", "", true},
		{"kvm,tcg", "", true},
	}
	for _, tt := range tests {
		got, err := ParseMode(tt.in)
		if tt.wantErr {
			if err == nil || !strings.Contains(err.Error(), "auto, kvm, tcg") || !strings.Contains(err.Error(), tt.in) {
				t.Errorf("ParseMode(%q) error = %v, want one naming it and listing auto, kvm, tcg", tt.in, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseMode(%q) = %q, %v, want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestDefaultMode(t *testing.T) {
	t.Parallel()
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == EnvVar {
				return v
			}
			return ""
		}
	}
	if got := DefaultMode(env("")); got != Auto {
		t.Errorf("DefaultMode without %s = %q, want auto", EnvVar, got)
	}
	if got := DefaultMode(env("tcg")); got != TCG {
		t.Errorf("DefaultMode with %s=tcg = %q, want tcg", EnvVar, got)
	}
}

func TestChoiceQEMUArgs(t *testing.T) {
	t.Parallel()
	if got, want := kvmChoice.QEMUArgs(), []string{"-accel", "kvm", "-cpu", "host"}; !slices.Equal(got, want) {
		t.Errorf("KVM args = %q, want %q", got, want)
	}
	if got, want := tcgChoice.QEMUArgs(), []string{"-accel", "tcg", "-cpu", "max"}; !slices.Equal(got, want) {
		t.Errorf("TCG args = %q, want %q", got, want)
	}
}

// fakeHost is a host whose KVM device passes the cheap checks and whose
// QEMU is a shell script.
type fakeHost struct {
	opts   Options
	probes atomic.Int32
}

const noVirtCPUInfo = "processor\t: 0\nflags\t\t: fpu vme sse2 lm hypervisor\n\n"

func newFakeHost(t *testing.T, qemuScript string) *fakeHost {
	t.Helper()
	dir := t.TempDir()
	qemu := filepath.Join(dir, "qemu-system-x86_64")
	writeFile(t, qemu, "#!/bin/sh\nulimit -c 0\n"+qemuScript+"\n", 0o755)
	h := &fakeHost{}
	h.opts = Options{
		QEMU:         qemu,
		CacheDir:     filepath.Join(dir, "cache"),
		BootID:       filepath.Join(dir, "boot_id"),
		CPUInfo:      filepath.Join(dir, "cpuinfo"),
		ProbeTimeout: 2 * time.Second,
		OnProbe:      func([]string) { h.probes.Add(1) },
		checkDevice:  func(string) error { return nil },
	}
	writeFile(t, h.opts.BootID, "6e1c7b9e-0d0e-4a57-9a55-6f1d2b3c4d5e\n", 0o644)
	writeFile(t, h.opts.CPUInfo, noVirtCPUInfo, 0o644)
	return h
}

func writeFile(t *testing.T, path, text string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
}

// The fake QEMUs, each one way a probe can end.
const (
	qemuRuns    = "exit 85"
	qemuAborts  = "echo 'qemu-system-x86_64: error: failed to set MSR 0x10a to 0xc000069' >&2\necho 'qemu-system-x86_64: kvm.c:3849: kvm_buf_set_msrs: Assertion failed.' >&2\nkill -ABRT $$"
	qemuHangs   = "exec sleep 30"
	qemuRefuses = "echo 'qemu-system-x86_64: -accel kvm: failed to initialize kvm: Permission denied' >&2\nexit 1"
	qemuWrong   = "exit 3"
	qemuQuiet   = "exit 0"
)

func TestChooseVerdicts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, script string
		timeout      time.Duration
		wantKVM      bool
		wantWhy      []string // in Why and in kvm mode's error
	}{
		{name: "guest ran", script: qemuRuns, wantKVM: true},
		{name: "QEMU aborts", script: qemuAborts,
			wantWhy: []string{"KVM is not usable: ", "-accel kvm -cpu host", "SIGABRT", "error: failed to set MSR 0x10a", "no vmx/svm flag"}},
		{name: "guest hangs", script: qemuHangs, timeout: 300 * time.Millisecond,
			wantWhy: []string{"did not finish within 300ms", "no vmx/svm flag"}},
		{name: "QEMU refuses", script: qemuRefuses,
			wantWhy: []string{"status 1", "failed to initialize kvm: Permission denied"}},
		{name: "wrong status", script: qemuWrong, wantWhy: []string{"status 3"}},
		{name: "QEMU exits 0", script: qemuQuiet, wantWhy: []string{"status 0 before the test guest ran"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newFakeHost(t, tt.script)
			if tt.timeout != 0 {
				h.opts.ProbeTimeout = tt.timeout
			}
			start := time.Now()
			c, err := Choose(context.Background(), h.opts)
			if err != nil {
				t.Fatalf("Choose(auto): %v", err)
			}
			if d := time.Since(start); d > h.opts.ProbeTimeout+time.Second {
				t.Errorf("Choose(auto) took %s, more than the probe's timeout %s + 1s", d, h.opts.ProbeTimeout)
			}
			if tt.wantKVM {
				if c != kvmChoice {
					t.Errorf("Choose(auto) = %+v, want %+v", c, kvmChoice)
				}
			} else {
				if c.Accel != TCG || c.CPU != "max" {
					t.Errorf("Choose(auto) = %+v, want tcg with -cpu max", c)
				}
				for _, w := range tt.wantWhy {
					if !strings.Contains(c.Why, w) {
						t.Errorf("Why = %q, want it to contain %q", c.Why, w)
					}
				}
				if strings.Contains(c.Why, "\n") {
					t.Errorf("Why = %q, want one line", c.Why)
				}
			}

			// The same in kvm mode, with a cache of its own so it probes.
			h.opts.Mode = KVM
			h.opts.CacheDir = t.TempDir()
			start = time.Now()
			c, err = Choose(context.Background(), h.opts)
			if d := time.Since(start); d > h.opts.ProbeTimeout+time.Second {
				t.Errorf("Choose(kvm) took %s, more than the probe's timeout %s + 1s", d, h.opts.ProbeTimeout)
			}
			if tt.wantKVM {
				if err != nil || c != kvmChoice {
					t.Errorf("Choose(kvm) = %+v, %v, want %+v", c, err, kvmChoice)
				}
				return
			}
			if !errors.Is(err, ErrKVMUnusable) {
				t.Fatalf("Choose(kvm) = %+v, %v, want an error wrapping ErrKVMUnusable", c, err)
			}
			for _, w := range append([]string{"kvm was asked for"}, tt.wantWhy...) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Choose(kvm) error = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestChooseCachesPerBoot(t *testing.T) {
	t.Parallel()
	h := newFakeHost(t, qemuRefuses)
	ctx := context.Background()
	step := func(what string, wantProbes int32, wantCached bool) Choice {
		t.Helper()
		c, err := Choose(ctx, h.opts)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if got := h.probes.Load(); got != wantProbes {
			t.Errorf("%s: QEMU ran %d probes in all, want %d", what, got, wantProbes)
		}
		if c.Cached != wantCached || c.Accel != TCG {
			t.Errorf("%s: %+v, want tcg with Cached=%v", what, c, wantCached)
		}
		return c
	}
	first := step("first run", 1, false)
	again := step("second run", 1, true)
	if again.Why != first.Why {
		t.Errorf("cached Why = %q, want the probe's %q", again.Why, first.Why)
	}
	writeFile(t, h.opts.BootID, "0b5e4f1a-9a0d-4c1e-8f55-2d7e3c9b1a00\n", 0o644)
	step("after a reboot", 2, false)
	step("again after the reboot", 2, true)
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(h.opts.QEMU, later, later); err != nil {
		t.Fatal(err)
	}
	step("after QEMU changed", 3, false)
	step("again after QEMU changed", 3, true)

	// A verdict that KVM works is cached too, and kvm mode trusts it.
	h = newFakeHost(t, qemuRuns)
	h.opts.Mode = KVM
	for i, wantCached := range []bool{false, true} {
		c, err := Choose(ctx, h.opts)
		if err != nil || c.Accel != KVM || c.Cached != wantCached {
			t.Errorf("kvm run %d: %+v, %v, want kvm with Cached=%v", i+1, c, err, wantCached)
		}
	}
	if got := h.probes.Load(); got != 1 {
		t.Errorf("QEMU ran %d probes for two runs in one boot, want 1", got)
	}
}

func TestChooseWithoutCacheProbesEachTime(t *testing.T) {
	t.Parallel()
	h := newFakeHost(t, qemuRefuses)
	h.opts.CacheDir = ""
	for range 2 {
		if _, err := Choose(context.Background(), h.opts); err != nil {
			t.Fatal(err)
		}
	}
	if got := h.probes.Load(); got != 2 {
		t.Errorf("QEMU ran %d probes for two runs without a cache, want 2", got)
	}
}

func TestChooseConcurrentRunsProbeOnce(t *testing.T) {
	t.Parallel()
	h := newFakeHost(t, "sleep 0.3\n"+qemuRefuses)
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			if c, err := Choose(context.Background(), h.opts); err != nil || c.Accel != TCG {
				t.Errorf("Choose = %+v, %v, want tcg", c, err)
			}
		})
	}
	wg.Wait()
	if got := h.probes.Load(); got != 1 {
		t.Errorf("three concurrent runs sharing a cache ran %d probes, want 1", got)
	}
}

func TestChooseTCGProbesNothing(t *testing.T) {
	t.Parallel()
	h := newFakeHost(t, qemuRuns)
	h.opts.Mode = TCG
	h.opts.QEMU = filepath.Join(t.TempDir(), "no-such-qemu")
	h.opts.checkDevice = func(string) error {
		t.Error("tcg mode checked the KVM device")
		return nil
	}
	c, err := Choose(context.Background(), h.opts)
	if err != nil || c.Accel != TCG || c.CPU != "max" || c.Why == "" {
		t.Errorf("Choose(tcg) = %+v, %v, want tcg, -cpu max and a reason", c, err)
	}
	if got := h.probes.Load(); got != 0 {
		t.Errorf("tcg mode ran %d probes, want none", got)
	}
}

func TestChooseUnknownMode(t *testing.T) {
	t.Parallel()
	h := newFakeHost(t, qemuRuns)
	h.opts.Mode = "xen"
	_, err := Choose(context.Background(), h.opts)
	if err == nil || !strings.Contains(err.Error(), `"xen"`) || !strings.Contains(err.Error(), "auto, kvm, tcg") {
		t.Errorf("Choose(xen) error = %v, want one naming xen and listing auto, kvm, tcg", err)
	}
	if got := h.probes.Load(); got != 0 {
		t.Errorf("an unknown mode ran %d probes, want none", got)
	}
}

func TestChooseKVMDeviceChecks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notADevice := filepath.Join(dir, "regular-file")
	writeFile(t, notADevice, "", 0o666)
	tests := []struct {
		name, device, want string
	}{
		{"missing", filepath.Join(dir, "kvm"), "no " + filepath.Join(dir, "kvm")},
		{"not KVM", notADevice, "does not answer KVM_GET_API_VERSION"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newFakeHost(t, qemuRuns)
			h.opts.checkDevice = nil // the real checks
			h.opts.KVMDevice = tt.device
			c, err := Choose(context.Background(), h.opts)
			if err != nil || c.Accel != TCG || !strings.Contains(c.Why, tt.want) {
				t.Errorf("Choose(auto) = %+v, %v, want tcg because of %q", c, err, tt.want)
			}
			h.opts.Mode = KVM
			_, err = Choose(context.Background(), h.opts)
			if !errors.Is(err, ErrKVMUnusable) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Choose(kvm) error = %v, want ErrKVMUnusable because of %q", err, tt.want)
			}
			if got := h.probes.Load(); got != 0 {
				t.Errorf("a device that failed the cheap checks still ran %d probes, want none", got)
			}
		})
	}
}

func TestChooseMissingQEMU(t *testing.T) {
	t.Parallel()
	h := newFakeHost(t, qemuRuns)
	h.opts.QEMU = filepath.Join(t.TempDir(), "no-such-qemu")
	if _, err := Choose(context.Background(), h.opts); err == nil || !strings.Contains(err.Error(), "QEMU not found") {
		t.Errorf("Choose with no QEMU: error = %v, want QEMU not found", err)
	}
}

func TestChooseCanceled(t *testing.T) {
	t.Parallel()
	h := newFakeHost(t, qemuHangs)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := Choose(ctx, h.opts)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Choose with a context that ended: error = %v, want the context's", err)
	}
	// A run that was interrupted decided nothing: the next one probes.
	h.opts.ProbeTimeout = 200 * time.Millisecond
	if c, err := Choose(context.Background(), h.opts); err != nil || c.Cached {
		t.Errorf("after an interrupted probe: %+v, %v, want a fresh verdict", c, err)
	}
}

func TestVirtFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cpuinfo    string
		has, known bool
	}{
		{"flags\t\t: fpu vme vmx sse2\n", true, true},
		{"flags\t\t: fpu svm\n", true, true},
		{noVirtCPUInfo, false, true},
		{"flags\t\t: fpu vmxx svmm\n", false, true},
		{"processor : 0\n", false, false},
		{"", false, false},
	}
	for _, tt := range tests {
		has, known := virtFlags(tt.cpuinfo)
		if has != tt.has || known != tt.known {
			t.Errorf("virtFlags(%q) = %v, %v, want %v, %v", tt.cpuinfo, has, known, tt.has, tt.known)
		}
	}
}

func TestSaid(t *testing.T) {
	t.Parallel()
	tests := []struct{ out, want string }{
		{"", ""},
		{"\n\n", ""},
		{"qemu-system-x86_64: error: failed to set MSR 0x10a to 0xc000069\nqemu-system-x86_64: kvm.c:3849: Assertion failed.\n",
			": error: failed to set MSR 0x10a to 0xc000069"},
		{"qemu-system-x86_64: warning: host doesn't support requested feature: CPUID.01H:ECX.pni [bit 0]\n/usr/bin/qemu-system-x86_64: Error: something broke\n",
			": Error: something broke"},
		{"qemu-system-x86_64: -accel kvm: Could not access KVM kernel module: No such file or directory\n",
			": -accel kvm: Could not access KVM kernel module: No such file or directory"},
		{"plain words\n", ": plain words"},
		{strings.Repeat("x", 300), ": " + strings.Repeat("x", 200) + "..."},
	}
	for _, tt := range tests {
		if got := said(tt.out); got != tt.want {
			t.Errorf("said(%q) = %q, want %q", tt.out, got, tt.want)
		}
	}
}
