package kmsg

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// LevelNames are the level names util-linux's dmesg uses, by level.
var LevelNames = [8]string{"emerg", "alert", "crit", "err", "warn", "notice", "info", "debug"}

// FacilityNames are the facility names dmesg knows, by facility number.
var FacilityNames = [12]string{"kern", "user", "mail", "daemon", "auth", "syslog",
	"lpr", "news", "uucp", "cron", "authpriv", "ftp"}

// ParseLevel reads a level name (case-insensitive) or number 0-7.
func ParseLevel(s string) (int, error) {
	return parseName(s, LevelNames[:], "level")
}

// ParseFacility reads a facility name (case-insensitive) or number 0-11.
func ParseFacility(s string) (int, error) {
	return parseName(s, FacilityNames[:], "facility")
}

func parseName(s string, names []string, what string) (int, error) {
	if s != "" && s[0] >= '0' && s[0] <= '9' {
		n, err := strconv.Atoi(s)
		if err == nil && n >= 0 && n < len(names) {
			return n, nil
		}
	} else {
		for i, n := range names {
			if strings.EqualFold(s, n) {
				return i, nil
			}
		}
	}
	return -1, fmt.Errorf("unknown %s '%s'", what, s)
}

// Set is a set of levels or facilities, one bit each.
type Set uint32

// Has reports whether n is in the set.
func (s Set) Has(n int) bool { return n >= 0 && n < 32 && s&(1<<n) != 0 }

// ParseLevels reads a comma-separated list of levels ("err,warn,4").
func ParseLevels(list string) (Set, error) { return parseSet(list, ParseLevel) }

// ParseFacilities reads a comma-separated list of facilities.
func ParseFacilities(list string) (Set, error) { return parseSet(list, ParseFacility) }

func parseSet(list string, parse func(string) (int, error)) (Set, error) {
	var s Set
	for _, item := range strings.Split(list, ",") {
		if item == "" {
			continue
		}
		n, err := parse(item)
		if err != nil {
			return 0, err
		}
		s |= 1 << n
	}
	return s, nil
}

// Filter selects records by level and facility; a nil set lets all pass.
type Filter struct {
	Levels     *Set
	Facilities *Set
}

// Accept reports whether the record passes the filter.
func (f Filter) Accept(r Record) bool {
	if f.Levels != nil && !f.Levels.Has(r.Level) {
		return false
	}
	if f.Facilities != nil && (r.Facility >= len(FacilityNames) || !f.Facilities.Has(r.Facility)) {
		return false
	}
	return true
}

// TimeFormat is how a record's time stamp is printed.
type TimeFormat int

// The time formats of dmesg.
const (
	TimeMono  TimeFormat = iota // [    1.234567]  (the default)
	TimeNone                    // -t: nothing
	TimeCtime                   // -T: [Wed Nov 25 19:31:48 2026]
	TimeISO                     // --time-format iso: 2026-11-25T19:31:48,123456+00:00
	TimeDelta                   // -d with notime: [<    0.000123>]
)

// Formatter prints records the way util-linux's dmesg (2.38) does.
type Formatter struct {
	Time   TimeFormat
	Decode bool // -x: "kern  :info  : " before the time
	Raw    bool // -r: "<6>[    1.234567] " (syslog(2) style)
	// Delta (-d) adds the time since the previous printed record.
	Delta bool
	// ForcePrefix (-p) repeats the prefix on every line of a multi-line
	// message instead of indenting the continuation lines.
	ForcePrefix bool
	// Boot is the wall-clock time the monotonic clock started from (the
	// boot time plus the time spent suspended), for TimeCtime and TimeISO.
	Boot time.Time
	// Location for TimeCtime and TimeISO; time.Local when nil.
	Location *time.Location
	// NoEscape (--noescape) prints unprintable bytes as they are.
	NoEscape bool

	last time.Duration
}

