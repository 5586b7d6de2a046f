// Package modfile reads kernel module files (.ko, .ko.xz, .ko.zst, .ko.gz)
// the way libkmod does: the .modinfo strings in file order, parameters
// with their types and descriptions, the signature appended by sign-file,
// the exported symbols and the modversions table.
//
// It reads untrusted input: every malformed file gives an error naming the
// file and what is wrong, never a panic. Like kmod's modinfo it accepts
// modules built for any architecture; CheckMachine tells whether a module
// is for a given one.
package modfile

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/modlab/modlab/kmod/compression"
	"github.com/modlab/modlab/kmod/modname"
)

// Errors that Open and Parse wrap; test them with errors.Is.
var (
	ErrEmpty     = errors.New("empty file")
	ErrNotELF    = errors.New("not an ELF file")
	ErrTruncated = errors.New("truncated ELF")
	ErrCorrupt   = errors.New("corrupt ELF")
	ErrNoModinfo = errors.New("no .modinfo section")
	ErrMachine   = errors.New("module for another machine")
)

// Info is one .modinfo entry: "key=value", or a bare "key" with an empty
// value.
type Info struct {
	Key   string
	Value string
}

// Module is an opened module file. Its methods read only the image held
// in memory or through the file it was opened from; call Close when done.
type Module struct {
	// Path is the file the module was read from, as given to Open.
	Path string
	// Compression is how the file was compressed (compression.None for a
	// plain .ko).
	Compression compression.Kind
	// Size is the size of the (decompressed) image in bytes.
	Size int64
	// Class and Machine describe the ELF.
	Class   elf.Class
	Machine elf.Machine

	r        io.ReaderAt
	img      []byte // the image, when it is in memory
	recycle  bool   // img goes back to compression.Release on Close
	closer   io.Closer
	order    binary.ByteOrder
	sections []section
	info     []Info
	sig      *Signature
	sigErr   error
	sigDone  bool
}

type section struct {
	name   string
	offset uint64
	size   uint64
	valid  bool // offset+size lies inside the image
}

