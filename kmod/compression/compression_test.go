package compression

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// The test modules of kmod/modfile (see its testdata/README.md): a plain
// module and its gzip copy, a signed module compressed with xz as the
// kernel's build does and with zstd, and one of Debian's own .ko.xz files.
const modules = "../modfile/testdata"

func readModule(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(modules, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFormatOf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		ext        string // "" when not a module file name
		kind       Kind
		debianKmod bool
	}{
		{"fat.ko", ".ko", None, true},
		{"/lib/modules/r/kernel/fs/fat/fat.ko.xz", ".ko.xz", XZ, true},
		{"fat.ko.zst", ".ko.zst", Zstd, true},
		// Debian's kmod is built without zlib: its depmod skips these.
		{"fat.ko.gz", ".ko.gz", Gzip, false},
		{".ko", "", None, false},
		{"fat.o", "", None, false},
		{"fat.ko.bz2", "", None, false},
		{"fat.kox", "", None, false},
	} {
		f, ok := FormatOf(tc.name)
		if ok != (tc.ext != "") || f.Ext != tc.ext || f.Kind != tc.kind || f.DebianKmod != tc.debianKmod {
			t.Errorf("FormatOf(%q) = %+v, %v; want ext %q, kind %q, DebianKmod %v", tc.name, f, ok, tc.ext, tc.kind, tc.debianKmod)
		}
	}
}

func TestPlainName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"kernel/fs/fat/fat.ko.xz": "kernel/fs/fat/fat.ko",
		"fat.ko.zst":              "fat.ko",
		"fat.ko.gz":               "fat.ko",
		"fat.ko":                  "fat.ko",
		"notes.txt.gz":            "notes.txt.gz",
	} {
		if got := PlainName(in); got != want {
			t.Errorf("PlainName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDetect(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		file string
		want Kind
	}{
		{"modinfo_sample.ko", None},
		{"modinfo_sample.ko.gz", Gzip},
		{"modinfo_sample_signed.ko.xz", XZ},
		{"modinfo_sample_signed.ko.zst", Zstd},
		{"em_u32-6.12.ko.xz", XZ},
	} {
		if got := Detect(readModule(t, tc.file)[:8]); got != tc.want {
			t.Errorf("Detect(%s) = %q, want %q", tc.file, got, tc.want)
		}
	}
	if got := Detect([]byte{0xfd, '7'}); got != None {
		t.Errorf("Detect of a cut magic = %q, want none", got)
	}
}

// TestDecompress: every compressed test module decompresses to the plain
// one it was made from.
func TestDecompress(t *testing.T) {
	t.Parallel()
	plain := readModule(t, "modinfo_sample.ko")
	signed, _, err := Decompress(readModule(t, "modinfo_sample_signed.ko.zst"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(signed, plain) {
		t.Fatal("the signed module is not the plain one with a signature appended")
	}
	for _, tc := range []struct {
		file string
		kind Kind
		want []byte
	}{
		{"modinfo_sample.ko", None, plain},
		{"modinfo_sample.ko.gz", Gzip, plain},
		{"modinfo_sample_signed.ko.xz", XZ, signed},
		{"modinfo_sample_signed.ko.zst", Zstd, signed},
	} {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			img, k, err := ReadFile(filepath.Join(modules, tc.file))
			if err != nil || k != tc.kind || !bytes.Equal(img, tc.want) {
				t.Errorf("ReadFile = %d bytes, %q, %v; want %d bytes, %q", len(img), k, err, len(tc.want), tc.kind)
			}
			Release(img)
		})
	}
}

// TestXZFastPath: the xz the kernel's build writes takes the fast decoder;
// other xz shapes fall back to the general one with the same result.
func TestXZFastPath(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"modinfo_sample_signed.ko.xz", "em_u32-6.12.ko.xz"} {
		data := readModule(t, name)
		fast, err := decodeXZFast(data)
		if err != nil {
			t.Fatalf("%s: the fast decoder refused the kernel's xz shape: %v", name, err)
		}
		r, err := xz.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		want, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(fast, want) {
			t.Errorf("%s: the decoders disagree (%v)", name, err)
		}
	}
	// ulikunitz/xz writes a CRC64 check and its own block layout; whatever
	// path it takes, the result must be the input.
	plain := readModule(t, "modinfo_sample.ko")
	var buf bytes.Buffer
	w, err := xz.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(plain)
	w.Close()
	if img, k, err := Decompress(buf.Bytes()); err != nil || k != XZ || !bytes.Equal(img, plain) {
		t.Errorf("Decompress(ulikunitz xz) = %d bytes, %q, %v", len(img), k, err)
	}
}

func TestBadStreams(t *testing.T) {
	t.Parallel()
	plain := readModule(t, "modinfo_sample.ko")
	var gz, zs bytes.Buffer
	g := gzip.NewWriter(&gz)
	g.Write(plain)
	g.Close()
	z, _ := zstd.NewWriter(&zs)
	z.Write(plain)
	z.Close()
	xzData := readModule(t, "modinfo_sample_signed.ko.xz")
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"xz", xzData[:len(xzData)/2], "bad xz stream: "},
		{"xz-garbage", append(bytes.Clone(xzMagic), bytes.Repeat([]byte{0x55}, 200)...), "bad xz stream: "},
		{"zstd", zs.Bytes()[:zs.Len()/2], "bad zstd stream: "},
		{"gzip", gz.Bytes()[:gz.Len()/2], "bad gzip stream: "},
	} {
		img, _, err := Decompress(tc.data)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) || img != nil {
			t.Errorf("%s: Decompress = %d bytes, %v; want an error starting %q", tc.name, len(img), err, tc.want)
		}
	}
}

func TestReadFileErrors(t *testing.T) {
	t.Parallel()
	if _, _, err := ReadFile(filepath.Join(t.TempDir(), "none.ko")); !os.IsNotExist(err) {
		t.Errorf("ReadFile of a missing file: %v", err)
	}
	empty := filepath.Join(t.TempDir(), "empty.ko")
	os.WriteFile(empty, nil, 0o644)
	if img, k, err := ReadFile(empty); err != nil || k != None || len(img) != 0 {
		t.Errorf("ReadFile of an empty file = %d bytes, %q, %v", len(img), k, err)
	}
}

// FuzzDecompress: no input makes the decompressors panic.
func FuzzDecompress(f *testing.F) {
	for _, name := range []string{"modinfo_sample.ko.gz", "modinfo_sample_signed.ko.xz", "modinfo_sample_signed.ko.zst"} {
		b := readModule(f, name)
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		img, _, err := Decompress(data)
		if err != nil && img != nil {
			t.Fatal("Decompress returned an image and an error")
		}
	})
}

// FuzzDecodeXZ checks the fast xz decoder against the general one: it
// must never panic, and what both decode must be the same. (The two may
// disagree on whether a damaged stream is acceptable: the reference is
// liblzma, not the general decoder, and the comparison with kmod on real
// modules in kmod/modfile covers that.)
func FuzzDecodeXZ(f *testing.F) {
	for _, name := range []string{"modinfo_sample_signed.ko.xz", "em_u32-6.12.ko.xz"} {
		b := readModule(f, name)
		f.Add(b)
		f.Add(b[:len(b)-1])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := decodeXZFast(data)
		if err != nil {
			return
		}
		r, err := xz.NewReader(bytes.NewReader(data))
		if err != nil {
			return
		}
		want, err := io.ReadAll(r)
		if err != nil {
			return
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("decoders disagree: %d bytes against %d", len(got), len(want))
		}
	})
}