func validFacLev(r Record) bool {
	return r.Level >= 0 && r.Level < len(LevelNames) && r.Facility >= 0 && r.Facility < len(FacilityNames)
}

func monoStamp(d time.Duration) string {
	us := d / time.Microsecond
	return fmt.Sprintf("%5d.%06d", us/1e6, us%1e6)
}

func (f *Formatter) loc() *time.Location {
	if f.Location != nil {
		return f.Location
	}
	return time.Local
}

// wall is the record's time as util-linux computes it: boot seconds plus
// the record's whole seconds (the microseconds are dropped).
func (f *Formatter) wall(r Record) time.Time {
	return time.Unix(f.Boot.Unix()+int64(r.Time/time.Second), 0).In(f.loc())
}

func (f *Formatter) delta(r Record) float64 {
	// Like util-linux, a previous time of exactly zero counts as none.
	d := 0.0
	if f.last != 0 {
		d = (r.Time - f.last).Seconds()
	}
	f.last = r.Time
	return d
}

// prefix is what goes before the message text.
func (f *Formatter) prefix(r Record) string {
	if f.Raw {
		return fmt.Sprintf("<%d>[%s] ", r.Prio(), monoStamp(r.Time))
	}
	var b strings.Builder
	if f.Decode && validFacLev(r) {
		fmt.Fprintf(&b, "%-6s:%-6s: ", FacilityNames[r.Facility], LevelNames[r.Level])
	}
	switch f.Time {
	case TimeMono:
		if f.Delta {
			fmt.Fprintf(&b, "[%s <%12.06f>] ", monoStamp(r.Time), f.delta(r))
		} else {
			fmt.Fprintf(&b, "[%s] ", monoStamp(r.Time))
		}
	case TimeCtime:
		ct := f.wall(r).Format("Mon Jan _2 15:04:05 2006")
		if f.Delta {
			fmt.Fprintf(&b, "[%s <%12.06f>] ", ct, f.delta(r))
		} else {
			fmt.Fprintf(&b, "[%s] ", ct)
		}
	case TimeISO:
		t := time.Unix(f.Boot.Unix()+int64(r.Time/time.Second), int64(r.Time%time.Second/time.Microsecond*time.Microsecond)).In(f.loc())
		b.WriteString(t.Format("2006-01-02T15:04:05,000000-07:00") + " ")
	case TimeDelta:
		fmt.Fprintf(&b, "[<%12.06f>] ", f.delta(r))
	}
	return b.String()
}

// Format returns the record as dmesg prints it, with the final newline. A
// record with an empty message prints as an empty line (as util-linux
// does). Continuation lines of a multi-line message are indented to line
// up with the first, or carry the prefix again with ForcePrefix.
func (f *Formatter) Format(r Record) string {
	if r.Message == "" {
		return "\n"
	}
	p := f.prefix(r)
	if f.ForcePrefix {
		// util-linux prints the whole prefix again before each
		// non-empty line.
		var lines []string
		for _, line := range strings.Split(r.Message, "\n") {
			if line != "" {
				lines = append(lines, p+f.escape(line, 0))
			}
		}
		if len(lines) == 0 {
			return p + "\n"
		}
		return strings.Join(lines, "\n") + "\n"
	}
	return p + f.escape(r.Message, len(p)) + "\n"
}

func (f *Formatter) escape(s string, indent int) string {
	if f.NoEscape {
		if indent == 0 {
			return s
		}
		return strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n"+strings.Repeat(" ", indent)) + s[len(strings.TrimSuffix(s, "\n")):]
	}
	return Escape(s, indent)
}

