// Package depmod generates a module directory's index files from the
// module files in it, as kmod 30's depmod does: modules.dep (dependencies
// computed from the symbols each module imports and the others export),
// modules.alias, modules.softdep, modules.symbols, modules.devname, and
// the binary indexes libkmod reads (modules.dep.bin, modules.alias.bin,
// modules.symbols.bin, modules.builtin.bin, modules.builtin.alias.bin).
//
// The text files are byte for byte what Debian's depmod writes for the
// same tree: the module order follows modules.order, and modules.symbols
// follows kmod's hash table order. Dependency cycles are reported as an
// error naming the modules in each cycle.
package depmod

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/modlab/modlab/kmod/compression"
	"github.com/modlab/modlab/kmod/modfile"
	"github.com/modlab/modlab/kmod/modname"
)

// DefaultConfigDirs are depmod.d's directories, in precedence order.
var DefaultConfigDirs = []string{"/etc/depmod.d", "/run/depmod.d", "/usr/local/lib/depmod.d", "/lib/depmod.d"}

// Options say which tree to index.
type Options struct {
	// BaseDir is the root the module directory lives under (depmod -b);
	// "" is the real root.
	BaseDir string
	// Release is the kernel release (the directory name under
	// lib/modules).
	Release string
	// ConfigPaths are depmod.d directories or files; nil means
	// DefaultConfigDirs under ConfigRoot.
	ConfigPaths []string
	ConfigRoot  string
	// Files, when set, are the only modules indexed (absolute paths),
	// instead of searching the tree.
	Files []string
	// SymbolPrefix is stripped from symbol names (depmod -P).
	SymbolPrefix byte
	// SystemMap or Symvers name the kernel's own exports (depmod -F,
	// -E), so that PrintUnknown can report symbols nobody provides.
	SystemMap    string
	Symvers      string
	PrintUnknown bool
	// WarnDups reports duplicate index entries (depmod -w).
	WarnDups bool
	// Warn receives the warnings depmod prints and carries on after.
	Warn func(msg string)
	// Show receives the verbose "needs" lines (depmod -v).
	Show func(msg string)
}

// ErrCycle is wrapped by the error Load returns when modules depend on
// each other in a loop.
var ErrCycle = errors.New("dependency cycle")

// CycleError lists the dependency cycles found, each as
// "a -> b -> a", and how many modules take part in them.
type CycleError struct {
	Cycles  []string
	Modules int
}

func (e *CycleError) Error() string {
	return fmt.Sprintf("found %d modules in dependency cycles: %s", e.Modules, strings.Join(e.Cycles, "; "))
}

// Unwrap makes errors.Is(err, ErrCycle) true.
func (e *CycleError) Unwrap() error { return ErrCycle }

// Depmod is an indexed tree, ready to be written out.
type Depmod struct {
	opts    Options
	dir     string // the module directory: BaseDir/lib/modules/Release
	cfg     config
	mods    []*mod
	byName  map[string]*mod
	symbols map[string]*symbol
}

type mod struct {
	path       string
	relpath    string // relative to dir; "" when outside it
	uncrelpath string // relpath ending in .ko (as modules.order names it)
	name       string
	sortIdx    int
	idx        int

	info    []modfile.Info
	exports []modfile.Symbol
	depSyms []depSym
	loadErr error

	deps       []*mod
	users      int
	depSortIdx int
	visited    bool
}

type depSym struct {
	name string
	crc  uint64
	weak bool
}

type symbol struct {
	name  string
	owner *mod
	crc   uint64
}

func (d *Depmod) warn(format string, a ...any) {
	if d.opts.Warn != nil {
		d.opts.Warn(fmt.Sprintf(format, a...))
	}
}

// Dir is the module directory being indexed.
func (d *Depmod) Dir() string { return d.dir }

