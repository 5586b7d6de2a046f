package depmod

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/modlab/modlab/kmod/index"
	"github.com/modlab/modlab/kmod/moddir"
	"github.com/modlab/modlab/kmod/modname"
)

// File is one output of depmod.
type File struct {
	Name  string
	Write func(d *Depmod, w io.Writer) error
	// Binary files are not printed by depmod -n.
	Binary bool
}

// Files are depmod's outputs, in the order it writes them.
var Files = []File{
	{"modules.dep", (*Depmod).WriteDep, false},
	{"modules.dep.bin", (*Depmod).WriteDepBin, true},
	{"modules.alias", (*Depmod).WriteAlias, false},
	{"modules.alias.bin", (*Depmod).WriteAliasBin, true},
	{"modules.softdep", (*Depmod).WriteSoftdep, false},
	{"modules.symbols", (*Depmod).WriteSymbols, false},
	{"modules.symbols.bin", (*Depmod).WriteSymbolsBin, true},
	{"modules.builtin.bin", (*Depmod).WriteBuiltinBin, true},
	{"modules.builtin.alias.bin", (*Depmod).WriteBuiltinAliasBin, true},
	{"modules.devname", (*Depmod).WriteDevname, false},
}

// WriteFiles writes every output into the module directory, each through a
// temporary file renamed into place.
func (d *Depmod) WriteFiles() error {
	now := time.Now()
	for _, f := range Files {
		tmp := fmt.Sprintf("%s/%s.%d.%d.%d", d.dir, f.Name, os.Getpid(), now.Nanosecond()/1000, now.Unix())
		fh, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err != nil {
			return fmt.Errorf("create %s: %w", tmp, err)
		}
		bw := bufio.NewWriterSize(fh, 1<<16)
		err = f.Write(d, bw)
		if err == nil {
			err = bw.Flush()
		}
		if cerr := fh.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(tmp)
			return fmt.Errorf("could not write index %s: %w", f.Name, err)
		}
		if err := os.Rename(tmp, d.dir+"/"+f.Name); err != nil {
			os.Remove(tmp)
			return err
		}
	}
	return nil
}

// WriteText writes the text outputs one after the other, as depmod -n does.
func (d *Depmod) WriteText(w io.Writer) error {
	for _, f := range Files {
		if f.Binary {
			continue
		}
		if err := f.Write(d, w); err != nil {
			return err
		}
	}
	return nil
}

func (m *mod) depLine() string {
	var b strings.Builder
	b.WriteString(m.outPath())
	b.WriteByte(':')
	for _, dep := range m.allDeps() {
		b.WriteByte(' ')
		b.WriteString(dep.outPath())
	}
	return b.String()
}

// WriteDep writes modules.dep.
func (d *Depmod) WriteDep(w io.Writer) error {
	bw := bufio.NewWriter(w)
	for _, m := range d.mods {
		bw.WriteString(m.depLine())
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

func writeTrie(w io.Writer, t *index.Trie) error {
	_, err := t.WriteTo(w)
	return err
}

// WriteDepBin writes modules.dep.bin.
func (d *Depmod) WriteDepBin(w io.Writer) error {
	t := index.NewTrie()
	for _, m := range d.mods {
		line := m.depLine()
		dup, err := t.Insert(m.name, line, uint32(m.idx))
		if err != nil {
			return fmt.Errorf("modules.dep.bin: %s: %w", m.path, err)
		}
		if dup && d.opts.WarnDups {
			d.warn("duplicate module deps:\n%s", line)
		}
	}
	return writeTrie(w, t)
}

func (m *mod) infoValues(key string) []string {
	var out []string
	for _, i := range m.info {
		if i.Key == key {
			out = append(out, i.Value)
		}
	}
	return out
}

// WriteAlias writes modules.alias.
func (d *Depmod) WriteAlias(w io.Writer) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("# Aliases extracted from modules themselves.\n")
	for _, m := range d.mods {
		for _, a := range m.infoValues("alias") {
			fmt.Fprintf(bw, "alias %s %s\n", a, m.name)
		}
	}
	return bw.Flush()
}

// WriteAliasBin writes modules.alias.bin.
func (d *Depmod) WriteAliasBin(w io.Writer) error {
	t := index.NewTrie()
	for _, m := range d.mods {
		for _, a := range m.infoValues("alias") {
			na, err := modname.NormalizeAlias(a)
			if err != nil {
				d.warn("Unmatched bracket in %s", a)
				continue
			}
			dup, err := t.Insert(na, m.name, uint32(m.idx))
			if err != nil {
				d.warn("%s: alias %q: %v", m.path, a, err)
			} else if dup && d.opts.WarnDups {
				d.warn("duplicate module alias:\n%s %s", na, m.name)
			}
		}
	}
	return writeTrie(w, t)
}

// WriteSoftdep writes modules.softdep.
func (d *Depmod) WriteSoftdep(w io.Writer) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("# Soft dependencies extracted from modules themselves.\n")
	for _, m := range d.mods {
		for _, s := range m.infoValues("softdep") {
			fmt.Fprintf(bw, "softdep %s %s\n", m.name, s)
		}
	}
	return bw.Flush()
}

