package modprobe

// Flags change how Probe walks and filters the modules.
type Flags struct {
	// IgnoreCommands skips install commands and softdeps (modprobe -i).
	IgnoreCommands bool
	// IgnoreLoaded does not skip modules already in the kernel
	// (modprobe -D).
	IgnoreLoaded bool
	// UseBlacklist refuses a blacklisted module even when asked for by
	// name (modprobe -b); a module found through an alias is always
	// refused when blacklisted.
	UseBlacklist bool
	// FailOnLoaded makes Probe report ErrAlreadyLoaded when the module
	// asked for is already in the kernel (modprobe --first-time).
	FailOnLoaded bool
	// ExtraOptions are given on the command line for the module asked
	// for (not for its dependencies).
	ExtraOptions string
}

// ActionKind is what to do with one module of a probe.
type ActionKind int

// Kinds of actions.
const (
	// Insmod loads Path with Options.
	Insmod ActionKind = iota
	// Install runs Command (an install command; $CMDLINE_OPTS is still
	// to be replaced by Options).
	Install
	// Builtin is a module built into the kernel: nothing to load.
	Builtin
	// Skip is a module that is neither loadable nor builtin (an alias
	// without a module file); modprobe prints nothing for it.
	Skip
)

// Action is one step of a probe.
type Action struct {
	Kind    ActionKind
	Module  *Module
	Name    string
	Path    string
	Options string
	Command string
	// Loaded is set when the module is already in the kernel (only
	// when Flags.IgnoreLoaded is false): kmod skips it.
	Loaded bool
	// Required is true for the module asked for and its dependencies,
	// false for soft dependencies (whose failures kmod ignores).
	Required bool
	// Target is true for the module asked for.
	Target bool
}

// Result of a probe.
type Result struct {
	Actions []Action
	// Blacklisted is set when the module was refused by the blacklist;
	// Actions is then empty (modprobe exits 0 without a word).
	Blacklisted bool
	// AlreadyLoaded is set with FailOnLoaded when the module is in the
	// kernel already.
	AlreadyLoaded bool
}

// Probe computes what loading m means, in order, like
// kmod_module_probe_insert_module does before it inserts anything.
func (r *Resolver) Probe(m *Module, f Flags) (Result, error) {
	var res Result
	if !f.IgnoreLoaded {
		in, err := m.inKernel()
		if err != nil {
			return res, err
		}
		if in {
			res.AlreadyLoaded = f.FailOnLoaded
			return res, nil
		}
	}
	if (m.Alias != "" || f.UseBlacklist) && m.Blacklisted() {
		res.Blacklisted = true
		return res, nil
	}
	list, err := r.probeList(m, f.IgnoreCommands)
	if err != nil {
		return res, err
	}
	for _, x := range list {
		a := Action{Module: x, Name: x.Name, Required: x.required, Target: x == m}
		if !f.IgnoreLoaded {
			in, err := x.inKernel()
			if err != nil {
				return res, err
			}
			if in {
				a.Loaded = true
				a.Kind = Skip
				res.Actions = append(res.Actions, a)
				continue
			}
		}
		a.Options = concatOptions(x.Options(), map[bool]string{true: f.ExtraOptions}[x == m])
		if cmd := x.InstallCommand(); cmd != "" && !x.ignoreCmd {
			a.Kind, a.Command = Install, cmd
		} else {
			p, err := x.Path()
			if err != nil {
				return res, err
			}
			switch {
			case p != "":
				a.Kind, a.Path = Insmod, p
			default:
				st, err := x.State()
				if err != nil {
					return res, err
				}
				a.Kind = Skip
				if st == StateBuiltin {
					a.Kind = Builtin
				}
			}
		}
		res.Actions = append(res.Actions, a)
	}
	return res, nil
}

// concatOptions is libkmod's module_options_concat: configured options
// are always followed by a space, even when nothing comes after them.
func concatOptions(opt, xopt string) string {
	if opt == "" {
		return xopt
	}
	return opt + " " + xopt
}

// probeList is kmod_module_get_probe_list.
func (r *Resolver) probeList(m *Module, ignoreCmd bool) ([]*Module, error) {
	for _, x := range r.pool {
		x.visited, x.required = false, false
	}
	var list []*Module
	err := r.probeVisit(m, true, ignoreCmd, &list)
	return list, err
}

func (r *Resolver) probeVisit(m *Module, required, ignoreCmd bool, list *[]*Module) error {
	if m.visited {
		return nil
	}
	m.visited = true
	deps, err := m.Dependencies()
	if err != nil {
		return err
	}
	if required {
		m.required = true
		for _, d := range deps {
			d.required = true
		}
	}
	for _, d := range deps {
		if err := r.fillSoftdep(d, list); err != nil {
			return err
		}
	}
	if ignoreCmd {
		*list = append(*list, m)
		m.ignoreCmd = true
		return nil
	}
	return r.fillSoftdep(m, list)
}

func (r *Resolver) fillSoftdep(m *Module, list *[]*Module) error {
	pre, post := m.Softdeps()
	for _, p := range pre {
		if err := r.probeVisit(p, false, false, list); err != nil {
			return err
		}
	}
	*list = append(*list, m)
	m.ignoreCmd = len(pre) > 0 || len(post) > 0
	for _, p := range post {
		if err := r.probeVisit(p, false, false, list); err != nil {
			return err
		}
	}
	return nil
}
