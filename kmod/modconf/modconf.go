// Package modconf reads modprobe's configuration the way libkmod does: the
// modprobe.d directories (/etc/modprobe.d, /run/modprobe.d,
// /usr/local/lib/modprobe.d, /lib/modprobe.d, where a file name seen in an
// earlier directory hides the same name in later ones, and all files are
// read in name order), the module directory's modules.softdep, and
// "module.param=value" words of the kernel command line (/proc/cmdline).
//
// Bad lines do not stop parsing (kmod warns and carries on); each one is
// recorded as a Warning naming its file and line.
package modconf

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/modlab/modlab/kmod/internal/rawfile"
	"github.com/modlab/modlab/kmod/modname"
)

// DefaultDirs are kmod's configuration directories, in precedence order.
var DefaultDirs = []string{"/etc/modprobe.d", "/run/modprobe.d", "/usr/local/lib/modprobe.d", "/lib/modprobe.d"}

// Alias is an "alias PATTERN MODULE" line.
type Alias struct {
	Pattern string
	Module  string
}

// Options is an "options MODULE OPTIONS" line, or module.param=value words
// from the kernel command line.
type Options struct {
	Module  string
	Options string
}

// Command is an "install MODULE COMMAND" or "remove MODULE COMMAND" line.
type Command struct {
	Module  string
	Command string
}

// Softdep is a "softdep MODULE pre: A B post: C" line.
type Softdep struct {
	Module string
	Pre    []string
	Post   []string
}

// Warning is a line kmod ignores, with where it was found.
type Warning struct {
	File string
	Line int // 0 when the warning is about the whole file
	Msg  string
}

