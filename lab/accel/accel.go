package accel

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// The accelerators, and the values of Options.Mode.
const (
	Auto = "auto" // KVM when it works, TCG otherwise
	KVM  = "kvm"
	TCG  = "tcg"
)

// Modes lists the valid values of Options.Mode, auto first.
var Modes = []string{Auto, KVM, TCG}

// EnvVar names the environment variable that sets the default mode.
const EnvVar = "MODLAB_ACCEL"

// DefaultProbeTimeout bounds the test guest under KVM. It boots in well
// under a second where KVM works.
const DefaultProbeTimeout = 3 * time.Second

// ErrKVMUnusable is wrapped by Choose's error when KVM was asked for and
// does not work.
var ErrKVMUnusable = errors.New("KVM is not usable")

// Choice is how QEMU is to run the guests.
type Choice struct {
	Accel string // "kvm" or "tcg"
	CPU   string // "host" or "max"
	// Why says in one line why KVM was not used; "" under KVM.
	Why string
	// Cached is true when the verdict came from this boot's earlier probe.
	Cached bool
}

// QEMUArgs returns the accelerator and CPU options of QEMU's command line.
func (c Choice) QEMUArgs() []string {
	return []string{"-accel", c.Accel, "-cpu", c.CPU}
}

// Options says what Choose may do and where it looks. The zero value
// chooses automatically with the host's real files and no cache.
type Options struct {
	// Mode is auto, kvm or tcg ("" is auto): from --accel, else
	// DefaultMode.
	Mode string
	// QEMU is the qemu-system-x86_64 binary ("" finds it in PATH).
	QEMU string
	// CacheDir holds the verdict of this boot's probe ("" caches nothing).
	CacheDir string
	// KVMDevice is /dev/kvm, BootID /proc/sys/kernel/random/boot_id and
	// CPUInfo /proc/cpuinfo unless set (tests point them elsewhere).
	KVMDevice string
	BootID    string
	CPUInfo   string
	// ProbeTimeout bounds the test guest (default DefaultProbeTimeout).
	ProbeTimeout time.Duration
	// OnProbe, if set, is called with QEMU's command line each time the
	// probe starts QEMU (for a "checking KVM" message, or to count probes).
	OnProbe func(args []string)

	// checkDevice replaces the checks of the KVM device (tests).
	checkDevice func(path string) error
}

// DefaultMode is the mode when --accel is not given: $MODLAB_ACCEL, else
// auto.
func DefaultMode(getenv func(string) string) string {
	if m := strings.TrimSpace(getenv(EnvVar)); m != "" {
		return m
	}
	return Auto
}

// ParseMode checks a mode and returns it in its canonical spelling.
func ParseMode(s string) (string, error) {
	m := strings.ToLower(strings.TrimSpace(s))
	if m == "" {
		return Auto, nil
	}
	for _, v := range Modes {
		if m == v {
			return m, nil
		}
	}
	return "", fmt.Errorf("unknown accelerator %q (valid: %s)", s, strings.Join(Modes, ", "))
}

var (
	kvmChoice = Choice{Accel: KVM, CPU: "host"}
	tcgChoice = Choice{Accel: TCG, CPU: "max"}
)

// Choose decides between KVM and TCG. In auto mode it returns TCG, with the
// reason in Why, whenever KVM does not work; in kvm mode that is an error
// wrapping ErrKVMUnusable, returned within the probe's timeout. The tcg mode
// probes nothing.
func Choose(ctx context.Context, opts Options) (Choice, error) {
	mode, err := ParseMode(opts.Mode)
	if err != nil {
		return Choice{}, err
	}
	if mode == TCG {
		c := tcgChoice
		c.Why = "TCG was asked for (accelerator tcg)"
		return c, nil
	}
	v, cached, err := kvmVerdict(ctx, opts.withDefaults())
	if err != nil {
		return Choice{}, err
	}
	if v.Usable {
		c := kvmChoice
		c.Cached = cached
		return c, nil
	}
	if mode == KVM {
		return Choice{}, fmt.Errorf("accelerator kvm was asked for, but %w: %s", ErrKVMUnusable, v.Reason)
	}
	c := tcgChoice
	c.Why = ErrKVMUnusable.Error() + ": " + v.Reason
	c.Cached = cached
	return c, nil
}

func (o Options) withDefaults() Options {
	if o.QEMU == "" {
		o.QEMU = "qemu-system-x86_64"
	}
	if o.KVMDevice == "" {
		o.KVMDevice = "/dev/kvm"
	}
	if o.BootID == "" {
		o.BootID = "/proc/sys/kernel/random/boot_id"
	}
	if o.CPUInfo == "" {
		o.CPUInfo = "/proc/cpuinfo"
	}
	if o.ProbeTimeout <= 0 {
		o.ProbeTimeout = DefaultProbeTimeout
	}
	if o.checkDevice == nil {
		o.checkDevice = checkKVMDevice
	}
	return o
}

// verdict is what the checks found out about KVM on this host.
type verdict struct {
	Usable bool   `json:"usable"`
	Reason string `json:"reason,omitempty"` // why not, without "KVM is not usable: "
}

// kvmVerdict runs the cheap device checks, then takes this boot's cached
// verdict or probes (and caches what the probe found).
func kvmVerdict(ctx context.Context, o Options) (verdict, bool, error) {
	if err := o.checkDevice(o.KVMDevice); err != nil {
		return verdict{Reason: err.Error()}, false, nil
	}
	qemu, err := exec.LookPath(o.QEMU)
	if err != nil {
		return verdict{}, false, fmt.Errorf("QEMU not found (run 'modlab setup'): %w", err)
	}
	key, keyErr := cacheKeyFor(qemu, o.BootID)
	c := cache{dir: o.CacheDir}
	if keyErr == nil && c.dir != "" {
		unlock := c.lock(ctx, o.ProbeTimeout+2*time.Second)
		defer unlock()
		if v, ok := c.load(key); ok {
			return v, true, nil
		}
	}
	v, err := probeKVM(ctx, qemu, o)
	if err != nil {
		return verdict{}, false, err
	}
	if keyErr == nil && c.dir != "" {
		c.store(key, v) // a cache that cannot be written only costs a probe
	}
	return v, false, nil
}
