package userland

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// goMod is what the digest needs from a go.mod file: the module's path and
// the replacements by local directories, whose sources the build reads.
type goMod struct {
	Path     string
	Replaces []localReplace
}

// localReplace is a "replace old => ./dir" directive.
type localReplace struct {
	Old string // a module path
	Dir string // as written: relative to the go.mod's folder, or absolute
}

// parseGoMod reads the module path and the local replacements from the
// text of a go.mod file. It is lenient: lines it does not understand are
// skipped, since the go command, not this parser, judges the file.
func parseGoMod(data []byte) goMod {
	var m goMod
	inReplace := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.Index(line, "//"); i >= 0 {
			line = line[:i]
		}
		f := goModFields(line)
		if len(f) == 0 {
			continue
		}
		switch {
		case inReplace:
			if f[0] == ")" {
				inReplace = false
				continue
			}
			m.addReplace(f)
		case f[0] == "module" && len(f) == 2:
			m.Path = f[1]
		case f[0] == "replace" && len(f) == 2 && f[1] == "(":
			inReplace = true
		case f[0] == "replace":
			m.addReplace(f[1:])
		}
	}
	return m
}

// addReplace records "old [version] => new [version]" when new is a
// directory (it starts with ./ or ../, or is absolute, as the go command
// requires of a directory replacement).
func (m *goMod) addReplace(f []string) {
	arrow := -1
	for i, s := range f {
		if s == "=>" {
			arrow = i
			break
		}
	}
	if arrow < 1 || arrow+1 >= len(f) || arrow+2 < len(f) || f[0] == "" {
		return // not "old [v] => dir": a module replacement has a version
	}
	dir := f[arrow+1]
	if !isLocalPath(dir) {
		return
	}
	m.Replaces = append(m.Replaces, localReplace{Old: f[0], Dir: dir})
}

func isLocalPath(p string) bool {
	return p == "." || p == ".." || strings.HasPrefix(p, "./") || strings.HasPrefix(p, "../") || filepath.IsAbs(p)
}

// goModFields splits a go.mod line into tokens, unquoting "..." and `...`
// strings and keeping parentheses as tokens of their own.
func goModFields(line string) []string {
	var out []string
	for {
		line = strings.TrimLeft(line, " \t\r")
		if line == "" {
			return out
		}
		switch line[0] {
		case '(', ')':
			out = append(out, line[:1])
			line = line[1:]
			continue
		case '"', '`':
			end := strings.IndexByte(line[1:], line[0])
			if end < 0 {
				return out // an unterminated string: give up on the line
			}
			tok := line[:end+2]
			if s, err := strconv.Unquote(tok); err == nil {
				out = append(out, s)
			} else {
				out = append(out, tok[1:len(tok)-1])
			}
			line = line[end+2:]
			continue
		}
		end := strings.IndexAny(line, " \t\r()\"`")
		if end < 0 {
			end = len(line)
		}
		out = append(out, line[:end])
		line = line[end:]
	}
}

// findModuleRoot returns the folder holding the go.mod that governs dir,
// the way the go command looks for it (dir, then each parent; a go.mod it
// cannot stat does not count), or "" when dir is in no module.
func findModuleRoot(dir string) string {
	for {
		if st, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil && !st.IsDir() {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}
