package lab

import (
	"slices"
	"strings"
	"testing"

	"github.com/modlab/modlab/lab/proto"
)

// TestKernelArgs: each kernel boots with the lab's memory checks for it
// (SLUB's and KFENCE's on Debian's, KASAN's on the debug kernel) before
// the user's arguments.
func TestKernelArgs(t *testing.T) {
	t.Parallel()
	debian := Kernel{Release: "6.12.95+deb12-cloud-amd64", Origin: OriginDebian}
	debug := Kernel{Release: "6.12.117-modlab-debug", Origin: OriginDebug}
	for _, tc := range []struct {
		k    Kernel
		user string
		want string
	}{
		{debian, "", "slub_debug=FZPU kfence.sample_interval=10"},
		{debian, "slub_debug=-", "slub_debug=FZPU kfence.sample_interval=10 slub_debug=-"},
		{debug, "", "kasan_multi_shot no5lvl 8250.nr_uarts=2 max_loop=0 audit=0 selinux=0"},
		{debug, "kasan.fault=panic", "kasan_multi_shot no5lvl 8250.nr_uarts=2 max_loop=0 audit=0 selinux=0 kasan.fault=panic"},
	} {
		if got := kernelArgs(tc.k, tc.user); got != tc.want {
			t.Errorf("kernelArgs(%s, %q) = %q, want %q", tc.k.Origin, tc.user, got, tc.want)
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

// TestNiceness: beside the debug kernel, Debian's kernels run at a lower
// CPU priority; among equals, nobody yields.
func TestNiceness(t *testing.T) {
	t.Parallel()
	a, b := Kernel{Release: "a", Origin: OriginDebian}, Kernel{Release: "b", Origin: OriginDebian}
	d := Kernel{Release: "d", Origin: OriginDebug}
	for _, tc := range []struct {
		k    Kernel
		ks   []Kernel
		want int
	}{
		{a, []Kernel{a, b, d}, 10},
		{d, []Kernel{a, b, d}, 0},
		{a, []Kernel{a, b}, 0},
		{d, []Kernel{d}, 0},
	} {
		if got := niceness(tc.k, tc.ks); got != tc.want {
			t.Errorf("niceness(%s among %d) = %d, want %d", tc.k.Release, len(tc.ks), got, tc.want)
		}
	}
}
