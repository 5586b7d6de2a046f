// Command hookbench measures what hook_syscall costs an openat(2) that it
// does not report: openat latency without the module, with it loaded and
// no uid set, and with it watching a uid other than the caller's, in the
// same VM, in interleaved rounds. A fourth mode, the caller's own uid
// (every call goes through the rate limit, ten are reported every five
// seconds), is measured too, for information.
//
//	hookbench [-ko $MODLAB_DIR/hook_syscall.ko] [-t 4s] [-n 8] [-batch 256] [-file /tmp/hookbench]
//
// Each round visits the modes in turn (the order rotates from round to
// round, so that a slow moment of the machine hits every mode); a mode's
// turn is -t/-n long. A turn times batches of -batch openat calls on one
// file, then closes the files, untimed. It must run as root: it unloads and
// loads the module, and writes its uid parameter. It prints one line per
// mode and the worst ratio of the two modes that report nothing:
//
//	hookbench: off    184320 openat in 1.00s: 5.42 µs each
//	hookbench: none   180224 openat in 1.00s: 5.55 µs each, ratio 1.02 (median of rounds 1.02)
//	hookbench: other  179712 openat in 1.00s: 5.56 µs each, ratio 1.03 (median of rounds 1.02)
//	hookbench: self   150016 openat in 1.00s: 6.66 µs each, ratio 1.23 (median of rounds 1.22)
//	hookbench: hook/no hook, worst of none and other: ratio 1.03
//
// `modlab run examples/hook_syscall --exec hookbench` runs it in the lab's
// VM; scripts/bench-hook.sh does, per kernel.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"time"
	"unsafe"

	"github.com/modlab/modlab/kmod/loader"
	"golang.org/x/sys/unix"
)

const (
	module    = "hook_syscall"
	paramFile = "/sys/module/" + module + "/parameters/uid"
	otherUID  = 4242 // a uid the bench never runs as
)

// A mode is a state of the hook.
type mode struct {
	name string
	uid  int  // the parameter; -1: none
	off  bool // the module unloaded
	// Totals over the rounds.
	calls   int
	elapsed time.Duration
	ratios  []float64 // per round, against off
}

func main() {
	ko := flag.String("ko", filepath.Join(os.Getenv("MODLAB_DIR"), module+".ko"), "the module file")
	total := flag.Duration("t", 4*time.Second, "time to spend in each mode")
	rounds := flag.Int("n", 8, "rounds: each visits every mode once")
	batch := flag.Int("batch", 256, "openat calls per timed batch")
	file := flag.String("file", "/tmp/hookbench", "the file to open (created)")
	flag.Parse()
	if *rounds < 1 || *total <= 0 || *batch < 1 || *batch > 900 {
		fmt.Fprintln(os.Stderr, "hookbench: -t and -n must be positive, -batch 1 to 900")
		os.Exit(2)
	}
	if err := run(*ko, *file, *total, *rounds, *batch); err != nil {
		fmt.Fprintln(os.Stderr, "hookbench:", err)
		os.Exit(1)
	}
}