// Load finds the modules, reads their symbols and computes the
// dependencies.
func Load(o Options) (*Depmod, error) {
	if o.Release == "" {
		return nil, errors.New("depmod: no kernel release given")
	}
	base := o.BaseDir
	if base != "" && !filepath.IsAbs(base) {
		wd, err := os.Getwd()
		if err != nil {
			return nil, err
		}
		base = wd + "/" + base
	}
	d := &Depmod{opts: o, dir: base + "/lib/modules/" + o.Release, byName: map[string]*mod{}, symbols: map[string]*symbol{}}
	switch {
	case o.Symvers != "":
		if err := d.loadSymvers(o.Symvers); err != nil {
			return nil, err
		}
	case o.SystemMap != "":
		if err := d.loadSystemMap(o.SystemMap); err != nil {
			return nil, err
		}
	case o.PrintUnknown:
		d.warn("-e needs -E or -F")
		d.opts.PrintUnknown = false
	}
	if o.Files != nil {
		for _, p := range o.Files {
			if !strings.HasPrefix(p, "/") {
				return nil, fmt.Errorf("%s: not absolute path", p)
			}
			if _, err := os.Stat(p); err != nil {
				return nil, fmt.Errorf("could not create module %s: %w", p, err)
			}
			m := d.newMod(p)
			if d.byName[m.name] != nil {
				return nil, fmt.Errorf("could not add module %s: module %s given twice", p, m.name)
			}
			d.byName[m.name] = m
		}
	} else {
		d.cfg = loadConfig(o, d.warn)
		if err := d.search(d.dir); err != nil {
			return nil, err
		}
	}
	d.buildArray()
	d.sortByOrder()
	d.loadModules()
	d.loadDependencies()
	if err := d.calculate(); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *Depmod) newMod(path string) *mod {
	m := &mod{path: path, name: modname.FromPath(path), sortIdx: 1}
	if strings.HasPrefix(path, d.dir+"/") {
		m.relpath = path[len(d.dir)+1:]
		slash := strings.LastIndexByte(m.relpath, '/')
		// kmod keeps the file name but cuts it to the module name's
		// length plus ".ko".
		n := slash + 1 + len(m.name) + len(".ko")
		if n > len(m.relpath) {
			n = len(m.relpath)
		}
		m.uncrelpath = m.relpath[:n]
	}
	return m
}

// hasModuleExt tells the module files depmod picks up: those kmod 30 as
// Debian builds it reads (without zlib, so .ko.gz files are left out, as
// they are there).
func hasModuleExt(name string) bool {
	f, ok := compression.FormatOf(name)
	return ok && f.DebianKmod
}

// search walks a directory the way depmod does: in directory order,
// skipping "build", "source" and excluded names, following symlinks.
func (d *Depmod) search(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("could not open directory %s: %w", dir, err)
	}
	ents, err := f.ReadDir(-1)
	f.Close()
	if err != nil {
		return fmt.Errorf("could not read directory %s: %w", dir, err)
	}
	for _, e := range ents {
		name := e.Name()
		if name == "build" || name == "source" || d.cfg.excluded(name) {
			continue
		}
		path := dir + "/" + name
		isDir := e.IsDir()
		if !isDir && !e.Type().IsRegular() {
			st, err := os.Stat(path)
			if err != nil {
				d.warn("fstatat(%s): %v", path, err)
				continue
			}
			if st.IsDir() {
				isDir = true
			} else if !st.Mode().IsRegular() {
				d.warn("unsupported file type %s: %v", path, st.Mode().Type())
				continue
			}
		}
		if isDir {
			if err := d.search(path); err != nil {
				d.warn("%v", err)
			}
			continue
		}
		if !hasModuleExt(name) {
			continue
		}
		m := d.newMod(path)
		if old := d.byName[m.name]; old != nil {
			if d.cfg.higherPriority(d.dir, old, m) {
				continue
			}
		}
		d.byName[m.name] = m
	}
	return nil
}

// buildArray orders the modules as kmod's module hash table iterates them.
func (d *Depmod) buildArray() {
	names := make([]string, 0, len(d.byName))
	for n := range d.byName {
		names = append(names, n)
	}
	hashOrder(names, 512)
	d.mods = make([]*mod, len(names))
	for i, n := range names {
		d.mods[i] = d.byName[n]
		d.mods[i].idx = i
	}
}

