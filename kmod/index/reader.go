package index

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/modlab/modlab/kmod/internal/fnmatch"
)

// Magic and Version identify the format; only the major version (high 16
// bits) has to match, as in libkmod.
const (
	Magic   = 0xB007F457
	Version = 0x00020001
)

const (
	flagPrefix = 0x80000000
	flagValues = 0x40000000
	flagChilds = 0x20000000
	offsetMask = 0x0FFFFFFF
	childMax   = 128

	// maxDepth bounds the recursion of whole-subtree walks; real keys are
	// far shorter.
	maxDepth = 8192
)

// ErrFormat is wrapped by every error about a malformed index.
var ErrFormat = errors.New("malformed module index")

// Value is one value stored under a key.
type Value struct {
	Priority uint32
	Value    string
}

// Reader answers look-ups in one index held in memory.
type Reader struct {
	name string // for error messages
	data []byte
	root uint32
}

// Open reads the index file at path.
func Open(path string) (*Reader, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse checks the header of an index held in data; name is used in errors.
func Parse(name string, data []byte) (*Reader, error) {
	if len(data) < 12 {
		return nil, fmt.Errorf("%s: %w: %d bytes is shorter than the 12-byte header", name, ErrFormat, len(data))
	}
	magic := binary.BigEndian.Uint32(data)
	if magic != Magic {
		return nil, fmt.Errorf("%s: %w: magic %#x instead of %#x", name, ErrFormat, magic, uint32(Magic))
	}
	version := binary.BigEndian.Uint32(data[4:])
	if version>>16 != Version>>16 {
		return nil, fmt.Errorf("%s: %w: major version %d instead of %d", name, ErrFormat, version>>16, Version>>16)
	}
	return &Reader{name: name, data: data, root: binary.BigEndian.Uint32(data[8:])}, nil
}

// node is one decoded trie node; strings point into the reader's data.
type node struct {
	prefix   []byte
	first    int
	last     int
	children []byte // (last-first+1) big-endian offsets
	nvalues  int
	values   []byte // the encoded values
}

// walker reads nodes for one look-up. A well-formed trie has fewer nodes
// than its file has bytes, so visiting more than that means the offsets of a
// corrupt file loop back; the limit keeps such a file from hanging a reader.
type walker struct {
	r      *Reader
	visits int
	depth  int
}

func (r *Reader) errf(off uint32, format string, a ...any) error {
	return fmt.Errorf("%s: %w: node at offset %d: %s", r.name, ErrFormat, off&offsetMask, fmt.Sprintf(format, a...))
}

// read decodes the node at offset; ok is false for the null offset.
func (w *walker) read(offset uint32) (n node, ok bool, err error) {
	r := w.r
	pos := int(offset & offsetMask)
	if pos == 0 {
		return n, false, nil
	}
	w.visits++
	if w.visits > len(r.data) {
		return n, false, r.errf(offset, "more nodes visited than the file has bytes (offsets form a loop)")
	}
	if pos >= len(r.data) {
		return n, false, r.errf(offset, "offset beyond the end of the file (%d bytes)", len(r.data))
	}
	d := r.data
	if offset&flagPrefix != 0 {
		end := bytes.IndexByte(d[pos:], 0)
		if end < 0 {
			return n, false, r.errf(offset, "prefix not terminated")
		}
		n.prefix = d[pos : pos+end]
		pos += end + 1
	}
	n.first, n.last = childMax, 0
	if offset&flagChilds != 0 {
		if pos+2 > len(d) {
			return n, false, r.errf(offset, "truncated child range")
		}
		first, last := int(int8(d[pos])), int(int8(d[pos+1]))
		pos += 2
		if last < first {
			return n, false, r.errf(offset, "child range %d..%d is empty", first, last)
		}
		cnt := last - first + 1
		if pos+4*cnt > len(d) {
			return n, false, r.errf(offset, "truncated child table")
		}
		n.first, n.last = first, last
		n.children = d[pos : pos+4*cnt]
		pos += 4 * cnt
	}
	if offset&flagValues != 0 {
		if pos+4 > len(d) {
			return n, false, r.errf(offset, "truncated value count")
		}
		cnt := binary.BigEndian.Uint32(d[pos:])
		pos += 4
		start := pos
		for i := uint32(0); i < cnt; i++ {
			if pos+4 > len(d) {
				return n, false, r.errf(offset, "truncated value %d of %d", i+1, cnt)
			}
			pos += 4
			end := bytes.IndexByte(d[pos:], 0)
			if end < 0 {
				return n, false, r.errf(offset, "value %d of %d not terminated", i+1, cnt)
			}
			pos += end + 1
		}
		n.nvalues = int(cnt)
		n.values = d[start:pos]
	}
	return n, true, nil
}

func (w *walker) child(n *node, ch int) (node, bool, error) {
	if ch < n.first || ch > n.last {
		return node{}, false, nil
	}
	i := ch - n.first
	return w.read(binary.BigEndian.Uint32(n.children[4*i:]))
}

// eachValue calls f for each stored value in file order.
func (n *node) eachValue(f func(prio uint32, v []byte)) {
	d := n.values
	for i := 0; i < n.nvalues; i++ {
		prio := binary.BigEndian.Uint32(d)
		d = d[4:]
		end := bytes.IndexByte(d, 0)
		f(prio, d[:end])
		d = d[end+1:]
	}
}

// firstValue returns the first stored value.
func (n *node) firstValue() string {
	d := n.values[4:]
	return string(d[:bytes.IndexByte(d, 0)])
}

// Search returns the first (lowest priority) value stored under key, the
// way libkmod's index_search does for modules.dep.bin and modules.builtin.bin.
func (r *Reader) Search(key string) (string, bool, error) {
	w := walker{r: r}
	n, ok, err := w.read(r.root)
	i := 0
	for ok && err == nil {
		for j := 0; j < len(n.prefix); j++ {
			if i+j >= len(key) || n.prefix[j] != key[i+j] {
				return "", false, nil
			}
		}
		i += len(n.prefix)
		if i == len(key) {
			if n.nvalues == 0 {
				return "", false, nil
			}
			return n.firstValue(), true, nil
		}
		n, ok, err = w.child(&n, int(key[i]))
		i++
	}
	return "", false, err
}

// SearchWild returns the values of every stored key that matches key, where
// the stored keys may be fnmatch patterns (module aliases). Values come in
// the order libkmod returns them: sorted by priority, and among equal
// priorities in reverse order of discovery.
func (r *Reader) SearchWild(key string) ([]Value, error) {
	w := walker{r: r}
	var out []Value
	var buf []byte
	n, ok, err := w.read(r.root)
	if err != nil || !ok {
		return nil, err
	}
	i := 0
	for {
		for j := 0; j < len(n.prefix); j++ {
			ch := n.prefix[j]
			if ch == '*' || ch == '?' || ch == '[' {
				err := w.all(&n, j, &buf, key[min(i+j, len(key)):], &out)
				return out, err
			}
			if i+j >= len(key) || ch != key[i+j] {
				return out, nil
			}
		}
		i += len(n.prefix)
		for _, wc := range []byte{'*', '?', '['} {
			c, ok, err := w.child(&n, int(wc))
			if err != nil {
				return out, err
			}
			if ok {
				buf = append(buf, wc)
				if err := w.all(&c, 0, &buf, key[i:], &out); err != nil {
					return out, err
				}
				buf = buf[:len(buf)-1]
			}
		}
		if i == len(key) {
			n.eachValue(func(p uint32, v []byte) { out = addValue(out, p, string(v)) })
			return out, nil
		}
		c, ok, err := w.child(&n, int(key[i]))
		if err != nil || !ok {
			return out, err
		}
		n = c
		i++
	}
}

// all walks the whole subtree under a wildcard, matching each complete key
// (the pattern accumulated in buf) against subkey.
func (w *walker) all(n *node, j int, buf *[]byte, subkey string, out *[]Value) error {
	if err := w.enter(); err != nil {
		return err
	}
	defer w.leave()
	pushed := len(n.prefix) - j
	*buf = append(*buf, n.prefix[j:]...)
	for ch := n.first; ch <= n.last; ch++ {
		c, ok, err := w.child(n, ch)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		*buf = append(*buf, byte(ch))
		if err := w.all(&c, 0, buf, subkey, out); err != nil {
			return err
		}
		*buf = (*buf)[:len(*buf)-1]
	}
	if n.nvalues > 0 && fnmatch.Match(string(*buf), subkey) {
		n.eachValue(func(p uint32, v []byte) { *out = addValue(*out, p, string(v)) })
	}
	*buf = (*buf)[:len(*buf)-pushed]
	return nil
}

// addValue inserts v before the first value whose priority is not lower,
// as libkmod's add_value does.
func addValue(vs []Value, prio uint32, v string) []Value {
	i := 0
	for i < len(vs) && vs[i].Priority < prio {
		i++
	}
	vs = append(vs, Value{})
	copy(vs[i+1:], vs[i:])
	vs[i] = Value{Priority: prio, Value: v}
	return vs
}

// Dump writes every key and value as "<prefix><key> <value>\n", in key
// order, like kmod_dump_index (modprobe -c prints the alias indexes so).
func (r *Reader) Dump(out io.Writer, prefix string) error {
	var line []byte
	return r.walk(func(key []byte, n *node) error {
		var werr error
		n.eachValue(func(_ uint32, v []byte) {
			line = append(append(append(append(append(line[:0], prefix...), key...), ' '), v...), '\n')
			if werr == nil {
				_, werr = out.Write(line)
			}
		})
		return werr
	})
}

// Entry is one key with its values, as returned by All.
type Entry struct {
	Key    string
	Values []Value
}

// All returns every key with its values, in key order.
func (r *Reader) All() ([]Entry, error) {
	var out []Entry
	err := r.walk(func(key []byte, n *node) error {
		e := Entry{Key: string(key)}
		n.eachValue(func(p uint32, v []byte) { e.Values = append(e.Values, Value{p, string(v)}) })
		out = append(out, e)
		return nil
	})
	return out, err
}

// walk calls visit for every node that holds values, in key order, with
// the node's whole key (valid only during the call).
func (r *Reader) walk(visit func(key []byte, n *node) error) error {
	w := walker{r: r}
	n, ok, err := w.read(r.root)
	if err != nil || !ok {
		return err
	}
	var buf []byte
	var rec func(n *node) error
	rec = func(n *node) error {
		if err := w.enter(); err != nil {
			return err
		}
		defer w.leave()
		pushed := len(n.prefix)
		buf = append(buf, n.prefix...)
		if n.nvalues > 0 {
			if err := visit(buf, n); err != nil {
				return err
			}
		}
		for ch := n.first; ch <= n.last; ch++ {
			c, ok, err := w.child(n, ch)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			buf = append(buf, byte(ch))
			if err := rec(&c); err != nil {
				return err
			}
			buf = buf[:len(buf)-1]
		}
		buf = buf[:len(buf)-pushed]
		return nil
	}
	return rec(&n)
}

func (w *walker) enter() error {
	w.depth++
	if w.depth > maxDepth {
		return fmt.Errorf("%s: %w: trie deeper than %d levels", w.r.name, ErrFormat, maxDepth)
	}
	return nil
}

func (w *walker) leave() { w.depth-- }