func run(ko, file string, total time.Duration, rounds, batch int) error {
	if err := os.WriteFile(file, []byte("hookbench\n"), 0o644); err != nil {
		return err
	}
	defer os.Remove(file)
	modes := []*mode{
		{name: "off", off: true},
		{name: "none", uid: -1},
		{name: "other", uid: otherUID},
		{name: "self", uid: os.Getuid()},
	}
	// Leave the module as we found it: loaded (as modlab run loads it)
	// or not, with its parameter.
	wasLoaded, oldUID := loaded()
	defer func() {
		if wasLoaded {
			setMode(ko, &mode{uid: oldUID})
		} else {
			unload()
		}
	}()
	turn := total / time.Duration(rounds)
	for r := 0; r < rounds; r++ {
		lat := make([]float64, len(modes))
		for k := range modes {
			i := (r + k) % len(modes)
			m := modes[i]
			if err := setMode(ko, m); err != nil {
				return err
			}
			if r == 0 && k == 0 {
				// Warm up: page in the code, fill the dentry cache.
				if _, _, err := measure(file, 50*time.Millisecond, batch); err != nil {
					return err
				}
			}
			n, d, err := measure(file, turn, batch)
			if err != nil {
				return fmt.Errorf("mode %s: %w", m.name, err)
			}
			m.calls += n
			m.elapsed += d
			lat[i] = float64(d) / float64(n)
		}
		for i, m := range modes[1:] {
			m.ratios = append(m.ratios, lat[i+1]/lat[0])
		}
	}
	base := modes[0]
	each := func(m *mode) float64 { return float64(m.elapsed.Nanoseconds()) / float64(m.calls) }
	fmt.Printf("hookbench: %-5s %8d openat in %.2fs: %.2f µs each\n", base.name, base.calls, base.elapsed.Seconds(), each(base)/1e3)
	worst := 0.0
	for _, m := range modes[1:] {
		ratio := each(m) / each(base)
		fmt.Printf("hookbench: %-5s %8d openat in %.2fs: %.2f µs each, ratio %.2f (median of rounds %.2f)\n",
			m.name, m.calls, m.elapsed.Seconds(), each(m)/1e3, ratio, median(m.ratios))
		if m.name != "self" {
			worst = max(worst, ratio)
		}
	}
	fmt.Printf("hookbench: hook/no hook, worst of none and other: ratio %.2f\n", worst)
	return nil
}

// measure opens file read-only in timed batches for about d and returns
// the calls made and the time they took (the closes are not timed).
func measure(file string, d time.Duration, batch int) (int, time.Duration, error) {
	path, err := unix.BytePtrFromString(file)
	if err != nil {
		return 0, 0, err
	}
	dirfd := unix.AT_FDCWD // a variable: the constant -100 is no uintptr
	fds := make([]int, batch)
	var spent time.Duration
	calls := 0
	for spent < d {
		start := time.Now()
		for i := range fds {
			// The raw call: no conversion of the path on every call.
			fd, _, e := unix.Syscall6(unix.SYS_OPENAT, uintptr(dirfd), uintptr(unsafe.Pointer(path)),
				unix.O_RDONLY|unix.O_CLOEXEC, 0, 0, 0)
			if e != 0 {
				closeAll(fds[:i])
				return 0, 0, fmt.Errorf("openat %s: %w", file, e)
			}
			fds[i] = int(fd)
		}
		spent += time.Since(start)
		calls += batch
		closeAll(fds)
	}
	runtime.KeepAlive(path)
	return calls, spent, nil
}

func closeAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// loaded reports whether the module is loaded, and its uid parameter.
func loaded() (bool, int) {
	b, err := os.ReadFile(paramFile)
	if err != nil {
		return false, -1
	}
	uid, err := strconv.Atoi(string(b[:len(b)-1]))
	if err != nil {
		return true, -1
	}
	return true, uid
}

// setMode loads or unloads the module and sets its parameter.
func setMode(ko string, m *mode) error {
	if m.off {
		return unload()
	}
	if ok, _ := loaded(); !ok {
		f, err := os.Open(ko)
		if err != nil {
			return fmt.Errorf("load: %w", err)
		}
		err = unix.FinitModule(int(f.Fd()), "uid="+strconv.Itoa(m.uid), 0)
		f.Close()
		if err != nil {
			return fmt.Errorf("load %s: %w", ko, err)
		}
		return nil
	}
	if err := os.WriteFile(paramFile, []byte(strconv.Itoa(m.uid)), 0); err != nil {
		return fmt.Errorf("set uid=%d: %w", m.uid, err)
	}
	return nil
}

func unload() error {
	if ok, _ := loaded(); !ok {
		return nil
	}
	// The loader asks again when delete_module is interrupted (EINTR).
	if err := (&loader.Loader{}).Unload(module, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return err
	}
	return nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
