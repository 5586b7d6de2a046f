package report

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/modlab/modlab/lab/proto"
)

// WriteJUnit prints results as JUnit XML, the format most CI systems read
// (the schema is lab/report/testdata/junit.xsd): one <testsuite> per
// kernel, with its kernel, accelerator, verdict and console log as
// properties; one <testcase> per unit (class and name: the unit) and one
// per Go test (class: the unit, name: the test). A failed unit has a
// <failure> with the reason and the evidence (failed steps, kernel bug
// reports, taint); a unit the guest never ran has an <error>; a skipped Go
// test is <skipped/>. A lab error is a "lab" test case with an <error>.
// The command's output and the kernel log go to <system-out>.
func WriteJUnit(w io.Writer, results []KernelResult) error {
	doc := junitSuites{Name: "modlab", Suites: []junitSuite{}}
	var total float64
	for k := range results {
		s := junitKernel(&results[k])
		doc.Suites = append(doc.Suites, s)
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Errors += s.Errors
		doc.Skipped += s.Skipped
		total += results[k].Phases.Total.Seconds()
	}
	doc.Time = seconds(total)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("junit: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func junitKernel(r *KernelResult) junitSuite {
	v := r.Verdict()
	s := junitSuite{Name: r.Kernel, Time: seconds(r.Phases.Total.Seconds())}
	props := []junitProperty{{"kernel", r.Kernel}}
	if r.Accel != "" {
		props = append(props, junitProperty{"accel", r.Accel})
	}
	props = append(props, junitProperty{"verdict", string(v.Outcome)})
	if r.ConsoleLog != "" {
		props = append(props, junitProperty{"console_log", r.ConsoleLog})
	}
	if r.QEMU != "" {
		props = append(props, junitProperty{"qemu_command", r.QEMU})
	}
	if r.Retried != "" {
		props = append(props, junitProperty{"retried", firstLine(r.Retried)})
		s.SystemErr = text("the first boot was retried: " + r.Retried)
	}
	s.Properties = &junitProperties{props}
	for i := range r.Units {
		s.Cases = append(s.Cases, junitUnit(&r.Units[i], r.UnitVerdict(i))...)
	}
	switch {
	case v.Outcome == LabError:
		why := r.Infra
		if r.ConsoleLog != "" {
			why += "\nconsole log: " + r.ConsoleLog
		}
		if r.QEMU != "" {
			why += "\nQEMU: " + r.QEMU
		}
		s.Cases = append(s.Cases, junitCase{Name: "lab", Classname: "modlab", Time: seconds(0),
			Error: &junitResult{Message: "lab error: " + firstLine(r.Infra), Type: string(LabError), Text: why}})
	case !v.OK() && !anyUnitFailed(r):
		s.Cases = append(s.Cases, junitCase{Name: "verdict", Classname: "modlab", Time: seconds(0),
			Failure: &junitResult{Message: v.Reason, Type: string(v.Outcome)}})
	}
	for _, c := range s.Cases {
		s.Tests++
		switch {
		case c.Error != nil:
			s.Errors++
		case c.Failure != nil:
			s.Failures++
		case c.Skipped != nil:
			s.Skipped++
		}
	}
	return s
}

// junitUnit is the unit's test case, then one per Go test.
func junitUnit(u *UnitResult, v Verdict) []junitCase {
	c := junitCase{Name: u.Name, Classname: u.Name, Time: seconds(u.Duration)}
	switch v.Outcome {
	case Passed:
	case NotRan:
		c.Error = &junitResult{Message: "not run: " + firstLine(v.Reason), Type: string(v.Outcome), Text: v.Reason}
	default:
		var b bytes.Buffer
		b.WriteString(strings.TrimRight(v.Reason, "\n") + "\n")
		writeEvidence(&b, u)
		c.Failure = &junitResult{Message: firstLine(v.Reason), Type: string(v.Outcome), Text: b.String()}
	}
	var out strings.Builder
	if len(u.Output) > 0 {
		out.WriteString(strings.Join(u.Output, "\n") + "\n")
	}
	if len(u.Log) > 0 {
		out.WriteString("-- kernel log\n")
		for _, l := range u.Log {
			fmt.Fprintf(&out, "[%12.6f] %s\n", l.Time, l.Msg)
		}
	}
	if out.Len() > 0 {
		c.SystemOut = text(out.String())
	}
	cases := []junitCase{c}
	for _, t := range u.Tests {
		tc := junitCase{Name: t.Name, Classname: u.Name, Time: seconds(t.Elapsed)}
		switch {
		case t.Status == proto.Skip:
			tc.Skipped = &junitResult{Message: firstLine(t.Output)}
		case !okStatus(t.Status):
			tc.Failure = &junitResult{Message: t.Name + " failed", Type: string(Failed), Text: t.Output}
		case t.Output != "":
			tc.SystemOut = text(t.Output)
		}
		cases = append(cases, tc)
	}
	return cases
}

func seconds(s float64) string { return fmt.Sprintf("%.3f", max(s, 0)) }

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string           `xml:"name,attr"`
	Tests      int              `xml:"tests,attr"`
	Failures   int              `xml:"failures,attr"`
	Errors     int              `xml:"errors,attr"`
	Skipped    int              `xml:"skipped,attr"`
	Time       string           `xml:"time,attr"`
	Properties *junitProperties `xml:"properties"`
	Cases      []junitCase      `xml:"testcase"`
	SystemErr  *junitText       `xml:"system-err"`
}

type junitProperties struct {
	Props []junitProperty `xml:"property"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

// junitCase's elements come in the order the schema wants.
type junitCase struct {
	Name      string       `xml:"name,attr"`
	Classname string       `xml:"classname,attr"`
	Time      string       `xml:"time,attr"`
	Skipped   *junitResult `xml:"skipped"`
	Error     *junitResult `xml:"error"`
	Failure   *junitResult `xml:"failure"`
	SystemOut *junitText   `xml:"system-out"`
}

// junitResult is a <failure>, <error> or <skipped> element.
type junitResult struct {
	Message string
	Type    string
	Text    string
}

func (j junitResult) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	if j.Message != "" {
		start.Attr = append(start.Attr, xml.Attr{Name: xml.Name{Local: "message"}, Value: j.Message})
	}
	if j.Type != "" {
		start.Attr = append(start.Attr, xml.Attr{Name: xml.Name{Local: "type"}, Value: j.Type})
	}
	return junitText(j.Text).MarshalXML(e, start)
}

// junitText is element text written with its line breaks as they are
// (encoding/xml would write them as &#xA;); characters XML cannot carry
// become U+FFFD.
type junitText string

func text(s string) *junitText {
	t := junitText(s)
	return &t
}

func (t junitText) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	if err := e.EncodeToken(start); err != nil {
		return err
	}
	if t != "" {
		if err := e.EncodeToken(xml.CharData(t)); err != nil {
			return err
		}
	}
	return e.EncodeToken(start.End())
}
