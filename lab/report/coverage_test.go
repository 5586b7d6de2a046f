package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/modlab/modlab/lab/coverage"
	"github.com/modlab/modlab/lab/proto"
)

func coverageResults() []KernelResult {
	hello := &coverage.Summary{
		Files: []coverage.FileSummary{
			{File: "hello-5.c", Source: "/src/hello/hello-5.c", HTML: "/cov/k/hello/files/hello-5.c.html",
				Lines: coverage.Counts{Found: 14, Hit: 14}, Functions: coverage.Counts{Found: 2, Hit: 2}, Branches: coverage.Counts{Found: 2, Hit: 2}},
			{File: "start.c", Source: "/src/hello/start.c", HTML: "/cov/k/hello/files/start.c.html",
				Lines: coverage.Counts{Found: 4, Hit: 0}, Functions: coverage.Counts{Found: 1, Hit: 0}},
		},
		Total: coverage.FileSummary{File: "total", Lines: coverage.Counts{Found: 18, Hit: 14},
			Functions: coverage.Counts{Found: 3, Hit: 2}, Branches: coverage.Counts{Found: 2, Hit: 2}},
		LCOV: "/cov/k/hello/lcov.info", HTML: "/cov/k/hello/index.html",
	}
	return []KernelResult{{
		Kernel: "6.12.117-modlab-debug",
		Units: []UnitResult{
			// Code that never ran does not fail a unit, and a unit that
			// failed is not saved by its coverage.
			{Name: "hello", Status: proto.Pass, Steps: loadSteps("hello-5"), Coverage: hello},
			{Name: "broken", Status: proto.Fail, Steps: []proto.Event{step("insmod broken.ko", proto.Fail, "EINVAL")},
				Coverage: &coverage.Summary{Files: []coverage.FileSummary{}, Total: coverage.FileSummary{File: "total"}}},
			{Name: "nogcov", Status: proto.Pass, Coverage: &coverage.Summary{Error: "the kernel has no gcov data in debugfs"}},
		},
	}}
}

func TestCoverageTable(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	WriteTable(&out, coverageResults())
	got := out.String()
	for _, want := range []string{
		"coverage of hello on 6.12.117-modlab-debug:\n" +
			"  FILE       LINES         FUNCTIONS   BRANCHES\n" +
			"  hello-5.c  14/14 100.0%  2/2 100.0%  2/2 100.0%\n" +
			"  start.c    0/4   0.0%    0/1   0.0%  0/0\n" +
			"  total      14/18  77.8%  2/3  66.7%  2/2 100.0%\n" +
			"  lcov: /cov/k/hello/lcov.info\n" +
			"  html: /cov/k/hello/index.html\n",
		"coverage of nogcov on 6.12.117-modlab-debug: none: the kernel has no gcov data in debugfs\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks\n%s\nit is:\n%s", want, got)
		}
	}
	if s := Summarize(coverageResults()); s.String() != "2 passed, 1 failed" {
		t.Errorf("summary %q: coverage changed a verdict", s)
	}
}

func TestCoverageJSON(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := WriteJSON(&out, coverageResults()); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Results []struct {
			Units []struct {
				Name     string            `json:"name"`
				Verdict  string            `json:"verdict"`
				Coverage *coverage.Summary `json:"coverage"`
			} `json:"units"`
		} `json:"results"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	u := doc.Results[0].Units[0]
	if u.Verdict != "pass" || u.Coverage == nil || len(u.Coverage.Files) != 2 {
		t.Fatalf("hello: %+v", u)
	}
	f := u.Coverage.Files[0]
	if f.File != "hello-5.c" || f.Lines != (coverage.Counts{Found: 14, Hit: 14}) || f.HTML == "" ||
		u.Coverage.LCOV != "/cov/k/hello/lcov.info" || u.Coverage.HTML != "/cov/k/hello/index.html" {
		t.Errorf("hello's coverage in JSON: %+v", u.Coverage)
	}
	if !strings.Contains(out.String(), `"lines": {`) || !strings.Contains(out.String(), `"found": 14`) {
		t.Errorf("JSON lacks the figures:\n%s", out.String())
	}
	if v := doc.Results[0].Units[1].Verdict; v != "fail" {
		t.Errorf("broken's verdict %q, want fail", v)
	}
}