// symbolOrder lists the owned symbols in kmod's hash table order.
func (d *Depmod) symbolOrder() []*symbol {
	names := make([]string, 0, len(d.symbols))
	for n, s := range d.symbols {
		if s.owner != nil {
			names = append(names, n)
		}
	}
	hashOrder(names, 2048)
	out := make([]*symbol, len(names))
	for i, n := range names {
		out[i] = d.symbols[n]
	}
	return out
}

// WriteSymbols writes modules.symbols.
func (d *Depmod) WriteSymbols(w io.Writer) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("# Aliases for symbols, used by symbol_request().\n")
	for _, s := range d.symbolOrder() {
		fmt.Fprintf(bw, "alias symbol:%s %s\n", s.name, s.owner.name)
	}
	return bw.Flush()
}

// WriteSymbolsBin writes modules.symbols.bin.
func (d *Depmod) WriteSymbolsBin(w io.Writer) error {
	t := index.NewTrie()
	for _, s := range d.symbolOrder() {
		dup, err := t.Insert("symbol:"+s.name, s.owner.name, uint32(s.owner.idx))
		if err != nil {
			d.warn("%s: symbol %q: %v", s.owner.path, s.name, err)
		} else if dup && d.opts.WarnDups {
			d.warn("duplicate module syms:\nsymbol:%s %s", s.name, s.owner.name)
		}
	}
	return writeTrie(w, t)
}

// WriteBuiltinBin writes modules.builtin.bin from the kernel's
// modules.builtin (an empty index when there is none).
func (d *Depmod) WriteBuiltinBin(w io.Writer) error {
	t := index.NewTrie()
	data, err := os.ReadFile(d.dir + "/modules.builtin")
	if err != nil {
		if os.IsNotExist(err) {
			return nil // kmod writes an empty file
		}
		return err
	}
	for num, line := range strings.SplitAfter(string(data), "\n") {
		if line == "" {
			continue
		}
		if c := line[0]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			d.warn("%s/modules.builtin:%d: invalid line: %q", d.dir, num+1, strings.TrimSuffix(line, "\n"))
			continue
		}
		name := line
		if i := strings.LastIndexByte(name, '/'); i >= 0 {
			name = name[i+1:]
		}
		if _, err := t.Insert(modname.Normalize(name), "", 0); err != nil {
			d.warn("%s/modules.builtin:%d: %v", d.dir, num+1, err)
		}
	}
	return writeTrie(w, t)
}

