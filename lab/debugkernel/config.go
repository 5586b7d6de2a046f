package debugkernel

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// Fragment is the repository's config fragment for the debug kernel
// (debug.config): the lab's needs and the debug options, merged over
// BaseConfigs.
//
//go:embed debug.config
var Fragment string

// BaseConfigs are the kernel's own configuration targets the fragment is
// merged over, in order.
var BaseConfigs = []string{"x86_64_defconfig", "kvm_guest.config"}

// stepsVersion changes when the way the kernel is built changes (not the
// configuration): it is part of the cache key.
const stepsVersion = "1"

// Setting is one line of a kernel configuration: CONFIG_NAME=VALUE, or
// "# CONFIG_NAME is not set" (Value "n").
type Setting struct {
	Name  string // without the CONFIG_ prefix
	Value string // y, m, n, a number, or a quoted string as in .config
}

func (s Setting) String() string {
	if s.Value == "n" {
		return "# CONFIG_" + s.Name + " is not set"
	}
	return "CONFIG_" + s.Name + "=" + s.Value
}

var (
	setRE   = regexp.MustCompile(`^CONFIG_([A-Za-z0-9_]+)=(.*)$`)
	unsetRE = regexp.MustCompile(`^# CONFIG_([A-Za-z0-9_]+) is not set$`)
)

// parseLine reads one .config line; ok is false for comments and blanks.
func parseLine(line string) (s Setting, ok bool) {
	line = strings.TrimSpace(line)
	if m := setRE.FindStringSubmatch(line); m != nil {
		return Setting{Name: m[1], Value: m[2]}, true
	}
	if m := unsetRE.FindStringSubmatch(line); m != nil {
		return Setting{Name: m[1], Value: "n"}, true
	}
	return Setting{}, false
}

// ParseConfig reads a .config or a fragment, in order. A name given twice
// keeps its last value, as kconfig does.
func ParseConfig(r io.Reader) ([]Setting, error) {
	var out []Setting
	at := map[string]int{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		s, ok := parseLine(line)
		if !ok {
			if line != "" && !strings.HasPrefix(line, "#") {
				return nil, fmt.Errorf("line %d: %q is not a config setting", n, line)
			}
			continue
		}
		if i, dup := at[s.Name]; dup {
			out[i] = s
			continue
		}
		at[s.Name] = len(out)
		out = append(out, s)
	}
	return out, sc.Err()
}

// Merge returns config with the fragment's settings in place of its own:
// every line that sets or unsets one of the fragment's names is dropped,
// and the fragment's settings are appended. `make olddefconfig` then
// resolves the dependencies.
func Merge(config []byte, fragment []Setting) []byte {
	names := map[string]bool{}
	for _, s := range fragment {
		names[s.Name] = true
	}
	var b bytes.Buffer
	for _, line := range strings.SplitAfter(string(config), "\n") {
		if s, ok := parseLine(line); ok && names[s.Name] {
			continue
		}
		b.WriteString(line)
	}
	if b.Len() > 0 && !bytes.HasSuffix(b.Bytes(), []byte("\n")) {
		b.WriteByte('\n')
	}
	b.WriteString("# modlab debug kernel fragment\n")
	for _, s := range fragment {
		b.WriteString(s.String() + "\n")
	}
	return b.Bytes()
}

// Mismatch is a setting of the fragment that the final configuration does
// not have.
type Mismatch struct {
	Want Setting
	Got  string // the final value: "n" when the option is off or absent
}

func (m Mismatch) String() string {
	return fmt.Sprintf("CONFIG_%s: asked %s, got %s", m.Want.Name, m.Want.Value, m.Got)
}

// Verify checks the final configuration against the fragment. An option
// asked off may be absent (its own dependencies are off); every other one
// must have exactly the value asked.
func Verify(config []Setting, fragment []Setting) []Mismatch {
	have := map[string]string{}
	for _, s := range config {
		have[s.Name] = s.Value
	}
	var out []Mismatch
	for _, w := range fragment {
		got, ok := have[w.Name]
		if !ok {
			got = "n"
		}
		if got != w.Value {
			out = append(out, Mismatch{Want: w, Got: got})
		}
	}
	return out
}

// ConfigDigest identifies a configuration: the base targets, the fragment
// and the build steps' version (hex SHA-256).
func ConfigDigest(fragment string) string {
	h := sha256.New()
	fmt.Fprintf(h, "modlab-debug\x00steps %s\x00base %s\x00", stepsVersion, strings.Join(BaseConfigs, " "))
	io.WriteString(h, fragment)
	return hex.EncodeToString(h.Sum(nil))
}

// Key names a build in the cache: the source package's version and the
// configuration's digest. Two builds with the same key are the same kernel.
func Key(sourceVersion, configDigest string) string {
	v := strings.Map(func(r rune) rune {
		switch {
		case r >= '0' && r <= '9', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r == '.', r == '-', r == '+':
			return r
		}
		return '_'
	}, sourceVersion)
	if len(configDigest) > 12 {
		configDigest = configDigest[:12]
	}
	return v + "-" + configDigest
}
