// Package moddir reads a kernel's module directory, /lib/modules/<release>:
// the binary indexes depmod writes (modules.dep.bin, modules.alias.bin,
// modules.symbols.bin, modules.builtin.bin, modules.builtin.alias.bin),
// modules.builtin.modinfo, and the text files (modules.dep, modules.alias,
// modules.softdep, modules.symbols, modules.builtin, modules.devname).
//
// Look-ups follow libkmod: names and aliases are normalised as
// kmod/modname spells them, aliases are fnmatch patterns, and the indexes
// are consulted in kmod's order, stopping at the first that answers.
// Like libkmod, look-ups use only the .bin indexes; the text files are for
// tools that list or compare them.
package moddir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/modlab/modlab/kmod/index"
	"github.com/modlab/modlab/kmod/internal/rawfile"
	"github.com/modlab/modlab/kmod/modname"
)

// Index file names, without the .bin suffix.
const (
	DepFile          = "modules.dep"
	AliasFile        = "modules.alias"
	SymbolsFile      = "modules.symbols"
	BuiltinFile      = "modules.builtin"
	BuiltinAliasFile = "modules.builtin.alias"
	BuiltinModinfo   = "modules.builtin.modinfo"
	SoftdepFile      = "modules.softdep"
	DevnameFile      = "modules.devname"
)

// Dir is one module directory. Its indexes are opened on first use and
// kept open; a Dir is safe for concurrent use.
type Dir struct {
	path string

	mu      sync.Mutex
	indexes map[string]*indexSlot
}

type indexSlot struct {
	once   sync.Once
	r      *index.Reader
	data   []byte
	mapped bool
	err    error
}

// Module is one result of a look-up.
type Module struct {
	// Name is the module name, normalised with '_' for '-'.
	Name string
	// Path is the absolute path of the module file; "" for a builtin
	// module or an alias whose module modules.dep does not list.
	Path string
	// Builtin is true when the module is built into the kernel
	// (modules.builtin or modules.builtin.alias).
	Builtin bool
	// Alias is the key the module was found under when the look-up went
	// through an alias index (libkmod then also applies "options" lines
	// written for the alias); "" when found by name.
	Alias string
}

// Open opens baseDir/lib/modules/release, building the path the way kmod's
// tools do for -b/-d: baseDir "" means the real root, a relative baseDir is
// taken from the current directory.
func Open(baseDir, release string) (*Dir, error) {
	if release == "" {
		return nil, errors.New("open module directory: empty kernel release")
	}
	return OpenPath(baseDir + "/lib/modules/" + release)
}

// OpenPath opens the module directory at path (made absolute, not cleaned,
// since kmod prints module paths built from it).
func OpenPath(path string) (*Dir, error) {
	if !filepath.IsAbs(path) {
		wd, err := os.Getwd()
		if err != nil {
			return nil, fmt.Errorf("open module directory %s: %w", path, err)
		}
		path = wd + "/" + path
	}
	return &Dir{path: path, indexes: make(map[string]*indexSlot)}, nil
}

// Path is the directory's path, as kmod prints it.
func (d *Dir) Path() string { return d.path }

// File returns the path of a file inside the directory.
func (d *Dir) File(name string) string { return d.path + "/" + name }

// Index returns the reader of name+".bin"; a missing file gives an error
// wrapping fs.ErrNotExist. So does an empty one: depmod writes an empty
// modules.builtin.bin when the tree has no modules.builtin (a tree of
// out-of-tree modules), and libkmod reads that as "no entries".
func (d *Dir) Index(name string) (*index.Reader, error) {
	d.mu.Lock()
	s := d.indexes[name]
	if s == nil {
		s = &indexSlot{}
		d.indexes[name] = s
	}
	d.mu.Unlock()
	s.once.Do(func() {
		path := d.File(name + ".bin")
		s.data, s.mapped, s.err = rawfile.Map(path)
		if s.err == nil && len(s.data) == 0 {
			s.err = &fs.PathError{Op: "open index", Path: path, Err: fs.ErrNotExist}
			return
		}
		if s.err == nil {
			s.r, s.err = index.Parse(path, s.data)
		}
	})
	return s.r, s.err
}

// Close releases the indexes (they are mapped into memory like libkmod
// maps them). Readers returned by Index must not be used afterwards.
func (d *Dir) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	var first error
	for name, s := range d.indexes {
		if s.mapped {
			if err := rawfile.Unmap(s.data); err != nil && first == nil {
				first = err
			}
		}
		delete(d.indexes, name)
	}
	return first
}

