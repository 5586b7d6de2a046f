package lab

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/modlab/modlab/kmod/modname"
)

// LoadListFile, in a module folder, names the modules a `modlab run` of
// the folder loads, for folders whose modules must not all be loaded at
// once (two that want the same name in /sys, say). Without it every
// module the folder builds is loaded. The other modules are still built
// and shipped into the unit's directory, for tests and for --exec.
const LoadListFile = "modlab.load"

// readLoadList reads dir's LoadListFile (see parseLoadList). It returns
// nil, nil when the folder has no such file.
func readLoadList(dir string) ([]string, error) {
	path := filepath.Join(dir, LoadListFile)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseLoadList(f, path)
}

// parseLoadList parses a load list: one module a line, by its file name
// with or without ".ko" or by the kernel's name ("hello-sysfs",
// "hello_sysfs.ko"); blank lines and text after '#' are ignored. The
// names come back as the kernel's. path names the file in errors.
func parseLoadList(r io.Reader, path string) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		switch len(fields) {
		case 0:
			continue
		case 1:
			name := modname.Normalize(fields[0])
			if name == "" {
				return nil, fmt.Errorf("%s:%d: %q is no module name", path, n, fields[0])
			}
			out = append(out, name)
		default:
			return nil, fmt.Errorf("%s:%d: one module a line, not %q", path, n, strings.TrimSpace(line))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s names no module", path)
	}
	return out, nil
}

// selectModules keeps, of a folder's modules in load order, the ones named
// in want and the modules of the folder they depend on, in the same order.
// depends gives a module file's dependencies by their kernel names.
func selectModules(order, want []string, depends func(string) ([]string, error)) ([]string, error) {
	byName := map[string]string{}
	var built []string
	for _, m := range order {
		byName[modname.FromPath(m)] = m
		built = append(built, strings.TrimSuffix(filepath.Base(m), ".ko"))
	}
	keep := map[string]bool{}
	var add func(name string) error
	add = func(name string) error {
		m, ok := byName[name]
		if !ok {
			return fmt.Errorf("%s names %s, which the folder does not build (it builds %s)",
				LoadListFile, name, strings.Join(built, ", "))
		}
		if keep[m] {
			return nil
		}
		keep[m] = true
		deps, err := depends(m)
		if err != nil {
			return err
		}
		for _, d := range deps {
			if _, ours := byName[d]; ours {
				if err := add(d); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for _, w := range want {
		if err := add(w); err != nil {
			return nil, err
		}
	}
	var out []string
	for _, m := range order {
		if keep[m] {
			out = append(out, m)
		}
	}
	return out, nil
}

// moduleDepends is a built module's dependencies, by kernel name.
func moduleDepends(path string) ([]string, error) {
	info, err := builtModinfo(path)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, d := range info["depends"] {
		for _, n := range strings.Split(d, ",") {
			if n != "" {
				out = append(out, modname.Normalize(n))
			}
		}
	}
	return out, nil
}
