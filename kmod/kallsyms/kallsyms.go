// Package kallsyms reads /proc/kallsyms, the running kernel's symbol table
// (the kernel's own symbols and those of every loaded module), and looks
// symbols up by name and by address.
//
// Lines read "ADDRESS TYPE NAME" for the kernel and "ADDRESS TYPE
// NAME\t[MODULE]" for modules. Without CAP_SYSLOG (or with
// kernel.kptr_restrict=2) every address reads as zero; Table.Hidden tells.
// The first lines are per-CPU symbols (type 'A') whose real address is 0,
// so they say nothing about hiding.
package kallsyms

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Symbol is one line of /proc/kallsyms.
type Symbol struct {
	Addr uint64
	// Type is nm's letter: 'T'/'t' text, 'D'/'d' data, 'B'/'b' bss,
	// 'R'/'r' read-only data, 'A'/'a' absolute, 'W'/'w' weak, ... For the
	// kernel itself upper case is global, lower case local. The symbols of
	// modules print in lower case even when global or exported (6.1 and
	// 6.12 do so): use Table.Exported to tell an export.
	Type   byte
	Name   string
	Module string // "" for the kernel itself
}

// Global reports whether the type letter is upper case (see Type).
func (s Symbol) Global() bool { return s.Type >= 'A' && s.Type <= 'Z' }

// String formats the symbol as /proc/kallsyms does.
func (s Symbol) String() string {
	line := fmt.Sprintf("%016x %c %s", s.Addr, s.Type, s.Name)
	if s.Module != "" {
		line += "\t[" + s.Module + "]"
	}
	return line
}

// Table is a parsed /proc/kallsyms.
type Table struct {
	Symbols []Symbol // in file order
	byName  map[string][]int
	byAddr  []int // indexes of address-bearing symbols, sorted by address
}

// Load reads procDir/kallsyms (procDir is normally "/proc").
func Load(procDir string) (*Table, error) {
	path := filepath.Join(procDir, "kallsyms")
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Parse(f, path)
}

// Parse reads the kallsyms text from r; name is used in errors
// ("file:line: ...").
func Parse(r io.Reader, name string) (*Table, error) {
	t := &Table{byName: map[string][]int{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if strings.TrimSpace(text) == "" {
			continue
		}
		s, err := parseLine(text)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		t.byName[s.Name] = append(t.byName[s.Name], len(t.Symbols))
		t.Symbols = append(t.Symbols, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", name, line+1, err)
	}
	for i, s := range t.Symbols {
		if s.Addr != 0 && !absolute(s.Type) {
			t.byAddr = append(t.byAddr, i)
		}
	}
	sort.SliceStable(t.byAddr, func(a, b int) bool {
		return t.Symbols[t.byAddr[a]].Addr < t.Symbols[t.byAddr[b]].Addr
	})
	return t, nil
}

func absolute(typ byte) bool { return typ == 'A' || typ == 'a' }

func parseLine(text string) (Symbol, error) {
	var s Symbol
	f := strings.Fields(text)
	if len(f) != 3 && len(f) != 4 {
		return s, fmt.Errorf("want \"ADDRESS TYPE NAME [MODULE]\", got %q", text)
	}
	a, err := strconv.ParseUint(f[0], 16, 64)
	if err != nil {
		return s, fmt.Errorf("bad address %q", f[0])
	}
	s.Addr = a
	if len(f[1]) != 1 || !isLetter(f[1][0]) {
		return s, fmt.Errorf("bad symbol type %q", f[1])
	}
	s.Type = f[1][0]
	s.Name = f[2]
	if len(f) == 4 {
		m := f[3]
		if len(m) < 3 || m[0] != '[' || m[len(m)-1] != ']' {
			return s, fmt.Errorf("bad module field %q (want [name])", m)
		}
		s.Module = m[1 : len(m)-1]
	}
	return s, nil
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '?' }

// Hidden reports whether the addresses are hidden: every symbol reads as
// address zero, apart from absolute ones (the per-CPU symbols at the top
// of the file are at zero anyway). An empty table is not hidden.
func (t *Table) Hidden() bool {
	seen := false
	for _, s := range t.Symbols {
		if absolute(s.Type) {
			continue
		}
		seen = true
		if s.Addr != 0 {
			return false
		}
	}
	return seen
}

// Lookup returns every symbol of that name (a static function may exist
// several times, in the kernel and in modules). When no symbol has that
// exact name, "MODULE:NAME" limits the search to one module ("vmlinux" or
// "" means the kernel itself).
func (t *Table) Lookup(name string) []Symbol {
	var out []Symbol
	for _, i := range t.byName[name] {
		out = append(out, t.Symbols[i])
	}
	mod, sym, qualified := strings.Cut(name, ":")
	if len(out) > 0 || !qualified {
		return out
	}
	for _, i := range t.byName[sym] {
		s := t.Symbols[i]
		if s.Module == mod || (s.Module == "" && (mod == "vmlinux" || mod == "")) {
			out = append(out, s)
		}
	}
	return out
}

// Exported reports whether s is exported (EXPORT_SYMBOL*): the kernel or
// module that defines it also has its __ksymtab_NAME entry.
func (t *Table) Exported(s Symbol) bool {
	for _, i := range t.byName["__ksymtab_"+s.Name] {
		if t.Symbols[i].Module == s.Module {
			return true
		}
	}
	return false
}

// Location is where an address falls: inside Symbol, Offset bytes from its
// start. Size is the distance to the next symbol of the same module (or
// of the kernel); 0 when unknown (the last symbol of its region).
type Location struct {
	Symbol Symbol
	Offset uint64
	Size   uint64
}

// String formats the location as the kernel's %pS does:
// "name+0xoff/0xsize [module]".
func (l Location) String() string {
	s := fmt.Sprintf("%s+%#x", l.Symbol.Name, l.Offset)
	if l.Size > 0 {
		s += fmt.Sprintf("/%#x", l.Size)
	}
	if l.Symbol.Module != "" {
		s += " [" + l.Symbol.Module + "]"
	}
	return s
}

// Addr finds the symbol at or below addr: the nearest one that starts at
// or before it. Absolute symbols and symbols at address zero are never
// candidates. ok is false when no symbol lies at or below addr.
func (t *Table) Addr(addr uint64) (loc Location, ok bool) {
	n := sort.Search(len(t.byAddr), func(i int) bool {
		return t.Symbols[t.byAddr[i]].Addr > addr
	})
	if n == 0 {
		return loc, false
	}
	// Several symbols may share an address: take the first in file order
	// among them, as the kernel prefers the first (global) alias.
	k := n - 1
	start := t.Symbols[t.byAddr[k]].Addr
	for k > 0 && t.Symbols[t.byAddr[k-1]].Addr == start {
		k--
	}
	s := t.Symbols[t.byAddr[k]]
	loc = Location{Symbol: s, Offset: addr - s.Addr}
	for j := n; j < len(t.byAddr); j++ {
		next := t.Symbols[t.byAddr[j]]
		if next.Module == s.Module && next.Addr > s.Addr {
			loc.Size = next.Addr - s.Addr
			break
		}
	}
	return loc, true
}
