package loader

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRetryEINTR: an interrupted call is made again until it gives a
// real answer, which is returned as it is; other errors are not retried.
func TestRetryEINTR(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		results []error
		want    error
		calls   int
	}{
		{[]error{nil}, nil, 1},
		{[]error{unix.EINTR, unix.EINTR, nil}, nil, 3},
		{[]error{unix.EINTR, unix.EWOULDBLOCK}, unix.EWOULDBLOCK, 2},
		{[]error{unix.ENOENT}, unix.ENOENT, 1},
		{[]error{unix.EAGAIN}, unix.EAGAIN, 1},
	} {
		calls := 0
		got := retryEINTR(func() error {
			calls++
			return tc.results[calls-1]
		})
		if !errors.Is(got, tc.want) || (got == nil) != (tc.want == nil) || calls != tc.calls {
			t.Errorf("results %v: got %v after %d calls, want %v after %d", tc.results, got, calls, tc.want, tc.calls)
		}
	}
}
