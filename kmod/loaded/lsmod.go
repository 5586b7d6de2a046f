package loaded

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/modlab/modlab/kmod/modname"
)

// Entry is one line of lsmod's table.
type Entry struct {
	Name    string
	Size    int64
	Refcnt  int // -1 when the kernel does not count uses
	Holders []string
}

// Lsmod gathers lsmod's table the way kmod 30 does: the module list from
// /proc/modules, then the size from /sys/module/NAME/coresize, the use
// count from .../refcnt and the users from .../holders. Where sysfs lacks
// an attribute, the value /proc/modules gives is used instead.
func (s System) Lsmod() ([]Entry, error) {
	mods, err := s.Modules()
	if err != nil {
		return nil, err
	}
	out := make([]Entry, 0, len(mods))
	for _, m := range mods {
		e := Entry{Name: m.Name, Size: m.Size, Refcnt: m.Refcnt, Holders: m.UsedBy}
		if v, err := s.CoreSize(m.Name); err == nil {
			e.Size = v
		}
		if v, err := s.Refcnt(m.Name); err == nil {
			e.Refcnt = v
		}
		if h, err := s.Holders(m.Name); err == nil {
			e.Holders = h
		}
		out = append(out, e)
	}
	return out, nil
}

// LsmodHeader is the first line kmod's lsmod prints.
const LsmodHeader = "Module                  Size  Used by"

// WriteLsmod prints the table in kmod 30's format: the header, then
// "%-19s %8ld  %d" and the holders, comma-separated after a space. An
// unknown use count prints as "-".
func WriteLsmod(w io.Writer, entries []Entry) error {
	bw := bufio.NewWriter(w)
	bw.WriteString(LsmodHeader + "\n")
	for _, e := range entries {
		ref := "-"
		if e.Refcnt >= 0 {
			ref = strconv.Itoa(e.Refcnt)
		}
		fmt.Fprintf(bw, "%-19s %8d  %s", e.Name, e.Size, ref)
		if len(e.Holders) > 0 {
			bw.WriteString(" " + strings.Join(e.Holders, ","))
		}
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// IsBuiltin reports whether modules.builtin in modulesDir (normally
// /lib/modules/RELEASE) lists the module, the way kmod decides that rmmod
// of it is pointless. A missing modules.builtin means "no".
func IsBuiltin(modulesDir, name string) (bool, error) {
	f, err := os.Open(modulesDir + "/modules.builtin")
	if err != nil {
		if os.IsNotExist(err) {
			return false, nil
		}
		return false, err
	}
	defer f.Close()
	want := modname.Normalize(name)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		p := strings.TrimSpace(sc.Text())
		if p == "" {
			continue
		}
		if modname.FromPath(p) == want {
			return true, nil
		}
	}
	return false, sc.Err()
}
