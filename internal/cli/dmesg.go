package cli

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/modlab/modlab/kmod/kmsg"
)

const dmesgHelp = `
Usage:
 dmesg [options]

Display the kernel ring buffer (read from /dev/kmsg).

Options:
 -f, --facility <list>       restrict output to defined facilities
 -J, --json                  use JSON output format
 -k, --kernel                display kernel messages
 -l, --level <list>          restrict output to defined levels
 -P, --nopager               do not pipe output into a pager (never done)
 -p, --force-prefix          force timestamp output on each line of multi-line messages
 -r, --raw                   print the raw message buffer
     --noescape              don't escape unprintable character
 -u, --userspace             display userspace messages
 -w, --follow                wait for new messages
 -W, --follow-new            wait and print only new messages
 -x, --decode                decode facility and level to readable string
 -d, --show-delta            show time delta between printed messages
 -T, --ctime                 show human-readable timestamp (may be inaccurate!)
 -t, --notime                don't show any timestamp with messages
     --time-format <format>  show timestamp using the given format:
                               [delta|ctime|notime|iso]
Suspending/resume will make ctime and iso timestamps inaccurate.

 -h, --help                  display this help

Supported log facilities:
`

// runDmesg prints the kernel log like util-linux's dmesg (2.38, Debian
// bookworm's). Records come from <root>/dev/kmsg through kmod/kmsg: the
// device itself, or a regular file holding a dump of records (fixtures).
// For -T and --time-format iso the boot time comes from the clocks on the
// real system, from <root>/proc/stat's btime (or <root>/proc/uptime) under
// a fixture root.
func runDmesg(env *Env, args []string) error {
	t := newTool(env, toolSpec{name: "dmesg", help: dmesgHelpText(), usage: tryHelpUsage})
	fl := t.flags
	log := t.log
	var (
		facilities, levels, timeFormat                        string
		jsonOut, kernel, nopager, forcePrefix, raw, noescape  bool
		user, follow, followNew, decode, delta, ctime, notime bool
	)
	fl.StringVarP(&facilities, "facility", "f", "", "")
	fl.BoolVarP(&jsonOut, "json", "J", false, "")
	fl.BoolVarP(&kernel, "kernel", "k", false, "")
	fl.StringVarP(&levels, "level", "l", "", "")
	fl.BoolVarP(&nopager, "nopager", "P", false, "")
	fl.BoolVarP(&forcePrefix, "force-prefix", "p", false, "")
	fl.BoolVarP(&raw, "raw", "r", false, "")
	fl.BoolVar(&noescape, "noescape", false, "")
	fl.BoolVarP(&user, "userspace", "u", false, "")
	fl.BoolVarP(&follow, "follow", "w", false, "")
	fl.BoolVarP(&followNew, "follow-new", "W", false, "")
	fl.BoolVarP(&decode, "decode", "x", false, "")
	fl.BoolVarP(&delta, "show-delta", "d", false, "")
	fl.BoolVarP(&ctime, "ctime", "T", false, "")
	fl.BoolVarP(&notime, "notime", "t", false, "")
	fl.StringVar(&timeFormat, "time-format", "", "")
	if done, err := t.parse(args); done {
		return err
	}
	if fl.NArg() > 0 {
		return t.badUsage("bad usage")
	}
	for _, pair := range [][2]string{{"raw", "ctime"}, {"raw", "show-delta"}, {"raw", "decode"}, {"raw", "notime"}} {
		if fl.Changed(pair[0]) && fl.Changed(pair[1]) {
			return t.badUsage(fmt.Sprintf("mutually exclusive arguments: --%s --%s", pair[0], pair[1]))
		}
	}

	f := &kmsg.Formatter{Decode: decode, Raw: raw, ForcePrefix: forcePrefix, NoEscape: noescape}
	// Like getopt, the last time option given wins.
	for _, name := range timeFlagOrder(args) {
		switch name {
		case "ctime":
			f.Time = kmsg.TimeCtime
		case "notime":
			f.Time = kmsg.TimeNone
		case "time-format":
			switch timeFormat {
			case "notime":
				f.Time = kmsg.TimeNone
			case "ctime":
				f.Time = kmsg.TimeCtime
			case "iso":
				f.Time = kmsg.TimeISO
			case "delta":
				f.Time = kmsg.TimeDelta
			default:
				log.printf("unknown time format: %s", timeFormat)
				return &ExitError{Code: 1}
			}
		}
	}
	var filter kmsg.Filter
	if levels != "" {
		s, err := kmsg.ParseLevels(levels)
		if err != nil {
			log.printf("%v", err)
			return &ExitError{Code: 1}
		}
		filter.Levels = &s
	}
	var facSet kmsg.Set
	if facilities != "" {
		s, err := kmsg.ParseFacilities(facilities)
		if err != nil {
			log.printf("%v", err)
			return &ExitError{Code: 1}
		}
		facSet |= s
	}
	if kernel {
		facSet |= 1 << 0
	}
	if user {
		for i := 1; i < len(kmsg.FacilityNames); i++ {
			facSet |= 1 << i
		}
	}
	if facilities != "" || kernel || user {
		filter.Facilities = &facSet
	}
	if jsonOut {
		f.Time, delta, f.ForcePrefix, f.Raw, f.NoEscape = kmsg.TimeMono, false, false, false, true
	}
	if f.Time == kmsg.TimeCtime || f.Time == kmsg.TimeISO {
		boot, err := dmesgBootTime(env)
		if err != nil {
			// util-linux drops the time stamps when it cannot tell
			// the boot time.
			log.printf("cannot tell the boot time (%v): printing no time stamps", err)
			f.Time = kmsg.TimeNone
		}
		f.Boot = boot
		f.Location = dmesgLocation(env)
	}
	if delta {
		switch f.Time {
		case kmsg.TimeISO:
			log.printf("--show-delta is ignored when used together with iso8601 time format")
		case kmsg.TimeMono, kmsg.TimeCtime:
			f.Delta = true
		default:
			f.Time = kmsg.TimeDelta
		}
	}

	follow = follow || followNew
	path := env.Path("/dev/kmsg")
	r, err := kmsg.Open(path, follow)
	if err != nil {
		log.printf("read kernel buffer failed: %v", err)
		return &ExitError{Code: 1}
	}
	defer r.Close()
	if followNew {
		if err := r.SeekEnd(); err != nil {
			log.printf("seek %s: %v", path, err)
			return &ExitError{Code: 1}
		}
	}
	src := &skipBad{src: r, log: log, path: path}
	if jsonOut {
		err = writeDmesgJSON(env.Stdout, src, filter, decode)
	} else {
		var flush func() error
		if follow {
			flush = func() error { return nil }
		}
		err = kmsg.WriteText(env.Stdout, src, f, filter, flush)
	}
	if err != nil {
		log.printf("read kernel buffer failed: %v", err)
		return &ExitError{Code: 1}
	}
	return nil
}

