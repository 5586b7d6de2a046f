package proto

import "testing"

func TestHeaderRoundTrip(t *testing.T) {
	t.Parallel()
	for _, n := range []int64{0, 1, 123456789} {
		h := Header(n)
		if len(h) != HeaderSize {
			t.Fatalf("header is %d bytes", len(h))
		}
		got, err := ParseHeader(h)
		if err != nil || got != n {
			t.Errorf("ParseHeader(Header(%d)) = %d, %v", n, got, err)
		}
	}
	for _, bad := range []string{"", "nope", Magic, Magic + "x\n", Magic + "-4\n"} {
		if _, err := ParseHeader([]byte(bad)); err == nil {
			t.Errorf("ParseHeader(%q) gave no error", bad)
		}
	}
}

func TestEventRoundTrip(t *testing.T) {
	t.Parallel()
	e := Event{Ev: EvStep, Unit: "hello", Name: "load hello-1.ko", Status: Fail, Errno: 22}
	got, err := ParseEvent(e.Marshal())
	if err != nil || got.Ev != e.Ev || got.Errno != 22 || got.Name != e.Name {
		t.Errorf("round trip = %+v, %v", got, err)
	}
	if _, err := ParseEvent([]byte(`{"t":1}`)); err == nil {
		t.Error("event without kind accepted")
	}
	if _, err := ParseEvent([]byte(`garbage`)); err == nil {
		t.Error("garbage accepted")
	}
}

func FuzzParseHeader(f *testing.F) {
	f.Add(Header(42))
	f.Add([]byte(Magic + "99999999999999999999\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := ParseHeader(b)
		if err == nil && n < 0 {
			t.Fatalf("negative size %d accepted", n)
		}
	})
}

func FuzzParseEvent(f *testing.F) {
	f.Add(Event{Ev: EvReady}.Marshal())
	f.Add([]byte(`{"ev":"unit-end","log":[{"level":4,"msg":"x"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseEvent(b)
		if err == nil && e.Ev == "" {
			t.Fatal("event without kind accepted")
		}
	})
}
