package modfile

import (
	"bytes"
	"debug/elf"
	"fmt"
	"strings"
)

// Binding of a symbol, as libkmod reports it.
type Binding int

// Symbol bindings.
const (
	BindNone Binding = iota
	BindLocal
	BindGlobal
	BindWeak
	BindUndef
)

// Symbol is an exported symbol, or a symbol the module imports with a
// version (modversions).
type Symbol struct {
	Name string
	CRC  uint64
	// GPL is set for exports placed in __ksymtab_gpl (EXPORT_SYMBOL_GPL).
	GPL  bool
	Bind Binding
}

// Exports lists the symbols the module exports, as libkmod's
// kmod_module_get_symbols finds them: the __crc_<name> symbols of .symtab
// in table order, with their CRCs, on a kernel built with modversions;
// otherwise the names in __ksymtab_strings, in order. GPL is set from the
// section of the matching __ksymtab_<name> symbol (__ksymtab_gpl).
func (m *Module) Exports() ([]Symbol, error) {
	syms, ok, err := m.symbols()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.Path, err)
	}
	gpl := map[string]bool{}
	var out []Symbol
	if ok {
		for _, s := range syms {
			if n, ok := strings.CutPrefix(s.name, "__ksymtab_"); ok && int(s.shndx) < len(m.sections) {
				gpl[n] = strings.HasPrefix(m.sections[s.shndx].name, "__ksymtab_gpl")
			}
		}
		for _, s := range syms {
			if n, ok := strings.CutPrefix(s.name, "__crc_"); ok {
				out = append(out, Symbol{Name: n, CRC: m.resolveCRC(s), GPL: gpl[n], Bind: bindFromELF(elf.ST_BIND(s.info))})
			}
		}
		if len(out) > 0 {
			return out, nil
		}
	}
	data, _, err := m.section("__ksymtab_strings")
	if err != nil {
		return nil, fmt.Errorf("%s: reading __ksymtab_strings: %w", m.Path, err)
	}
	for _, s := range bytes.Split(data, []byte{0}) {
		if len(s) > 0 {
			out = append(out, Symbol{Name: string(s), GPL: gpl[string(s)], Bind: BindGlobal})
		}
	}
	return out, nil
}

type elfSym struct {
	name  string
	value uint64
	info  byte
	shndx uint16
}

func (m *Module) symbols() ([]elfSym, bool, error) {
	symtab, ok, err := m.section(".symtab")
	if err != nil || !ok {
		return nil, false, err
	}
	strtab, ok, err := m.section(".strtab")
	if err != nil || !ok {
		return nil, false, err
	}
	entsize := 24
	if m.Class == elf.ELFCLASS32 {
		entsize = 16
	}
	if len(symtab)%entsize != 0 {
		return nil, false, nil
	}
	var out []elfSym
	for off := entsize; off+entsize <= len(symtab); off += entsize {
		e := symtab[off : off+entsize]
		var s elfSym
		nameOff := m.order.Uint32(e)
		if m.Class == elf.ELFCLASS32 {
			s.value = uint64(m.order.Uint32(e[4:]))
			s.info = e[12]
			s.shndx = m.order.Uint16(e[14:])
		} else {
			s.info = e[4]
			s.shndx = m.order.Uint16(e[6:])
			s.value = m.order.Uint64(e[8:])
		}
		if uint64(nameOff) >= uint64(len(strtab)) {
			return nil, false, nil
		}
		n := strtab[nameOff:]
		if i := bytes.IndexByte(n, 0); i >= 0 {
			n = n[:i]
		}
		s.name = string(n)
		out = append(out, s)
	}
	return out, true, nil
}

// resolveCRC reads a __crc_ symbol's value: absolute, or an offset into
// the section that holds the 32-bit CRC.
func (m *Module) resolveCRC(s elfSym) uint64 {
	if s.shndx == uint16(elf.SHN_ABS) || s.shndx == uint16(elf.SHN_UNDEF) {
		return s.value
	}
	if int(s.shndx) >= len(m.sections) {
		return ^uint64(0)
	}
	sec := m.sections[s.shndx]
	if !sec.valid || sec.size < 4 || s.value > sec.size-4 {
		return ^uint64(0)
	}
	b, err := m.read(sec.offset+s.value, 4)
	if err != nil {
		return ^uint64(0)
	}
	return uint64(m.order.Uint32(b))
}

func bindFromELF(b elf.SymBind) Binding {
	switch b {
	case elf.STB_LOCAL:
		return BindLocal
	case elf.STB_GLOBAL:
		return BindGlobal
	case elf.STB_WEAK:
		return BindWeak
	}
	return BindNone
}

// modversionSize is the size of one __versions entry on both classes:
// {unsigned long crc; char name[64 - sizeof(long)]}.
const modversionSize = 64

// Versions lists the module's modversions (__versions): the symbols it
// uses with the CRC it was built against. A module built without
// modversions has none.
func (m *Module) Versions() ([]Symbol, error) {
	data, ok, err := m.section("__versions")
	if err != nil {
		return nil, fmt.Errorf("%s: reading __versions: %w", m.Path, err)
	}
	if !ok || len(data) == 0 {
		return nil, nil
	}
	if len(data)%modversionSize != 0 {
		return nil, fmt.Errorf("%s: %w: __versions is %d bytes, not a multiple of %d", m.Path, ErrCorrupt, len(data), modversionSize)
	}
	crcSize := 8
	if m.Class == elf.ELFCLASS32 {
		crcSize = 4
	}
	out := make([]Symbol, 0, len(data)/modversionSize)
	for off := 0; off < len(data); off += modversionSize {
		e := data[off : off+modversionSize]
		var crc uint64
		if crcSize == 8 {
			crc = m.order.Uint64(e)
		} else {
			crc = uint64(m.order.Uint32(e))
		}
		name := e[crcSize:]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		name = bytes.TrimPrefix(name, []byte("."))
		out = append(out, Symbol{Name: string(name), CRC: crc, Bind: BindUndef})
	}
	return out, nil
}
