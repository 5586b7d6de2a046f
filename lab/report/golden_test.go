package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// sample is a run people read: one unit passes and one warns in 6.12,
// and 6.1 never booted.
func sample() []KernelResult {
	var pass, warn, lab KernelResult
	for _, c := range combos() {
		switch c.name {
		case "pass":
			pass = c.results[0]
		case "fail: WARN_ON in init":
			warn = c.results[0]
		case "lab error before any unit":
			lab = c.results[0]
		}
	}
	pass.Units = append(pass.Units, warn.Units...)
	pass.Phases.Total = 3200 * time.Millisecond
	lab.Phases.Total = 9100 * time.Millisecond
	return []KernelResult{pass, lab}
}

// The formats people and tools read, as they look.
func TestGolden(t *testing.T) {
	t.Parallel()
	for _, f := range []Format{Table, KTAP, JUnit} {
		t.Run(string(f), func(t *testing.T) {
			var b bytes.Buffer
			if _, err := Write(&b, io.Discard, f, sample()); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "sample."+string(f))
			if f == JUnit {
				path += ".xml"
			}
			if *update {
				if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (go test -update writes it)", err)
			}
			if b.String() != string(want) {
				t.Errorf("%s report:\n%s\nwant (%s):\n%s", f, b.String(), path, want)
			}
		})
	}
}

func TestWriteJSON(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := WriteJSON(&b, sample()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"accel": "tcg"`, `"verdict": "lab-error"`, `"verdict": "fail"`,
		`"reason": "kernel bug: WARNING: CPU: 0 PID: 93 at warnon.c:19; new taint W"`, `"lab_errors": 1`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("JSON lacks %s:\n%s", want, b.String())
		}
	}
	// The results read back as they were written.
	var got struct {
		Results []KernelResult `json:"results"`
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Results) != 2 || got.Results[0].Units[1].BadTaint != "W" || got.Results[0].Accel != "tcg" ||
		got.Results[1].Retried == "" || got.Results[1].OK() {
		t.Errorf("JSON round trip = %+v", got)
	}
}
