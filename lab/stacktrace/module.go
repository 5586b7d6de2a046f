package stacktrace

import (
	"bytes"
	"debug/dwarf"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
)

// Module is an unstripped module file (.ko) opened for look-ups.
type Module struct {
	Path string
	// SrcDir is the module's source folder as its DWARF names it: the
	// folder kbuild built it in (that of NAME.mod.c), which a build with
	// -ffile-prefix-map names by the user's path. Empty when unknown.
	SrcDir string

	dwarf *dwarf.Data
	funcs map[string][]symbol
	units []unit
}

type symbol struct{ addr, size uint64 }

type unit struct {
	entry  *dwarf.Entry
	ranges [][2]uint64
}

// baseAddr is where Open puts the first allocated section of a
// relocatable module; every section gets an address range of its own.
const baseAddr = 0x100000

// Open reads the module file at path and its DWARF.
func Open(path string) (m *Module, err error) {
	defer func() {
		if r := recover(); r != nil { // debug/dwarf on a damaged file
			m, err = nil, fmt.Errorf("read %s: %v", path, r)
		}
	}()
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m, err = parse(b)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	m.Path = path
	return m, nil
}

func parse(b []byte) (*Module, error) {
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	exec := map[elf.SectionIndex]bool{}
	if f.Type == elf.ET_REL {
		// Give each allocated section its own addresses by relocating the
		// symbol table (debug/elf applies the DWARF sections' relocations
		// with it), then read the patched file.
		bases := map[elf.SectionIndex]uint64{}
		next := uint64(baseAddr)
		for i, s := range f.Sections {
			if s.Flags&elf.SHF_ALLOC == 0 {
				continue
			}
			align := min(max(s.Addralign, 16), 1<<12)
			next = (next + align - 1) / align * align
			bases[elf.SectionIndex(i)] = next
			next += s.Size + 0x1000
			exec[elf.SectionIndex(i)] = s.Flags&elf.SHF_EXECINSTR != 0
		}
		if err := relocateSymbols(f, b, bases); err != nil {
			return nil, err
		}
		if f, err = elf.NewFile(bytes.NewReader(b)); err != nil {
			return nil, err
		}
	} else {
		for i, s := range f.Sections {
			exec[elf.SectionIndex(i)] = s.Flags&elf.SHF_EXECINSTR != 0
		}
	}
	d, err := f.DWARF()
	if err != nil {
		return nil, err
	}
	m := &Module{dwarf: d, funcs: map[string][]symbol{}}
	syms, err := f.Symbols()
	if err != nil {
		return nil, err
	}
	for _, s := range syms {
		t := elf.ST_TYPE(s.Info)
		if (t == elf.STT_FUNC || t == elf.STT_NOTYPE) && s.Name != "" && exec[s.Section] {
			m.funcs[s.Name] = append(m.funcs[s.Name], symbol{s.Value, s.Size})
		}
	}
	r := d.Reader()
	for {
		e, err := r.Next()
		if err != nil {
			return nil, err
		}
		if e == nil {
			break
		}
		if e.Tag == dwarf.TagCompileUnit {
			ranges, _ := d.Ranges(e)
			m.units = append(m.units, unit{e, ranges})
			name, _ := e.Val(dwarf.AttrName).(string)
			if dir, _ := e.Val(dwarf.AttrCompDir).(string); name != "" && !path.IsAbs(name) && path.IsAbs(dir) {
				name = path.Join(dir, name) // kbuild from 6.13 on compiles in M=
			}
			if strings.HasSuffix(name, ".mod.c") && m.SrcDir == "" {
				m.SrcDir = path.Dir(path.Clean(name))
			}
		}
		r.SkipChildren()
	}
	return m, nil
}

// relocateSymbols adds its section's base address to the value of every
// symbol defined in one of the sections of bases, in the file image b.
func relocateSymbols(f *elf.File, b []byte, bases map[elf.SectionIndex]uint64) error {
	var esize, shndxAt, valueAt, valueLen int
	switch f.Class {
	case elf.ELFCLASS64:
		esize, shndxAt, valueAt, valueLen = 24, 6, 8, 8
	case elf.ELFCLASS32:
		esize, shndxAt, valueAt, valueLen = 16, 14, 4, 4
	default:
		return fmt.Errorf("ELF class %v", f.Class)
	}
	bo := f.ByteOrder
	for _, s := range f.Sections {
		if s.Type != elf.SHT_SYMTAB {
			continue
		}
		if s.Offset > uint64(len(b)) || s.Size > uint64(len(b))-s.Offset {
			return errors.New("symbol table out of the file")
		}
		tab := b[s.Offset : s.Offset+s.Size]
		for o := 0; o+esize <= len(tab); o += esize {
			e := tab[o : o+esize]
			base, ok := bases[elf.SectionIndex(bo.Uint16(e[shndxAt:]))]
			if !ok {
				continue
			}
			if valueLen == 8 {
				bo.PutUint64(e[valueAt:], bo.Uint64(e[valueAt:])+base)
			} else {
				bo.PutUint32(e[valueAt:], bo.Uint32(e[valueAt:])+uint32(base))
			}
		}
	}
	return nil
}

