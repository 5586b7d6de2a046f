// Command ioctlbench measures read throughput of the ioctltest device
// against /dev/zero, side by side: the same read size, the same amount from
// each, in interleaved rounds (ABBA order, so neither side always runs
// first or second), into the same buffer.
//
//	ioctlbench [--size 1MiB] [--total 512] [--rounds 8] [--byte 0xff] DEVICE
//
// It checks the bytes of the first read from each file, then prints one
// line per round and a summary line:
//
//	ioctlbench: DEVICE 1234.5 MiB/s, /dev/zero 1300.1 MiB/s, ratio 0.95 (median of rounds 0.95)
//
// The ratio is the device's rate over /dev/zero's: 1.0 means as fast.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/modlab/modlab/examples/ioctl/uapi"
)

func main() {
	if err := run(os.Stdout, os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "ioctlbench: %v\n", err)
		os.Exit(1)
	}
}

// source is one file read in the benchmark.
type source struct {
	path  string
	fd    int
	bytes int64
	time  time.Duration
}

func (s *source) rate() float64 { return float64(s.bytes) / (1 << 20) / s.time.Seconds() }

// readN reads n bytes in reads of len(buf) and adds the time they took.
func (s *source) readN(buf []byte, n int64) error {
	start := time.Now()
	for done := int64(0); done < n; {
		m, err := unix.Read(s.fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", s.path, err)
		}
		if m == 0 {
			return fmt.Errorf("read %s: unexpected end of file", s.path)
		}
		done += int64(m)
	}
	s.time += time.Since(start)
	s.bytes += n
	return nil
}

func run(out io.Writer, args []string) error {
	fs := pflag.NewFlagSet("ioctlbench", pflag.ContinueOnError)
	size := fs.Int("size", 1<<20, "bytes per read")
	total := fs.Int64("total", 512, "MiB to read from each file")
	rounds := fs.Int("rounds", 8, "interleaved rounds the total is split into")
	val := fs.Uint8("byte", 0xff, "the device's byte for the run (set with IOCTL_VALSET)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 || *size <= 0 || *total <= 0 || *rounds <= 0 {
		return errors.New("usage: ioctlbench [--size BYTES] [--total MIB] [--rounds N] [--byte B] DEVICE")
	}
	dev := &source{path: fs.Arg(0)}
	zero := &source{path: "/dev/zero"}
	for _, s := range []*source{dev, zero} {
		fd, err := unix.Open(s.path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open %s: %w", s.path, err)
		}
		defer unix.Close(fd)
		s.fd = fd
	}
	if err := uapi.Set(dev.fd, *val); err != nil {
		return fmt.Errorf("%s: IOCTL_VALSET: %w", dev.path, err)
	}

	buf := make([]byte, *size)
	for _, c := range []struct {
		s *source
		b byte
	}{{dev, *val}, {zero, 0}} {
		clear(buf)
		buf[0], buf[len(buf)-1] = ^c.b, ^c.b
		n, err := unix.Read(c.s.fd, buf)
		if err != nil || n != len(buf) || !bytes.Equal(buf, bytes.Repeat([]byte{c.b}, len(buf))) {
			return fmt.Errorf("%s: a read of %d bytes gave %d bytes (%v), not all 0x%02x", c.s.path, len(buf), n, err, c.b)
		}
	}

	per := *total << 20 / int64(*rounds)
	per -= per % int64(*size)
	if per == 0 {
		per = int64(*size)
	}
	fmt.Fprintf(out, "ioctlbench: reads of %d bytes, %d MiB from each file in %d rounds\n",
		*size, per*int64(*rounds)>>20, *rounds)
	var ratios []float64
	for r := range *rounds {
		order := []*source{dev, zero}
		if r%2 == 1 {
			order = []*source{zero, dev}
		}
		dt, zt := dev.time, zero.time
		for _, s := range order {
			if err := s.readN(buf, per); err != nil {
				return err
			}
		}
		dr := float64(per) / (1 << 20) / (dev.time - dt).Seconds()
		zr := float64(per) / (1 << 20) / (zero.time - zt).Seconds()
		ratios = append(ratios, dr/zr)
		fmt.Fprintf(out, "round %d: %s %.1f MiB/s, /dev/zero %.1f MiB/s, ratio %.3f\n", r+1, dev.path, dr, zr, dr/zr)
	}
	slices.Sort(ratios)
	median := ratios[len(ratios)/2]
	if len(ratios)%2 == 0 {
		median = (ratios[len(ratios)/2-1] + median) / 2
	}
	fmt.Fprintf(out, "ioctlbench: %s %.1f MiB/s, /dev/zero %.1f MiB/s, ratio %.3f (median of rounds %.3f)\n",
		dev.path, dev.rate(), zero.rate(), dev.rate()/zero.rate(), median)
	return nil
}
