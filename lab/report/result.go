package report

import (
	"time"

	"github.com/modlab/modlab/lab/coverage"
	"github.com/modlab/modlab/lab/proto"
)

// NotRun is the status of a unit the guest has not reported on: it counts
// as a failure.
const NotRun = "not-run"

// Host stages that can stop a unit before the guest runs it
// (UnitResult.Stage).
const (
	StageBuild = "build" // kbuild failed
	StagePlan  = "plan"  // its files or parameters could not be put on the work disk
)

// Phases is where a kernel's time went.
type Phases struct {
	Build      time.Duration `json:"build"`        // kbuild, while the kernel boots
	Image      time.Duration `json:"image"`        // guest init and initramfs
	BootToInit time.Duration `json:"boot_to_init"` // QEMU start to /init's first event
	Ready      time.Duration `json:"ready"`        // /init start to ready (boot drivers)
	// Restore is QEMU's start to the guest running again, when it was
	// restored from a guest saved at ready (no boot then: BootToInit and
	// Ready are 0).
	Restore  time.Duration `json:"restore,omitempty"`
	Work     time.Duration `json:"work"`     // go to done
	Shutdown time.Duration `json:"shutdown"` // done to QEMU's exit
	Total    time.Duration `json:"total"`
}

// TestResult is one Go test function run in the guest.
type TestResult struct {
	Name    string  `json:"name"`
	Status  string  `json:"status"`
	Elapsed float64 `json:"elapsed"`
	Output  string  `json:"output,omitempty"`
}

// UnitResult is one unit in one kernel.
type UnitResult struct {
	Name   string `json:"name"`
	Status string `json:"status"` // pass, fail, NotRun, or run (started, never ended)
	Reason string `json:"reason,omitempty"`
	// Stage is the host stage (StageBuild, StagePlan) that failed before
	// the guest could run the unit; empty when the guest was to run it.
	Stage    string          `json:"stage,omitempty"`
	Build    string          `json:"build_output,omitempty"`
	Warnings []string        `json:"warnings,omitempty"`
	Steps    []proto.Event   `json:"steps,omitempty"`
	Tests    []TestResult    `json:"tests,omitempty"`
	Output   []string        `json:"output,omitempty"`
	Log      []proto.LogLine `json:"log,omitempty"`
	Splats   []string        `json:"splats,omitempty"`
	Taint    string          `json:"taint,omitempty"`
	BadTaint string          `json:"bad_taint,omitempty"`
	Duration float64         `json:"duration"`
	// Coverage is the unit's line coverage (--coverage, on a kernel with
	// gcov). It never changes the verdict.
	Coverage *coverage.Summary `json:"coverage,omitempty"`
}

// KernelResult is everything that happened in one kernel.
type KernelResult struct {
	Kernel  string       `json:"kernel"`
	Accel   string       `json:"accel,omitempty"` // the accelerator used: kvm or tcg
	Units   []UnitResult `json:"units"`
	Infra   string       `json:"infra_error,omitempty"` // the lab failed, not the module
	Retried string       `json:"retried,omitempty"`     // why the first boot was retried
	// Fresh says why the units were spread over more than one boot: one
	// line for each boot after the first (a unit left the kernel's checks
	// off, e.g. lockdep after its report or a proprietary module's taint).
	Fresh      []string `json:"fresh_boots,omitempty"`
	ConsoleLog string   `json:"console_log"`
	QEMU       string   `json:"qemu_command"`
	Phases     Phases   `json:"phases"`
}
