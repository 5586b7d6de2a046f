// Command chardev2ctl sets and reads chardev2's message through its ioctls,
// as the original example's user-space program did:
//
//	chardev2ctl [-d PATH] set MSG   make MSG the message (IOCTL_SET_MSG)
//	chardev2ctl [-d PATH] get       print the message (IOCTL_GET_MSG)
//	chardev2ctl [-d PATH] nth N     print byte N of it (IOCTL_GET_NTH_BYTE)
//
// The device is /dev/char_dev unless -d names another. get prints the
// message and a newline (none if it already ends with one); nth prints the
// byte's value and the byte, quoted: `104 "h"`. A failed call prints the
// ioctl's name and the decoded errno (`chardev2ctl: IOCTL_GET_NTH_BYTE:
// Invalid argument`) and exits with status 1; a usage mistake exits with 2.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/modlab/modlab/examples/chardev2/uapi"
)

const usage = `usage: chardev2ctl [-d PATH] set MSG | get | nth N
  set MSG  make MSG (at most 80 bytes) the device's message
  get      print the message
  nth N    print byte N of the message (N = its length gives 0)
  -d PATH  the device node (default /dev/char_dev)
`

// usageError is a mistake in the command line: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// callError is a system call the kernel refused: its name and the errno.
type callError struct {
	op    string
	errno error
}

func (e *callError) Error() string { return e.op + ": " + strerror(e.errno) }

func (e *callError) Unwrap() error { return e.errno }

// strerror words an errno the way the C library does ("Invalid argument"):
// Go's text with a capital letter.
func strerror(err error) string {
	s := err.Error()
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func main() {
	err := run(os.Stdout, os.Args[1:])
	var ue *usageError
	switch {
	case err == nil:
	case errors.As(err, &ue):
		fmt.Fprintf(os.Stderr, "chardev2ctl: %v\n%s", err, usage)
		os.Exit(2)
	default:
		fmt.Fprintf(os.Stderr, "chardev2ctl: %v\n", err)
		os.Exit(1)
	}
}

// run carries out one command line (without the program's name).
func run(out io.Writer, args []string) error {
	fs := pflag.NewFlagSet("chardev2ctl", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dev := fs.StringP("device", "d", uapi.DevicePath, "the device node")
	help := fs.BoolP("help", "h", false, "print this help")
	if err := fs.Parse(args); err != nil {
		return &usageError{err.Error()}
	}
	if *help {
		_, err := io.WriteString(out, usage)
		return err
	}
	args = fs.Args()
	if len(args) == 0 {
		return &usageError{"no command"}
	}
	cmd, args := args[0], args[1:]
	want := map[string]int{"set": 1, "get": 0, "nth": 1}
	n, ok := want[cmd]
	if !ok {
		return &usageError{fmt.Sprintf("unknown command %q", cmd)}
	}
	if len(args) != n {
		return &usageError{fmt.Sprintf("%s takes %d argument(s), got %d", cmd, n, len(args))}
	}
	var index int
	if cmd == "nth" {
		i, err := strconv.Atoi(args[0])
		if err != nil {
			return &usageError{fmt.Sprintf("nth: %q is not a number", args[0])}
		}
		index = i
	}

	fd, err := unix.Open(*dev, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return &callError{"open " + *dev, err}
	}
	defer unix.Close(fd)

	switch cmd {
	case "set":
		if err := uapi.SetMsg(fd, args[0]); err != nil {
			return &callError{"IOCTL_SET_MSG", err}
		}
	case "get":
		msg, err := uapi.GetMsg(fd)
		if err != nil {
			return &callError{"IOCTL_GET_MSG", err}
		}
		if !strings.HasSuffix(msg, "\n") {
			msg += "\n"
		}
		_, err = io.WriteString(out, msg)
		return err
	case "nth":
		b, err := uapi.GetNthByte(fd, index)
		if err != nil {
			return &callError{"IOCTL_GET_NTH_BYTE", err}
		}
		_, err = fmt.Fprintf(out, "%d %s\n", b, strconv.Quote(string([]byte{b})))
		return err
	}
	return nil
}
