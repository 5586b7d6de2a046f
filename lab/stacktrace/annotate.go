package stacktrace

import (
	"fmt"
	"strings"

	"github.com/modlab/modlab/kmod/modname"
)

// Resolve sets the source position of every frame whose module is in
// modules (module name, '-' or '_', to the path of its unstripped .ko).
// Frames it cannot resolve keep Line 0; the error joins why, frame by
// frame, for those whose module was given.
func Resolve(frames []Frame, modules map[string]string) error {
	paths := map[string]string{}
	for name, p := range modules {
		paths[modname.Normalize(name)] = p
	}
	open := map[string]*Module{}
	failed := map[string]error{}
	var errs []string
	for i := range frames {
		f := &frames[i]
		p, ok := paths[f.Module]
		if !ok {
			continue
		}
		m := open[p]
		if m == nil && failed[p] == nil {
			var err error
			if m, err = Open(p); err != nil {
				failed[p] = err
				errs = append(errs, err.Error())
			}
			open[p] = m
		}
		if m == nil {
			continue
		}
		loc, inlined, err := m.Lookup(f.Func, f.Off, f.Kind)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		f.File, f.Line, f.Inlined = loc.File, loc.Line, inlined
	}
	if len(errs) > 0 {
		return fmt.Errorf("resolve frames: %s", strings.Join(errs, "; "))
	}
	return nil
}

// Annotate returns the report splat with the source position appended to
// every frame line that Resolve can place, e.g.
//
//	RIP: 0010:nullderef_init+0x18/0x1000 [oops] (oops.c:23)
//	RIP: 0010:kbleds_init+0x4a/0xff0 [kbleds] (kbleds.c:57 in set_leds, inlined at kbleds.c:78)
//
// Every other line, and every frame it cannot place, stays as it was.
// It never fails.
func Annotate(splat string, modules map[string]string) string {
	if len(modules) == 0 {
		return splat
	}
	frames := Parse(splat)
	if len(frames) == 0 {
		return splat
	}
	Resolve(frames, modules) // unresolved frames stay as they are
	lines := strings.Split(splat, "\n")
	for _, f := range frames {
		if !f.Resolved() || f.Index >= len(lines) {
			continue
		}
		l := lines[f.Index]
		cr := strings.HasSuffix(l, "\r")
		l = strings.TrimRight(l, " \t\r") + " (" + f.Position() + ")"
		if cr {
			l += "\r"
		}
		lines[f.Index] = l
	}
	return strings.Join(lines, "\n")
}

// Position spells a resolved frame's source position:
// "oops.c:23", or with inlined code
// "kbleds.c:57 in set_leds, inlined at kbleds.c:78".
func (f *Frame) Position() string {
	if !f.Resolved() {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d", f.File, f.Line)
	for _, in := range f.Inlined {
		if in.Func != "" {
			fmt.Fprintf(&b, " in %s", in.Func)
		}
		if in.File != "" && in.Line > 0 {
			fmt.Fprintf(&b, ", inlined at %s:%d", in.File, in.Line)
		} else {
			b.WriteString(", inlined")
		}
	}
	return b.String()
}