// sortByOrder puts the modules listed in modules.order first, in that
// order; the others keep their order after them.
func (d *Depmod) sortByOrder() {
	data, err := os.ReadFile(d.dir + "/modules.order")
	if err != nil {
		return
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		lines := bytes.Count(data, []byte{'\n'}) + 1
		d.warn("%s/modules.order:%d corrupted line misses '\\n'", d.dir, lines)
		return
	}
	lines := strings.Split(string(data), "\n")
	lines = lines[:len(lines)-1]
	total := len(lines) + 1
	byUnc := make(map[string]*mod, len(d.mods))
	for _, m := range d.mods {
		if m.uncrelpath != "" {
			byUnc[m.uncrelpath] = m
		}
	}
	for i, l := range lines {
		if m := byUnc[l]; m != nil {
			m.sortIdx = i + 1 - total
		}
	}
	sort.SliceStable(d.mods, func(i, j int) bool { return d.mods[i].sortIdx < d.mods[j].sortIdx })
	for i, m := range d.mods {
		m.idx = i
	}
}

// loadModules reads every module file (in parallel) and registers the
// symbols they export, later modules taking over duplicate names.
func (d *Depmod) loadModules() {
	jobs := make(chan *mod)
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range jobs {
				m.load()
			}
		}()
	}
	for _, m := range d.mods {
		jobs <- m
	}
	close(jobs)
	wg.Wait()
	for _, m := range d.mods {
		if m.loadErr != nil {
			d.warn("failed to load symbols from %s: %v", m.path, m.loadErr)
		}
		for _, s := range m.exports {
			name := s.Name
			if d.opts.SymbolPrefix != 0 && name != "" && name[0] == d.opts.SymbolPrefix {
				name = name[1:]
			}
			d.symbols[name] = &symbol{name: name, owner: m, crc: s.CRC}
		}
	}
}

// load reads one module: its .modinfo, exports and imported symbols.
func (m *mod) load() {
	data, _, err := compression.ReadFile(m.path)
	if err != nil {
		m.loadErr = err
		return
	}
	mf, err := modfile.Parse(m.path, data)
	if err != nil {
		m.loadErr = err
		return
	}
	m.info = mf.Info()
	if m.exports, err = mf.Exports(); err != nil {
		m.loadErr = err
	}
	m.depSyms, err = dependencySymbols(data, mf)
	if err != nil && m.loadErr == nil {
		m.loadErr = err
	}
}

// dependencySymbols lists the undefined symbols of a module in symbol
// table order, with their modversions CRC, as libkmod's
// kmod_elf_get_dependency_symbols does.
func dependencySymbols(img []byte, mf *modfile.Module) ([]depSym, error) {
	f, err := elf.NewFile(bytes.NewReader(img))
	if err != nil {
		return nil, fmt.Errorf("reading ELF: %w", err)
	}
	syms, err := f.Symbols()
	if err != nil {
		if errors.Is(err, elf.ErrNoSymbols) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading .symtab: %w", err)
	}
	crcs := map[string]uint64{}
	if vers, err := mf.Versions(); err == nil {
		for _, v := range vers {
			if _, ok := crcs[v.Name]; !ok {
				crcs[v.Name] = v.CRC
			}
		}
	}
	var out []depSym
	for _, s := range syms {
		if s.Section != elf.SHN_UNDEF || s.Name == "" {
			continue
		}
		if (f.Machine == elf.EM_SPARC || f.Machine == elf.EM_SPARCV9) && elf.ST_TYPE(s.Info) == 13 /* STT_REGISTER */ {
			continue
		}
		out = append(out, depSym{name: s.Name, crc: crcs[s.Name], weak: elf.ST_BIND(s.Info) == elf.STB_WEAK})
	}
	return out, nil
}

func (d *Depmod) findSymbol(name string) *symbol {
	name = strings.TrimPrefix(name, ".")
	if d.opts.SymbolPrefix != 0 && name != "" && name[0] == d.opts.SymbolPrefix {
		name = name[1:]
	}
	return d.symbols[name]
}

