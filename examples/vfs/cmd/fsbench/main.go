// Command fsbench measures modlabfs against tmpfs in the same VM: write
// throughput, read throughput and the rate of file creation. It mounts a
// fresh tmpfs and a fresh modlabfs (the module must be loaded), and runs
// each measurement on both in interleaved rounds (ABBA order, so neither
// side always goes first).
//
//	fsbench [--mib 64] [--io 1048576] [--files 2000] [--rounds 6] [--fs modlabfs]
//
// Write: a new file of MIB MiB in writes of IO bytes, closed. Read: that
// file read back in reads of IO bytes (from the page cache, on both).
// Create: FILES empty files created and closed in one directory; they are
// removed outside the timing. It prints one line per round and one summary
// line per measurement:
//
//	fsbench: write modlabfs 812.3 MiB/s, tmpfs 840.0 MiB/s, ratio 0.97 (median of rounds 0.96)
//
// The ratio is modlabfs's rate over tmpfs's: 1.0 means as fast.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"
)

func main() {
	if err := run(os.Stdout, os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "fsbench: %v\n", err)
		os.Exit(1)
	}
}

// side is one filesystem under test, with its running totals per
// measurement.
type side struct {
	name  string
	dir   string
	units map[string]float64 // MiB or files done, per measurement
	time  map[string]time.Duration
}

func (s *side) rate(m string) float64 { return s.units[m] / s.time[m].Seconds() }

type config struct {
	mib, io, files, rounds int
}

func run(out io.Writer, args []string) error {
	fl := pflag.NewFlagSet("fsbench", pflag.ContinueOnError)
	var c config
	fl.IntVar(&c.mib, "mib", 64, "MiB written and read per round")
	fl.IntVar(&c.io, "io", 1<<20, "bytes per write and read")
	fl.IntVar(&c.files, "files", 2000, "files created per round")
	fl.IntVar(&c.rounds, "rounds", 6, "rounds (each runs both filesystems)")
	fsType := fl.String("fs", "modlabfs", "the filesystem compared with tmpfs")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if c.mib < 1 || c.io < 1 || c.files < 1 || c.rounds < 1 || fl.NArg() != 0 {
		return errors.New("usage: fsbench [--mib N] [--io BYTES] [--files N] [--rounds N] [--fs TYPE]")
	}
	base, err := os.MkdirTemp("", "fsbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(base)
	var sides []*side
	for _, t := range []string{*fsType, "tmpfs"} {
		dir := filepath.Join(base, t)
		if err := os.Mkdir(dir, 0o755); err != nil {
			return err
		}
		// Both get room for the file and the files, and nothing else.
		if err := unix.Mount("none", dir, t, 0, fmt.Sprintf("size=%dm", 2*c.mib+64)); err != nil {
			return fmt.Errorf("mount -t %s on %s: %w", t, dir, err)
		}
		defer unix.Unmount(dir, 0)
		sides = append(sides, &side{name: t, dir: dir, units: map[string]float64{}, time: map[string]time.Duration{}})
	}

	buf := make([]byte, c.io)
	for i := range buf {
		buf[i] = byte(i*7 + 1)
	}
	ratios := map[string][]float64{}
	measures := []string{"write", "read", "create"}
	for r := 0; r < c.rounds; r++ {
		order := sides
		if r%2 == 1 {
			order = []*side{sides[1], sides[0]}
		}
		for _, m := range measures {
			got := map[string]float64{}
			for _, s := range order {
				rate, err := measure(m, s, c, buf)
				if err != nil {
					return fmt.Errorf("%s on %s: %w", m, s.name, err)
				}
				got[s.name] = rate
			}
			ratio := got[sides[0].name] / got[sides[1].name]
			ratios[m] = append(ratios[m], ratio)
			fmt.Fprintf(out, "round %d %-6s %s %10.1f %s, tmpfs %10.1f %s, ratio %.2f\n",
				r+1, m, sides[0].name, got[sides[0].name], unit(m), got["tmpfs"], unit(m), ratio)
		}
	}
	for _, m := range measures {
		a, b := sides[0], sides[1]
		fmt.Fprintf(out, "fsbench: %s %s %.1f %s, tmpfs %.1f %s, ratio %.2f (median of rounds %.2f)\n",
			m, a.name, a.rate(m), unit(m), b.rate(m), unit(m), a.rate(m)/b.rate(m), median(ratios[m]))
	}
	return nil
}

func unit(m string) string {
	if m == "create" {
		return "files/s"
	}
	return "MiB/s"
}

// measure runs one measurement on one side, adds it to the side's totals
// and returns this round's rate.
func measure(m string, s *side, c config, buf []byte) (float64, error) {
	var units float64
	var took time.Duration
	var err error
	switch m {
	case "write":
		units, took, err = writeFile(filepath.Join(s.dir, "big"), c, buf)
	case "read":
		units, took, err = readFile(filepath.Join(s.dir, "big"), c, buf)
	case "create":
		units, took, err = createFiles(filepath.Join(s.dir, "many"), c.files)
	}
	if err != nil {
		return 0, err
	}
	s.units[m] += units
	s.time[m] += took
	return units / took.Seconds(), nil
}

// writeFile writes a new file of c.mib MiB; the old one is removed first,
// outside the timing.
func writeFile(path string, c config, buf []byte) (float64, time.Duration, error) {
	os.Remove(path)
	total := int64(c.mib) << 20
	start := time.Now()
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, 0o644)
	if err != nil {
		return 0, 0, err
	}
	for done := int64(0); done < total; {
		n, err := unix.Write(fd, buf[:min(int64(len(buf)), total-done)])
		if err != nil {
			unix.Close(fd)
			return 0, 0, err
		}
		done += int64(n)
	}
	if err := unix.Close(fd); err != nil {
		return 0, 0, err
	}
	return float64(c.mib), time.Since(start), nil
}

// readFile reads the file back and checks its first buffer.
func readFile(path string, c config, buf []byte) (float64, time.Duration, error) {
	rbuf := make([]byte, len(buf))
	start := time.Now()
	fd, err := unix.Open(path, unix.O_RDONLY, 0)
	if err != nil {
		return 0, 0, err
	}
	defer unix.Close(fd)
	var done int64
	first := true
	for {
		n, err := unix.Read(fd, rbuf)
		if err != nil {
			return 0, 0, err
		}
		if n == 0 {
			break
		}
		if first && !bytes.Equal(rbuf[:n], buf[:n]) {
			return 0, 0, errors.New("the file does not hold what was written")
		}
		first = false
		done += int64(n)
	}
	took := time.Since(start)
	if done != int64(c.mib)<<20 {
		return 0, 0, fmt.Errorf("read %d bytes, want %d", done, int64(c.mib)<<20)
	}
	return float64(c.mib), took, nil
}

// createFiles times creating and closing n empty files in a new directory,
// then removes them all (not timed).
func createFiles(dir string, n int) (float64, time.Duration, error) {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(dir)
	names := make([]string, n)
	for i := range names {
		names[i] = filepath.Join(dir, fmt.Sprintf("f%06d", i))
	}
	start := time.Now()
	for _, name := range names {
		fd, err := unix.Open(name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, 0o644)
		if err != nil {
			return 0, 0, err
		}
		unix.Close(fd)
	}
	return float64(n), time.Since(start), nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
