// Package fakemod writes small but valid kernel module files for tests:
// x86-64 ELF relocatable objects with a .modinfo section, exported symbols
// (__ksymtab_NAME) and undefined symbols, which is all depmod and modprobe
// look at. Both modlab and kmod's own tools accept them.
package fakemod

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"path/filepath"

	"github.com/modlab/modlab/kmod/modname"
)

// Module describes one fake module.
type Module struct {
	// Modinfo entries, "key=value", in order (alias=..., softdep=...).
	Modinfo []string
	// Exports are the symbols the module exports.
	Exports []string
	// Imports are the symbols it uses (undefined symbols).
	Imports []string
	// WeakImports are undefined weak symbols.
	WeakImports []string
}

// Bytes returns the ELF image of m.
func (m Module) Bytes() []byte {
	le := binary.LittleEndian
	var modinfo bytes.Buffer
	for _, s := range m.Modinfo {
		modinfo.WriteString(s)
		modinfo.WriteByte(0)
	}
	ksymtab := make([]byte, 8*len(m.Exports)+8)
	var ksymstr bytes.Buffer
	for _, e := range m.Exports {
		ksymstr.WriteString(e)
		ksymstr.WriteByte(0)
	}

	strtab := []byte{0}
	addStr := func(s string) uint32 {
		off := uint32(len(strtab))
		strtab = append(append(strtab, s...), 0)
		return off
	}
	var symtab bytes.Buffer
	symtab.Write(make([]byte, 24)) // the null symbol
	sym := func(name string, info byte, shndx uint16, value uint64) {
		var e [24]byte
		le.PutUint32(e[0:], addStr(name))
		e[4] = info
		le.PutUint16(e[6:], shndx)
		le.PutUint64(e[8:], value)
		symtab.Write(e[:])
	}
	global := byte(elf.STB_GLOBAL)<<4 | byte(elf.STT_OBJECT)
	// Exports appear both as __ksymtab_NAME (what the kernel and modlab
	// read) and as __crc_NAME with a made-up CRC (what kmod 30 reads on
	// modversions kernels).
	for i, e := range m.Exports {
		sym("__ksymtab_"+e, global, 2, uint64(8*i))
		sym("__crc_"+e, byte(elf.STB_GLOBAL)<<4|byte(elf.STT_NOTYPE), uint16(elf.SHN_ABS), uint64(CRC(e)))
	}
	for _, s := range m.Imports {
		sym(s, byte(elf.STB_GLOBAL)<<4|byte(elf.STT_NOTYPE), 0, 0)
	}
	for _, s := range m.WeakImports {
		sym(s, byte(elf.STB_WEAK)<<4|byte(elf.STT_NOTYPE), 0, 0)
	}

	shstr := []byte{0}
	name := func(s string) uint32 {
		off := uint32(len(shstr))
		shstr = append(append(shstr, s...), 0)
		return off
	}
	type sec struct {
		name      uint32
		typ       elf.SectionType
		data      []byte
		link, ent uint32
	}
	secs := []sec{
		{},
		{name(".modinfo"), elf.SHT_PROGBITS, modinfo.Bytes(), 0, 0},
		{name("__ksymtab"), elf.SHT_PROGBITS, ksymtab, 0, 0},
		{name(".symtab"), elf.SHT_SYMTAB, symtab.Bytes(), 4, 24},
		{name(".strtab"), elf.SHT_STRTAB, strtab, 0, 0},
	}
	secs = append(secs, sec{name("__ksymtab_strings"), elf.SHT_PROGBITS, ksymstr.Bytes(), 0, 0})
	secs = append(secs, sec{name(".shstrtab"), elf.SHT_STRTAB, nil, 0, 0})
	secs[len(secs)-1].data = shstr

	var out bytes.Buffer
	out.Write(make([]byte, 64))
	offs := make([]uint64, len(secs))
	for i := 1; i < len(secs); i++ {
		for out.Len()%8 != 0 {
			out.WriteByte(0)
		}
		offs[i] = uint64(out.Len())
		out.Write(secs[i].data)
	}
	for out.Len()%8 != 0 {
		out.WriteByte(0)
	}
	shoff := uint64(out.Len())
	for i, s := range secs {
		var h [64]byte
		if i > 0 {
			le.PutUint32(h[0:], s.name)
			le.PutUint32(h[4:], uint32(s.typ))
			le.PutUint64(h[24:], offs[i])
			le.PutUint64(h[32:], uint64(len(s.data)))
			le.PutUint32(h[40:], s.link)
			if s.typ == elf.SHT_SYMTAB {
				le.PutUint32(h[44:], 1) // first non-local symbol
			}
			le.PutUint64(h[48:], 1)
			le.PutUint64(h[56:], uint64(s.ent))
		}
		out.Write(h[:])
	}
	img := out.Bytes()
	copy(img, []byte{0x7f, 'E', 'L', 'F', byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)})
	le.PutUint16(img[16:], uint16(elf.ET_REL))
	le.PutUint16(img[18:], uint16(elf.EM_X86_64))
	le.PutUint32(img[20:], uint32(elf.EV_CURRENT))
	le.PutUint64(img[40:], shoff)
	le.PutUint16(img[52:], 64) // ehsize
	le.PutUint16(img[58:], 64) // shentsize
	le.PutUint16(img[60:], uint16(len(secs)))
	le.PutUint16(img[62:], uint16(len(secs)-1))
	return img
}

