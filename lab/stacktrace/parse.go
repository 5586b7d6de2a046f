package stacktrace

import (
	"strconv"
	"strings"

	"github.com/modlab/modlab/kmod/modname"
)

// Kind says how a frame's address relates to the code it names.
type Kind int

const (
	// Fault is the address of the instruction that faulted or warned
	// (a RIP line, the header of a WARNING): it is looked up as it is.
	Fault Kind = iota
	// Return is a call-trace entry: a return address, just after the
	// call. The address before it is looked up, to name the call's line.
	Return
)

func (k Kind) String() string {
	if k == Fault {
		return "fault"
	}
	return "return"
}

// Location is a position in the source.
type Location struct {
	Func string // the function, when known
	File string
	Line int
}

// Frame is one stack frame of a report that names a module.
type Frame struct {
	Index      int  // the report line it was found on, from 0
	Kind       Kind // Fault or Return
	Unreliable bool // marked "? ": an address the unwinder found on the stack, not a proven frame
	Func       string
	Module     string // as the report spells it, normalised ('-' made '_')
	Off, Size  uint64

	// Set by Resolve: where the address is. File and Line name the
	// statement; File is relative to the module's source folder when it
	// is under it (see Module.SrcDir).
	File string
	Line int
	// Inlined is set when that statement's code was inlined into Func:
	// the chain of inlined calls, innermost first. Inlined[0].Func is the
	// function File:Line belongs to, and Inlined[0].File:Line is where it
	// was inlined, in Inlined[1].Func (or in Func, for the last entry).
	Inlined []Location
}

// Resolved reports whether Resolve found the frame's source position.
func (f *Frame) Resolved() bool { return f.Line > 0 }

// Parse returns the frames of a report that name a module, in order.
func Parse(splat string) []Frame {
	var out []Frame
	for i, line := range strings.Split(splat, "\n") {
		if f, ok := ParseLine(line); ok {
			f.Index = i
			out = append(out, f)
		}
	}
	return out
}

// ParseLine reads a frame from one line of a report: a RIP line, a
// WARNING header or a call-trace entry whose address is in a module
// ("func+0x1c/0x40 [mod]", optionally followed by the module's build ID
// inside the brackets).
func ParseLine(line string) (Frame, bool) {
	var f Frame
	s := strings.TrimRight(line, " \t\r")
	if !strings.HasSuffix(s, "]") {
		return f, false
	}
	open := strings.LastIndexByte(s, '[')
	if open < 1 || s[open-1] != ' ' {
		return f, false
	}
	mod, id, _ := strings.Cut(s[open+1:len(s)-1], " ") // "[mod buildid]"
	if !isModuleName(mod) || !isHex(id) {
		return f, false
	}
	head := s[:open-1]
	sp := strings.LastIndexAny(head, " \t")
	tok := head[sp+1:]
	if c := strings.LastIndexByte(tok, ':'); c >= 0 { // "RIP: 0010:func+..."
		tok = tok[c+1:]
	}
	plus := strings.LastIndex(tok, "+0x")
	slash := strings.LastIndex(tok, "/0x")
	if plus < 1 || slash < plus {
		return f, false
	}
	off, err1 := strconv.ParseUint(tok[plus+3:slash], 16, 64)
	size, err2 := strconv.ParseUint(tok[slash+3:], 16, 64)
	if err1 != nil || err2 != nil {
		return f, false
	}
	f.Func, f.Module, f.Off, f.Size = tok[:plus], modname.Normalize(mod), off, size
	// What comes before the function: "RIP: 0010:", "WARNING: CPU: 0 PID:
	// 93 at f.c:12 ", " ? ", maybe after the console's "[    2.73] ".
	lead := head[:sp+1]
	f.Kind = Return
	for _, p := range []string{"RIP: ", "WARNING: ", "BUG: "} {
		if strings.HasPrefix(lead, p) || strings.Contains(lead, " "+p) {
			f.Kind = Fault
		}
	}
	f.Unreliable = strings.HasSuffix(head[:sp+1], "? ") && f.Kind == Return
	return f, true
}

func isModuleName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c == '-' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// isHex reports whether s is empty or a build ID: hex digits.
func isHex(s string) bool {
	if len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