// Open reads the module file at path: a plain ELF object or one compressed
// with xz, zstd or gzip (told apart by their magic bytes, as libkmod does).
// It parses the ELF header, the section table and .modinfo; the rest is
// read on demand.
func Open(path string) (*Module, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if st.IsDir() {
		f.Close()
		return nil, fmt.Errorf("%s: is a directory", path)
	}
	var head [8]byte
	n, err := f.ReadAt(head[:], 0)
	if err != nil && err != io.EOF {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if compression.Detect(head[:n]) == compression.None {
		m, err := parse(path, f, st.Size(), nil)
		if err != nil {
			f.Close()
			return nil, err
		}
		m.closer = f
		return m, nil
	}
	defer f.Close()
	img, c, err := compression.Read(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	m, err := parse(path, bytes.NewReader(img), int64(len(img)), img)
	if err != nil {
		compression.Release(img)
		return nil, err
	}
	m.Compression = c
	m.recycle = true
	return m, nil
}

// Parse reads a module from an uncompressed image in memory; name is used
// in errors.
func Parse(name string, img []byte) (*Module, error) {
	return parse(name, bytes.NewReader(img), int64(len(img)), img)
}

// Close releases the file or the decompressed image behind the module;
// nothing the module returned refers to them.
func (m *Module) Close() error {
	if m.recycle {
		compression.Release(m.img)
		m.img, m.recycle, m.r, m.Size = nil, false, bytes.NewReader(nil), 0
	}
	if m.closer == nil {
		return nil
	}
	err := m.closer.Close()
	m.closer = nil
	return err
}

func parse(name string, r io.ReaderAt, size int64, img []byte) (*Module, error) {
	if size == 0 {
		return nil, fmt.Errorf("%s: %w", name, ErrEmpty)
	}
	var ident [elf.EI_NIDENT]byte
	n, _ := r.ReadAt(ident[:], 0)
	if n < 4 || string(ident[:4]) != elf.ELFMAG {
		return nil, fmt.Errorf("%s: %w (no ELF magic)", name, ErrNotELF)
	}
	if n < len(ident) {
		return nil, fmt.Errorf("%s: %w: file has only %d bytes", name, ErrTruncated, size)
	}
	var hdrSize, shentWant int64
	switch elf.Class(ident[elf.EI_CLASS]) {
	case elf.ELFCLASS32:
		hdrSize, shentWant = 52, 40
	case elf.ELFCLASS64:
		hdrSize, shentWant = 64, 64
	default:
		return nil, fmt.Errorf("%s: %w: unknown ELF class %d", name, ErrCorrupt, ident[elf.EI_CLASS])
	}
	switch elf.Data(ident[elf.EI_DATA]) {
	case elf.ELFDATA2LSB, elf.ELFDATA2MSB:
	default:
		return nil, fmt.Errorf("%s: %w: unknown ELF data encoding %d", name, ErrCorrupt, ident[elf.EI_DATA])
	}
	if size <= hdrSize {
		return nil, fmt.Errorf("%s: %w: file has %d bytes, the ELF header needs %d", name, ErrTruncated, size, hdrSize)
	}
	ef, err := elf.NewFile(r)
	if err != nil {
		return nil, describeELFError(name, size, err)
	}
	m := &Module{
		Path:    name,
		Size:    size,
		Class:   ef.Class,
		Machine: ef.Machine,
		r:       r,
		img:     img,
		order:   ef.ByteOrder,
	}
	// libkmod insists on the section header size of the class and on a
	// section name table that ends with a NUL.
	var hdr [64]byte
	if _, err := r.ReadAt(hdr[:hdrSize], 0); err != nil {
		return nil, fmt.Errorf("%s: %w: %v", name, ErrTruncated, err)
	}
	shentOff := 58
	if ef.Class == elf.ELFCLASS32 {
		shentOff = 46
	}
	if got := int64(ef.ByteOrder.Uint16(hdr[shentOff:])); got != shentWant {
		return nil, fmt.Errorf("%s: %w: section header size %d, want %d", name, ErrCorrupt, got, shentWant)
	}
	shstrndx := int(ef.ByteOrder.Uint16(hdr[shentOff+4:]))
	m.sections = make([]section, len(ef.Sections))
	for i, s := range ef.Sections {
		end := s.Offset + s.FileSize
		m.sections[i] = section{
			name:   s.Name,
			offset: s.Offset,
			size:   s.FileSize,
			valid:  end >= s.Offset && end <= uint64(size),
		}
	}
	if shstrndx == 0 || shstrndx >= len(m.sections) || !m.sections[shstrndx].valid || m.sections[shstrndx].size == 0 {
		return nil, fmt.Errorf("%s: %w: no valid section name table", name, ErrCorrupt)
	}
	if last, err := m.read(m.sections[shstrndx].offset+m.sections[shstrndx].size-1, 1); err != nil || last[0] != 0 {
		return nil, fmt.Errorf("%s: %w: section name table does not end with NUL", name, ErrCorrupt)
	}
	data, ok, err := m.section(".modinfo")
	if err != nil {
		return nil, fmt.Errorf("%s: reading .modinfo: %w", name, err)
	}
	if !ok {
		return nil, fmt.Errorf("%s: %w", name, ErrNoModinfo)
	}
	m.info = splitModinfo(data)
	return m, nil
}

func describeELFError(name string, size int64, err error) error {
	var fe *elf.FormatError
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%s: %w: section headers or names lie past the end of the file (%d bytes)", name, ErrTruncated, size)
	case errors.As(err, &fe):
		return fmt.Errorf("%s: %w: %v", name, ErrCorrupt, strings.TrimPrefix(err.Error(), "elf: "))
	}
	return fmt.Errorf("%s: %w: %v", name, ErrCorrupt, err)
}

// section returns the contents of the first section with the given name
// whose extent lies inside the image, as libkmod's kmod_elf_get_section.
func (m *Module) section(name string) ([]byte, bool, error) {
	for i := 1; i < len(m.sections); i++ {
		s := m.sections[i]
		if s.name != name || !s.valid {
			continue
		}
		b, err := m.read(s.offset, s.size)
		return b, err == nil, err
	}
	return nil, false, nil
}

func (m *Module) read(off, size uint64) ([]byte, error) {
	if size == 0 {
		return nil, nil
	}
	if m.img != nil {
		if off > uint64(len(m.img)) || size > uint64(len(m.img))-off {
			return nil, io.ErrUnexpectedEOF
		}
		return m.img[off : off+size : off+size], nil
	}
	if off > uint64(m.Size) || size > uint64(m.Size)-off {
		return nil, io.ErrUnexpectedEOF
	}
	b := make([]byte, size)
	if _, err := m.r.ReadAt(b, int64(off)); err != nil && err != io.EOF {
		return nil, err
	}
	return b, nil
}

// splitModinfo splits .modinfo as kmod_elf_get_strings does: leading NUL
// padding is skipped, every run of NULs ends one string and empty strings
// are dropped. A section of a single byte (after the padding) is empty.
func splitModinfo(b []byte) []Info {
	for len(b) > 1 && b[0] == 0 {
		b = b[1:]
	}
	if len(b) <= 1 {
		return nil
	}
	var out []Info
	for len(b) > 0 {
		i := bytes.IndexByte(b, 0)
		var s []byte
		if i < 0 {
			s, b = b, nil
		} else {
			s, b = b[:i], b[i+1:]
		}
		if len(s) == 0 {
			continue
		}
		out = append(out, splitInfo(string(s)))
	}
	return out
}

func splitInfo(s string) Info {
	k, v, _ := strings.Cut(s, "=")
	return Info{Key: k, Value: v}
}

// Info returns the .modinfo entries in file order, duplicates kept.
func (m *Module) Info() []Info { return m.info }

// Get returns the values of a .modinfo key in file order.
func (m *Module) Get(key string) []string {
	var out []string
	for _, in := range m.info {
		if in.Key == key {
			out = append(out, in.Value)
		}
	}
	return out
}

func (m *Module) first(key string) string {
	for _, in := range m.info {
		if in.Key == key {
			return in.Value
		}
	}
	return ""
}

// Name returns the module's name: the .modinfo "name" entry, or the file
// name normalised as kmod does when the entry is missing.
func (m *Module) Name() string {
	if n := m.first("name"); n != "" {
		return n
	}
	return modname.FromPath(m.Path)
}

// Vermagic returns the .modinfo "vermagic" entry.
func (m *Module) Vermagic() string { return m.first("vermagic") }

// Depends returns the modules named in the .modinfo "depends" entry.
func (m *Module) Depends() []string {
	var out []string
	for _, d := range m.Get("depends") {
		for _, n := range strings.Split(d, ",") {
			if n != "" {
				out = append(out, n)
			}
		}
	}
	return out
}

// gplCompatible are the licences the kernel counts as GPL-compatible
// (license_is_gpl_compatible in include/linux/license.h).
var gplCompatible = map[string]bool{
	"GPL": true, "GPL v2": true, "GPL and additional rights": true,
	"Dual BSD/GPL": true, "Dual MIT/GPL": true, "Dual MPL/GPL": true,
}

// TaintsProprietary reports whether loading the module taints the kernel
// P (proprietary), as the kernel decides it: its first "license" entry is
// missing or not one of the GPL-compatible ones. That taint also turns
// lockdep off for the rest of the boot.
func (m *Module) TaintsProprietary() bool {
	return !gplCompatible[m.first("license")]
}

// CheckMachine reports whether the module was built for the given machine
// and class, with an error naming both when it was not.
func (m *Module) CheckMachine(machine elf.Machine, class elf.Class) error {
	if m.Machine == machine && m.Class == class {
		return nil
	}
	return fmt.Errorf("%s: %w: ELF %s %s, want %s %s", m.Path, ErrMachine,
		classBits(m.Class), m.Machine, classBits(class), machine)
}

func classBits(c elf.Class) string {
	switch c {
	case elf.ELFCLASS32:
		return "32-bit"
	case elf.ELFCLASS64:
		return "64-bit"
	}
	return c.String()
}

// Param is a module parameter, merged from its "parm" (description) and
// "parmtype" entries as kmod's modinfo merges them.
type Param struct {
	Name        string
	Description string
	Type        string
	HasDesc     bool // a parm entry was present
	HasType     bool // a parmtype entry was present
}

// Params returns the parameters in the order of their first parm or
// parmtype entry; later entries for the same name replace earlier ones.
// Entries without a ':' are skipped and returned as bad.
func (m *Module) Params() (params []Param, bad []Info) {
	return MergeParams(m.info)
}

// MergeParams merges the parm and parmtype entries of a modinfo list.
func MergeParams(info []Info) (params []Param, bad []Info) {
	idx := map[string]int{}
	for _, in := range info {
		if in.Key != "parm" && in.Key != "parmtype" {
			continue
		}
		name, val, ok := strings.Cut(in.Value, ":")
		if !ok {
			bad = append(bad, in)
			continue
		}
		i, seen := idx[name]
		if !seen {
			i = len(params)
			idx[name] = i
			params = append(params, Param{Name: name})
		}
		p := &params[i]
		if in.Key == "parm" {
			p.Description, p.HasDesc = val, true
		} else {
			p.Type, p.HasType = val, true
		}
	}
	return params, bad
}
