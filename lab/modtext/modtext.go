// Package modtext records where a loaded module's code lies, for after
// it is unloaded: a report the kernel makes then (kmemleak's, of memory
// the module lost) shows the module's frames as bare addresses, and the
// record names them ("leak_init+0x1c/0x40 [leak]").
//
// In the lab's guest, /init makes Dir when a unit starts on a kernel with
// kmemleak and reads the records when it ends; the unit's process, the
// Go tests (lab/guesttest) and a uevent watch (Watch) write them. Where
// Dir does not exist, Record does nothing.
package modtext

import (
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/modlab/modlab/internal/uevent"
)

// Dir holds the records while a unit runs, one JSON file per load.
const Dir = "/run/modlab/modtext"

// Load is one load of a module: where its sections lay.
type Load struct {
	Name     string            `json:"name"`     // the kernel's name for it
	File     string            `json:"file"`     // the .ko it was loaded from
	Sections map[string]uint64 `json:"sections"` // section name to address
}

// Record records where module name, just loaded from file, lies, if a
// record is wanted (Dir exists; otherwise it does nothing). It reads
// /sys/module/NAME/sections, so the module must still be loaded. Each
// load has a record of its own.
func Record(name, file string) error {
	if _, err := os.Stat(Dir); err != nil {
		return nil
	}
	code, err := codeSections(file)
	if err != nil {
		return err
	}
	dir := filepath.Join("/sys/module", name, "sections")
	m := Load{Name: name, File: file, Sections: map[string]uint64{}}
	var first uint64
	for _, sec := range code {
		b, err := os.ReadFile(filepath.Join(dir, sec))
		if errors.Is(err, fs.ErrNotExist) {
			continue // a section the kernel does not show (or the module went away: below)
		}
		if err != nil {
			return fmt.Errorf("sections of %s: %w", name, err)
		}
		v, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(string(b)), "0x"), 16, 64)
		if err != nil || v == 0 {
			return fmt.Errorf("sections of %s: no address in %s (are addresses hidden?)", name, sec)
		}
		m.Sections[sec] = v
		if first == 0 || v < first {
			first = v
		}
	}
	// A module unloaded while it was read leaves a partial record: none.
	if _, err := os.Stat(dir); err != nil || len(m.Sections) == 0 {
		return fmt.Errorf("sections of %s: the module is gone", name)
	}
	data, _ := json.Marshal(m)
	// One record per load, named by where it lies: a unit may load a
	// module again, elsewhere. The unit's process and the uevent watch
	// may both record a load: the first whole record stays.
	rec := filepath.Join(Dir, fmt.Sprintf("%s@%x.json", name, first))
	tmp := fmt.Sprintf("%s.%d", rec, os.Getpid())
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, rec); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return nil
}

// codeSections names the module's code sections (executable, not empty),
// from its .ko: only those are read from sysfs, a few files rather than
// all of them, which counts where a test loads a module hundreds of times.
func codeSections(file string) ([]string, error) {
	f, err := elf.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	for _, s := range f.Sections {
		if s.Flags&elf.SHF_EXECINSTR != 0 && s.Flags&elf.SHF_ALLOC != 0 && s.Size > 0 {
			out = append(out, s.Name)
		}
	}
	if len(out) == 0 {
		return nil, errors.New(file + ": no code section")
	}
	return out, nil
}

// Loads reads the records.
func Loads() []Load {
	files, _ := filepath.Glob(filepath.Join(Dir, "*.json"))
	var out []Load
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var m Load
		if json.Unmarshal(b, &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// Range is the code of one section of a module: [Start, End), with
// the section's functions.
type Range struct {
	Start, End uint64
	Module     string
	Funcs      []Func // by offset in the section
}

// Func is a function of a section: its name, and its offset and size in
// the section.
type Func struct {
	Name      string
	Off, Size uint64
}

// Code returns where the module's code lay: its executable sections, at
// the addresses the kernel gave them, with their sizes and functions from
// the .ko.
func (m Load) Code() ([]Range, error) {
	f, err := elf.Open(m.File)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	syms, _ := f.Symbols() // a module without symbols still has ranges
	var out []Range
	for i, s := range f.Sections {
		addr, ok := m.Sections[s.Name]
		if s.Flags&elf.SHF_EXECINSTR == 0 || s.Size == 0 || !ok {
			continue
		}
		r := Range{Start: addr, End: addr + s.Size, Module: m.Name, Funcs: sectionFuncs(syms, i, s.Size)}
		out = append(out, r)
	}
	if len(out) == 0 {
		return nil, errors.New(m.File + ": no loaded code section")
	}
	return out, nil
}

// sectionFuncs lists the functions of section i (of size size), by
// offset, each with its size counted as the kernel's kallsyms counts it for
// a module: up to the next function, or the section's end. Where two
// names share an address, the first in the symbol table wins, as in
// kallsyms: a module's static init function rather than the init_module
// alias module_init() makes of it.
func sectionFuncs(syms []elf.Symbol, i int, size uint64) []Func {
	var fs []Func
	for _, sy := range syms {
		if int(sy.Section) == i && elf.ST_TYPE(sy.Info) == elf.STT_FUNC && sy.Value < size {
			fs = append(fs, Func{Name: sy.Name, Off: sy.Value})
		}
	}
	sort.SliceStable(fs, func(a, b int) bool { return fs[a].Off < fs[b].Off })
	var out []Func
	for j, f := range fs {
		if j > 0 && f.Off == fs[j-1].Off {
			continue
		}
		out = append(out, f)
	}
	for j := range out {
		out[j].Size = size - out[j].Off
		if j+1 < len(out) {
			out[j].Size = out[j+1].Off - out[j].Off
		}
	}
	return out
}

// Contains reports whether addr lies in the range.
func (r Range) Contains(addr uint64) bool { return addr >= r.Start && addr < r.End }

// Name spells addr as %pS does for a loaded module: "func+0x1c/0x40
// [mod]"; "" when no function holds it.
func (r Range) Name(addr uint64) string {
	off := addr - r.Start
	i := sort.Search(len(r.Funcs), func(i int) bool { return r.Funcs[i].Off > off }) - 1
	if i < 0 || off >= r.Funcs[i].Off+r.Funcs[i].Size {
		return ""
	}
	fn := r.Funcs[i]
	return fmt.Sprintf("%s+%#x/%#x [%s]", fn.Name, off-fn.Off, fn.Size, r.Module)
}

// Ranges is the code of every load recorded.
func Ranges() []Range {
	var out []Range
	for _, m := range Loads() {
		if rs, err := m.Code(); err == nil {
			out = append(out, rs...)
		}
	}
	return out
}

// Watch records where each module in files (the kernel's name to its
// .ko) lies when the kernel loads it, whoever loads it. The kernel
// announces a module with a uevent ("add@/module/NAME") once its init has
// run; a module unloaded at once may be gone before it is read, so the
// process that loads a module should Record it itself where it can. stop
// ends the watch.
func Watch(files map[string]string) (stop func(), err error) {
	c, err := uevent.Listen()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		defer c.Close()
		for {
			e, err := c.Receive(ctx)
			switch {
			case ctx.Err() != nil:
				return
			case errors.Is(err, uevent.ErrLost):
				continue
			case err != nil:
				return
			}
			if e.Action != "add" || e.Subsystem() != "module" {
				continue
			}
			if file, ok := files[e.Kernel()]; ok {
				Record(e.Kernel(), file)
			}
		}
	}()
	return cancel, nil
}
