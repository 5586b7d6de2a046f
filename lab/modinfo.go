package lab

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/modlab/modlab/kmod/modfile"
	"github.com/modlab/modlab/kmod/modname"
)

// builtModinfo reads the .modinfo keys the lab needs (depends, parmtype)
// from a built module.
func builtModinfo(path string) (map[string][]string, error) {
	m, err := modfile.Open(path)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	return map[string][]string{
		"depends":  {strings.Join(m.Depends(), ",")},
		"parmtype": m.Get("parmtype"),
	}, nil
}

// taintsProprietary reports whether loading any of the built modules
// taints the kernel P (modfile.Module.TaintsProprietary). A module that
// cannot be read counts as not tainting: loading it will say more.
func taintsProprietary(mods []string) bool {
	for _, p := range mods {
		m, err := modfile.Open(p)
		if err != nil {
			continue
		}
		taints := m.TaintsProprietary()
		m.Close()
		if taints {
			return true
		}
	}
	return false
}

// loadOrder sorts a folder's modules so that each comes after the modules
// of the same folder it depends on.
func loadOrder(mods []string) ([]string, error) {
	name := modname.FromPath
	byName := map[string]string{}
	deps := map[string][]string{}
	for _, m := range mods {
		byName[name(m)] = m
		info, err := builtModinfo(m)
		if err != nil {
			return nil, err
		}
		for _, d := range info["depends"] {
			for _, n := range strings.Split(d, ",") {
				if n != "" {
					deps[m] = append(deps[m], modname.Normalize(n))
				}
			}
		}
	}
	var out []string
	state := map[string]int{}
	var visit func(string) error
	visit = func(m string) error {
		switch state[m] {
		case 1:
			return fmt.Errorf("modules depend on each other in a cycle at %s", filepath.Base(m))
		case 2:
			return nil
		}
		state[m] = 1
		for _, d := range deps[m] {
			if dm, ok := byName[d]; ok {
				if err := visit(dm); err != nil {
					return err
				}
			}
		}
		state[m] = 2
		out = append(out, m)
		return nil
	}
	for _, m := range mods {
		if err := visit(m); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ParamError is a --param that none of a folder's modules declares: a
// mistake in the invocation, found before anything runs.
type ParamError struct {
	Param    string
	Declared []string // the parameters the modules do declare
}

func (e *ParamError) Error() string {
	if len(e.Declared) == 0 {
		return fmt.Sprintf("no module of the folder declares a parameter %q (they declare none)", e.Param)
	}
	return fmt.Sprintf("no module of the folder declares a parameter %q (declared: %s)", e.Param, strings.Join(e.Declared, ", "))
}

// assignParams gives each module its parameters. "mod.name=value" goes to
// module mod; a plain "name=value" goes to every module that declares the
// parameter name.
func assignParams(mods []string, params []string) (map[string][]string, error) {
	out := map[string][]string{}
	declared := map[string][]string{}        // param -> modules
	byModule := map[string]map[string]bool{} // module name -> its params
	names := map[string]string{}             // module name -> file
	var have []string                        // "param" or "module.param", for the error
	for _, m := range mods {
		n := modname.FromPath(m)
		names[n] = m
		byModule[n] = map[string]bool{}
		info, err := builtModinfo(m)
		if err != nil {
			return nil, err
		}
		for _, p := range info["parmtype"] {
			pn, _, _ := strings.Cut(p, ":")
			declared[pn] = append(declared[pn], m)
			byModule[n][pn] = true
			if len(mods) > 1 {
				pn = n + "." + pn
			}
			have = append(have, pn)
		}
	}
	sort.Strings(have)
	for _, p := range params {
		key, _, ok := strings.Cut(p, "=")
		if !ok {
			key = p // a bool parameter given by name alone
		}
		if mod, pn, dotted := strings.Cut(key, "."); dotted {
			if m, ok := names[modname.FromPath(mod)]; ok {
				if !byModule[modname.FromPath(mod)][pn] {
					return nil, &ParamError{Param: key, Declared: have}
				}
				out[m] = append(out[m], strings.TrimPrefix(p, mod+"."))
				continue
			}
		}
		targets := declared[key]
		if len(targets) == 0 {
			return nil, &ParamError{Param: key, Declared: have}
		}
		for _, m := range targets {
			out[m] = append(out[m], p)
		}
	}
	return out, nil
}
