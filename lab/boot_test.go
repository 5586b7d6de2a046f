package lab

import (
	"slices"
	"strings"
	"testing"

	"github.com/modlab/modlab/lab/proto"
)

// TestKernelArgs: the debug kernel boots with its own arguments before the
// user's; Debian's kernels with the user's alone.
func TestKernelArgs(t *testing.T) {
	t.Parallel()
	debian := Kernel{Release: "6.12.95+deb12-cloud-amd64", Origin: OriginDebian}
	debug := Kernel{Release: "6.12.117-modlab-debug", Origin: OriginDebug}
	for _, tc := range []struct {
		k    Kernel
		user string
		from int
		want string
	}{
		{debian, "", 0, ""},
		{debian, "quiet", 0, "quiet"},
		{debian, "", 2, "modlab_from=2"},
		{debug, "", 0, "kasan_multi_shot no5lvl"},
		{debug, "kasan.fault=panic", 0, "kasan_multi_shot no5lvl kasan.fault=panic"},
		{debug, "quiet", 3, "kasan_multi_shot no5lvl quiet modlab_from=3"},
	} {
		if got := kernelArgs(tc.k, tc.user, tc.from); got != tc.want {
			t.Errorf("kernelArgs(%s, %q, %d) = %q, want %q", tc.k.Origin, tc.user, tc.from, got, tc.want)
		}
	}
}

// TestUnhealthyError: a boot that reached ready unhealthy says why, and
// shows the first bug report of the boot.
func TestUnhealthyError(t *testing.T) {
	t.Parallel()
	e := &unhealthyError{proto.Event{Ev: proto.EvReady,
		Unhealthy: "the kernel is tainted (B) before any module was loaded",
		Splats:    []string{"BUG: KASAN: wild-memory-access in do_raw_spin_lock+0x122/0x270\nWrite of size 4"}}}
	got := e.Error()
	for _, want := range []string{"unhealthy before the first unit: the kernel is tainted (B)",
		"\nBUG: KASAN: wild-memory-access in do_raw_spin_lock+0x122/0x270\nWrite of size 4"} {
		if !strings.Contains(got, want) {
			t.Errorf("error %q lacks %q", got, want)
		}
	}
}

// TestSlowestFirst: the debug kernel boots first, Debian's keep their
// order.
func TestSlowestFirst(t *testing.T) {
	t.Parallel()
	ks := []Kernel{{Release: "a", Origin: OriginDebian}, {Release: "b", Origin: OriginDebian}, {Release: "d", Origin: OriginDebug}}
	got := slowestFirst(ks)
	if want := []int{2, 0, 1}; !slices.Equal(got, want) {
		t.Errorf("slowestFirst = %v, want %v", got, want)
	}
}
