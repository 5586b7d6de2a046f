//go:build modlab_guest

package vfs_test

// An fsx-style test (after the classic fsx of NFS and xfstests): random
// operations on one file, with a model of what the file must hold kept in
// the test; every read, through read(2) or a mapping, is compared with the
// model, and so is the size after every operation.
//
// The run is decided by one seed: the test logs it, and on a mismatch it
// prints the seed, the last operations and the first differing bytes. To
// replay a seed, put it on the guest's kernel command line, which passes
// unknown name=value words to /init's environment:
//
//	modlab test vfs --kernel 6.1 --append MODLABFS_FSX_SEED=1234

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/modlab/modlab/lab/guesttest"
)

const (
	fsxSeedEnv = "MODLABFS_FSX_SEED"
	fsxMaxSize = 256 << 10 // the file stays below this
	fsxMaxIO   = 64 << 10  // one write or read at most
	fsxLogTail = 30        // operations shown on a failure
)

// fsx is one run: the file, its model and the log of what was done.
type fsx struct {
	t     *testing.T
	seed  int64
	rng   *rand.Rand
	f     *os.File
	model []byte
	log   []string
	n     int // operations done
}

func (x *fsx) logf(format string, args ...any) {
	x.log = append(x.log, fmt.Sprintf("%5d ", x.n)+fmt.Sprintf(format, args...))
	if len(x.log) > fsxLogTail {
		x.log = x.log[1:]
	}
}

// fail stops the test with everything needed to see and replay the
// failure.
func (x *fsx) fail(format string, args ...any) {
	x.t.Helper()
	x.t.Fatalf("fsx: %s\nseed %d (replay: --append %s=%d), operation %d; the last operations:\n%s",
		fmt.Sprintf(format, args...), x.seed, fsxSeedEnv, x.seed, x.n, strings.Join(x.log, "\n"))
}

// compare checks bytes got, read at off, against the model.
func (x *fsx) compare(how string, off int, got []byte) {
	x.t.Helper()
	if len(got) == 0 {
		return
	}
	want := x.model[off : off+len(got)]
	if bytes.Equal(got, want) {
		return
	}
	i := 0
	for got[i] == want[i] {
		i++
	}
	from, to := max(i-16, 0), min(i+32, len(got))
	x.fail("%s at %d+%d: first difference at file offset %d\nwant %s\ngot  %s", how, off, len(got), off+i,
		hex.EncodeToString(want[from:to]), hex.EncodeToString(got[from:to]))
}

func (x *fsx) checkSize() {
	x.t.Helper()
	var st unix.Stat_t
	if err := unix.Fstat(int(x.f.Fd()), &st); err != nil {
		x.fail("fstat: %v", err)
	}
	if st.Size != int64(len(x.model)) {
		x.fail("size %d, the model says %d", st.Size, len(x.model))
	}
}

func (x *fsx) write() {
	off := x.rng.Intn(fsxMaxSize - 1)
	n := 1 + x.rng.Intn(min(fsxMaxIO, fsxMaxSize-off))
	data := make([]byte, n)
	x.rng.Read(data)
	x.logf("write    %6d +%6d (size %d)", off, n, len(x.model))
	if m, err := x.f.WriteAt(data, int64(off)); m != n || err != nil {
		x.fail("write at %d+%d: %d, %v", off, n, m, err)
	}
	if end := off + n; end > len(x.model) {
		x.model = append(x.model, make([]byte, end-len(x.model))...)
	}
	copy(x.model[off:], data)
}

func (x *fsx) read() {
	off := x.rng.Intn(len(x.model) + pageSize) // sometimes past the end
	n := 1 + x.rng.Intn(fsxMaxIO)
	x.logf("read     %6d +%6d (size %d)", off, n, len(x.model))
	buf := make([]byte, n)
	m, err := x.f.ReadAt(buf, int64(off))
	want := max(min(n, len(x.model)-off), 0)
	if m != want || (err != nil && !(err == io.EOF && want < n)) {
		x.fail("read at %d+%d: %d bytes, %v; want %d bytes", off, n, m, err, want)
	}
	x.compare("read", off, buf[:m])
}

