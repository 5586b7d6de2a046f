// Command chardevbench measures open/read/close rounds per second on
// /dev/chardev in one process, side by side with the same rounds on
// /dev/zero (a character device of the kernel's own), so that the ratio
// says what chardev costs beyond the open, read and close system calls
// themselves.
//
//	chardevbench [-d /dev/chardev] [-t 3s] [-n 6] [-baseline /dev/zero]
//
// The time is split into -n turns per device, taken in alternation (chardev,
// zero, chardev, ...), so that a slow moment of the machine hits both.
// It prints one line per device and the ratio:
//
//	chardevbench: /dev/chardev 123456 rounds in 3.00s: 41152 rounds/s (24.3 µs/round)
//	chardevbench: /dev/zero 150000 rounds in 3.00s: 50000 rounds/s (20.0 µs/round)
//	chardevbench: ratio chardev/zero 0.82 (median of 6 turns 0.83)
//
// A round is open(O_RDONLY), one read of up to 128 bytes, close. The
// reads of /dev/chardev must return the module's message; EBUSY (another
// opener) fails the run. `modlab run examples/chardev --exec chardevbench`
// runs it in the lab's VM; scripts/bench-chardev.sh does, per kernel.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	dev := flag.String("d", "/dev/chardev", "the device to measure")
	total := flag.Duration("t", 3*time.Second, "time to spend on each device")
	turns := flag.Int("n", 6, "turns per device, alternating with the baseline")
	base := flag.String("baseline", "/dev/zero", `the device to compare with ("" for none)`)
	flag.Parse()
	if *turns < 1 || *total <= 0 {
		fmt.Fprintln(os.Stderr, "chardevbench: -t and -n must be positive")
		os.Exit(2)
	}
	if err := run(*dev, *base, *total, *turns); err != nil {
		fmt.Fprintln(os.Stderr, "chardevbench:", err)
		os.Exit(1)
	}
}

// tally is what the turns on one device add up to.
type tally struct {
	path    string
	prefix  []byte // what every read must start with; nil: anything
	rounds  int
	elapsed time.Duration
}

func (t *tally) rate() float64 { return float64(t.rounds) / t.elapsed.Seconds() }

func (t *tally) print() {
	fmt.Printf("chardevbench: %s %d rounds in %.2fs: %.0f rounds/s (%.1f µs/round)\n",
		t.path, t.rounds, t.elapsed.Seconds(), t.rate(), 1e6/t.rate())
}

func run(dev, base string, total time.Duration, turns int) error {
	tallies := []*tally{{path: dev, prefix: []byte("I already told you ")}}
	if base != "" {
		tallies = append(tallies, &tally{path: base})
	}
	turn := total / time.Duration(turns)
	var ratios []float64
	for i := 0; i < turns; i++ {
		var rates []float64
		for _, t := range tallies {
			if i == 0 {
				// Warm up: page in the code, fill the dentry cache.
				if _, _, err := t.turn(20 * time.Millisecond); err != nil {
					return err
				}
			}
			n, d, err := t.turn(turn)
			if err != nil {
				return err
			}
			t.rounds += n
			t.elapsed += d
			rates = append(rates, float64(n)/d.Seconds())
		}
		if len(rates) == 2 {
			ratios = append(ratios, rates[0]/rates[1])
		}
	}
	for _, t := range tallies {
		t.print()
	}
	if len(tallies) == 2 {
		slices.Sort(ratios)
		median := ratios[len(ratios)/2]
		if len(ratios)%2 == 0 {
			median = (ratios[len(ratios)/2-1] + ratios[len(ratios)/2]) / 2
		}
		fmt.Printf("chardevbench: ratio %s/%s %.2f (median of %d turns %.2f)\n",
			filepath.Base(dev), filepath.Base(base), tallies[0].rate()/tallies[1].rate(), turns, median)
	}
	return nil
}

// turn does rounds for about d (checking the clock every 32 rounds) and
// returns how many it did in how long.
func (t *tally) turn(d time.Duration) (int, time.Duration, error) {
	buf := make([]byte, 128)
	start := time.Now()
	n := 0
	for {
		for i := 0; i < 32; i++ {
			fd, err := unix.Open(t.path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				return 0, 0, fmt.Errorf("open %s: %w", t.path, err)
			}
			r, err := unix.Read(fd, buf)
			unix.Close(fd)
			if err != nil {
				return 0, 0, fmt.Errorf("read %s: %w", t.path, err)
			}
			if t.prefix != nil && !bytes.HasPrefix(buf[:r], t.prefix) {
				return 0, 0, fmt.Errorf("read %s: %q, want a message starting with %q", t.path, buf[:r], t.prefix)
			}
		}
		n += 32
		if e := time.Since(start); e >= d {
			return n, e, nil
		}
	}
}
