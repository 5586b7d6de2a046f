// Package loaded reads what the running kernel says about its modules:
// /proc/modules and /sys/module/NAME/{refcnt,holders,parameters,initstate,
// taint,coresize}. It is the Go counterpart of libkmod's "loaded module"
// functions (kmod_module_new_from_loaded, kmod_module_get_refcnt, ...).
//
// Both directories are injectable (System.ProcDir, System.SysDir), so tests
// run against fixture trees.
package loaded

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/modlab/modlab/kmod/modname"
)

// System names where procfs and sysfs are mounted.
type System struct {
	ProcDir string // "/proc" when empty
	SysDir  string // "/sys" when empty
}

// Root returns the System whose /proc and /sys live under root ("" or "/"
// for the real ones).
func Root(root string) System {
	if root == "" {
		root = "/"
	}
	return System{ProcDir: filepath.Join(root, "proc"), SysDir: filepath.Join(root, "sys")}
}

func (s System) proc() string {
	if s.ProcDir == "" {
		return "/proc"
	}
	return s.ProcDir
}

func (s System) sys() string {
	if s.SysDir == "" {
		return "/sys"
	}
	return s.SysDir
}

// ModulesFile is the path of /proc/modules.
func (s System) ModulesFile() string { return filepath.Join(s.proc(), "modules") }

// ModuleDir is /sys/module/NAME.
func (s System) ModuleDir(name string) string {
	return filepath.Join(s.sys(), "module", modname.Normalize(name))
}

// Modules reads /proc/modules, in the kernel's order (most recently loaded
// first).
func (s System) Modules() ([]Module, error) {
	f, err := os.Open(s.ModulesFile())
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseModules(f, s.ModulesFile())
}

// Module is one line of /proc/modules.
type Module struct {
	Name string
	Size int64
	// Refcnt is the use count; -1 when the kernel does not count
	// (no CONFIG_MODULE_UNLOAD: the field reads "-").
	Refcnt int
	// UsedBy lists the modules that use this one (the kernel's source list).
	UsedBy []string
	// Permanent is set for a module that has an init function but no exit
	// function: it can never be unloaded.
	Permanent bool
	// State is "Live", "Loading" or "Unloading".
	State   string
	Address uint64 // 0 when hidden by kptr_restrict
	// Taints are the module's taint letters ("OE"), without parentheses,
	// with the '+' (loading) or '-' (unloading) mark the kernel appends.
	Taints string
}

// ParseModules parses the text of /proc/modules. name is used in errors
// ("file:line: ...").
func ParseModules(r io.Reader, name string) ([]Module, error) {
	var mods []Module
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if strings.TrimSpace(text) == "" {
			continue
		}
		m, err := parseModuleLine(text)
		if err != nil {
			return mods, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		mods = append(mods, m)
	}
	if err := sc.Err(); err != nil {
		return mods, fmt.Errorf("%s:%d: %w", name, line+1, err)
	}
	return mods, nil
}

// parseModuleLine reads "name size refcnt users, state address [(taints)]".
// Without CONFIG_MODULE_UNLOAD the refcount and users read " - -".
func parseModuleLine(text string) (Module, error) {
	var m Module
	f := strings.Fields(text)
	if len(f) < 4 {
		return m, fmt.Errorf("want at least 4 fields (name size refcnt users), got %d: %q", len(f), text)
	}
	m.Name = f[0]
	size, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil || size < 0 {
		return m, fmt.Errorf("module %s: bad size %q", m.Name, f[1])
	}
	m.Size = size
	if f[2] == "-" {
		m.Refcnt = -1
	} else {
		n, err := strconv.ParseInt(f[2], 10, 32)
		if err != nil || n < 0 {
			return m, fmt.Errorf("module %s: bad use count %q", m.Name, f[2])
		}
		m.Refcnt = int(n)
	}
	if f[3] != "-" {
		if !strings.HasSuffix(f[3], ",") {
			return m, fmt.Errorf("module %s: users %q do not end in ','", m.Name, f[3])
		}
		for _, u := range strings.Split(strings.TrimSuffix(f[3], ","), ",") {
			switch {
			case u == "[permanent]":
				m.Permanent = true
			case u == "":
				return m, fmt.Errorf("module %s: empty name in users %q", m.Name, f[3])
			default:
				m.UsedBy = append(m.UsedBy, u)
			}
		}
	}
	rest := f[4:]
	if len(rest) > 0 {
		switch rest[0] {
		case "Live", "Loading", "Unloading":
			m.State = rest[0]
		default:
			return m, fmt.Errorf("module %s: unknown state %q", m.Name, rest[0])
		}
		rest = rest[1:]
	}
	if len(rest) > 0 {
		a := rest[0]
		if !strings.HasPrefix(a, "0x") {
			return m, fmt.Errorf("module %s: bad address %q", m.Name, a)
		}
		v, err := strconv.ParseUint(a[2:], 16, 64)
		if err != nil {
			return m, fmt.Errorf("module %s: bad address %q", m.Name, a)
		}
		m.Address = v
		rest = rest[1:]
	}
	if len(rest) > 0 {
		t := rest[0]
		if len(t) < 2 || t[0] != '(' || t[len(t)-1] != ')' {
			return m, fmt.Errorf("module %s: bad taint field %q", m.Name, t)
		}
		m.Taints = t[1 : len(t)-1]
		rest = rest[1:]
	}
	if len(rest) > 0 {
		return m, fmt.Errorf("module %s: unexpected trailing fields %q", m.Name, strings.Join(rest, " "))
	}
	return m, nil
}