func (w Warning) String() string {
	if w.Line == 0 {
		return fmt.Sprintf("%s: %s", w.File, w.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", w.File, w.Line, w.Msg)
}

// Config is the parsed configuration; each list keeps file order, which is
// what look-ups use (the first matching install, remove and softdep line
// wins; every matching options line applies).
type Config struct {
	Aliases   []Alias
	Blacklist []string
	Options   []Options
	Install   []Command
	Remove    []Command
	Softdeps  []Softdep
	Warnings  []Warning
	// Files lists the files read, in order.
	Files []string
}

// LoadOptions says where the configuration lives.
type LoadOptions struct {
	// Paths are configuration directories or files. nil means
	// DefaultDirs under Root; an empty non-nil slice reads none.
	Paths []string
	// Root prefixes DefaultDirs and the default CmdlinePath.
	Root string
	// ModDir is the module directory whose modules.softdep is read as
	// configuration ("" to skip).
	ModDir string
	// CmdlinePath is the kernel command line file; "" means
	// Root+"/proc/cmdline". Set NoCmdline to skip it.
	CmdlinePath string
	NoCmdline   bool
}

func rooted(root, p string) string {
	if root == "" || root == "/" {
		return p
	}
	return filepath.Join(root, p)
}

type confFile struct {
	name   string // sort key: the file name
	path   string // full path
	single bool
}

// Load reads the configuration.
func Load(o LoadOptions) (*Config, error) {
	paths := o.Paths
	if paths == nil {
		for _, d := range DefaultDirs {
			paths = append(paths, rooted(o.Root, d))
		}
	}
	cfg := &Config{}
	var files []confFile
	insert := func(f confFile) {
		i := sort.Search(len(files), func(i int) bool { return files[i].name >= f.name })
		if i < len(files) && files[i].name == f.name {
			return // an earlier directory already has this name
		}
		files = append(files, confFile{})
		copy(files[i+1:], files[i:])
		files[i] = f
	}
	if o.ModDir != "" {
		insert(confFile{name: "modules.softdep", path: o.ModDir + "/modules.softdep"})
	}
	for _, p := range paths {
		ents, notDir, err := rawfile.ReadDir(p)
		if notDir {
			insert(confFile{name: filepath.Base(p), path: p, single: true})
			continue
		}
		if err != nil {
			if !os.IsNotExist(err) {
				cfg.Warnings = append(cfg.Warnings, Warning{File: p, Msg: fmt.Sprintf("cannot read directory: %v", err)})
			}
			continue
		}
		for _, e := range ents {
			n := e.Name()
			if n[0] == '.' || len(n) < 6 || !(strings.HasSuffix(n, ".conf") || strings.HasSuffix(n, ".alias")) {
				continue
			}
			full := p + "/" + n
			isDir := e.IsDir()
			if !isDir && !e.Type().IsRegular() {
				if st, err := os.Stat(full); err == nil && st.IsDir() {
					isDir = true
				}
			}
			if isDir {
				cfg.Warnings = append(cfg.Warnings, Warning{File: full, Msg: "directories inside directories are not supported"})
				continue
			}
			insert(confFile{name: n, path: full})
		}
	}
	for _, f := range files {
		data, err := rawfile.ReadFile(f.path)
		if err != nil {
			continue // kmod skips files it cannot open
		}
		cfg.Files = append(cfg.Files, f.path)
		cfg.parseData(f.path, data)
	}
	if !o.NoCmdline {
		p := o.CmdlinePath
		if p == "" {
			p = rooted(o.Root, "/proc/cmdline")
		}
		if data, err := rawfile.ReadFile(p); err == nil {
			if len(data) > cmdlineMax-1 {
				data = data[:cmdlineMax-1]
			}
			cfg.ParseCmdline(string(data))
		}
	}
	return cfg, nil
}

// Parse adds the configuration lines of one file; name is used in
// warnings. It fails only when r fails.
func (c *Config) Parse(name string, r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	c.parseData(name, data)
	return nil
}

func (c *Config) parseData(name string, data []byte) {
	lr := lineReader{data: data}
	for {
		line, num, ok := lr.next()
		if !ok {
			return
		}
		c.parseLine(name, line, num)
	}
}

// lineReader yields logical lines: a backslash before a newline joins two
// physical lines, and the line number is that of the last physical line.
type lineReader struct {
	data []byte
	pos  int
	num  int
}

func (lr *lineReader) next() (string, int, bool) {
	if lr.pos >= len(lr.data) {
		return "", 0, false
	}
	// Fast path: a line without backslashes.
	rest := lr.data[lr.pos:]
	end := bytes.IndexByte(rest, '\n')
	if end < 0 {
		end = len(rest)
	}
	if bytes.IndexByte(rest[:end], '\\') < 0 {
		lr.pos += end + 1
		lr.num++
		return string(rest[:end]), lr.num, true
	}
	var b []byte
	for lr.pos < len(lr.data) {
		ch := lr.data[lr.pos]
		lr.pos++
		switch ch {
		case '\n':
			lr.num++
			return string(b), lr.num, true
		case '\\':
			// A backslash quotes the next character: before a newline
			// it joins lines, before anything else it is dropped.
			if lr.pos >= len(lr.data) {
				// kmod stores the EOF it reads here as a 0xff byte.
				b = append(b, 0xff)
				continue
			}
			next := lr.data[lr.pos]
			lr.pos++
			if next == '\n' {
				lr.num++
				continue
			}
			b = append(b, next)
		default:
			b = append(b, ch)
		}
	}
	lr.num++
	return string(b), lr.num, true
}

// tokenizer mimics strtok_r with " \t" delimiters followed by a final
// strtok_r(NULL, "") that returns the rest of the line.
type tokenizer struct {
	s   string
	pos int
}

func (t *tokenizer) next() (string, bool) {
	for t.pos < len(t.s) && (t.s[t.pos] == ' ' || t.s[t.pos] == '\t') {
		t.pos++
	}
	if t.pos >= len(t.s) {
		return "", false
	}
	start := t.pos
	for t.pos < len(t.s) && t.s[t.pos] != ' ' && t.s[t.pos] != '\t' {
		t.pos++
	}
	tok := t.s[start:t.pos]
	if t.pos < len(t.s) {
		t.pos++ // the delimiter that ended the token
	}
	return tok, true
}

func (t *tokenizer) rest() (string, bool) {
	if t.pos >= len(t.s) {
		return "", false
	}
	r := t.s[t.pos:]
	t.pos = len(t.s)
	return r, true
}

// underscores spells a module name or pattern of a configuration line
// as libkmod does (modname.NormalizeAlias); ok is false when its brackets
// do not balance.
func underscores(s string) (string, bool) {
	n, err := modname.NormalizeAlias(s)
	return n, err == nil
}

func (c *Config) warn(file string, line int, format string, a ...any) {
	c.Warnings = append(c.Warnings, Warning{File: file, Line: line, Msg: fmt.Sprintf(format, a...)})
}

func (c *Config) parseLine(file, line string, num int) {
	if line == "" || line[0] == '#' {
		return
	}
	t := tokenizer{s: line}
	cmd, ok := t.next()
	if !ok {
		return
	}
	bad := func() { c.warn(file, num, "ignoring bad line starting with '%s'", cmd) }
	// name reads the next token as a module name or pattern.
	name := func() (string, bool) {
		tok, ok := t.next()
		if !ok {
			return "", false
		}
		return underscores(tok)
	}
	switch cmd {
	case "alias":
		alias, ok1 := name()
		mod, ok2 := name()
		if !ok1 || !ok2 {
			bad()
			return
		}
		c.Aliases = append(c.Aliases, Alias{Pattern: alias, Module: mod})
	case "blacklist":
		mod, ok := name()
		if !ok {
			bad()
			return
		}
		c.Blacklist = append(c.Blacklist, mod)
	case "options", "install", "remove", "softdep":
		mod, ok1 := name()
		rest, ok2 := t.rest()
		if !ok1 || !ok2 {
			bad()
			return
		}
		switch cmd {
		case "options":
			c.Options = append(c.Options, Options{Module: mod, Options: strings.ReplaceAll(rest, "\t", " ")})
		case "install":
			c.Install = append(c.Install, Command{Module: mod, Command: rest})
		case "remove":
			c.Remove = append(c.Remove, Command{Module: mod, Command: rest})
		case "softdep":
			c.Softdeps = append(c.Softdeps, parseSoftdep(mod, rest))
		}
	case "include", "config":
		c.warn(file, 0, "command %s is deprecated and not parsed anymore", cmd)
	default:
		bad()
	}
}

// parseSoftdep splits "pre: a b post: c" on white space; words before any
// "pre:" or "post:" are ignored, as in kmod.
func parseSoftdep(mod, s string) Softdep {
	d := Softdep{Module: mod}
	mode := 0
	for _, w := range strings.FieldsFunc(s, isCSpace) {
		switch w {
		case "pre:":
			mode = 1
		case "post:":
			mode = 2
		default:
			if mode == 1 {
				d.Pre = append(d.Pre, w)
			} else if mode == 2 {
				d.Post = append(d.Post, w)
			}
		}
	}
	return d
}

func isCSpace(r rune) bool {
	return r == ' ' || (r >= '\t' && r <= '\r')
}

// String renders a softdep's value the way "modprobe -c" prints it
// (kmod 30 leaves out the space before "post:").
func (d Softdep) String() string {
	var b strings.Builder
	if len(d.Pre) > 0 {
		b.WriteString("pre: ")
		b.WriteString(strings.Join(d.Pre, " "))
	}
	if len(d.Post) > 0 {
		b.WriteString("post: ")
		b.WriteString(strings.Join(d.Post, " "))
	}
	return b.String()
}
