// Package kmsg reads the kernel log as /dev/kmsg hands it out: one record
// per read(2), "prio,seq,usec,flags[,...];message" followed by dictionary
// lines " KEY=value".
//
// Reading goes through raw unix.Open/unix.Read: an os.File on /dev/kmsg
// with O_NONBLOCK hangs in Go's poller.
package kmsg

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Levels, lowest number most severe.
const (
	Emerg = iota
	Alert
	Crit
	Err
	Warning
	Notice
	Info
	Debug
)

// Record is one kernel log record.
type Record struct {
	Level    int
	Facility int
	Seq      uint64
	Time     time.Duration // since boot
	Cont     bool          // continuation of the previous record ('c' flag)
	Message  string        // with \xNN escapes undone
	Dict     []KV          // SUBSYSTEM=..., DEVICE=...
}

// KV is one dictionary entry of a record.
type KV struct{ Key, Value string }

// Parse decodes one record as read from /dev/kmsg.
func Parse(b []byte) (Record, error) {
	var r Record
	s := string(b)
	semi := strings.IndexByte(s, ';')
	if semi < 0 {
		return r, errors.New("kmsg: record has no ';'")
	}
	fields := strings.Split(s[:semi], ",")
	if len(fields) < 4 {
		return r, fmt.Errorf("kmsg: record header %q has %d fields, want at least 4", s[:semi], len(fields))
	}
	prio, err := strconv.ParseUint(fields[0], 10, 32)
	if err != nil {
		return r, fmt.Errorf("kmsg: bad priority %q", fields[0])
	}
	r.Level = int(prio & 7)
	r.Facility = int(prio >> 3)
	if r.Seq, err = strconv.ParseUint(fields[1], 10, 64); err != nil {
		return r, fmt.Errorf("kmsg: bad sequence number %q", fields[1])
	}
	usec, err := strconv.ParseInt(fields[2], 10, 64)
	if err != nil || usec < 0 {
		return r, fmt.Errorf("kmsg: bad timestamp %q", fields[2])
	}
	r.Time = time.Duration(usec) * time.Microsecond
	r.Cont = strings.Contains(fields[3], "c")
	rest := s[semi+1:]
	msg, dict, _ := strings.Cut(rest, "\n")
	r.Message = unescape(msg)
	for _, line := range strings.Split(dict, "\n") {
		if !strings.HasPrefix(line, " ") {
			continue
		}
		k, v, ok := strings.Cut(line[1:], "=")
		if !ok {
			continue
		}
		r.Dict = append(r.Dict, KV{unescape(k), unescape(v)})
	}
	return r, nil
}

func unescape(s string) string {
	if !strings.Contains(s, `\x`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' {
			if v, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Reader reads records from a /dev/kmsg file.
type Reader struct {
	fd    int
	buf   []byte
	block bool
}

// Open opens a kmsg device (normally "/dev/kmsg"). With follow, Next waits
// for new records instead of returning io.EOF at the end.
func Open(path string, follow bool) (*Reader, error) {
	flags := unix.O_RDONLY | unix.O_CLOEXEC
	if !follow {
		flags |= unix.O_NONBLOCK
	}
	fd, err := unix.Open(path, flags, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return &Reader{fd: fd, buf: make([]byte, 8192), block: follow}, nil
}

// SeekEnd skips the records already in the buffer.
func (r *Reader) SeekEnd() error {
	_, err := unix.Seek(r.fd, 0, io.SeekEnd)
	return err
}

// Next returns the next record, or io.EOF when there is none (without
// follow). Records overwritten before they were read are skipped.
func (r *Reader) Next() (Record, error) {
	for {
		n, err := unix.Read(r.fd, r.buf)
		switch {
		case err == unix.EAGAIN:
			return Record{}, io.EOF
		case err == unix.EPIPE || err == unix.EINTR:
			continue
		case err != nil:
			return Record{}, fmt.Errorf("read kmsg: %w", err)
		case n == 0:
			return Record{}, io.EOF
		}
		return Parse(r.buf[:n])
	}
}

// Close closes the device.
func (r *Reader) Close() error { return unix.Close(r.fd) }

// ReadAll returns every record now in the log.
func ReadAll(path string) ([]Record, error) {
	r, err := Open(path, false)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var out []Record
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, rec)
	}
}