// dmesgHelpText is dmesg's --help, with the facility and level names
// kmod/kmsg knows.
func dmesgHelpText() string {
	var b strings.Builder
	b.WriteString(dmesgHelp)
	for i, n := range kmsg.FacilityNames {
		fmt.Fprintf(&b, " %7s - %s\n", n, facilityHelp[i])
	}
	b.WriteString("\nSupported log levels (priorities):\n")
	for i, n := range kmsg.LevelNames {
		fmt.Fprintf(&b, " %7s - %s\n", n, levelHelp[i])
	}
	return b.String()
}

var facilityHelp = [...]string{"kernel messages", "random user-level messages", "mail system",
	"system daemons", "security/authorization messages", "messages generated internally by syslogd",
	"line printer subsystem", "network news subsystem", "UUCP subsystem", "clock daemon",
	"security/authorization messages (private)", "FTP daemon"}

var levelHelp = [...]string{"system is unusable", "action must be taken immediately", "critical conditions",
	"error conditions", "warning conditions", "normal but significant condition", "informational",
	"debug-level messages"}

// timeFlagOrder lists the time-format options in the order given.
func timeFlagOrder(args []string) []string {
	var out []string
	for _, a := range args {
		if a == "--" {
			break
		}
		switch {
		case a == "--ctime":
			out = append(out, "ctime")
		case a == "--notime":
			out = append(out, "notime")
		case a == "--time-format" || strings.HasPrefix(a, "--time-format="):
			out = append(out, "time-format")
		case strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--"):
			for _, c := range a[1:] {
				switch c {
				case 'T':
					out = append(out, "ctime")
				case 't':
					out = append(out, "notime")
				}
				if c == 'l' || c == 'f' {
					break // the rest is the option's argument
				}
			}
		}
	}
	return out
}

