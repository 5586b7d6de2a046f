package report

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// xmllint validates files against testdata/junit.xsd, the structure CI
// systems read; scripts/setup.sh installs it (libxml2-utils).
func xmllint(t *testing.T, files ...string) ([]byte, error) {
	t.Helper()
	bin, err := exec.LookPath("xmllint")
	if err != nil {
		t.Skipf("no xmllint to check the JUnit schema (scripts/setup.sh installs libxml2-utils): %v", err)
	}
	args := append([]string{"--noout", "--schema", filepath.Join("testdata", "junit.xsd")}, files...)
	return exec.Command(bin, args...).CombinedOutput()
}

// modlab's JUnit report is valid for every combination.
func TestJUnitSchema(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	var files []string
	for _, c := range combos() {
		var b bytes.Buffer
		if err := WriteJUnit(&b, c.results); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(tmp, strings.ReplaceAll(c.name, " ", "_")+".xml")
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, path)
	}
	if out, err := xmllint(t, files...); err != nil {
		t.Errorf("xmllint: %v\n%s", err, out)
	}
}

// The schema rejects what CI systems would not read, so the test above
// can fail.
func TestJUnitSchemaRejects(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	for name, doc := range map[string]string{
		"no classname":      `<testsuites><testsuite name="k" tests="1" failures="0" errors="0" skipped="0" time="1"><testcase name="t" time="0"/></testsuite></testsuites>`,
		"no counts":         `<testsuites><testsuite name="k" time="1"/></testsuites>`,
		"count not number":  `<testsuites><testsuite name="k" tests="x" failures="0" errors="0" skipped="0" time="1"/></testsuites>`,
		"failure first":     `<testsuites><testsuite name="k" tests="1" failures="1" errors="0" skipped="0" time="1"><testcase name="t" classname="c" time="0"><system-out/><failure/></testcase></testsuite></testsuites>`,
		"property no value": `<testsuites><testsuite name="k" tests="0" failures="0" errors="0" skipped="0" time="1"><properties><property name="p"/></properties></testsuite></testsuites>`,
		"unknown element":   `<testsuites><testsuite name="k" tests="0" failures="0" errors="0" skipped="0" time="1"><result/></testsuite></testsuites>`,
	} {
		path := filepath.Join(tmp, strings.ReplaceAll(name, " ", "_")+".xml")
		if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := xmllint(t, path); err == nil {
			t.Errorf("%s: the schema accepts %s\n%s", name, doc, out)
		}
	}
}
