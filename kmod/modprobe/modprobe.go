// Package modprobe resolves a module name or alias to what modprobe would
// load, in order: dependencies from modules.dep, soft dependencies (pre and
// post), options from configuration and the kernel command line, install
// and remove commands, the blacklist. It reproduces libkmod's algorithm
// (kmod_module_new_from_lookup, kmod_module_probe_insert_module), including
// its quirks, so that "modprobe --show-depends" prints what kmod prints.
//
// A Resolver caches module objects like a libkmod context does: a module
// found through an alias is a different object from the same module found
// by name (options written for the alias apply only to it).
package modprobe

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/modlab/modlab/kmod/internal/fnmatch"
	"github.com/modlab/modlab/kmod/modconf"
	"github.com/modlab/modlab/kmod/moddir"
	"github.com/modlab/modlab/kmod/modname"
)

// State is whether and how a module is in the running kernel.
type State int

// Kernel states of a module.
const (
	StateNone State = iota
	StateBuiltin
	StateLive
	StateComing
	StateGoing
)

// Resolver answers modprobe's questions for one module directory and
// configuration.
type Resolver struct {
	Dir    *moddir.Dir
	Config *modconf.Config
	// SysModule is the sysfs module directory ("/sys/module"), read for
	// the state of modules that are not builtin. "" means no running
	// kernel: nothing is loaded.
	SysModule string
	// Warn receives messages kmod would log and carry on after (a
	// softdep that cannot be looked up, a module file that is missing).
	Warn func(msg string)

	pool map[string]*Module
}

// New returns a Resolver for dir and cfg (cfg may be nil: no configuration).
func New(dir *moddir.Dir, cfg *modconf.Config) *Resolver {
	if cfg == nil {
		cfg = &modconf.Config{}
	}
	return &Resolver{Dir: dir, Config: cfg, pool: make(map[string]*Module)}
}

// Module is one module object of the resolver.
type Module struct {
	r     *Resolver
	key   string
	Name  string
	Alias string // the alias (or configured alias pattern) it was found under

	path    string
	depInit bool
	deps    []*Module // in libkmod's list order: modules.dep order reversed

	builtin int // 0 unknown, 1 no, 2 yes

	install, remove         string
	installInit, removeInit bool

	visited, ignoreCmd, required bool
}

func (r *Resolver) warn(format string, a ...any) {
	if r.Warn != nil {
		r.Warn(fmt.Sprintf(format, a...))
	}
}

func (r *Resolver) get(key, name, alias string) *Module {
	if m := r.pool[key]; m != nil {
		return m
	}
	m := &Module{r: r, key: key, Name: name, Alias: alias}
	r.pool[key] = m
	return m
}

func (r *Resolver) fromName(name string) *Module {
	n := modname.Normalize(name)
	return r.get(n, n, "")
}

func (r *Resolver) fromAlias(alias, name string) *Module {
	return r.get(name+"\\"+alias, name, alias)
}

// fromPath is kmod_module_new_from_path for a dependency in modules.dep.
func (r *Resolver) fromPath(path string) (*Module, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	name := modname.FromPath(path)
	m := r.pool[name]
	if m == nil {
		m = r.get(name, name, "")
		m.path = path
	} else if m.path == "" {
		m.path = path
	} else if m.path != path {
		return nil, fmt.Errorf("module %s already exists with a different path: new %s, old %s", name, path, m.path)
	}
	m.builtin = 1
	return m, nil
}

// loadDeps parses the module's modules.dep entry once (libkmod's lazy
// kmod_module_parse_depline); a failure leaves it to be retried.
func (m *Module) loadDeps() error {
	if m.depInit {
		return nil
	}
	line, ok, err := m.r.Dir.Dep(m.Name)
	if err != nil || !ok {
		return err
	}
	return m.setDeps(line)
}

func (m *Module) setDeps(line moddir.DepLine) error {
	if m.depInit {
		return nil
	}
	m.depInit = true
	if m.path == "" {
		m.path = line.Path
	}
	deps := make([]*Module, 0, len(line.Deps))
	for _, p := range line.Deps {
		d, err := m.r.fromPath(p)
		if err != nil {
			m.depInit = false
			m.r.warn("%s: dependency of %s: %v", m.r.Dir.File(moddir.DepFile), m.Name, err)
			return nil
		}
		deps = append([]*Module{d}, deps...)
	}
	m.deps = deps
	return nil
}

// Path is the module file, from modules.dep; "" for builtin modules and
// aliases without a module file.
func (m *Module) Path() (string, error) {
	if m.path != "" || m.depInit {
		return m.path, nil
	}
	err := m.loadDeps()
	return m.path, err
}

// Dependencies returns the modules this one depends on, in the order
// libkmod keeps them (the reverse of modules.dep).
func (m *Module) Dependencies() ([]*Module, error) {
	if err := m.loadDeps(); err != nil {
		return nil, err
	}
	return m.deps, nil
}

// IsBuiltin reports whether the kernel has the module built in.
func (m *Module) IsBuiltin() (bool, error) {
	if m.builtin == 0 {
		b, err := m.r.Dir.IsBuiltin(m.Name)
		if err != nil {
			return false, err
		}
		m.builtin = 1
		if b {
			m.builtin = 2
		}
	}
	return m.builtin == 2, nil
}