// CRC is the made-up modversions CRC fake modules give an exported symbol.
func CRC(name string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(name); i++ {
		h = (h ^ uint32(name[i])) * 16777619
	}
	return h
}

// Write writes m to path, creating directories.
func (m Module) Write(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, m.Bytes(), 0o644)
}

// BuildTree writes a module directory described by spec into
// root/lib/modules/release and returns that directory. The spec has one
// statement per line ('#' starts a comment):
//
//	module kernel/fs/foo.ko      a module file (.ko, .ko.xz names allowed;
//	                             the content is never compressed)
//	builtin kernel/fs/bar.ko     a builtin module (modules.builtin)
//	  modinfo key=value          modinfo of the module above
//	  export sym                 an exported symbol
//	  import sym                 an undefined symbol
//	  weak sym                   an undefined weak symbol
//
// Modules are listed in modules.order in spec order; builtin modules' modinfo
// goes to modules.builtin.modinfo.
func BuildTree(spec, root, release string) (string, error) {
	dir := filepath.Join(root, "lib", "modules", release)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	type entry struct {
		path    string
		builtin bool
		m       Module
	}
	var entries []*entry
	var cur *entry
	for num, line := range bytes.Split([]byte(spec), []byte("\n")) {
		if i := bytes.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := bytes.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) < 2 {
			return "", &SpecError{Line: num + 1, Msg: "want \"keyword argument\""}
		}
		kw := string(f[0])
		arg := string(bytes.TrimSpace(bytes.TrimSpace(line)[len(f[0]):]))
		switch kw {
		case "module", "builtin":
			cur = &entry{path: arg, builtin: kw == "builtin"}
			entries = append(entries, cur)
		case "modinfo", "export", "import", "weak":
			if cur == nil {
				return "", &SpecError{Line: num + 1, Msg: kw + " before any module"}
			}
			switch kw {
			case "modinfo":
				cur.m.Modinfo = append(cur.m.Modinfo, arg)
			case "export":
				cur.m.Exports = append(cur.m.Exports, arg)
			case "import":
				cur.m.Imports = append(cur.m.Imports, arg)
			case "weak":
				cur.m.WeakImports = append(cur.m.WeakImports, arg)
			}
		default:
			return "", &SpecError{Line: num + 1, Msg: "unknown keyword " + kw}
		}
	}
	var order, builtin, binfo bytes.Buffer
	for _, e := range entries {
		if e.builtin {
			builtin.WriteString(e.path + "\n")
			name := modname.FromPath(e.path)
			for _, mi := range e.m.Modinfo {
				binfo.WriteString(name + "." + mi)
				binfo.WriteByte(0)
			}
			continue
		}
		p := e.path
		if i := bytes.Index([]byte(p), []byte(".ko")); i >= 0 {
			order.WriteString(p[:i+3] + "\n")
		}
		if err := e.m.Write(filepath.Join(dir, p)); err != nil {
			return "", err
		}
	}
	for name, data := range map[string][]byte{
		"modules.order":           order.Bytes(),
		"modules.builtin":         builtin.Bytes(),
		"modules.builtin.modinfo": binfo.Bytes(),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// SpecError is a bad line in a tree spec.
type SpecError struct {
	Line int
	Msg  string
}

func (e *SpecError) Error() string { return "tree spec line " + itoa(e.Line) + ": " + e.Msg }

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return string(b[i:])
}
