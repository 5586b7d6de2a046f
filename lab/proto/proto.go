// Package proto is the conversation between the lab's host and the guest's
// /init. The guest speaks JSON lines on its second serial port (the first is
// the kernel console); the host answers on the same port with one line,
// "go", once the work is on the disk.
//
// The work itself travels on a virtio disk: a header block followed by a
// newc cpio archive holding plan.json and the units' files. The guest reads
// it only after "go", so the host may write it after the VM started (and,
// later, after a VM saved at "ready" is restored).
package proto

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Magic opens the header block of the work disk.
const Magic = "MODLAB-WORK 1\n"

// HeaderSize is the size of the header block; the archive follows it.
const HeaderSize = 4096

// ToolDir is where the guest image links modlab's tools (modinfo, lsmod,
// insmod, ... and modlab itself) to /init; it comes first in GuestPath, so
// they are found before busybox's applets of the same names.
const ToolDir = "/usr/local/sbin"

// ToolFunctions is a shell file in the guest image that defines a function
// for each of modlab's tools. busybox sh runs its own applets before it
// looks at the PATH, so a command line that says "lsmod" needs the
// function to reach ours. --exec commands and login shells read it (ENV
// points interactive shells at it too); a new "sh -c" does not.
const ToolFunctions = "/etc/modlab/tools.sh"

// GuestPath is the guest's PATH.
const GuestPath = ToolDir + ":/bin:/sbin:/usr/bin:/usr/sbin"

// UnitBin is the folder, inside a unit's directory, that holds the unit's
// own programs (Go userland built for the guest, --file copies go to
// UnitFiles); it is put first on the PATH of the unit's command, shell and
// tests.
const (
	UnitBin   = "bin"
	UnitFiles = "files"
)

// Go is the host's line that lets the guest read the work disk.
const Go = "go"

// Header renders the header block for an archive of size bytes.
func Header(size int64) []byte {
	b := make([]byte, HeaderSize)
	copy(b, Magic+strconv.FormatInt(size, 10)+"\n")
	return b
}

// ParseHeader returns the archive size written in a header block.
func ParseHeader(b []byte) (int64, error) {
	if !bytes.HasPrefix(b, []byte(Magic)) {
		return 0, errors.New("work disk has no modlab header")
	}
	rest := b[len(Magic):]
	nl := bytes.IndexByte(rest, '\n')
	if nl < 0 {
		return 0, errors.New("work disk header is truncated")
	}
	n, err := strconv.ParseInt(string(rest[:nl]), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("work disk header has a bad size %q", rest[:nl])
	}
	return n, nil
}

// Plan is what the guest does, read from plan.json in the archive.
type Plan struct {
	Kernel string `json:"kernel"` // the release the host built for
	Units  []Unit `json:"units"`
	// From is the unit number (counted from 0) this boot starts at: 0,
	// or where a fresh boot takes over (EvFresh).
	From int `json:"from,omitempty"`
	// Time is the host's clock when it wrote the plan (Unix nanoseconds):
	// the guest sets its own, which a guest restored from a saved state
	// has from the boot that was saved.
	Time int64 `json:"time,omitempty"`
	// Seed is random bytes the guest adds to its entropy pool, so that
	// guests restored from one saved state do not draw the same random
	// numbers.
	Seed []byte `json:"seed,omitempty"`
}

// Unit is one module folder (an example, or the user's folder).
type Unit struct {
	Name string `json:"name"`
	// Dir holds the unit's files in the guest (relative to the work root).
	Dir string `json:"dir"`
	// Load lists the modules to load before Exec or Shell, in order; they
	// are unloaded in reverse order afterwards.
	Load []Module `json:"load,omitempty"`
	// Exec is a command for busybox sh, run in Dir after loading.
	Exec string `json:"exec,omitempty"`
	// Shell runs an interactive shell on the console after loading.
	Shell bool `json:"shell,omitempty"`
	// Test is a Go test binary (relative to Dir) run with -test.v.
	Test string `json:"test,omitempty"`
	// Timeout bounds Exec or Test, in seconds.
	Timeout int `json:"timeout,omitempty"`
	// Copies are files of Dir the guest copies elsewhere before the unit
	// starts (--file HOST:/abs/path).
	Copies []Copy `json:"copies,omitempty"`
	// Coverage, when set, is the directory where the unit's objects were
	// compiled with gcov profiling: the guest clears the kernel's gcov
	// counters before the unit, and after its modules are unloaded sends
	// every data file under GcovRoot + Coverage (EvCoverage).
	Coverage string `json:"coverage,omitempty"`
	// Slowdown is how many times longer the same work takes on this
	// kernel than on a production one (the lab's debug kernel: KASAN,
	// lockdep, kmemleak); 0 or 1 on Debian's kernels. Tests read it as
	// MODLAB_SLOWDOWN (EnvSlowdown) to size their stress loops.
	Slowdown int `json:"slowdown,omitempty"`
}

