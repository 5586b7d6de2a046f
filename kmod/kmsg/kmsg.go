// Package kmsg reads the kernel log as /dev/kmsg hands it out: one record
// per read(2), "prio,seq,usec,flags[,caller=...];message" followed by
// dictionary lines " KEY=value". Bytes the kernel will not print raw
// (control characters, bytes >= 0x7f, '\') come escaped as \xNN; Parse
// undoes that, so a multi-line message holds real newlines.
//
// Reading goes through raw unix.Open/unix.Read: an os.File on /dev/kmsg
// with O_NONBLOCK hangs in Go's poller. A regular file given instead of
// the device is read as a dump of records (what `cat /dev/kmsg` writes:
// records one after the other), which is how tests feed fixtures.
//
// format.go holds what dmesg needs to print records like util-linux does.
package kmsg

import (
	"bytes"
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
	Time     time.Duration // since boot (CLOCK_MONOTONIC, without suspend)
	Cont     bool          // continuation of the previous record ('c' flag)
	Caller   string        // "T123" or "C0" with CONFIG_PRINTK_CALLER, else ""
	Message  string        // with \xNN escapes undone; may hold newlines
	Dict     []KV          // SUBSYSTEM=..., DEVICE=...
}

// KV is one dictionary entry of a record.
type KV struct{ Key, Value string }

// Prio is the syslog priority, (facility << 3) | level.
func (r Record) Prio() int { return r.Facility<<3 | r.Level }

// Parse decodes one record as read from /dev/kmsg.
func Parse(b []byte) (Record, error) {
	var r Record
	s := string(b)
	semi := strings.IndexByte(s, ';')
	if semi < 0 {
		return r, errors.New("kmsg: record has no ';'")
	}
	if nl := strings.IndexByte(s, '\n'); nl >= 0 && nl < semi {
		return r, errors.New("kmsg: record header ends before ';'")
	}
	fields := strings.Split(s[:semi], ",")
	if len(fields) < 3 {
		return r, fmt.Errorf("kmsg: record header %q has %d fields, want at least 3", s[:semi], len(fields))
	}
	prio, err := strconv.ParseUint(fields[0], 10, 16)
	if err != nil {
		return r, fmt.Errorf("kmsg: bad priority %q", fields[0])
	}
	r.Level = int(prio & 7)
	r.Facility = int(prio >> 3)
	if r.Seq, err = strconv.ParseUint(fields[1], 10, 64); err != nil {
		return r, fmt.Errorf("kmsg: bad sequence number %q", fields[1])
	}
	usec, err := strconv.ParseInt(fields[2], 10, 64)
	if err != nil || usec < 0 || usec > int64(1<<63-1)/int64(time.Microsecond) {
		return r, fmt.Errorf("kmsg: bad timestamp %q", fields[2])
	}
	r.Time = time.Duration(usec) * time.Microsecond
	for i, f := range fields[3:] {
		switch {
		case i == 0:
			r.Cont = f == "c"
		case strings.HasPrefix(f, "caller="):
			r.Caller = f[len("caller="):]
		}
	}
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

// Get returns the dictionary value of key ("" when absent).
func (r Record) Get(key string) string {
	for _, kv := range r.Dict {
		if kv.Key == key {
			return kv.Value
		}
	}
	return ""
}

func unescape(s string) string {
	if !strings.Contains(s, `\x`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' && ishex(s[i+2]) && ishex(s[i+3]) {
			v, _ := strconv.ParseUint(s[i+2:i+4], 16, 8)
			b.WriteByte(byte(v))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func ishex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// Split cuts a dump of records (as `cat /dev/kmsg` writes them) into
// records: a record is its header line plus the dictionary lines after it,
// which start with a space.
func Split(dump []byte) [][]byte {
	var out [][]byte
	start := -1
	for i := 0; i < len(dump); {
		end := bytes.IndexByte(dump[i:], '\n')
		next := len(dump)
		if end >= 0 {
			next = i + end + 1
		}
		if dump[i] != ' ' {
			if start >= 0 {
				out = append(out, dump[start:i])
			}
			start = i
		}
		i = next
	}
	if start >= 0 {
		out = append(out, dump[start:])
	}
	return out
}

// firstRecordLen is the length of the first record of a non-empty dump.
func firstRecordLen(dump []byte) int {
	i := 0
	for {
		nl := bytes.IndexByte(dump[i:], '\n')
		if nl < 0 {
			return len(dump)
		}
		i += nl + 1
		if i == len(dump) || dump[i] != ' ' {
			return i
		}
	}
}

// Source hands out records one at a time: io.EOF at the end of the log
// (unless following).
type Source interface {
	Next() (Record, error)
}

// Reader reads records from /dev/kmsg, or from a dump file.
type Reader struct {
	fd     int
	buf    []byte
	follow bool
	// dump mode (a regular file): unread bytes and whether EOF was seen.
	dump    bool
	pending []byte
	poll    time.Duration
}

// Open opens a kmsg device (normally "/dev/kmsg"). With follow, Next waits
// for new records instead of returning io.EOF at the end. A regular file
// is read as a dump of records; with follow, Next waits for records
// appended to it.
func Open(path string, follow bool) (*Reader, error) {
	flags := unix.O_RDONLY | unix.O_CLOEXEC
	if !follow {
		flags |= unix.O_NONBLOCK
	}
	fd, err := unix.Open(path, flags, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	r := &Reader{fd: fd, buf: make([]byte, 8192), follow: follow, poll: 100 * time.Millisecond}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err == nil && st.Mode&unix.S_IFMT == unix.S_IFREG {
		r.dump = true
	}
	return r, nil
}

// SeekEnd skips the records already in the log.
func (r *Reader) SeekEnd() error {
	if r.dump {
		r.pending = nil
	}
	_, err := unix.Seek(r.fd, 0, io.SeekEnd)
	return err
}

// Next returns the next record, or io.EOF when there is none (without
// follow). Records overwritten before they were read are skipped.
func (r *Reader) Next() (Record, error) {
	if r.dump {
		return r.nextDump()
	}
	for {
		n, err := unix.Read(r.fd, r.buf)
		switch {
		case err == unix.EAGAIN:
			return Record{}, io.EOF
		case err == unix.EPIPE || err == unix.EINTR:
			continue
		case err == unix.EINVAL && n <= 0:
			// The record does not fit the buffer: grow it and retry.
			if len(r.buf) >= 1<<20 {
				return Record{}, fmt.Errorf("read kmsg: %w", err)
			}
			r.buf = make([]byte, 2*len(r.buf))
			continue
		case err != nil:
			return Record{}, fmt.Errorf("read kmsg: %w", err)
		case n == 0:
			return Record{}, io.EOF
		}
		return Parse(r.buf[:n])
	}
}

// nextDump takes the next record from a dump file. A record is complete
// when the next record's header follows it, or at the end of the file.
func (r *Reader) nextDump() (Record, error) {
	for {
		eof := false
		for !eof {
			n, err := unix.Read(r.fd, r.buf)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return Record{}, fmt.Errorf("read kmsg dump: %w", err)
			}
			if n == 0 {
				eof = true
				break
			}
			r.pending = append(r.pending, r.buf[:n]...)
		}
		if len(r.pending) > 0 {
			n := firstRecordLen(r.pending)
			first := r.pending[:n]
			r.pending = r.pending[n:]
			return Parse(first)
		}
		if !r.follow {
			return Record{}, io.EOF
		}
		time.Sleep(r.poll)
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
