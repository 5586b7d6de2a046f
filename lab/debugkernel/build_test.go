package debugkernel

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestBuildRejectsBadOptions: mistakes are reported before anything runs.
func TestBuildRejectsBadOptions(t *testing.T) {
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{CacheDir: t.TempDir(), Series: "6.x"}, `source series "6.x" is not MAJOR.MINOR`},
		{Options{CacheDir: t.TempDir(), Series: "../6.12"}, "is not MAJOR.MINOR"},
		{Options{Series: "6.12"}, "no cache directory"},
	} {
		if _, err := Build(context.Background(), tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Build(%+v): error %v, want %q", tc.o, err, tc.want)
		}
	}
}

func TestStepErrorNamesStepAndLog(t *testing.T) {
	err := error(&StepError{Step: StepBuild, Log: "/c/kernels/k/build.log", Err: errors.New("make: exit status 2")})
	want := `debug kernel: step "build" failed: make: exit status 2 (log: /c/kernels/k/build.log)`
	if err.Error() != want {
		t.Errorf("StepError = %q, want %q", err, want)
	}
	var se *StepError
	if !errors.As(err, &se) || se.Step != StepBuild {
		t.Error("errors.As does not find the StepError")
	}
}
