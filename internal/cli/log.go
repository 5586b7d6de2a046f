package cli

import (
	"fmt"
	"io"
	"log/syslog"
)

// level is a message's priority, numbered as syslog(3) numbers them: the
// lower, the more urgent.
type level int

// The levels the tools use. kmod's tools print a message when its level
// is at most their verbosity: LOG_WARNING by default, one more per -v,
// LOG_EMERG (nothing) with modprobe -q.
const (
	levelEmerg   level = 0
	levelFatal   level = 2 // LOG_CRIT, which kmod prints as FATAL
	levelError   level = 3
	levelWarning level = 4
	levelNotice  level = 5
)

// String is the word kmod prints for a level (tools/log.c prio_to_str).
func (l level) String() string {
	switch l {
	case levelFatal:
		return "FATAL"
	case levelError:
		return "ERROR"
	case levelWarning:
		return "WARNING"
	case levelNotice:
		return "NOTICE"
	case 6:
		return "INFO"
	case 7:
		return "DEBUG"
	}
	return fmt.Sprintf("LOG-%03d", int(l))
}

// errFatal ends a run after a FATAL message: kmod's tools exit at once,
// even from inside loops.
var errFatal = &ExitError{Code: 1}

// logger prints a command's messages. It is the one place that writes
// "prog: ..." on stderr, in two wordings:
//
//   - kmod's (tools/log.c), for the kmod tools and modlab's own:
//     "prog: ERROR: msg", "prog: WARNING: msg", "prog: FATAL: msg", and
//     modlab's "prog: HINT: msg" lines after an error, saying what usually
//     causes it. With syslog (-s) they go there as "ERROR: msg".
//   - getopt's, err(3)'s and util-linux's, for bad options and for dmesg:
//     "prog: msg" (printf).
//
// Messages above the verbosity are dropped, as kmod drops them.
type logger struct {
	prog      string
	w         io.Writer
	verbosity level
	sys       *syslog.Writer
	// flush, when set, runs before each message, so that what a tool
	// buffered for stdout comes out before it.
	flush func()
}

// newLogger logs for prog on w with kmod's default verbosity
// (LOG_WARNING).
func newLogger(prog string, w io.Writer) *logger {
	return &logger{prog: prog, w: w, verbosity: levelWarning}
}

// useSyslog sends the messages to syslog from now on, as kmod's -s does,
// and returns what closes it. Where there is no syslog they stay on
// stderr.
func (l *logger) useSyslog() (close func()) {
	sl, err := syslog.New(syslog.LOG_ERR|syslog.LOG_DAEMON, l.prog)
	if err != nil {
		return func() {}
	}
	l.sys = sl
	return func() { sl.Close(); l.sys = nil }
}

// enabled reports whether messages of level lv are printed.
func (l *logger) enabled(lv level) bool { return lv <= l.verbosity }

// logf prints a message at level lv in kmod's wording, when the verbosity
// allows. A FATAL message that is printed returns errFatal, for the caller
// to end the run with; one that the verbosity hides does not (kmod's
// log_printf returns before it exits).
func (l *logger) logf(lv level, format string, a ...any) error {
	if !l.enabled(lv) {
		return nil
	}
	l.write(lv.String(), lv, fmt.Sprintf(format, a...))
	if lv <= levelFatal {
		return errFatal
	}
	return nil
}

func (l *logger) fatalf(format string, a ...any) error { return l.logf(levelFatal, format, a...) }
func (l *logger) errorf(format string, a ...any)       { l.logf(levelError, format, a...) }
func (l *logger) warnf(format string, a ...any)        { l.logf(levelWarning, format, a...) }

// hintf prints a HINT line: modlab's words on what usually causes the
// error just printed. It shows whenever errors show.
func (l *logger) hintf(format string, a ...any) {
	if l.enabled(levelError) {
		l.write("HINT", levelNotice, fmt.Sprintf(format, a...))
	}
}

// printf prints "prog: msg" on stderr, the wording of getopt, err(3) and
// util-linux's tools.
func (l *logger) printf(format string, a ...any) {
	if l.flush != nil {
		l.flush()
	}
	fmt.Fprintf(l.w, "%s: %s\n", l.prog, fmt.Sprintf(format, a...))
}

func (l *logger) write(word string, lv level, msg string) {
	if l.sys != nil {
		line := word + ": " + msg
		switch {
		case lv <= levelFatal:
			l.sys.Crit(line)
		case lv == levelError:
			l.sys.Err(line)
		case lv == levelWarning:
			l.sys.Warning(line)
		default:
			l.sys.Notice(line)
		}
		return
	}
	if l.flush != nil {
		l.flush()
	}
	fmt.Fprintf(l.w, "%s: %s: %s\n", l.prog, word, msg)
}
