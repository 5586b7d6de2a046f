package moddir

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
)

// TextDep is one line of the text modules.dep.
type TextDep struct {
	Path string   // as written, relative to the directory
	Deps []string // as written
}

// TextAlias is one "alias KEY MODULE" line of modules.alias or
// modules.symbols.
type TextAlias struct {
	Alias  string
	Module string
}

// ReadDepText parses a text modules.dep. Errors name the file and line.
func ReadDepText(name string, r io.Reader) ([]TextDep, error) {
	var out []TextDep
	err := eachLine(name, r, func(line string, num int) error {
		colon := strings.IndexByte(line, ':')
		if colon <= 0 {
			return fmt.Errorf("%s:%d: expected \"path: deps...\", got %q", name, num, line)
		}
		out = append(out, TextDep{Path: line[:colon], Deps: strings.Fields(line[colon+1:])})
		return nil
	})
	return out, err
}

// ReadAliasText parses a text modules.alias or modules.symbols: lines
// "alias KEY MODULE", comments and blank lines.
func ReadAliasText(name string, r io.Reader) ([]TextAlias, error) {
	var out []TextAlias
	err := eachLine(name, r, func(line string, num int) error {
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != "alias" {
			return fmt.Errorf("%s:%d: expected \"alias KEY MODULE\", got %q", name, num, line)
		}
		out = append(out, TextAlias{Alias: f[1], Module: f[2]})
		return nil
	})
	return out, err
}

// ReadBuiltinText parses modules.builtin: one module path per line.
func ReadBuiltinText(name string, r io.Reader) ([]string, error) {
	var out []string
	err := eachLine(name, r, func(line string, num int) error {
		if strings.ContainsAny(line, " \t") {
			return fmt.Errorf("%s:%d: expected one module path, got %q", name, num, line)
		}
		out = append(out, line)
		return nil
	})
	return out, err
}

// eachLine calls f for each line that is neither blank nor a comment.
func eachLine(name string, r io.Reader, f func(line string, num int) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	num := 0
	for sc.Scan() {
		num++
		line := strings.TrimRight(sc.Text(), " \t\r")
		if line == "" || line[0] == '#' {
			continue
		}
		if err := f(line, num); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: line %d: %w", name, num+1, err)
	}
	return nil
}

// DepText reads the directory's text modules.dep.
func (d *Dir) DepText() ([]TextDep, error) {
	return readFile(d.File(DepFile), ReadDepText)
}

// AliasText reads the directory's text modules.alias.
func (d *Dir) AliasText() ([]TextAlias, error) {
	return readFile(d.File(AliasFile), ReadAliasText)
}

// SymbolsText reads the directory's text modules.symbols.
func (d *Dir) SymbolsText() ([]TextAlias, error) {
	return readFile(d.File(SymbolsFile), ReadAliasText)
}

// BuiltinText reads the directory's text modules.builtin.
func (d *Dir) BuiltinText() ([]string, error) {
	return readFile(d.File(BuiltinFile), ReadBuiltinText)
}

func readFile[T any](path string, parse func(string, io.Reader) (T, error)) (T, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var zero T
		return zero, err
	}
	return parse(path, bytes.NewReader(data))
}
