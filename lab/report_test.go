package lab

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/modlab/modlab/lab/proto"
)

func sampleResults() []KernelResult {
	return []KernelResult{
		{Kernel: "6.12.95+deb12-cloud-amd64", ConsoleLog: "/tmp/c1.log", Units: []UnitResult{
			{Name: "hello", Status: proto.Pass, Tests: []TestResult{
				{Name: "TestLoad", Status: proto.Pass}, {Name: "TestSkip", Status: proto.Skip}}},
			{Name: "warnon", Status: proto.Fail, Reason: "kernel bug: WARNING: at warnon.c:19",
				Steps:  []proto.Event{{Ev: proto.EvStep, Name: "insmod warnon.ko", Status: proto.Pass}},
				Splats: []string{"WARNING: at warnon.c:19\nCall Trace:"}, BadTaint: "W", Taint: "WOE"},
		}},
		{Kernel: "6.1.0-50-cloud-amd64", Infra: "boot 2 failed before /init was ready", Retried: "boot 1 failed"},
	}
}

func TestWriteKTAP(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	WriteKTAP(&b, sampleResults())
	want := `KTAP version 1
1..3
    KTAP version 1
    # Subtest: hello 6.12.95+deb12-cloud-amd64
    1..2
    ok 1 TestLoad
    ok 2 TestSkip # SKIP
ok 1 hello 6.12.95+deb12-cloud-amd64
    KTAP version 1
    # Subtest: warnon 6.12.95+deb12-cloud-amd64
    1..1
    ok 1 insmod warnon.ko
# kernel bug: WARNING: at warnon.c:19
# WARNING: at warnon.c:19
# Call Trace:
not ok 2 warnon 6.12.95+deb12-cloud-amd64
# lab error: boot 2 failed before /init was ready
not ok 3 6.1.0-50-cloud-amd64
`
	if b.String() != want {
		t.Errorf("KTAP:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestWriteTable(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	WriteTable(&b, sampleResults())
	out := b.String()
	for _, want := range []string{
		"hello       PASS (1/2 tests)",
		"warnon FAILED: kernel bug: WARNING: at warnon.c:19",
		"kernel bug report:\n    WARNING: at warnon.c:19\n    Call Trace:",
		"new taint flags: W (now WOE)",
		"LAB ERROR: boot 2 failed before /init was ready",
		"the first boot was retried: boot 1 failed",
		"console log 6.12.95+deb12-cloud-amd64: /tmp/c1.log",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestWriteJSON(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := WriteJSON(&b, sampleResults()); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Results []KernelResult `json:"results"`
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Results) != 2 || got.Results[0].Units[1].BadTaint != "W" || got.Results[1].OK() {
		t.Errorf("JSON round trip = %+v", got)
	}
}
