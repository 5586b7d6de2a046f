// Command ioctlctl drives the ioctltest device of examples/ioctl: it makes
// the device node from /proc/devices, and sets, gets and reads the byte that
// every open of the device has for itself.
//
//	ioctlctl mknod [-f] PATH        make PATH the node of ioctltest (major from /proc/devices, minor 0)
//	ioctlctl get [--num] PATH       open PATH and print its byte (a fresh open has 0xff)
//	ioctlctl set [--num] PATH BYTE  open PATH, set the byte, get it back on the same open, print it
//	ioctlctl read PATH N [--set BYTE]
//	                                open PATH (set the byte first), read N bytes, print a hex dump
//
// --num uses IOCTL_VALGET_NUM and IOCTL_VALSET_NUM (an int) instead of
// IOCTL_VALGET and IOCTL_VALSET (struct ioctl_arg). A BYTE is a number from
// 0 to 255, in decimal, 0x hex or 0 octal. Since the byte belongs to one
// open file, set and read-with---set do everything on one open: a later
// `ioctlctl get` opens the device afresh and prints 0xff.
//
// Errors are printed with the errno's name and text, and exit with status
// 1; a wrong command line exits with status 2.
package main

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/modlab/modlab/examples/ioctl/uapi"
)

const usage = `Usage:
  ioctlctl mknod [-f] PATH          make PATH the node of ioctltest (major from /proc/devices, minor 0)
  ioctlctl get [--num] PATH         open PATH and print its byte (a fresh open has 0xff)
  ioctlctl set [--num] PATH BYTE    set the byte, get it back on the same open, print it
  ioctlctl read PATH N [--set BYTE] read N bytes (after setting BYTE on the same open), hex dump them

BYTE is 0..255 (decimal, 0x hex, 0 octal). --num uses the int commands
IOCTL_VALGET_NUM/IOCTL_VALSET_NUM instead of IOCTL_VALGET/IOCTL_VALSET.
`

// maxRead bounds N of the read command: the dump is made in memory.
const maxRead = 1 << 30

func main() {
	os.Exit(run(&env{stdout: os.Stdout, stderr: os.Stderr, procDevices: "/proc/devices"}, os.Args[1:]))
}

// env is what a command uses of the world, replaceable in tests.
type env struct {
	stdout, stderr io.Writer
	procDevices    string // /proc/devices
}

// usageError is a wrong command line: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// opError is a failed operation; its message decodes the errno it carries
// ("open /dev/x: ENOENT (no such file or directory)").
type opError struct {
	op  string
	err error
}

func (e *opError) Error() string {
	var n unix.Errno
	if errors.As(e.err, &n) {
		return fmt.Sprintf("%s: %s (%s)", e.op, unix.ErrnoName(n), n.Error())
	}
	return e.op + ": " + e.err.Error()
}

func (e *opError) Unwrap() error { return e.err }

// run runs one command line and returns the exit status.
func run(e *env, args []string) int {
	err := dispatch(e, args)
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, pflag.ErrHelp):
		fmt.Fprint(e.stdout, usage)
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(e.stderr, "ioctlctl: %v\n%s", err, usage)
		return 2
	default:
		fmt.Fprintf(e.stderr, "ioctlctl: %v\n", err)
		return 1
	}
}

func dispatch(e *env, args []string) error {
	if len(args) == 0 {
		return usagef("no command")
	}
	cmd, args := args[0], args[1:]
	fs := pflag.NewFlagSet(cmd, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	force := fs.BoolP("force", "f", false, "replace PATH if it exists")
	num := fs.Bool("num", false, "use the int commands")
	setArg := fs.String("set", "", "set this byte before reading")
	if cmd == "help" || cmd == "-h" || cmd == "--help" {
		return pflag.ErrHelp
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return err
		}
		return usagef("%s: %v", cmd, err)
	}
	// Each command accepts only its own flags.
	allowed := map[string][]string{"mknod": {"force"}, "get": {"num"}, "set": {"num"}, "read": {"set", "num"}}
	ok, known := allowed[cmd]
	if !known {
		return usagef("unknown command %q", cmd)
	}
	var bad error
	fs.Visit(func(f *pflag.Flag) {
		for _, n := range ok {
			if f.Name == n {
				return
			}
		}
		bad = usagef("%s: no option --%s", cmd, f.Name)
	})
	if bad != nil {
		return bad
	}
	pos := fs.Args()
	want := map[string]int{"mknod": 1, "get": 1, "set": 2, "read": 2}[cmd]
	if len(pos) != want {
		return usagef("%s takes %d argument(s), got %d", cmd, want, len(pos))
	}
	path := pos[0]
	switch cmd {
	case "mknod":
		return mknod(e, path, *force)
	case "get":
		return get(e, path, *num)
	case "set":
		b, err := parseByte(pos[1])
		if err != nil {
			return err
		}
		return set(e, path, b, *num)
	default: // read
		n, err := strconv.ParseUint(pos[1], 0, 64)
		if err != nil || n > maxRead {
			return usagef("read: N must be a number of bytes from 0 to %d, not %q", maxRead, pos[1])
		}
		var b *byte
		if fs.Changed("set") {
			v, err := parseByte(*setArg)
			if err != nil {
				return err
			}
			b = &v
		}
		return read(e, path, int(n), b, *num)
	}
}

