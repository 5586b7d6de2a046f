package lab

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/modlab/modlab/kmod/modfile"
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

// loadOrder sorts a folder's modules so that each comes after the modules
// of the same folder it depends on.
func loadOrder(mods []string) ([]string, error) {
	name := modfile.NameFromPath
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
					deps[m] = append(deps[m], strings.ReplaceAll(n, "-", "_"))
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

// assignParams gives each module its parameters. "mod.name=value" goes to
// module mod; a plain "name=value" goes to every module that declares the
// parameter name.
func assignParams(mods []string, params []string) (map[string][]string, error) {
	out := map[string][]string{}
	declared := map[string][]string{} // param -> modules
	names := map[string]string{}
	for _, m := range mods {
		n := modfile.NameFromPath(m)
		names[n] = m
		info, err := builtModinfo(m)
		if err != nil {
			return nil, err
		}
		for _, p := range info["parmtype"] {
			pn, _, _ := strings.Cut(p, ":")
			declared[pn] = append(declared[pn], m)
		}
	}
	for _, p := range params {
		key, _, ok := strings.Cut(p, "=")
		if !ok {
			key = p // a bool parameter given by name alone
		}
		if mod, pn, dotted := strings.Cut(key, "."); dotted {
			if m, ok := names[strings.ReplaceAll(mod, "-", "_")]; ok {
				out[m] = append(out[m], strings.TrimPrefix(p, mod+"."))
				continue
			}
			_ = pn
		}
		targets := declared[key]
		if len(targets) == 0 {
			var have []string
			for k := range declared {
				have = append(have, k)
			}
			sort.Strings(have)
			// Hand it to the only module, so the kernel's own error shows.
			if len(mods) == 1 {
				out[mods[0]] = append(out[mods[0]], p)
				continue
			}
			return nil, fmt.Errorf("no module of the folder declares parameter %q (declared: %s); write MODULE.%s", key, strings.Join(have, " "), p)
		}
		for _, m := range targets {
			out[m] = append(out[m], p)
		}
	}
	return out, nil
}
