package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// The verdicts of every combination, as decided in one place.
func TestVerdicts(t *testing.T) {
	t.Parallel()
	for _, c := range combos() {
		t.Run(c.name, func(t *testing.T) {
			var units, kernels []Outcome
			for k := range c.results {
				r := &c.results[k]
				for i := range r.Units {
					v := r.UnitVerdict(i)
					if v.OK() != (v.Reason == "") {
						t.Errorf("%s: verdict %s with reason %q", r.Units[i].Name, v.Outcome, v.Reason)
					}
					units = append(units, v.Outcome)
				}
				kernels = append(kernels, r.Verdict().Outcome)
				if r.OK() != (r.Verdict().Outcome == Passed) {
					t.Errorf("%s: OK() = %v, verdict %s", r.Kernel, r.OK(), r.Verdict().Outcome)
				}
			}
			if fmt.Sprint(units) != fmt.Sprint(c.units) {
				t.Errorf("unit verdicts = %v, want %v", units, c.units)
			}
			if fmt.Sprint(kernels) != fmt.Sprint(c.kernels) {
				t.Errorf("kernel verdicts = %v, want %v", kernels, c.kernels)
			}
			s := Summarize(c.results)
			if s.String() != c.summary {
				t.Errorf("summary = %q, want %q", s, c.summary)
			}
			if s.OK() != strings.Contains(c.summary, " 0 failed") {
				t.Errorf("summary OK() = %v for %q", s.OK(), c.summary)
			}
		})
	}
}

// Every format, the closing line and the exit status say the same thing
// about every unit and kernel.
func TestFormatsAgree(t *testing.T) {
	t.Parallel()
	for _, c := range combos() {
		for _, f := range Formats {
			t.Run(c.name+"/"+string(f), func(t *testing.T) {
				var out, errw bytes.Buffer
				sum, err := Write(&out, &errw, f, c.results)
				if err != nil {
					t.Fatal(err)
				}
				wantOK := strings.Contains(c.summary, " 0 failed")
				if sum.String() != c.summary || sum.OK() != wantOK {
					t.Errorf("Write's summary = %q (ok %v), want %q (ok %v)", sum, sum.OK(), c.summary, wantOK)
				}
				closing := "modlab: " + c.summary + "\n"
				var units, kernels []Outcome
				switch f {
				case Table:
					units, kernels = tableVerdicts(t, out.String(), c.results)
					if !strings.HasSuffix(out.String(), closing) {
						t.Errorf("the table does not end with %q:\n%s", closing, out.String())
					}
				case KTAP:
					units, kernels = ktapVerdicts(out.String(), c.results)
				case JSON:
					units, kernels = jsonVerdicts(t, out.Bytes(), c.summary)
				case JUnit:
					units, kernels = junitVerdicts(t, out.Bytes(), c.results)
				}
				if f != Table {
					if errw.String() != closing {
						t.Errorf("closing line on errw = %q, want %q", errw.String(), closing)
					}
				} else if errw.Len() > 0 {
					t.Errorf("%s wrote to errw: %q", f, errw.String())
				}
				if fmt.Sprint(units) != fmt.Sprint(c.units) || fmt.Sprint(kernels) != fmt.Sprint(c.kernels) {
					t.Errorf("%s says units %v, kernels %v; want %v, %v\n%s", f, units, kernels, c.units, c.kernels, out.String())
				}
				if f != JSON && c.results[0].Accel != "" && !strings.Contains(out.String(), c.results[0].Accel) {
					t.Errorf("%s does not name the accelerator %q", f, c.results[0].Accel)
				}
			})
		}
	}
}

var tableColumns = regexp.MustCompile(`\s{2,}`)

// tableVerdicts reads the verdict words back from the table's cells.
func tableVerdicts(t *testing.T, out string, results []KernelResult) (units, kernels []Outcome) {
	rows := map[string][]string{}
	for _, l := range strings.Split(out, "\n") {
		if l == "" {
			break
		}
		cells := tableColumns.Split(l, -1)
		rows[cells[0]] = cells[1:]
	}
	word := func(cell string) Outcome {
		cell, _, _ = strings.Cut(cell, " (")
		return Outcome(strings.ReplaceAll(strings.ToLower(cell), " ", "-"))
	}
	for k, r := range results {
		for _, u := range r.Units {
			cells := rows[u.Name]
			if len(cells) != len(results) {
				t.Fatalf("row %q = %q, want %d cells", u.Name, cells, len(results))
			}
			units = append(units, word(cells[k]))
		}
		kernels = append(kernels, word(rows["(kernel)"][k]))
	}
	return units, kernels
}

var ktapResult = regexp.MustCompile(`^( *)(ok|not ok) [0-9]+ ([^#]*?)( # SKIP)?$`)