// parseByte reads a BYTE argument.
func parseByte(s string) (byte, error) {
	v, err := strconv.ParseUint(s, 0, 8)
	if err != nil {
		return 0, usagef("%q is not a byte (0..255, or 0x00..0xff)", s)
	}
	return byte(v), nil
}

// charMajor finds the major number registered under name in the
// "Character devices:" part of /proc/devices.
func charMajor(r io.Reader, name string) (uint32, error) {
	sc := bufio.NewScanner(r)
	inChar := false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
			inChar = false
		case strings.HasSuffix(line, ":"):
			inChar = line == "Character devices:"
		case inChar:
			f := strings.Fields(line)
			if len(f) != 2 || f[1] != name {
				continue
			}
			m, err := strconv.ParseUint(f[0], 10, 12) // MAJOR() has 12 bits
			if err != nil {
				return 0, fmt.Errorf("bad line %q: %w", line, err)
			}
			return uint32(m), nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no character device %q (is the module loaded?)", name)
}

func mknod(e *env, path string, force bool) error {
	f, err := os.Open(e.procDevices)
	if err != nil {
		return &opError{"mknod " + path, err}
	}
	major, err := charMajor(f, uapi.Name)
	f.Close()
	if err != nil {
		return &opError{"mknod " + path, fmt.Errorf("%s: %w", e.procDevices, err)}
	}
	if force {
		if err := unix.Unlink(path); err != nil && err != unix.ENOENT {
			return &opError{"unlink " + path, err}
		}
	}
	if err := unix.Mknod(path, unix.S_IFCHR|0o666, int(unix.Mkdev(major, 0))); err != nil {
		return &opError{"mknod " + path, err}
	}
	// Make it 0666 whatever the umask: like /dev/zero, nothing to protect.
	if err := unix.Chmod(path, 0o666); err != nil {
		return &opError{"chmod " + path, err}
	}
	fmt.Fprintf(e.stdout, "%s: c %d 0\n", path, major)
	return nil
}

// open opens the device for reading; the byte lives as long as the fd.
func open(path string) (int, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, &opError{"open " + path, err}
	}
	return fd, nil
}

func getByte(fd int, path string, num bool) (byte, error) {
	if num {
		n, err := uapi.GetNum(fd)
		if err != nil {
			return 0, &opError{path + ": IOCTL_VALGET_NUM", err}
		}
		if n < 0 || n > 0xff {
			return 0, &opError{path + ": IOCTL_VALGET_NUM", fmt.Errorf("the device answered %d, not a byte", n)}
		}
		return byte(n), nil
	}
	b, err := uapi.Get(fd)
	if err != nil {
		return 0, &opError{path + ": IOCTL_VALGET", err}
	}
	return b, nil
}

func setByte(fd int, path string, b byte, num bool) error {
	if num {
		if err := uapi.SetNum(fd, int32(b)); err != nil {
			return &opError{path + ": IOCTL_VALSET_NUM", err}
		}
		return nil
	}
	if err := uapi.Set(fd, b); err != nil {
		return &opError{path + ": IOCTL_VALSET", err}
	}
	return nil
}

func get(e *env, path string, num bool) error {
	fd, err := open(path)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	b, err := getByte(fd, path, num)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "0x%02x\n", b)
	return nil
}

func set(e *env, path string, b byte, num bool) error {
	fd, err := open(path)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := setByte(fd, path, b, num); err != nil {
		return err
	}
	got, err := getByte(fd, path, num)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "0x%02x\n", got)
	return nil
}

func read(e *env, path string, n int, b *byte, num bool) error {
	fd, err := open(path)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if b != nil {
		if err := setByte(fd, path, *b, num); err != nil {
			return err
		}
	}
	buf := make([]byte, n)
	for done := 0; done < n; {
		m, err := unix.Read(fd, buf[done:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return &opError{"read " + path, err}
		}
		if m == 0 {
			return &opError{"read " + path, fmt.Errorf("end of file after %d of %d bytes", done, n)}
		}
		done += m
	}
	_, err = io.WriteString(e.stdout, hex.Dump(buf))
	return err
}
