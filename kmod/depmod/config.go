package depmod

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// config is what depmod.d says: where to look first, per-module
// overrides, directories to skip.
type config struct {
	searches  []search // in priority order (first wins)
	overrides []string // "subdir/modname", most recent first
	excludes  []string
}

type search struct {
	builtin bool
	path    string
}

func (c *config) excluded(name string) bool {
	for _, e := range c.excludes {
		if e == name {
			return true
		}
	}
	return false
}

// loadConfig reads the depmod.d files in name order (a name seen in an
// earlier directory hides later ones), as kmod's depmod does.
func loadConfig(o Options, warn func(string, ...any)) config {
	paths := o.ConfigPaths
	if paths == nil {
		for _, d := range DefaultConfigDirs {
			if o.ConfigRoot != "" && o.ConfigRoot != "/" {
				d = filepath.Join(o.ConfigRoot, d)
			}
			paths = append(paths, d)
		}
	}
	type file struct{ name, path string }
	var files []file
	add := func(name, path string) {
		i := sort.Search(len(files), func(i int) bool { return files[i].name >= name })
		if i < len(files) && files[i].name == name {
			return
		}
		files = append(files, file{})
		copy(files[i+1:], files[i:])
		files[i] = file{name, path}
	}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			continue
		}
		if !st.IsDir() {
			add(filepath.Base(p), p)
			continue
		}
		ents, err := os.ReadDir(p)
		if err != nil {
			warn("could not read %s: %v", p, err)
			continue
		}
		for _, e := range ents {
			n := e.Name()
			if n[0] == '.' || !strings.HasSuffix(n, ".conf") || e.IsDir() {
				continue
			}
			add(n, p+"/"+n)
		}
	}
	var c config
	var searches []search // prepended as read, like kmod's list
	for _, f := range files {
		data, err := os.ReadFile(f.path)
		if err != nil {
			warn("file parse %s: %v", f.path, err)
			continue
		}
		for num, line := range strings.Split(string(data), "\n") {
			fields := strings.Fields(line)
			if len(fields) == 0 || strings.HasPrefix(line, "#") {
				continue
			}
			switch cmd := fields[0]; cmd {
			case "search":
				for _, s := range fields[1:] {
					se := search{path: s}
					if s == "built-in" {
						se = search{builtin: true}
					} else if s == "external" {
						warn("%s:%d: external directories are not supported; ignored", f.path, num+1)
						continue
					}
					searches = append([]search{se}, searches...)
				}
			case "override":
				if len(fields) < 4 {
					warn("%s:%d: ignoring bad line starting with '%s'", f.path, num+1, cmd)
					continue
				}
				if !kernelMatches(fields[2], o.Release) {
					continue
				}
				c.overrides = append([]string{fields[3] + "/" + fields[1]}, c.overrides...)
			case "exclude":
				c.excludes = append(c.excludes, fields[1:]...)
			case "external":
				warn("%s:%d: external directories are not supported; ignored", f.path, num+1)
			case "include", "make_map_files":
				// kmod: "not implemented yet"
			default:
				warn("%s:%d: ignoring bad line starting with '%s'", f.path, num+1, cmd)
			}
		}
	}
	if len(searches) == 0 {
		searches = []search{{path: "updates"}}
	}
	c.searches = searches
	return c
}

func kernelMatches(pattern, release string) bool {
	if pattern == "*" {
		return true
	}
	re, err := regexp.CompilePOSIX(pattern)
	if err != nil {
		return false
	}
	return re.MatchString(release)
}

// higherPriority reports whether the module already found (old) wins over
// a new file of the same name, by overrides, then search order.
func (c *config) higherPriority(dir string, old, m *mod) bool {
	rel := func(x *mod) string {
		// The path without its extensions, relative to dir.
		p := x.relpath
		slash := strings.LastIndexByte(p, '/')
		if n := slash + 1 + len(x.name); n <= len(p) {
			p = p[:n]
		}
		return p
	}
	relNew, relOld := rel(m), rel(old)
	for _, ov := range c.overrides {
		if relNew == ov {
			return false
		}
		if relOld == ov {
			return true
		}
	}
	bprio, oldprio, newprio := -1, -1, -1
	for i, se := range c.searches {
		switch {
		case se.builtin:
			bprio = i
		case m.relpath != "" && strings.HasPrefix(m.relpath, se.path+"/"):
			newprio = i
		case old.relpath != "" && strings.HasPrefix(old.relpath, se.path+"/"):
			oldprio = i
		}
	}
	if newprio < 0 {
		newprio = bprio
	}
	if oldprio < 0 {
		oldprio = bprio
	}
	return newprio <= oldprio
}