// WriteBuiltinAliasBin writes modules.builtin.alias.bin from the alias
// entries of modules.builtin.modinfo.
func (d *Depmod) WriteBuiltinAliasBin(w io.Writer) error {
	data, err := os.ReadFile(d.dir + "/" + moddir.BuiltinModinfo)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	t := index.NewTrie()
	for _, a := range builtinAliases(data, d.warn) {
		if _, err := t.Insert(a[0], a[1], 0); err != nil {
			d.warn("%s: builtin alias %q: %v", moddir.BuiltinModinfo, a[0], err)
		}
	}
	return writeTrie(w, t)
}

// builtinAliases extracts (normalised alias, module) pairs from
// modules.builtin.modinfo, reading it the way depmod does.
func builtinAliases(data []byte, warn func(string, ...any)) [][2]string {
	var out [][2]string
	s := stream{data: data}
	for !s.eof() {
		mod, ok := s.until('.')
		if !ok || mod == "" {
			continue
		}
		key, ok := s.until('=')
		if !ok || key != "alias" {
			// kmod skips to the end of the next string here, even
			// when the key already ended at one (a quirk we keep).
			s.skip()
			continue
		}
		value, ok := s.until(0)
		if !ok || value == "" {
			continue
		}
		alias, err := modname.NormalizeAlias(value)
		if err != nil {
			warn("Unmatched bracket in %s", value)
			continue
		}
		out = append(out, [2]string{alias, mod})
	}
	return out
}

// stream reads modules.builtin.modinfo the way depmod's flush_stream_to
// does: up to an end character, stopping early at a NUL.
type stream struct {
	data []byte
	pos  int
}

func (s *stream) eof() bool { return s.pos >= len(s.data) }

// until returns the bytes before end; ok is false when a NUL (or the end
// of the data) came first.
func (s *stream) until(end byte) (string, bool) {
	start := s.pos
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		s.pos++
		if c == end {
			return string(s.data[start : s.pos-1]), true
		}
		if c == 0 {
			return "", false
		}
	}
	return "", false
}

func (s *stream) skip() {
	if i := bytes.IndexByte(s.data[s.pos:], 0); i >= 0 {
		s.pos += i + 1
	} else {
		s.pos = len(s.data)
	}
}

// WriteDevname writes modules.devname: modules with a devname: alias and a
// char-major-M-m or block-major-M-m alias.
func (d *Depmod) WriteDevname(w io.Writer) error {
	bw := bufio.NewWriter(w)
	empty := true
	for _, m := range d.mods {
		var devname string
		haveDev := false
		var typ byte
		var major, minor uint32
		for _, a := range m.infoValues("alias") {
			if strings.HasPrefix(a, "devname:") {
				devname, haveDev = a[len("devname:"):], true
			} else if maj, min, ok := scanMajorMinor(a, "char-major-"); ok {
				typ, major, minor = 'c', maj, min
			} else if maj, min, ok := scanMajorMinor(a, "block-major-"); ok {
				typ, major, minor = 'b', maj, min
			}
			if typ != 0 && haveDev {
				break
			}
		}
		if !haveDev {
			continue
		}
		if typ == 0 {
			d.warn("Module '%s' has devname (%s) but lacks major and minor information. Ignoring.", m.name, devname)
			continue
		}
		if empty {
			bw.WriteString("# Device nodes to trigger on-demand module loading.\n")
			empty = false
		}
		fmt.Fprintf(bw, "%s %s %c%d:%d\n", m.name, devname, typ, major, minor)
	}
	return bw.Flush()
}

// scanMajorMinor matches "<prefix>%u-%u" like sscanf: trailing text after
// the second number is allowed.
func scanMajorMinor(s, prefix string) (uint32, uint32, bool) {
	if !strings.HasPrefix(s, prefix) {
		return 0, 0, false
	}
	s = s[len(prefix):]
	maj, rest, ok := scanUint(s)
	if !ok || !strings.HasPrefix(rest, "-") {
		return 0, 0, false
	}
	min, _, ok := scanUint(rest[1:])
	return maj, min, ok
}

func scanUint(s string) (uint32, string, bool) {
	i := 0
	var v uint32
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		v = v*10 + uint32(s[i]-'0')
		i++
	}
	return v, s[i:], i > 0
}