// Escape makes a message safe for a terminal the way dmesg does: bytes
// that are not printable (and not white space), invalid UTF-8 and NUL
// become \xNN; after a newline that is not the last byte, indent spaces
// line the next line up under the first.
func Escape(s string, indent int) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '\n':
				b.WriteByte(c)
				if i+1 < len(s) && indent > 0 {
					b.WriteString(strings.Repeat(" ", indent))
				}
			case c == 0 || (c < ' ' || c == 0x7f) && !isSpace(c):
				fmt.Fprintf(&b, `\x%02x`, c)
			default:
				b.WriteByte(c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, c)
			n = 1
		case !unicode.IsPrint(r) && !unicode.IsSpace(r) && !unicode.IsGraphic(r):
			for k := 0; k < n; k++ {
				fmt.Fprintf(&b, `\x%02x`, s[i+k])
			}
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func isSpace(c byte) bool { return c == ' ' || c >= '\t' && c <= '\r' }

// JSONWriter prints records in util-linux dmesg's --json layout:
//
//	{
//	   "dmesg": [
//	      {
//	         "pri": 6,
//	         "time":     0.000000,
//	         "msg": "..."
//	      },{
//	      ...
//	   ]
//	}
//
// With Decode, "fac" and "pri" are names. Records with an empty message
// are left out, as util-linux does. "pri" is (facility << 3) | level, the
// value the kernel uses (bookworm's util-linux 2.38 printed facility|level,
// a bug fixed in later versions; the two agree for kernel messages).
type JSONWriter struct {
	W      io.Writer
	Decode bool
	n      int
}

// Write adds one record.
func (j *JSONWriter) Write(r Record) error {
	if r.Message == "" {
		return nil
	}
	var b strings.Builder
	if j.n == 0 {
		b.WriteString("{\n   \"dmesg\": [\n      {\n")
	} else {
		b.WriteString(",{\n")
	}
	j.n++
	if validFacLev(r) {
		if j.Decode {
			fmt.Fprintf(&b, "         \"fac\": %s,\n", jsonString(FacilityNames[r.Facility]))
			fmt.Fprintf(&b, "         \"pri\": %s,\n", jsonString(LevelNames[r.Level]))
		} else {
			fmt.Fprintf(&b, "         \"pri\": %d,\n", r.Prio())
		}
	}
	fmt.Fprintf(&b, "         \"time\": %s,\n", monoStamp(r.Time))
	fmt.Fprintf(&b, "         \"msg\": %s\n      }", jsonString(r.Message))
	_, err := io.WriteString(j.W, b.String())
	return err
}

// Close ends the document (nothing at all when no record was written, as
// util-linux prints nothing then).
func (j *JSONWriter) Close() error {
	if j.n == 0 {
		return nil
	}
	_, err := io.WriteString(j.W, "\n   ]\n}\n")
	return err
}

// jsonString quotes s as util-linux's JSON writer does: '"' and '\\'
// escaped, control characters as \b \t \n \f \r or \u00XX, everything else
// (UTF-8 included) as is. The text stops at a NUL byte, as C strings do.
func jsonString(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	if s == "" {
		return "null"
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c >= 0x20:
			b.WriteByte(c)
		case c == '\b':
			b.WriteString(`\b`)
		case c == '\t':
			b.WriteString(`\t`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\f':
			b.WriteString(`\f`)
		case c == '\r':
			b.WriteString(`\r`)
		default:
			fmt.Fprintf(&b, `\u00%02x`, c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// WriteText prints records from src with f until src says io.EOF,
// skipping what filter rejects. flush, when not nil, runs after each record
// (for following the log).
func WriteText(w io.Writer, src Source, f *Formatter, filter Filter, flush func() error) error {
	bw := bufio.NewWriter(w)
	for {
		r, err := src.Next()
		if err == io.EOF {
			return bw.Flush()
		}
		if err != nil {
			bw.Flush()
			return err
		}
		if !filter.Accept(r) {
			continue
		}
		bw.WriteString(f.Format(r))
		if flush != nil {
			if err := bw.Flush(); err != nil {
				return err
			}
			if err := flush(); err != nil {
				return err
			}
		}
	}
}
