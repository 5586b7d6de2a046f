package proto

import (
	"bytes"
	"testing"
)

// TestCoverageEventRoundTrip: a gcov data file is binary; it must arrive
// byte for byte, on one line.
func TestCoverageEventRoundTrip(t *testing.T) {
	data := []byte("adcg*22B\x00\x01\xff\xfe\n\r\"\\ and more")
	e := Event{Ev: EvCoverage, Unit: "hello", Name: "/root/.cache/modlab/build/hello-1/6.12/hello-5.gcda", Data: data}
	line := e.Marshal()
	if bytes.Count(line, []byte("\n")) != 1 || line[len(line)-1] != '\n' {
		t.Fatalf("event is not one line: %q", line)
	}
	got, err := ParseEvent(line)
	if err != nil {
		t.Fatal(err)
	}
	if got.Ev != EvCoverage || got.Name != e.Name || !bytes.Equal(got.Data, data) {
		t.Errorf("got %+v, want %+v", got, e)
	}
}
