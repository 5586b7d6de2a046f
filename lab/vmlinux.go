package lab

import (
	"bytes"
	"compress/gzip"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"
)

// vmlinuxVersion changes when the extraction changes.
const vmlinuxVersion = "2"

// BootImage returns the kernel file to hand to QEMU: the uncompressed ELF
// vmlinux extracted from the bzImage (cached), which QEMU boots directly
// through its PVH entry point. That skips the firmware's real-mode set-up
// and the kernel's self-decompression, about 1.5 s under TCG. Where the
// image cannot be extracted or has no PVH entry, it is the bzImage itself.
func BootImage(k Kernel, cacheDir string) (string, error) {
	st, err := os.Stat(k.Vmlinuz)
	if err != nil {
		return "", fmt.Errorf("kernel image: %w", err)
	}
	out := filepath.Join(cacheDir, "vmlinux", fmt.Sprintf("%s-%d-%d-v%s", k.Release, st.Size(), st.ModTime().Unix(), vmlinuxVersion))
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	if _, err := os.Stat(out + ".none"); err == nil {
		return k.Vmlinuz, nil // known not to work: boot the bzImage
	}
	img, err := ExtractVmlinux(k.Vmlinuz)
	if err == nil && !hasPVHNote(img) {
		err = errors.New("no PVH entry point")
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", err
	}
	if err != nil {
		os.WriteFile(out+".none", []byte(err.Error()+"\n"), 0o644)
		return k.Vmlinuz, nil
	}
	if err := writeAtomic(out, img); err != nil {
		return "", err
	}
	return out, nil
}

// ExtractVmlinux decompresses the kernel ELF held in an x86 bzImage. The
// setup header gives the compressed payload's place (payload_offset and
// payload_length, boot protocol 2.08+); the payload ends with the
// uncompressed size, which the decompressors do not want. These are the
// formats of the kernel's boot decompressor (lz4's legacy frames, zstd at
// --ultra -22, xz with the x86 BCJ filter, gzip), a set of its own: module
// files are kmod/compression's business.
func ExtractVmlinux(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < 0x250 || string(b[0x202:0x206]) != "HdrS" {
		return nil, fmt.Errorf("%s: not a bzImage (no HdrS setup header)", path)
	}
	if binary.LittleEndian.Uint16(b[0x206:]) < 0x208 {
		return nil, fmt.Errorf("%s: boot protocol too old to name its payload", path)
	}
	setup := int(b[0x1f1])
	if setup == 0 {
		setup = 4
	}
	off := (setup+1)*512 + int(binary.LittleEndian.Uint32(b[0x248:]))
	n := int(binary.LittleEndian.Uint32(b[0x24c:]))
	if n < 8 || off < 0 || off+n > len(b) {
		return nil, fmt.Errorf("%s: payload [%d, +%d) is outside the file", path, off, n)
	}
	payload := b[off : off+n-4]
	want := binary.LittleEndian.Uint32(b[off+n-4:])
	var r io.Reader
	switch {
	case bytes.HasPrefix(payload, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		d, err := zstd.NewReader(bytes.NewReader(payload), zstd.WithDecoderMaxWindow(1<<31),
			zstd.WithDecoderMaxMemory(1<<32))
		if err != nil {
			return nil, err
		}
		defer d.Close()
		r = d
	case bytes.HasPrefix(payload, []byte{0x02, 0x21, 0x4c, 0x18}):
		r = lz4.NewReader(bytes.NewReader(payload))
	case bytes.HasPrefix(payload, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		x, err := xz.NewReader(bytes.NewReader(payload))
		if err != nil {
			return nil, err
		}
		r = x
	case bytes.HasPrefix(payload, []byte{0x1f, 0x8b}):
		// gzip carries the size in its own trailer: the kernel's build
		// appends none, so the stream is the whole payload.
		g, err := gzip.NewReader(bytes.NewReader(b[off : off+n]))
		if err != nil {
			return nil, err
		}
		r = g
	default:
		return nil, fmt.Errorf("%s: payload compression %x is not one modlab reads", path, payload[:4])
	}
	img, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: decompress payload: %w", path, err)
	}
	if uint32(len(img)) != want {
		return nil, fmt.Errorf("%s: payload gave %d bytes, the image says %d", path, len(img), want)
	}
	return img, nil
}

// hasPVHNote reports whether an ELF kernel has the Xen PVH entry note
// (XEN_ELFNOTE_PHYS32_ENTRY), which QEMU needs to boot it directly.
func hasPVHNote(img []byte) bool {
	f, err := elf.NewFile(bytes.NewReader(img))
	if err != nil {
		return false
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type != elf.PT_NOTE {
			continue
		}
		data := make([]byte, p.Filesz)
		if _, err := p.ReadAt(data, 0); err != nil {
			continue
		}
		for len(data) >= 12 {
			nsz := int(binary.LittleEndian.Uint32(data[0:]))
			dsz := int(binary.LittleEndian.Uint32(data[4:]))
			typ := binary.LittleEndian.Uint32(data[8:])
			name := (nsz + 3) &^ 3
			desc := (dsz + 3) &^ 3
			if 12+name+desc > len(data) || nsz < 1 {
				break
			}
			if string(data[12:12+nsz-1]) == "Xen" && typ == 18 {
				return true
			}
			data = data[12+name+desc:]
		}
	}
	return false
}