// State reads the module's state in the running kernel.
func (m *Module) State() (State, error) {
	if b, err := m.IsBuiltin(); err != nil || b {
		return StateBuiltin, err
	}
	if m.r.SysModule == "" {
		return StateNone, nil
	}
	dir := m.r.SysModule + "/" + m.Name
	data, err := os.ReadFile(dir + "/initstate")
	if err != nil {
		if st, err2 := os.Stat(dir); err2 == nil && st.IsDir() {
			return StateComing, nil
		}
		return StateNone, nil
	}
	switch string(data) {
	case "live\n":
		return StateLive, nil
	case "coming\n":
		return StateComing, nil
	case "going\n":
		return StateGoing, nil
	}
	return StateNone, fmt.Errorf("unknown %s/initstate: %q", dir, data)
}

func (m *Module) inKernel() (bool, error) {
	s, err := m.State()
	return s == StateLive || s == StateBuiltin, err
}

// Options returns the options configured for the module (or its alias),
// joined by spaces in configuration order.
func (m *Module) Options() string {
	var parts []string
	for _, o := range m.r.Config.Options {
		if o.Module != m.Name && (m.Alias == "" || o.Module != m.Alias) {
			continue
		}
		if o.Options != "" {
			parts = append(parts, o.Options)
		}
	}
	return strings.Join(parts, " ")
}

// InstallCommand returns the first install command whose pattern matches
// the module name.
func (m *Module) InstallCommand() string {
	if !m.installInit {
		m.installInit = true
		m.install = firstCommand(m.r.Config.Install, m.Name)
	}
	return m.install
}

// RemoveCommand returns the first remove command whose pattern matches the
// module name.
func (m *Module) RemoveCommand() string {
	if !m.removeInit {
		m.removeInit = true
		m.remove = firstCommand(m.r.Config.Remove, m.Name)
	}
	return m.remove
}

// firstCommand returns the command of the first entry whose module pattern
// matches name, or "".
func firstCommand(cmds []modconf.Command, name string) string {
	for _, c := range cmds {
		if fnmatch.Match(c.Module, name) {
			return c.Command
		}
	}
	return ""
}

// Blacklisted reports whether a blacklist line names the module.
func (m *Module) Blacklisted() bool {
	for _, b := range m.r.Config.Blacklist {
		if b == m.Name {
			return true
		}
	}
	return false
}

// Softdeps looks up the pre and post soft dependencies of the first softdep
// line whose pattern matches the module name.
func (m *Module) Softdeps() (pre, post []*Module) {
	for _, sd := range m.r.Config.Softdeps {
		if !fnmatch.Match(sd.Module, m.Name) {
			continue
		}
		return m.r.lookupAll(sd.Pre), m.r.lookupAll(sd.Post)
	}
	return nil, nil
}

func (r *Resolver) lookupAll(names []string) []*Module {
	var out []*Module
	for _, n := range names {
		mods, err := r.Lookup(n)
		if err != nil {
			r.warn("failed to lookup soft dependency '%s', continuing anyway.", n)
			continue
		}
		out = append(out, mods...)
	}
	return out
}

// ErrInvalidName is returned for names libkmod refuses to normalise (an
// unbalanced bracket).
var ErrInvalidName = errors.New("invalid module name or alias")

// Lookup finds the modules name stands for, in libkmod's order: aliases in
// the configuration, modules.dep, modules.symbols ("symbol:" names),
// install and remove commands, modules.alias, modules.builtin,
// modules.builtin.alias. An empty result means not found.
func (r *Resolver) Lookup(name string) ([]*Module, error) {
	alias, err := modname.NormalizeAlias(name)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidName, err)
	}
	var out []*Module
	for _, a := range r.Config.Aliases {
		if fnmatch.Match(a.Pattern, alias) {
			out = append(out, r.fromAlias(a.Pattern, a.Module))
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	line, ok, err := r.Dir.Dep(alias)
	if err != nil {
		return nil, err
	}
	if ok {
		m := r.fromName(alias)
		if err := m.setDeps(line); err != nil {
			return nil, err
		}
		return []*Module{m}, nil
	}
	names, err := r.Dir.SymbolModules(alias)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		out = append(out, r.fromAlias(alias, n))
	}
	if len(out) > 0 {
		return out, nil
	}
	for _, c := range r.Config.Install {
		if c.Module == alias {
			m := r.fromName(c.Module)
			m.install, m.installInit = c.Command, true
			return []*Module{m}, nil
		}
	}
	for _, c := range r.Config.Remove {
		if c.Module == alias {
			m := r.fromName(c.Module)
			m.remove, m.removeInit = c.Command, true
			return []*Module{m}, nil
		}
	}
	if names, err = r.Dir.AliasModules(alias); err != nil {
		return nil, err
	}
	for _, n := range names {
		out = append(out, r.fromAlias(alias, n))
	}
	if len(out) > 0 {
		return out, nil
	}
	if b, err := r.Dir.IsBuiltin(alias); err != nil {
		return nil, err
	} else if b {
		m := r.fromName(alias)
		m.builtin = 2
		return []*Module{m}, nil
	}
	if names, err = r.Dir.BuiltinAliasModules(alias); err != nil {
		return nil, err
	}
	for _, n := range names {
		m := r.fromAlias(alias, n)
		m.builtin = 2
		out = append(out, m)
	}
	return out, nil
}
