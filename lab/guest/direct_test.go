package guest

import (
	"bytes"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/u-root/u-root/pkg/cpio"

	"github.com/modlab/modlab/lab/proto"
)

// TestDirectReader: reads at any offset and of any length, across the
// window's edges and up to the end of the file, return what the file
// holds; past the end, io.EOF.
func TestDirectReader(t *testing.T) {
	t.Parallel()
	data := make([]byte, 3*4096*4+1234) // not a whole number of windows
	rand.New(rand.NewSource(1)).Read(data)
	path := filepath.Join(t.TempDir(), "disk")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := openDirect(path, 4*4096)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	rng := rand.New(rand.NewSource(2))
	for i := 0; i < 500; i++ {
		off := rng.Int63n(int64(len(data)))
		n := rng.Intn(40000) // up to more than two windows
		if i%50 == 0 {
			off, n = 0, len(data) // all of it
		}
		p := make([]byte, n)
		got, err := d.ReadAt(p, off)
		want := len(data) - int(off)
		if want > n {
			want = n
		}
		if got != want || !bytes.Equal(p[:got], data[off:off+int64(got)]) {
			t.Fatalf("ReadAt(%d bytes at %d) = %d, %v; want %d bytes of the file", n, off, got, err, want)
		}
		if (err == io.EOF) != (want < n) || (err != nil && err != io.EOF) {
			t.Fatalf("ReadAt(%d bytes at %d) error %v; want io.EOF only when it reaches the end", n, off, err)
		}
	}
	if _, err := d.ReadAt(make([]byte, 1), -1); err == nil {
		t.Error("a negative offset read")
	}
	if _, err := openDirect(path, 5000); err == nil {
		t.Error("a window that is not a power of two was accepted")
	}
}

// TestReadWork: a work disk laid out as the host writes it (the header,
// then the archive, in a larger sparse file) unpacks with the plan and
// each file whole, also files larger than the window.
func TestReadWork(t *testing.T) {
	t.Parallel()
	big := make([]byte, 3*workChunk+17)
	rand.New(rand.NewSource(3)).Read(big)
	var arch bytes.Buffer
	w := cpio.Newc.Writer(&arch)
	recs := []cpio.Record{
		cpio.StaticFile("plan.json", `{"kernel":"6.1.0-50-cloud-amd64","units":[{"name":"hello","dir":"u/hello"}],"from":0}`, 0o644),
		cpio.StaticRecord(big, cpio.Info{Name: "u/hello/hello.test", Mode: cpio.S_IFREG | 0o755}),
		cpio.StaticFile("u/hello/hello-1.ko", "module", 0o644),
	}
	if err := cpio.WriteRecordsAndDirs(w, recs); err != nil {
		t.Fatal(err)
	}
	if err := cpio.WriteTrailer(w); err != nil {
		t.Fatal(err)
	}
	disk := filepath.Join(t.TempDir(), "work.img")
	f, err := os.Create(disk)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(8 * workChunk)
	f.WriteAt(proto.Header(int64(arch.Len())), 0)
	f.WriteAt(arch.Bytes(), proto.HeaderSize)
	f.Close()

	root := t.TempDir()
	plan, err := readWork(disk, root)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Kernel != "6.1.0-50-cloud-amd64" || len(plan.Units) != 1 || plan.Units[0].Dir != "u/hello" {
		t.Errorf("plan = %+v", plan)
	}
	if b, err := os.ReadFile(filepath.Join(root, "u/hello/hello.test")); err != nil || !bytes.Equal(b, big) {
		t.Errorf("hello.test: %d bytes, %v; want the %d bytes written", len(b), err, len(big))
	}
	if st, err := os.Stat(filepath.Join(root, "u/hello/hello.test")); err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("hello.test mode: %v, %v; want 0755", st, err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "u/hello/hello-1.ko")); string(b) != "module" {
		t.Errorf("hello-1.ko = %q", b)
	}
}