func (x *fsx) truncate() {
	size := x.rng.Intn(fsxMaxSize)
	x.logf("truncate %6d (size %d)", size, len(x.model))
	if err := x.f.Truncate(int64(size)); err != nil {
		x.fail("truncate to %d: %v", size, err)
	}
	if size < len(x.model) {
		x.model = x.model[:size]
	} else {
		x.model = append(x.model, make([]byte, size-len(x.model))...)
	}
}

// mapped maps the whole file shared, runs fn on the mapping, unmaps it.
func (x *fsx) mapped(prot int, fn func(m []byte)) {
	m, err := unix.Mmap(int(x.f.Fd()), 0, len(x.model), prot, unix.MAP_SHARED)
	if err != nil {
		x.fail("mmap of %d bytes: %v", len(x.model), err)
	}
	fn(m)
	if err := unix.Munmap(m); err != nil {
		x.fail("munmap: %v", err)
	}
}

func (x *fsx) mapRead() {
	if len(x.model) == 0 {
		return
	}
	off := x.rng.Intn(len(x.model))
	n := 1 + x.rng.Intn(min(fsxMaxIO, len(x.model)-off))
	x.logf("mapread  %6d +%6d (size %d)", off, n, len(x.model))
	x.mapped(unix.PROT_READ, func(m []byte) { x.compare("mapread", off, bytes.Clone(m[off:off+n])) })
}

func (x *fsx) mapWrite() {
	if len(x.model) == 0 {
		return
	}
	off := x.rng.Intn(len(x.model))
	n := 1 + x.rng.Intn(min(fsxMaxIO, len(x.model)-off))
	data := make([]byte, n)
	x.rng.Read(data)
	x.logf("mapwrite %6d +%6d (size %d)", off, n, len(x.model))
	x.mapped(unix.PROT_READ|unix.PROT_WRITE, func(m []byte) {
		copy(m[off:], data)
		if err := unix.Msync(m, unix.MS_SYNC); err != nil {
			x.fail("msync: %v", err)
		}
	})
	copy(x.model[off:], data)
}

func (x *fsx) fsync() {
	x.logf("fsync")
	if err := x.f.Sync(); err != nil {
		x.fail("fsync: %v", err)
	}
}

// fsxSeed is the seed from the environment, or a new one.
func fsxSeed(t *testing.T) int64 {
	if s := os.Getenv(fsxSeedEnv); s != "" {
		seed, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", fsxSeedEnv, s, err)
		}
		return seed
	}
	return time.Now().UnixNano()
}

// TestFsx: a few thousand random operations (fewer on a slow kernel) on
// one file, each checked against the model; at the end the whole file,
// read through a new descriptor, must equal the model, and statfs must
// count exactly its pages.
func TestFsx(t *testing.T) {
	load(t)
	dir := mountFS(t, "size=2m")
	seed := fsxSeed(t)
	ops := guesttest.Rounds(3000)
	t.Logf("seed %d, %d operations (%s=%d replays it)", seed, ops, fsxSeedEnv, seed)
	path := filepath.Join(dir, "fsx")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	x := &fsx{t: t, seed: seed, rng: rand.New(rand.NewSource(seed)), f: f}
	table := []struct {
		weight int
		op     func()
	}{
		{30, x.write}, {30, x.read}, {10, x.truncate}, {12, x.mapRead}, {12, x.mapWrite}, {6, x.fsync},
	}
	total := 0
	for _, e := range table {
		total += e.weight
	}
	for x.n = 0; x.n < ops; x.n++ {
		r := x.rng.Intn(total)
		for _, e := range table {
			if r < e.weight {
				e.op()
				break
			}
			r -= e.weight
		}
		x.checkSize()
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(x.model) {
		x.fail("the whole file: %d bytes, the model %d", len(got), len(x.model))
	}
	x.compare("the whole file", 0, got)
	if used, want := usedPages(t, dir), uint64(len(x.model)+pageSize-1)/pageSize; used != want {
		x.fail("statfs: %d pages used, the file's %d bytes need %d", used, len(x.model), want)
	}
}
