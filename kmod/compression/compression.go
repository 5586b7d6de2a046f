// Package compression is the one place in modlab that knows how kernel
// module files are stored: plain ELF (.ko), or compressed with xz, zstd or
// gzip (.ko.xz, .ko.zst, .ko.gz). It tells the compression from a file's
// first bytes, as libkmod does (libkmod-file.c), and a module file from
// its name's ending, as depmod and modinfo do (libkmod-util.c kmod_exts),
// and it decompresses. modfile, loader, depmod, the CLI and the lab all
// go through it.
//
// xz, the compression Debian's kernels use, has a decoder of its own for
// the one shape the kernel's build writes (xz.go), several times faster
// than the general one it falls back to for anything else.
package compression

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// Kind is how a module file is compressed, spelled as the kernel spells it
// in /sys/module/compression ("" for a plain file).
type Kind string

// The compressions a module file may have.
const (
	None Kind = ""
	XZ   Kind = "xz"
	Zstd Kind = "zstd"
	Gzip Kind = "gzip"
)

// Format is one way a module file is stored: its file name ending and its
// compression.
type Format struct {
	// Ext is the file name ending: ".ko", ".ko.xz", ".ko.zst" or ".ko.gz".
	Ext  string
	Kind Kind
	// DebianKmod says whether kmod 30 as Debian builds it (with xz and
	// zstd, without zlib) reads such files. Its depmod leaves the others
	// out of modules.dep, and so does ours.
	DebianKmod bool

	magic []byte // the first bytes of such a file; nil for plain ELF
}

var xzMagic = []byte{0xfd, '7', 'z', 'X', 'Z', 0}

// formats is the table every tool reads: the endings kmod knows, in
// kmod's order.
var formats = [...]Format{
	{Ext: ".ko", Kind: None, DebianKmod: true},
	{Ext: ".ko.gz", Kind: Gzip, DebianKmod: false, magic: []byte{0x1f, 0x8b}},
	{Ext: ".ko.xz", Kind: XZ, DebianKmod: true, magic: xzMagic},
	{Ext: ".ko.zst", Kind: Zstd, DebianKmod: true, magic: []byte{0x28, 0xb5, 0x2f, 0xfd}},
}

// FormatOf is the format a module file's name says it has, by its ending
// ("fat.ko.xz" is .ko.xz). ok is false for a name with no module ending,
// or nothing before it, as in kmod.
func FormatOf(name string) (f Format, ok bool) {
	for _, f := range formats {
		if len(name) > len(f.Ext) && strings.HasSuffix(name, f.Ext) {
			return f, true
		}
	}
	return Format{}, false
}

// PlainName is the name a module file has once decompressed: "fat.ko.xz"
// is "fat.ko". Other names come back unchanged.
func PlainName(name string) string {
	if f, ok := FormatOf(name); ok && f.Kind != None {
		return strings.TrimSuffix(name, f.Ext) + ".ko"
	}
	return name
}

// Detect tells a module file's compression from its first bytes (eight are
// enough); anything else is None.
func Detect(head []byte) Kind {
	for _, f := range formats {
		if f.magic != nil && bytes.HasPrefix(head, f.magic) {
			return f.Kind
		}
	}
	return None
}

// Decompress returns the plain image of a module file's contents, and how
// they were compressed. A plain file's contents come back as they are.
// Errors read "bad xz stream: ...".
func Decompress(data []byte) ([]byte, Kind, error) {
	k := Detect(data)
	img, err := decompress(k, data)
	return img, k, err
}

func decompress(k Kind, data []byte) ([]byte, error) {
	var img []byte
	var err error
	switch k {
	case XZ:
		img, err = decodeXZ(data)
	case Zstd:
		var d *zstd.Decoder
		if d, err = zstd.NewReader(bytes.NewReader(data)); err == nil {
			img, err = io.ReadAll(d)
			d.Close()
		}
	case Gzip:
		var g *gzip.Reader
		if g, err = gzip.NewReader(bytes.NewReader(data)); err == nil {
			img, err = io.ReadAll(g)
		}
	default:
		return data, nil
	}
	if err != nil {
		return nil, fmt.Errorf("bad %s stream: %w", k, err)
	}
	return img, nil
}

// Read returns the plain image of a module file of size bytes read
// through r, and how it was compressed.
func Read(r io.ReaderAt, size int64) ([]byte, Kind, error) {
	buf := getBuffer(int(size))
	n, err := r.ReadAt(buf, 0)
	if err != nil && err != io.EOF {
		putBuffer(buf)
		return nil, None, err
	}
	img, k, err := Decompress(buf[:n])
	if k != None {
		putBuffer(buf)
	}
	return img, k, err
}

// ReadFile returns the plain image of the module file at path, and how it
// was compressed.
func ReadFile(path string) ([]byte, Kind, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, None, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, None, err
	}
	return Read(f, st.Size())
}

// Release hands back an image that Read, ReadFile or Decompress returned,
// so that a later call may reuse its memory; the caller must not touch it
// afterwards. Calling it is optional: modinfo over a kernel's modules
// otherwise hands the garbage collector a hundred megabytes to sweep.
func Release(img []byte) { putBuffer(img) }

// freeBuffers recycles the buffers of compressed files and decompressed
// images. It holds a few buffers of at most maxFreeBuffer bytes, so what
// it keeps stays small.
var freeBuffers = make(chan []byte, 8)

const maxFreeBuffer = 4 << 20

// getBuffer returns a buffer of n bytes, recycled when one is free; its
// contents are undefined.
func getBuffer(n int) []byte {
	select {
	case b := <-freeBuffers:
		if cap(b) >= n {
			return b[:n]
		}
	default:
	}
	return make([]byte, n)
}

func putBuffer(b []byte) {
	if cap(b) == 0 || cap(b) > maxFreeBuffer {
		return
	}
	select {
	case freeBuffers <- b:
	default:
	}
}
