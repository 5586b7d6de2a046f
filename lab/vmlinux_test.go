package lab

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// fakeBzImage lays out a bzImage as the kernel's build does: one setup
// sector after the boot sector, the setup header naming the payload, and
// the payload after the setup code.
func fakeBzImage(t *testing.T, payload []byte) string {
	t.Helper()
	b := make([]byte, 2*512, 2*512+len(payload))
	b[0x1f1] = 1
	copy(b[0x202:], "HdrS")
	binary.LittleEndian.PutUint16(b[0x206:], 0x20f)
	binary.LittleEndian.PutUint32(b[0x248:], 0)
	binary.LittleEndian.PutUint32(b[0x24c:], uint32(len(payload)))
	b = append(b, payload...)
	p := filepath.Join(t.TempDir(), "vmlinuz")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestExtractVmlinuxFormats: a gzip payload is a whole gzip stream (its
// trailer holds the size); the others carry the size appended.
func TestExtractVmlinuxFormats(t *testing.T) {
	t.Parallel()
	want := bytes.Repeat([]byte("\x7fELF vmlinux "), 1000)
	size := binary.LittleEndian.AppendUint32(nil, uint32(len(want)))
	var gz, zs bytes.Buffer
	g := gzip.NewWriter(&gz)
	g.Write(want)
	g.Close()
	z, _ := zstd.NewWriter(&zs)
	z.Write(want)
	z.Close()
	for name, payload := range map[string][]byte{
		"gzip": gz.Bytes(),
		"zstd": append(zs.Bytes(), size...),
	} {
		got, err := ExtractVmlinux(fakeBzImage(t, payload))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes, %v; want %d bytes", name, len(got), err, len(want))
		}
	}
	if _, err := ExtractVmlinux(fakeBzImage(t, append(zs.Bytes(), 1, 2, 3, 4))); err == nil {
		t.Error("a payload whose size word disagrees was accepted")
	}
}