func (d *Depmod) loadDependencies() {
	for _, m := range d.mods {
		for _, s := range m.depSyms {
			sym := d.findSymbol(s.name)
			if sym == nil {
				if d.opts.PrintUnknown && !s.weak {
					d.warn("%s needs unknown symbol %s", m.path, s.name)
				}
				continue
			}
			if d.opts.Symvers != "" && sym.crc != s.crc && !s.weak && d.opts.PrintUnknown {
				d.warn("%s disagrees about version of symbol %s", m.path, s.name)
			}
			if sym.owner == nil {
				continue
			}
			dup := false
			for _, x := range m.deps {
				if x == sym.owner {
					dup = true
					break
				}
			}
			if dup {
				continue
			}
			m.deps = append(m.deps, sym.owner)
			sym.owner.users++
			if d.opts.Show != nil {
				d.opts.Show(fmt.Sprintf("%s needs \"%s\": %s", m.path, sym.name, sym.owner.path))
			}
		}
	}
}

// calculate sorts the modules topologically (modules nobody uses first)
// and orders each module's dependencies by that sort.
func (d *Depmod) calculate() error {
	n := len(d.mods)
	users := make([]int, n)
	var roots []int
	for i, m := range d.mods {
		m.depSortIdx = int(^uint(0) >> 1)
		users[i] = m.users
		if users[i] == 0 {
			roots = append(roots, i)
		}
	}
	sorted := 0
	for len(roots) > 0 {
		src := d.mods[roots[len(roots)-1]]
		roots = roots[:len(roots)-1]
		src.depSortIdx = sorted
		sorted++
		for _, dst := range src.deps {
			users[dst.idx]--
			if users[dst.idx] == 0 {
				roots = append(roots, dst.idx)
			}
		}
	}
	if sorted < n {
		return d.cycleError(users)
	}
	for _, m := range d.mods {
		sort.SliceStable(m.deps, func(i, j int) bool { return m.deps[i].depSortIdx < m.deps[j].depSortIdx })
	}
	return nil
}

// cycleError describes the dependency cycles among the modules the
// topological sort could not place.
func (d *Depmod) cycleError(users []int) error {
	var cycles []string
	inCycle := map[string]bool{}
	// Depth-first search from each unplaced module, reporting each cycle
	// once, starting from its first module in module order.
	state := make(map[*mod]int) // 0 new, 1 on stack, 2 done
	var stack []*mod
	var visit func(m *mod)
	visit = func(m *mod) {
		state[m] = 1
		stack = append(stack, m)
		for _, dep := range m.deps {
			switch state[dep] {
			case 0:
				visit(dep)
			case 1:
				i := len(stack) - 1
				for stack[i] != dep {
					i--
				}
				names := make([]string, 0, len(stack)-i+1)
				for _, x := range stack[i:] {
					names = append(names, x.name)
					inCycle[x.name] = true
				}
				names = append(names, dep.name)
				cycles = append(cycles, strings.Join(names, " -> "))
			}
		}
		stack = stack[:len(stack)-1]
		state[m] = 2
	}
	for i, m := range d.mods {
		if users[i] > 0 && state[m] == 0 {
			visit(m)
		}
	}
	return &CycleError{Cycles: cycles, Modules: len(inCycle)}
}

// allDeps returns every module m needs, directly or not, in load order
// reversed (the order modules.dep lists them).
func (m *mod) allDeps() []*mod {
	var out []*mod
	seen := map[*mod]bool{}
	var fill func(x *mod)
	fill = func(x *mod) {
		for _, dep := range x.deps {
			if seen[dep] {
				continue
			}
			seen[dep] = true
			out = append(out, dep)
			fill(dep)
		}
	}
	fill(m)
	sort.SliceStable(out, func(i, j int) bool { return out[i].depSortIdx < out[j].depSortIdx })
	return out
}

func (m *mod) outPath() string {
	if m.relpath != "" {
		return m.relpath
	}
	return m.path
}

// Modules lists the indexed module names in output order.
func (d *Depmod) Modules() []string {
	out := make([]string, len(d.mods))
	for i, m := range d.mods {
		out[i] = m.name
	}
	return out
}

func writeAll(w io.Writer, s string) error {
	_, err := io.WriteString(w, s)
	return err
}