// InitState is a module's /sys/module/NAME/initstate.
type InitState string

// The states a module can be in.
const (
	Live    InitState = "live"
	Coming  InitState = "coming"
	Going   InitState = "going"
	Builtin InitState = "builtin"
)

// ErrNotLoaded is returned (wrapped) for a module that is not in the kernel.
var ErrNotLoaded = errors.New("module is not loaded")

// InitState reads /sys/module/NAME/initstate. Like libkmod, a directory
// without initstate counts as Coming (the kernel creates the attribute
// last). A module that is not loaded gives an error wrapping ErrNotLoaded.
func (s System) InitState(name string) (InitState, error) {
	dir := s.ModuleDir(name)
	b, err := os.ReadFile(filepath.Join(dir, "initstate"))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if st, err2 := os.Stat(dir); err2 == nil && st.IsDir() {
				return Coming, nil
			}
			return "", fmt.Errorf("%s: %w", modname.Normalize(name), ErrNotLoaded)
		}
		return "", err
	}
	st := InitState(strings.TrimSuffix(string(b), "\n"))
	switch st {
	case Live, Coming, Going:
		return st, nil
	}
	return "", fmt.Errorf("%s: unknown state %q", filepath.Join(dir, "initstate"), string(st))
}

// readInt reads a sysfs attribute holding one decimal number.
func readInt(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: not a number: %q", path, strings.TrimSpace(string(b)))
	}
	return v, nil
}

// Refcnt reads /sys/module/NAME/refcnt. The file is missing when the
// kernel cannot unload modules, or when the module is not loaded.
func (s System) Refcnt(name string) (int, error) {
	v, err := readInt(filepath.Join(s.ModuleDir(name), "refcnt"))
	return int(v), err
}

// CoreSize reads /sys/module/NAME/coresize, the size lsmod shows.
func (s System) CoreSize(name string) (int64, error) {
	return readInt(filepath.Join(s.ModuleDir(name), "coresize"))
}

// Taint reads /sys/module/NAME/taint ("" for an untainted module).
func (s System) Taint(name string) (string, error) {
	b, err := os.ReadFile(filepath.Join(s.ModuleDir(name), "taint"))
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(string(b), "\n"), nil
}

// Holders lists /sys/module/NAME/holders: the modules that use this one.
// They come in the order the kernel's readdir gives them (see KernfsSort),
// which is the order kmod's lsmod and rmmod print.
func (s System) Holders(name string) ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(s.ModuleDir(name), "holders"))
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		names = append(names, e.Name())
	}
	KernfsSort(names)
	return names, nil
}

// Param is one file of /sys/module/NAME/parameters.
type Param struct {
	Name  string
	Value string // without the trailing newline
	// Err is set when the value cannot be read (write-only parameters,
	// permission).
	Err error
}

// Parameters reads /sys/module/NAME/parameters, sorted by name.
func (s System) Parameters(name string) ([]Param, error) {
	dir := filepath.Join(s.ModuleDir(name), "parameters")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	ps := make([]Param, 0, len(ents))
	for _, e := range ents {
		p := Param{Name: e.Name()}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			p.Err = err
		} else {
			p.Value = strings.TrimSuffix(string(b), "\n")
		}
		ps = append(ps, p)
	}
	return ps, nil
}

// KernfsSort puts directory entry names into the order sysfs (kernfs)
// returns them from readdir: by kernfs_name_hash, then by name. Fixture
// trees on other file systems list entries in their own order; sorting
// makes output equal to what kmod prints on a real /sys.
func KernfsSort(names []string) {
	sort.SliceStable(names, func(i, j int) bool {
		hi, hj := KernfsHash(names[i]), KernfsHash(names[j])
		if hi != hj {
			return hi < hj
		}
		return names[i] < names[j]
	})
}

// KernfsHash is the kernel's kernfs_name_hash(name, NULL) on a 64-bit
// machine: partial_name_hash over the bytes (sign-extended, as x86's char
// is), end_name_hash (hash_64_generic to 32 bits), then the 31-bit range
// with 0, 1 and INT_MAX reserved.
func KernfsHash(name string) uint32 {
	var h uint64 // unsigned long
	for i := 0; i < len(name); i++ {
		c := uint64(int64(int8(name[i])))
		h = (h + (c << 4) + (c >> 4)) * 11
	}
	v := uint32(h * 0x61C8864680B583EB >> 32)
	v &= 0x7fffffff
	if v < 2 {
		v += 2
	}
	if v >= 0x7fffffff {
		v = 0x7fffffff - 1
	}
	return v
}