// EnvSlowdown is the environment variable that carries Unit.Slowdown to a
// unit's command and tests.
const EnvSlowdown = "MODLAB_SLOWDOWN"

// GcovRoot is where a kernel with CONFIG_GCOV_KERNEL keeps its gcov data
// files in the guest, each at the path its object was compiled at.
const GcovRoot = "/sys/kernel/debug/gcov"

// Copy is one file to put in place in the guest.
type Copy struct {
	From string `json:"from"` // relative to the unit's Dir
	To   string `json:"to"`   // an absolute guest path
}

// Module is one module file to load and its parameters.
type Module struct {
	File   string `json:"file"` // relative to the unit's Dir
	Params string `json:"params,omitempty"`
}

// Event kinds the guest sends.
const (
	EvHello   = "hello"    // /init started: Kernel, Time
	EvReady   = "ready"    // waiting for "go"; Unhealthy and Splats when the kernel is not fit to test
	EvUnit    = "unit"     // a unit starts: Unit
	EvStep    = "step"     // a load/exec/unload step ended: Name, Status, Msg, Errno
	EvTest    = "test"     // a Go test started or ended: Name, Status, Elapsed, Msg
	EvOutput  = "output"   // a line of a command's or test's output: Msg
	EvUnitEnd = "unit-end" // a unit ended: Status, Log, Splats, Taint, BadTaint
	EvDone    = "done"     // all units ran; the guest stops the VM
	EvFatal   = "fatal"    // /init cannot go on: Msg
)

// EvLeaks carries kmemleak's reports of memory a unit's modules allocated
// and lost (Unit, Splats, one report each). The guest checks for leaks
// after the last unit, so it comes after every unit-end and before done:
// the unit fails.
const EvLeaks = "leaks"

// EvFresh asks the host for a fresh boot for the units from the plan's
// unit number From (counted from 0) on: the unit before it left the
// kernel unable to vouch for the next ones (lockdep turned itself off,
// after its own report or the kernel's taint). Msg says why. The guest
// then reports leaks and sends done; the host boots again (or restores
// the saved guest) with Plan.From set, and the guest starts at that unit.
const EvFresh = "fresh"

// EvCoverage is a gcov data file of a unit run with coverage, sent before
// its unit-end: Name (its path under GcovRoot, which is where its object
// was compiled) and Data; or Msg, when the guest could not collect them.
const EvCoverage = "coverage"

// Statuses.
const (
	Pass = "pass"
	Fail = "fail"
	Skip = "skip"
	Run  = "run"
)

// Event is one JSON line from the guest.
type Event struct {
	Ev       string    `json:"ev"`
	Time     float64   `json:"t"` // seconds since boot (CLOCK_BOOTTIME)
	Kernel   string    `json:"kernel,omitempty"`
	Unit     string    `json:"unit,omitempty"`
	Name     string    `json:"name,omitempty"`
	Status   string    `json:"status,omitempty"`
	Msg      string    `json:"msg,omitempty"`
	Errno    int       `json:"errno,omitempty"`
	Elapsed  float64   `json:"elapsed,omitempty"`
	Log      []LogLine `json:"log,omitempty"`
	Splats   []string  `json:"splats,omitempty"`
	Taint    string    `json:"taint,omitempty"`
	BadTaint string    `json:"bad_taint,omitempty"`
	Data     []byte    `json:"data,omitempty"` // a file's contents (base64 in JSON)
	// Unhealthy (ready only) says why the kernel cannot vouch for the
	// units it would run: a bug report in its log since boot (in Splats),
	// a bad taint flag, lockdep or kmemleak turned off. "" when healthy.
	Unhealthy string `json:"unhealthy,omitempty"`
	// From (fresh only) is the plan's unit number the next boot starts at.
	From int `json:"from,omitempty"`
}

// LogLine is a kernel log record of a unit's run.
type LogLine struct {
	Level int     `json:"level"`
	Time  float64 `json:"t"`
	Msg   string  `json:"msg"`
}

// Marshal renders an event as one line.
func (e Event) Marshal() []byte {
	b, _ := json.Marshal(e)
	return append(b, '\n')
}

// ParseEvent decodes one line.
func ParseEvent(line []byte) (Event, error) {
	var e Event
	line = bytes.TrimSpace(line)
	if err := json.Unmarshal(line, &e); err != nil {
		return e, fmt.Errorf("bad event line %q: %w", line, err)
	}
	if e.Ev == "" {
		return e, fmt.Errorf("event line %q has no kind", line)
	}
	return e, nil
}
