package report

import (
	"github.com/modlab/modlab/lab/proto"
)

// combo is one situation a run can end in, with what every format must
// say about it.
type combo struct {
	name    string
	results []KernelResult
	units   []Outcome // every unit of every kernel, in order
	kernels []Outcome
	summary string // the closing line's count
	// What the kernel's KTAP parser must count (leaf tests only).
	kunit kunitCounts
}

type kunitCounts struct {
	Status                                   string
	Passed, Failed, Crashed, Skipped, Errors int
}

const (
	k612 = "6.12.95+deb12-cloud-amd64"
	k61  = "6.1.0-50-cloud-amd64"
)

func step(name, status, msg string) proto.Event {
	return proto.Event{Ev: proto.EvStep, Name: name, Status: status, Msg: msg}
}

// loadSteps are the steps of a unit that loads, runs a command and unloads.
func loadSteps(mod string) []proto.Event {
	return []proto.Event{
		step("insmod "+mod+".ko", proto.Pass, ""),
		step("exec", proto.Pass, ""),
		step("rmmod "+mod, proto.Pass, ""),
	}
}

var warnSplat = "WARNING: CPU: 0 PID: 93 at warnon.c:19 warnon_init+0x15/0x30 [warnon]\nCall Trace:\n <TASK>\n do_one_initcall+0x5b/0x320"