// Lookup returns the source position of fn+off: the statement (as File
// and Line of the Location) and, when it was inlined, the chain of
// inlined calls, innermost first (see Frame.Inlined). For a Return
// address the byte before it is looked up.
func (m *Module) Lookup(fn string, off uint64, kind Kind) (loc Location, inlined []Location, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("look up %s+%#x in %s: %v", fn, off, m.Path, r)
		}
	}()
	var pc uint64
	found := false
	for _, s := range m.funcs[fn] {
		if s.size == 0 || off < s.size || kind == Return && off == s.size {
			pc, found = s.addr+off, true
			break
		}
	}
	if !found {
		return loc, nil, fmt.Errorf("%s: no function %s of %#x bytes or more", m.Path, fn, off)
	}
	if kind == Return && off > 0 {
		pc--
	}
	var u *unit
	for i := range m.units {
		for _, r := range m.units[i].ranges {
			if r[0] <= pc && pc < r[1] {
				u = &m.units[i]
			}
		}
	}
	if u == nil {
		return loc, nil, fmt.Errorf("%s: no debug information for %s+%#x", m.Path, fn, off)
	}
	lr, err := m.dwarf.LineReader(u.entry)
	if err != nil || lr == nil {
		return loc, nil, fmt.Errorf("%s: no line table for %s+%#x: %v", m.Path, fn, off, err)
	}
	le, ok := seekPC(lr, pc)
	if !ok || le.File == nil || le.Line <= 0 {
		return loc, nil, fmt.Errorf("%s: no line for %s+%#x", m.Path, fn, off)
	}
	loc = Location{File: m.display(le.File.Name, u), Line: le.Line}
	chain := m.inlinedAt(u.entry, pc)
	files := lr.Files()
	for i := len(chain) - 1; i >= 0; i-- {
		e := chain[i]
		in := Location{Func: m.name(e)}
		if idx, ok := e.Val(dwarf.AttrCallFile).(int64); ok && idx >= 0 && idx < int64(len(files)) && files[idx] != nil {
			in.File = m.display(files[idx].Name, u)
		}
		if n, ok := e.Val(dwarf.AttrCallLine).(int64); ok {
			in.Line = int(n)
		}
		inlined = append(inlined, in)
	}
	if len(inlined) > 0 {
		loc.Func = inlined[0].Func
	} else if sp := m.subprogram(u.entry, pc); sp != nil {
		loc.Func = m.name(sp)
	}
	return loc, inlined, nil
}

// seekPC finds the row of the line table that covers pc. Unlike
// LineReader.SeekPC it does not assume that the table's sequences come in
// address order, which they do not in a module whose sections got their
// addresses from Open (.init.text may come before .text).
func seekPC(lr *dwarf.LineReader, pc uint64) (dwarf.LineEntry, bool) {
	var prev, e dwarf.LineEntry
	for first := true; ; first = false {
		if err := lr.Next(&e); err != nil {
			return dwarf.LineEntry{}, false
		}
		if !first && !prev.EndSequence && prev.Address <= pc && pc < e.Address {
			return prev, true
		}
		prev = e
	}
}

// inlinedAt returns the inlined subroutines of the unit that contain pc,
// outermost first.
func (m *Module) inlinedAt(cu *dwarf.Entry, pc uint64) []*dwarf.Entry {
	var chain []*dwarf.Entry
	r := m.dwarf.Reader()
	r.Seek(cu.Offset)
	if e, err := r.Next(); err != nil || e == nil || !e.Children {
		return nil
	}
	for {
		e, err := r.Next()
		if err != nil || e == nil || e.Tag == 0 {
			// The end of the children of the innermost entry holding pc.
			return chain
		}
		if m.holds(e, pc) {
			if e.Tag == dwarf.TagInlinedSubroutine {
				chain = append(chain, e)
			}
			if !e.Children {
				return chain
			}
			continue // look among its children
		}
		if e.Children {
			r.SkipChildren()
		}
	}
}

// subprogram returns the function of the unit that holds pc.
func (m *Module) subprogram(cu *dwarf.Entry, pc uint64) *dwarf.Entry {
	r := m.dwarf.Reader()
	r.Seek(cu.Offset)
	if e, err := r.Next(); err != nil || e == nil || !e.Children {
		return nil
	}
	for {
		e, err := r.Next()
		if err != nil || e == nil || e.Tag == 0 {
			return nil
		}
		if e.Tag == dwarf.TagSubprogram && m.holds(e, pc) {
			return e
		}
		if e.Children {
			r.SkipChildren()
		}
	}
}

// holds reports whether e is a piece of code (function, inlined call,
// block) whose addresses include pc.
func (m *Module) holds(e *dwarf.Entry, pc uint64) bool {
	switch e.Tag {
	case dwarf.TagSubprogram, dwarf.TagInlinedSubroutine, dwarf.TagLexDwarfBlock:
	default:
		return false
	}
	ranges, err := m.dwarf.Ranges(e)
	if err != nil {
		return false
	}
	for _, r := range ranges {
		if r[0] <= pc && pc < r[1] {
			return true
		}
	}
	return false
}

// name is the name of a function entry, following abstract origins and
// specifications.
func (m *Module) name(e *dwarf.Entry) string {
	r := m.dwarf.Reader()
	for range 8 {
		if n, ok := e.Val(dwarf.AttrName).(string); ok {
			return n
		}
		off, ok := e.Val(dwarf.AttrAbstractOrigin).(dwarf.Offset)
		if !ok {
			if off, ok = e.Val(dwarf.AttrSpecification).(dwarf.Offset); !ok {
				return ""
			}
		}
		r.Seek(off)
		next, err := r.Next()
		if err != nil || next == nil {
			return ""
		}
		e = next
	}
	return ""
}

// display spells a source path the way reports show it: relative to the
// module's source folder when under it, cleaned otherwise.
func (m *Module) display(name string, u *unit) string {
	name = path.Clean(name)
	dir := m.SrcDir
	if dir == "" {
		if cu, _ := u.entry.Val(dwarf.AttrName).(string); path.IsAbs(cu) {
			dir = path.Dir(path.Clean(cu))
		}
	}
	if dir != "" && dir != "/" && strings.HasPrefix(name, dir+"/") {
		return name[len(dir)+1:]
	}
	return name
}
