package index

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
)

// Trie is an index being built in memory, the way depmod builds one.
type Trie struct {
	root *tnode
}

type tnode struct {
	prefix   string
	values   []Value // sorted by priority; equal priorities newest first
	first    int
	last     int
	children [childMax]*tnode
}

// NewTrie returns an empty index.
func NewTrie() *Trie {
	return &Trie{root: &tnode{first: childMax}}
}

func checkASCII(s string) error {
	for i := 0; i < len(s); i++ {
		if s[i] >= childMax || s[i] == 0 {
			return fmt.Errorf("bad character %#x in %q: only 7-bit ASCII without NUL is supported", s[i], s)
		}
	}
	return nil
}

// Insert adds value under key with priority. It reports whether key already
// held the same value (depmod warns about such duplicates) and fails for
// keys or values that are not 7-bit ASCII.
func (t *Trie) Insert(key, value string, priority uint32) (duplicate bool, err error) {
	if err := checkASCII(key); err != nil {
		return false, err
	}
	if err := checkASCII(value); err != nil {
		return false, err
	}
	n := t.root
	i := 0
	for {
		j := 0
		for ; j < len(n.prefix); j++ {
			ch := n.prefix[j]
			if i+j >= len(key) || ch != key[i+j] {
				// Split: n keeps prefix[:j]; a new child at prefix[j]
				// takes over the rest and everything below.
				moved := *n
				moved.prefix = n.prefix[j+1:]
				*n = tnode{prefix: n.prefix[:j], first: int(ch), last: int(ch)}
				n.children[ch] = &moved
				break
			}
		}
		i += j
		if i == len(key) {
			return n.addValue(value, priority), nil
		}
		ch := int(key[i])
		if n.children[ch] == nil {
			if ch < n.first {
				n.first = ch
			}
			if ch > n.last {
				n.last = ch
			}
			c := &tnode{prefix: key[i+1:], first: childMax}
			c.addValue(value, priority)
			n.children[ch] = c
			return false, nil
		}
		n = n.children[ch]
		i++
	}
}

func (n *tnode) addValue(v string, prio uint32) (dup bool) {
	for _, old := range n.values {
		if old.Value == v {
			dup = true
		}
	}
	n.values = addValue(n.values, prio, v)
	return dup
}

// WriteTo writes the index in depmod's layout: children before parents
// (post-order), the root offset patched into the header.
func (t *Trie) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: bufio.NewWriterSize(w, 1<<16)}
	var hdr [12]byte
	binary.BigEndian.PutUint32(hdr[0:], Magic)
	binary.BigEndian.PutUint32(hdr[4:], Version)
	// The root offset is only known at the end, so lay the file out in
	// memory first: compute offsets, then write once.
	var body []byte
	root := layout(t.root, &body, 12)
	binary.BigEndian.PutUint32(hdr[8:], root)
	cw.Write(hdr[:])
	cw.Write(body)
	if cw.err == nil {
		cw.err = cw.w.(*bufio.Writer).Flush()
	}
	return cw.n, cw.err
}

// layout appends node n (after its children) to body, whose first byte sits
// at file offset base, and returns n's flagged offset.
func layout(n *tnode, body *[]byte, base int) uint32 {
	if n == nil {
		return 0
	}
	var childOffs []uint32
	if n.first < childMax {
		childOffs = make([]uint32, n.last-n.first+1)
		for i := range childOffs {
			childOffs[i] = layout(n.children[n.first+i], body, base)
		}
	}
	off := uint32(base + len(*body))
	b := *body
	if n.prefix != "" {
		b = append(b, n.prefix...)
		b = append(b, 0)
		off |= flagPrefix
	}
	if len(childOffs) > 0 {
		b = append(b, byte(n.first), byte(n.last))
		for _, c := range childOffs {
			b = binary.BigEndian.AppendUint32(b, c)
		}
		off |= flagChilds
	}
	if len(n.values) > 0 {
		b = binary.BigEndian.AppendUint32(b, uint32(len(n.values)))
		for _, v := range n.values {
			b = binary.BigEndian.AppendUint32(b, v.Priority)
			b = append(b, v.Value...)
			b = append(b, 0)
		}
		off |= flagValues
	}
	*body = b
	return off
}

type countWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.err = err
	return n, err
}