func combos() []combo {
	passing := func(name string) UnitResult {
		return UnitResult{Name: name, Status: proto.Pass, Steps: loadSteps(name), Output: []string{"42"},
			Log: []proto.LogLine{{Level: 6, Time: 1.5, Msg: name + ": loaded"}}, Duration: 0.4}
	}
	return []combo{
		{
			name: "pass",
			results: []KernelResult{{Kernel: k612, Accel: "tcg", ConsoleLog: "/tmp/c1.log", Units: []UnitResult{{
				Name: "hello", Status: proto.Pass, Duration: 1.2,
				Steps: []proto.Event{step("go test", proto.Pass, "")},
				Tests: []TestResult{{Name: "TestLoad", Status: proto.Pass, Elapsed: 0.1},
					{Name: "TestSkip", Status: proto.Skip, Output: "    hello_test.go:9: needs a second CPU"}}}}}},
			units: []Outcome{Passed}, kernels: []Outcome{Passed},
			summary: "1 passed, 0 failed",
			kunit:   kunitCounts{Status: "SUCCESS", Passed: 3, Skipped: 1},
		},
		{
			// The example: WARN_ON in init, while insmod and rmmod
			// both succeed.
			name: "fail: WARN_ON in init",
			results: []KernelResult{{Kernel: k612, Accel: "tcg", Units: []UnitResult{{
				Name: "warnon", Status: proto.Fail, Reason: "kernel bug: WARNING: CPU: 0 PID: 93 at warnon.c:19; new taint W",
				Steps:  []proto.Event{step("insmod warnon.ko", proto.Pass, ""), step("rmmod warnon", proto.Pass, "")},
				Splats: []string{warnSplat}, Taint: "WOE", BadTaint: "W"}}}},
			units: []Outcome{Failed}, kernels: []Outcome{Failed},
			summary: "0 passed, 1 failed",
			kunit:   kunitCounts{Status: "FAILURE", Passed: 2, Failed: 2},
		},
		{
			name: "fail: a Go test",
			results: []KernelResult{{Kernel: k61, Accel: "tcg", Units: []UnitResult{{
				Name: "chardev", Status: proto.Fail, Reason: "TestRead failed",
				Steps: []proto.Event{step("go test", proto.Pass, "")},
				Tests: []TestResult{{Name: "TestOpen", Status: proto.Pass},
					{Name: "TestRead", Status: proto.Fail, Elapsed: 0.02, Output: "    chardev_test.go:31: read \"\", want \"hi\""}}}}}},
			units: []Outcome{Failed}, kernels: []Outcome{Failed},
			summary: "0 passed, 1 failed",
			kunit:   kunitCounts{Status: "FAILURE", Passed: 3, Failed: 1},
		},
		{
			name: "not run",
			results: []KernelResult{{Kernel: k61, Accel: "tcg", Infra: "control port: write: broken pipe",
				Units: []UnitResult{{Name: "hello", Status: NotRun}}}},
			units: []Outcome{NotRan}, kernels: []Outcome{LabError},
			summary: "0 passed, 2 failed (1 not run, 1 lab error)",
			kunit:   kunitCounts{Status: "FAILURE", Failed: 2},
		},
		{
			name: "lab error before any unit",
			results: []KernelResult{{Kernel: k61, Accel: "tcg", ConsoleLog: "/tmp/c2.log",
				Retried: "boot 1 failed before /init was ready: no ready signal within 2m0s\n[    1.0] Run /init as init process",
				Infra: "boot 2 failed before /init was ready: the guest stopped (kernel crash or QEMU exit): exit status 0\n" +
					"[    1.2] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)\n" +
					"[    1.3] List of all partitions:\n[    1.4] reboot: System halted"}},
			units: nil, kernels: []Outcome{LabError},
			summary: "0 passed, 1 failed (1 lab error)",
			kunit:   kunitCounts{Status: "FAILURE", Failed: 1},
		},
		{
			name: "lab error after the units",
			results: []KernelResult{{Kernel: k612, Accel: "tcg", Infra: "qemu: exit status 1 after the guest was done",
				Units: []UnitResult{passing("clean")}}},
			units: []Outcome{Passed}, kernels: []Outcome{LabError},
			summary: "1 passed, 1 failed (1 lab error)",
			kunit:   kunitCounts{Status: "FAILURE", Passed: 5, Failed: 1},
		},
		{
			name: "retried boot, then pass",
			results: []KernelResult{{Kernel: k612, Accel: "tcg",
				Retried: "boot 1 failed before /init was ready: no ready signal within 2m0s\n[    0.9] smpboot: CPU0",
				Units:   []UnitResult{passing("clean")}}},
			units: []Outcome{Passed}, kernels: []Outcome{Passed},
			summary: "1 passed, 0 failed",
			kunit:   kunitCounts{Status: "SUCCESS", Passed: 5},
		},
		{
			name: "build error",
			results: []KernelResult{{Kernel: k61, Accel: "tcg", Units: []UnitResult{{
				Name: "berr", Status: proto.Fail, Stage: StageBuild,
				Reason: "build /home/me/berr for " + k61 + ": exit status 2\n/home/me/berr/berr.c:2:41: error: expected ';' before '}' token",
				Build:  "/home/me/berr/berr.c:2:41: error: expected ';' before '}' token\n"}}}},
			units: []Outcome{BuildError}, kernels: []Outcome{Failed},
			summary: "0 passed, 1 failed (1 build error)",
			kunit:   kunitCounts{Status: "FAILURE", Failed: 1},
		},
		{
			name: "plan error",
			results: []KernelResult{{Kernel: k61, Accel: "tcg", Units: []UnitResult{{
				Name: "params", Status: proto.Fail, Stage: StagePlan, Reason: "--param n=1: params.ko has no parameter n"}}}},
			units: []Outcome{Failed}, kernels: []Outcome{Failed},
			summary: "0 passed, 1 failed",
			kunit:   kunitCounts{Status: "FAILURE", Failed: 1},
		},
		{
			// The guest died while the unit ran; the next one never ran.
			name: "the guest died during a unit",
			results: []KernelResult{{Kernel: k612, Accel: "tcg", Units: []UnitResult{
				{Name: "oops", Status: proto.Fail, Reason: "the guest stopped before it finished (kernel crash?)",
					Steps:  []proto.Event{step("insmod oops.ko", proto.Pass, "")},
					Splats: []string{"[    2.1] BUG: kernel NULL pointer dereference, address: 0000000000000000\n[    2.2] Kernel panic - not syncing: Fatal exception\n[    2.3] reboot: System halted"}},
				{Name: "hello", Status: NotRun, Reason: "not run: the guest stopped before it finished (kernel crash?)"},
			}}},
			units: []Outcome{Failed, NotRan}, kernels: []Outcome{Failed},
			summary: "0 passed, 2 failed (1 not run)",
			kunit:   kunitCounts{Status: "FAILURE", Passed: 2, Failed: 2},
		},
		{
			name: "a unit that started and never ended",
			results: []KernelResult{{Kernel: k612, Accel: "tcg", Units: []UnitResult{{
				Name: "hang", Status: proto.Run, Steps: []proto.Event{step("insmod hang.ko", proto.Pass, "")}}}}},
			units: []Outcome{Failed}, kernels: []Outcome{Failed},
			summary: "0 passed, 1 failed",
			kunit:   kunitCounts{Status: "FAILURE", Passed: 3, Failed: 1},
		},
		{
			// A pass that its own evidence contradicts is no pass.
			name: "a pass with a new taint",
			results: []KernelResult{{Kernel: k612, Accel: "kvm", Units: []UnitResult{{
				Name: "taint", Status: proto.Pass, Steps: loadSteps("taint"), Taint: "WOE", BadTaint: "W"}}}},
			units: []Outcome{Failed}, kernels: []Outcome{Failed},
			summary: "0 passed, 1 failed",
			kunit:   kunitCounts{Status: "FAILURE", Passed: 4, Failed: 1},
		},
		{
			name: "two kernels, one fails",
			results: []KernelResult{
				{Kernel: k612, Accel: "tcg", Units: []UnitResult{passing("clean")}},
				{Kernel: k61, Accel: "tcg", Units: []UnitResult{{Name: "clean", Status: proto.Fail,
					Reason: "insmod clean.ko: Invalid parameters (errno 22)",
					Steps:  []proto.Event{step("insmod clean.ko", proto.Fail, "Invalid parameters (errno 22)")}}}},
			},
			units: []Outcome{Passed, Failed}, kernels: []Outcome{Passed, Failed},
			summary: "1 passed, 1 failed",
			kunit:   kunitCounts{Status: "FAILURE", Passed: 7, Failed: 1},
		},
		{
			// Names and text that look like KTAP, or end a kernel log.
			name: "hostile text",
			results: []KernelResult{{Kernel: k612, Accel: "tcg", Units: []UnitResult{{
				Name: "a#b", Status: proto.Fail, Reason: "TestX#01 failed",
				Steps: []proto.Event{step("go test", proto.Pass, "")},
				Tests: []TestResult{{Name: "TestX#01", Status: proto.Fail,
					Output: "ok 1 fake\r# Subtest: fake\n1..9\nKTAP version 1\nreboot: System halted\n\x00\x1b[31m\u2028not ok 2 x <&>]]>"}},
				Output: []string{"ok 3 fake", "Subtest: fake"}}}}},
			units: []Outcome{Failed}, kernels: []Outcome{Failed},
			summary: "0 passed, 1 failed",
			kunit:   kunitCounts{Status: "FAILURE", Passed: 2, Failed: 1},
		},
	}
}
