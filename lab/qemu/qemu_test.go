package qemu

import "testing"

// TestTrimNoise: line noise around an event is dropped, the event is not
// touched; a line of noise alone becomes empty.
func TestTrimNoise(t *testing.T) {
	t.Parallel()
	const ev = `{"ev":"hello","t":10.1,"kernel":"6.12.117-modlab-debug"}`
	for _, tc := range []struct{ in, want string }{
		{ev, ev},
		{"\xff" + ev, ev}, // seen: the debug kernel booted with acpi=off
		{"\x00\x00" + ev + "\r", ev},
		{"  " + ev + " \t", ev},
		{"\xff\xfe", ""},
		{"", ""},
		{`{"msg":"caf\u00e9 ü"}`, `{"msg":"caf\u00e9 ü"}`},
	} {
		if got := string(trimNoise([]byte(tc.in))); got != tc.want {
			t.Errorf("trimNoise(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