// missing reports whether err is an absent index, which libkmod treats as
// "no answer" rather than a failure.
func missing(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// DepLine is one module's line of modules.dep.
type DepLine struct {
	Name string
	// Path is the module's absolute path.
	Path string
	// Deps are the absolute paths of its dependencies, in file order
	// (the order depmod writes: the order they must be loaded in, reversed).
	Deps []string
}

// Dep looks a module name up in modules.dep.bin. found is false when the
// name is not there (or the index is missing, as libkmod treats it).
func (d *Dir) Dep(name string) (line DepLine, found bool, err error) {
	if strings.IndexByte(name, ':') >= 0 {
		return line, false, nil
	}
	r, err := d.Index(DepFile)
	if err != nil {
		if missing(err) {
			return line, false, nil
		}
		return line, false, err
	}
	v, ok, err := r.Search(name)
	if err != nil || !ok {
		return line, false, err
	}
	line, err = d.ParseDepLine(name, v)
	return line, err == nil, err
}

// ParseDepLine parses "path: dep dep..." relative to the directory.
func (d *Dir) ParseDepLine(name, v string) (DepLine, error) {
	colon := strings.IndexByte(v, ':')
	if colon < 0 {
		return DepLine{}, fmt.Errorf("%s: entry for %s has no ':': %q", d.File(DepFile+".bin"), name, v)
	}
	line := DepLine{Name: name, Path: d.abs(v[:colon])}
	for _, f := range strings.FieldsFunc(v[colon+1:], func(r rune) bool { return r == ' ' || r == '\t' }) {
		line.Deps = append(line.Deps, d.abs(f))
	}
	return line, nil
}

func (d *Dir) abs(p string) string {
	if strings.HasPrefix(p, "/") {
		return p
	}
	return d.path + "/" + p
}

// IsBuiltin reports whether modules.builtin.bin lists the module name.
func (d *Dir) IsBuiltin(name string) (bool, error) {
	r, err := d.Index(BuiltinFile)
	if err != nil {
		if missing(err) {
			return false, nil
		}
		return false, err
	}
	_, ok, err := r.Search(name)
	return ok, err
}

// searchAlias runs a wildcard search in one alias-type index and returns
// the module names, in libkmod's order.
func (d *Dir) searchAlias(file, key string) ([]string, error) {
	r, err := d.Index(file)
	if err != nil {
		if missing(err) {
			return nil, nil
		}
		return nil, err
	}
	vals, err := r.SearchWild(key)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(vals))
	for i, v := range vals {
		names[i] = v.Value
	}
	return names, nil
}

// AliasModules returns the modules modules.alias.bin maps alias to.
func (d *Dir) AliasModules(alias string) ([]string, error) { return d.searchAlias(AliasFile, alias) }

// SymbolModules returns the modules exporting a "symbol:NAME" alias.
func (d *Dir) SymbolModules(alias string) ([]string, error) {
	if !strings.HasPrefix(alias, "symbol:") {
		return nil, nil
	}
	return d.searchAlias(SymbolsFile, alias)
}

// BuiltinAliasModules returns the builtin modules modules.builtin.alias.bin
// maps alias to.
func (d *Dir) BuiltinAliasModules(alias string) ([]string, error) {
	return d.searchAlias(BuiltinAliasFile, alias)
}

// Resolve fills in Path and Builtin of a module known by name, the way
// libkmod does lazily: its modules.dep entry, else modules.builtin.
func (d *Dir) Resolve(m *Module) error {
	if m.Path != "" || m.Builtin {
		return nil
	}
	line, ok, err := d.Dep(m.Name)
	if err != nil {
		return err
	}
	if ok {
		m.Path = line.Path
		return nil
	}
	m.Builtin, err = d.IsBuiltin(m.Name)
	return err
}

// Lookup finds the modules a name or alias stands for, like libkmod's
// kmod_module_new_from_lookup without configuration files: a module name
// in modules.dep, a "symbol:" alias in modules.symbols, an alias in
// modules.alias (fnmatch patterns), a builtin module name, a builtin alias.
// The first source that answers wins. No match gives an empty list and no
// error.
func (d *Dir) Lookup(name string) ([]Module, error) {
	alias, err := modname.NormalizeAlias(name)
	if err != nil {
		return nil, err
	}
	line, ok, err := d.Dep(alias)
	if err != nil {
		return nil, err
	}
	if ok {
		return []Module{{Name: modname.Normalize(alias), Path: line.Path}}, nil
	}
	for _, src := range []func(string) ([]string, error){d.SymbolModules, d.AliasModules} {
		names, err := src(alias)
		if err != nil {
			return nil, err
		}
		if len(names) == 0 {
			continue
		}
		mods := make([]Module, len(names))
		for i, n := range names {
			mods[i] = Module{Name: n, Alias: alias}
			if err := d.Resolve(&mods[i]); err != nil {
				return nil, err
			}
		}
		return mods, nil
	}
	if ok, err := d.IsBuiltin(alias); err != nil {
		return nil, err
	} else if ok {
		return []Module{{Name: modname.Normalize(alias), Builtin: true}}, nil
	}
	names, err := d.BuiltinAliasModules(alias)
	if err != nil {
		return nil, err
	}
	mods := make([]Module, len(names))
	for i, n := range names {
		mods[i] = Module{Name: n, Builtin: true, Alias: alias}
	}
	return mods, nil
}