// skipBad passes records on, reporting (not failing on) records that do
// not parse.
type skipBad struct {
	src  kmsg.Source
	log  *logger
	path string
}

func (s *skipBad) Next() (kmsg.Record, error) {
	for {
		r, err := s.src.Next()
		if err == nil || err == io.EOF {
			return r, err
		}
		if strings.HasPrefix(err.Error(), "kmsg: ") {
			s.log.printf("%s: skipping a record: %v", s.path, err)
			continue
		}
		return r, err
	}
}

func writeDmesgJSON(w io.Writer, src kmsg.Source, filter kmsg.Filter, decode bool) error {
	bw := bufio.NewWriter(w)
	j := &kmsg.JSONWriter{W: bw, Decode: decode}
	for {
		r, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			j.Close()
			bw.Flush()
			return err
		}
		if filter.Accept(r) {
			j.Write(r)
		}
	}
	j.Close()
	return bw.Flush()
}

// dmesgBootTime is the wall-clock time CLOCK_MONOTONIC started from, to
// the second, computed as util-linux does: on the real system from the
// clocks (now - CLOCK_BOOTTIME, plus the time spent suspended); under a
// fixture root from <root>/proc/stat's btime, else <root>/proc/uptime.
func dmesgBootTime(env *Env) (time.Time, error) {
	if env.Root == "" || env.Root == "/" {
		var boot, mono unix.Timespec
		now := time.Now()
		if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &boot); err == nil {
			if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &mono); err == nil {
				bootSec := now.Add(-time.Duration(boot.Nano())).Unix()
				suspended := (boot.Nano() - mono.Nano()) / 1e9
				return time.Unix(bootSec+suspended, 0), nil
			}
		}
	}
	if b, err := os.ReadFile(env.Path("/proc/stat")); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "btime "); ok {
				n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				if err != nil {
					return time.Time{}, fmt.Errorf("%s: bad btime %q", env.Path("/proc/stat"), v)
				}
				return time.Unix(n, 0), nil
			}
		}
	}
	b, err := os.ReadFile(env.Path("/proc/uptime"))
	if err != nil {
		return time.Time{}, err
	}
	fields := strings.Fields(string(b))
	if len(fields) == 0 {
		return time.Time{}, fmt.Errorf("%s is empty", env.Path("/proc/uptime"))
	}
	up, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: bad uptime %q", env.Path("/proc/uptime"), fields[0])
	}
	return time.Unix(time.Now().Add(-time.Duration(up*float64(time.Second))).Unix(), 0), nil
}

// dmesgLocation is the time zone for -T: $TZ as the environment gives it,
// else the process's local zone.
func dmesgLocation(env *Env) *time.Location {
	if env.Getenv != nil {
		if tz := env.Getenv("TZ"); tz != "" {
			if loc, err := time.LoadLocation(strings.TrimPrefix(tz, ":")); err == nil {
				return loc
			}
		}
	}
	return time.Local
}
