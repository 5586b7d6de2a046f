package guesttest

import (
	"testing"
	"time"

	"github.com/modlab/modlab/lab/proto"
)

func TestRounds(t *testing.T) {
	for _, tc := range []struct {
		env      string
		n, want  int
		slowdown int
	}{
		{"", 8000, 8000, 1},
		{"1", 100, 100, 1},
		{"garbage", 100, 100, 1},
		{"-3", 100, 100, 1},
		{"6", 8000, 444, 6},
		{"6", 100, 5, 6},
		{"6", 300, 16, 6},
		{"6", 30, 5, 6},
		{"6", 4, 4, 6},
		{"100", 50, 5, 100},
	} {
		t.Setenv(proto.EnvSlowdown, tc.env)
		if got := Slowdown(); got != tc.slowdown {
			t.Errorf("%s=%q: Slowdown() = %d, want %d", proto.EnvSlowdown, tc.env, got, tc.slowdown)
		}
		if got := Rounds(tc.n); got != tc.want {
			t.Errorf("%s=%q: Rounds(%d) = %d, want %d", proto.EnvSlowdown, tc.env, tc.n, got, tc.want)
		}
	}
}

func TestStressTime(t *testing.T) {
	for _, tc := range []struct {
		env     string
		d, want time.Duration
	}{
		{"", 3 * time.Second, 3 * time.Second},
		{"1", 2 * time.Second, 2 * time.Second},
		{"6", 2 * time.Second, time.Second},
		{"6", 30 * time.Second, 30 * time.Second / 18},
		{"6", 500 * time.Millisecond, 500 * time.Millisecond},
		{"100", 10 * time.Second, time.Second},
	} {
		t.Setenv(proto.EnvSlowdown, tc.env)
		if got := StressTime(tc.d); got != tc.want {
			t.Errorf("%s=%q: StressTime(%v) = %v, want %v", proto.EnvSlowdown, tc.env, tc.d, got, tc.want)
		}
	}
}