// ktapVerdicts reads the result lines of kernels (depth 0) and units
// (depth 1). KTAP says ok or not ok; the kind of failure is in the name of
// the failing leaf: "build", "run" (not run) for a unit, "lab" for a
// kernel.
func ktapVerdicts(out string, results []KernelResult) (units, kernels []Outcome) {
	names := map[string]bool{}
	for _, r := range results {
		for _, u := range r.Units {
			names[ktapName(u.Name)] = true
		}
	}
	var leaves []string // failed leaves of the current unit
	labError := false
	for _, l := range strings.Split(out, "\n") {
		m := ktapResult.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		ok := m[2] == "ok"
		switch {
		case m[1] == "        " && !ok:
			leaves = append(leaves, m[3])
		case m[1] == "    " && names[m[3]]:
			o := Passed
			switch {
			case ok:
			case fmt.Sprint(leaves) == "[build]":
				o = BuildError
			case fmt.Sprint(leaves) == "[run]":
				o = NotRan
			default:
				o = Failed
			}
			units = append(units, o)
			leaves = nil
		case m[1] == "    " && m[3] == "lab" && !ok:
			labError = true
		case m[1] == "":
			o := Passed
			switch {
			case labError:
				o = LabError
			case !ok:
				o = Failed
			}
			kernels = append(kernels, o)
			labError = false
		}
	}
	return units, kernels
}

func jsonVerdicts(t *testing.T, out []byte, summary string) (units, kernels []Outcome) {
	var doc struct {
		Results []struct {
			Verdict Outcome `json:"verdict"`
			Reason  string  `json:"reason"`
			Units   []struct {
				Verdict Outcome `json:"verdict"`
				Reason  string  `json:"reason"`
			} `json:"units"`
		} `json:"results"`
		Summary Summary `json:"summary"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, r := range doc.Results {
		for _, u := range r.Units {
			if (u.Verdict == Passed) != (u.Reason == "") {
				t.Errorf("unit verdict %s with reason %q", u.Verdict, u.Reason)
			}
			units = append(units, u.Verdict)
		}
		kernels = append(kernels, r.Verdict)
	}
	if doc.Summary.String() != summary {
		t.Errorf("JSON summary = %q, want %q", doc.Summary, summary)
	}
	return units, kernels
}

type junitCounts struct {
	Tests    int `xml:"tests,attr"`
	Failures int `xml:"failures,attr"`
	Errors   int `xml:"errors,attr"`
	Skipped  int `xml:"skipped,attr"`
}

type junitOutcome struct {
	Type    string `xml:"type,attr"`
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

type junitDoc struct {
	junitCounts
	Suites []struct {
		Name string `xml:"name,attr"`
		junitCounts
		Props []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"properties>property"`
		Cases []struct {
			Name      string        `xml:"name,attr"`
			Classname string        `xml:"classname,attr"`
			Failure   *junitOutcome `xml:"failure"`
			Error     *junitOutcome `xml:"error"`
			Skipped   *junitOutcome `xml:"skipped"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

// junitVerdicts reads the verdicts back: a unit's own test case (class and
// name: the unit) and each suite's "verdict" property.
func junitVerdicts(t *testing.T, out []byte, results []KernelResult) (units, kernels []Outcome) {
	var doc junitDoc
	if err := xml.Unmarshal(out, &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(doc.Suites) != len(results) {
		t.Fatalf("%d test suites for %d kernels", len(doc.Suites), len(results))
	}
	var sum junitCounts
	for k, s := range doc.Suites {
		var n junitCounts
		byName := map[string]Outcome{}
		for _, c := range s.Cases {
			n.Tests++
			switch {
			case c.Error != nil:
				n.Errors++
			case c.Failure != nil:
				n.Failures++
			case c.Skipped != nil:
				n.Skipped++
			}
			o := Passed
			switch {
			case c.Error != nil:
				o = Outcome(c.Error.Type)
			case c.Failure != nil:
				o = Outcome(c.Failure.Type)
			}
			if c.Name == c.Classname || c.Classname == "modlab" {
				byName[c.Name] = o
			}
		}
		for _, u := range results[k].Units {
			units = append(units, byName[u.Name])
		}
		for _, p := range s.Props {
			if p.Name == "verdict" {
				kernels = append(kernels, Outcome(p.Value))
			}
		}
		if (byName["lab"] == LabError) != (results[k].Infra != "") {
			t.Errorf("%s: lab error %q, but the lab test case says %q", s.Name, results[k].Infra, byName["lab"])
		}
		if s.junitCounts != n {
			t.Errorf("suite %s counts %+v, its test cases %+v", s.Name, s.junitCounts, n)
		}
		sum.Tests += n.Tests
		sum.Failures += n.Failures
		sum.Errors += n.Errors
		sum.Skipped += n.Skipped
	}
	if doc.junitCounts != sum {
		t.Errorf("testsuites counts %+v, its suites %+v", doc.junitCounts, sum)
	}
	return units, kernels
}

func TestParseFormat(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "table", "ktap", "json", "junit"} {
		if _, err := ParseFormat(s); err != nil {
			t.Errorf("ParseFormat(%q): %v", s, err)
		}
	}
	if _, err := ParseFormat("xml"); err == nil || !strings.Contains(err.Error(), "table, ktap, json, junit") {
		t.Errorf("ParseFormat(xml) = %v; want an error listing the formats", err)
	}
}
