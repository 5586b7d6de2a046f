//go:build modlab_guest

// Package vfs_test checks, inside the lab's VM, what a user of modlabfs.ko
// sees through Go's file APIs: the filesystem type appears in
// /proc/filesystems and mounts; files and directories behave as on any
// POSIX filesystem (create, read, write, seek, truncate with holes,
// rename, unlink, mkdir, rmdir, readdir, stat, statfs, hard links,
// symlinks, chmod and chown as seen by another user); 1,000 files list
// back exactly; a 64 MiB file reads back with the same checksum; names
// past 255 bytes give ENAMETOOLONG and a non-empty rmdir ENOTEMPTY; the
// size= option bounds the data with ENOSPC and statfs counts it; a busy
// mount refuses umount, a mounted filesystem refuses rmmod; 20
// mount/fill/unmount cycles leave no inode behind; concurrent writers and
// readers; and fsx_test.go's randomised comparison against a model.
// `modlab test vfs` runs it.
//
// The tests do not run in parallel: they share one kernel, and the module
// can only be loaded once at a time.
package vfs_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/modlab/modlab/lab/guesttest"
)

const (
	fsType   = "modlabfs"
	magic    = 0x6d6c6673 // "mlfs", the module's MODLABFS_MAGIC
	pageSize = 4096
)

// load loads modlabfs.ko; it is unloaded at the end of the test if still
// loaded (after the mounts the test made are gone: cleanups run in
// reverse).
func load(t *testing.T) *guesttest.Module {
	t.Helper()
	return guesttest.Load(t, "modlabfs")
}

// mountFS mounts a new modlabfs with the given options ("" or "size=1m")
// on a fresh directory that anyone may enter, and unmounts it at the end
// of the test if the test did not.
func mountFS(t *testing.T, opts string) string {
	t.Helper()
	dir := newMountPoint(t)
	if err := unix.Mount("none", dir, fsType, 0, opts); err != nil {
		t.Fatalf("mount -t %s -o %q none %s: %v", fsType, opts, dir, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil && !errors.Is(err, unix.EINVAL) {
			t.Errorf("cleanup: umount %s: %v", dir, err)
		}
	})
	return dir
}

func newMountPoint(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", "modlabfs-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(dir) })
	return dir
}

func unmount(t *testing.T, dir string) {
	t.Helper()
	if err := unix.Unmount(dir, 0); err != nil {
		t.Fatalf("umount %s: %v", dir, err)
	}
}

func statfs(t *testing.T, dir string) unix.Statfs_t {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatalf("statfs %s: %v", dir, err)
	}
	return st
}

// usedPages is what statfs says the files hold, in pages.
func usedPages(t *testing.T, dir string) uint64 {
	t.Helper()
	st := statfs(t, dir)
	return st.Blocks - st.Bfree
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func lstat(t *testing.T, path string) *unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		t.Fatalf("lstat %s: %v", path, err)
	}
	return &st
}

// pattern is n bytes that differ with seed and offset, so a byte read from
// the wrong place or the wrong file shows.
func pattern(seed, n int) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(int64(seed))).Read(b)
	return b
}

func mounted(t *testing.T, dir string) string {
	t.Helper()
	for _, line := range strings.Split(guesttest.ReadFile(t, "/proc/self/mounts"), "\n") {
		if f := strings.Fields(line); len(f) >= 4 && f[1] == dir {
			return line
		}
	}
	return ""
}

// TestRegistered: the type is in /proc/filesystems while the module is
// loaded (a "nodev" one: it needs no block device), mounts with a default
// size, and goes away with the module.
func TestRegistered(t *testing.T) {
	m := load(t)
	want := "nodev\t" + fsType + "\n"
	if fs := guesttest.ReadFile(t, "/proc/filesystems"); !strings.Contains(fs, want) {
		t.Fatalf("/proc/filesystems lacks %q:\n%s", want, fs)
	}
	dir := mountFS(t, "")
	line := mounted(t, dir)
	if !strings.HasPrefix(line, "none "+dir+" "+fsType+" rw") || !strings.Contains(line, ",size=") {
		t.Errorf("/proc/self/mounts: %q, want none %s %s rw,...,size=...", line, dir, fsType)
	}
	st := statfs(t, dir)
	if st.Type != magic || st.Bsize != pageSize || st.Namelen != 255 || st.Blocks == 0 || st.Bfree != st.Blocks {
		t.Errorf("statfs of an empty mount: type %#x bsize %d namelen %d blocks %d free %d",
			st.Type, st.Bsize, st.Namelen, st.Blocks, st.Bfree)
	}
	// The default is half of RAM, as tmpfs's.
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		t.Fatal(err)
	}
	half := uint64(si.Totalram) * uint64(si.Unit) / 2 / pageSize
	if st.Blocks < half*9/10 || st.Blocks > half*11/10 {
		t.Errorf("default size %d pages, want about half of RAM (%d pages)", st.Blocks, half)
	}
	unmount(t, dir)
	m.Unload(t)
	if fs := guesttest.ReadFile(t, "/proc/filesystems"); strings.Contains(fs, fsType) {
		t.Errorf("/proc/filesystems still has %s after rmmod", fsType)
	}
	if err := unix.Mount("none", dir, fsType, 0, ""); !errors.Is(err, unix.ENODEV) {
		t.Errorf("mount after rmmod: %v, want ENODEV", err)
	}
}

// TestDoneCriterion is the issue's own check: echo hi into a file, cat it.
func TestDoneCriterion(t *testing.T) {
	load(t)
	dir := mountFS(t, "")
	out, err := exec.Command("/bin/sh", "-c", "echo hi > "+dir+"/a; cat "+dir+"/a").CombinedOutput()
	if err != nil || string(out) != "hi\n" {
		t.Fatalf("echo hi > a; cat a: %q, %v", out, err)
	}
}

// TestReadWriteSeek: data written at offsets comes back at those offsets,
// through read, pread, lseek (SEEK_SET, SEEK_CUR, SEEK_END) and append;
// reads stop short at the end of the file.
func TestReadWriteSeek(t *testing.T) {
	load(t)
	dir := mountFS(t, "")
	path := filepath.Join(dir, "f")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data := pattern(1, 3*pageSize+100)
	if n, err := f.Write(data); n != len(data) || err != nil {
		t.Fatalf("write: %d, %v", n, err)
	}
	if pos, _ := f.Seek(0, io.SeekCurrent); pos != int64(len(data)) {
		t.Errorf("offset after write %d, want %d", pos, len(data))
	}
	// Overwrite across a page boundary.
	patch := []byte("ACROSS-THE-PAGE-BOUNDARY")
	if _, err := f.WriteAt(patch, pageSize-10); err != nil {
		t.Fatal(err)
	}
	copy(data[pageSize-10:], patch)

	for _, tc := range []struct {
		off, n  int
		want    int
		wantEOF bool
	}{
		{0, len(data), len(data), false},
		{pageSize - 10, 20, 20, false},
		{len(data) - 5, 100, 5, true}, // short read at the end
		{len(data), 10, 0, true},
		{len(data) + 1000, 10, 0, true},
	} {
		buf := make([]byte, tc.n)
		n, err := f.ReadAt(buf, int64(tc.off))
		if n != tc.want || (err == io.EOF) != tc.wantEOF || (err != nil && err != io.EOF) {
			t.Errorf("pread(%d, %d) = %d, %v; want %d bytes, EOF %v", tc.off, tc.n, n, err, tc.want, tc.wantEOF)
			continue
		}
		if n > 0 && !bytes.Equal(buf[:n], data[tc.off:tc.off+n]) {
			t.Errorf("pread(%d, %d): wrong bytes", tc.off, tc.n)
		}
	}

	// lseek, then read from the file offset.
	if pos, err := f.Seek(-50, io.SeekEnd); err != nil || pos != int64(len(data)-50) {
		t.Fatalf("lseek(-50, SEEK_END) = %d, %v", pos, err)
	}
	buf := make([]byte, 30)
	if _, err := io.ReadFull(f, buf); err != nil || !bytes.Equal(buf, data[len(data)-50:len(data)-20]) {
		t.Errorf("read after SEEK_END: %v", err)
	}
	if pos, _ := f.Seek(-100, io.SeekCurrent); pos != int64(len(data)-120) {
		t.Errorf("lseek(-100, SEEK_CUR) = %d, want %d", pos, len(data)-120)
	}
	if _, err := f.Seek(-1, io.SeekStart); !errors.Is(err, unix.EINVAL) {
		t.Errorf("lseek(-1, SEEK_SET): %v, want EINVAL", err)
	}

	// O_APPEND writes land at the end whatever the offset.
	a, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	a.Write([]byte("tail"))
	a.Close()
	data = append(data, "tail"...)
	if got := readFile(t, path); !bytes.Equal(got, data) {
		t.Errorf("after append: %d bytes, want %d (the same)", len(got), len(data))
	}
	st := lstat(t, path)
	if st.Size != int64(len(data)) || st.Mode != unix.S_IFREG|0o644 || st.Nlink != 1 {
		t.Errorf("stat: size %d mode %o nlink %d", st.Size, st.Mode, st.Nlink)
	}
	// The blocks are the pages the file holds in the page cache.
	if pages := int64(len(data)+pageSize-1) / pageSize; st.Blocks != pages*pageSize/512 {
		t.Errorf("st_blocks %d, want %d (%d pages)", st.Blocks, pages*pageSize/512, pages)
	}
	if _, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644); !errors.Is(err, unix.EEXIST) {
		t.Errorf("O_EXCL on an existing file: %v, want EEXIST", err)
	}
	if _, err := os.Open(filepath.Join(dir, "missing")); !errors.Is(err, unix.ENOENT) {
		t.Errorf("open of a missing file: %v, want ENOENT", err)
	}
}

// TestTruncate: shrinking drops the data past the new end, growing adds a
// hole that reads as zeros, also in the part of a page that was cut.
func TestTruncate(t *testing.T) {
	load(t)
	dir := mountFS(t, "")
	path := filepath.Join(dir, "t")
	data := pattern(2, 5*pageSize)
	writeFile(t, path, data)

	for _, size := range []int{3*pageSize + 123, 10, 0, 7*pageSize + 5, pageSize / 2} {
		if err := os.Truncate(path, int64(size)); err != nil {
			t.Fatalf("truncate to %d: %v", size, err)
		}
		if size <= len(data) {
			data = data[:size]
		} else {
			data = append(data, make([]byte, size-len(data))...)
		}
		got := readFile(t, path)
		if !bytes.Equal(got, data) {
			i := 0
			for i < min(len(got), len(data)) && got[i] == data[i] {
				i++
			}
			t.Fatalf("after truncate to %d: %d bytes, first difference at %d", size, len(got), i)
		}
		if pages := uint64(size+pageSize-1) / pageSize; usedPages(t, dir) != pages {
			t.Errorf("after truncate to %d: statfs says %d pages used, want %d", size, usedPages(t, dir), pages)
		}
	}
	// Write past the end: the gap is a hole of zeros.
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("far"), 3*pageSize)
	f.Close()
	got := readFile(t, path)
	if len(got) != 3*pageSize+3 || !bytes.Equal(got[len(data):3*pageSize], make([]byte, 3*pageSize-len(data))) ||
		string(got[3*pageSize:]) != "far" {
		t.Errorf("write past the end: %d bytes, hole not zero or tail wrong", len(got))
	}
}

// TestDirectories: mkdir, readdir, link counts, rmdir; ENOTEMPTY,
// ENOTDIR, EISDIR, EEXIST.
func TestDirectories(t *testing.T) {
	load(t)
	dir := mountFS(t, "")
	d := filepath.Join(dir, "d")
	if err := os.Mkdir(d, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(d, 0o750); !errors.Is(err, unix.EEXIST) {
		t.Errorf("mkdir twice: %v, want EEXIST", err)
	}
	for _, sub := range []string{"s1", "s2"} {
		if err := os.Mkdir(filepath.Join(d, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(d, "file"), []byte("x"))
	st := lstat(t, d)
	if st.Mode != unix.S_IFDIR|0o750 || st.Nlink != 4 { // its name, ".", two ".."
		t.Errorf("dir: mode %o nlink %d, want %o and 4", st.Mode, st.Nlink, unix.S_IFDIR|0o750)
	}
	ents, err := os.ReadDir(d)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name()+map[bool]string{true: "/", false: ""}[e.IsDir()])
	}
	if want := []string{"file", "s1/", "s2/"}; !slices.Equal(names, want) {
		t.Errorf("readdir: %q, want %q", names, want)
	}

	if err := unix.Rmdir(d); !errors.Is(err, unix.ENOTEMPTY) {
		t.Errorf("rmdir of a non-empty directory: %v, want ENOTEMPTY", err)
	}
	if err := unix.Rmdir(filepath.Join(d, "file")); !errors.Is(err, unix.ENOTDIR) {
		t.Errorf("rmdir of a file: %v, want ENOTDIR", err)
	}
	if err := unix.Unlink(filepath.Join(d, "s1")); !errors.Is(err, unix.EISDIR) {
		t.Errorf("unlink of a directory: %v, want EISDIR", err)
	}
	if _, err := os.Create(filepath.Join(d, "file", "x")); !errors.Is(err, unix.ENOTDIR) {
		t.Errorf("create under a file: %v, want ENOTDIR", err)
	}
	for _, p := range []string{"s1", "s2", "file"} {
		if err := os.Remove(filepath.Join(d, p)); err != nil {
			t.Fatal(err)
		}
	}
	if st := lstat(t, d); st.Nlink != 2 {
		t.Errorf("dir with no subdirectories: nlink %d, want 2", st.Nlink)
	}
	if err := unix.Rmdir(d); err != nil {
		t.Fatalf("rmdir of the emptied directory: %v", err)
	}
	if _, err := os.Lstat(d); !errors.Is(err, unix.ENOENT) {
		t.Errorf("stat after rmdir: %v, want ENOENT", err)
	}
	if st := lstat(t, dir); st.Nlink != 2 {
		t.Errorf("root: nlink %d, want 2", st.Nlink)
	}
}

// TestThousandFiles: 1,000 files in a directory come back from readdir,
// each once, no more.
func TestThousandFiles(t *testing.T) {
	load(t)
	dir := mountFS(t, "")
	d := filepath.Join(dir, "many")
	if err := os.Mkdir(d, 0o755); err != nil {
		t.Fatal(err)
	}
	const n = 1000
	want := make([]string, n)
	for i := range want {
		want[i] = fmt.Sprintf("file-%04d", i)
		writeFile(t, filepath.Join(d, want[i]), []byte(want[i]))
	}
	// Read it in small batches, as ls does for big directories.
	f, err := os.Open(d)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got []string
	for {
		names, err := f.Readdirnames(37)
		got = append(got, names...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("readdir gave %d names (%q...), want the %d created", len(got), got[:min(5, len(got))], n)
	}
	if b := readFile(t, filepath.Join(d, "file-0777")); string(b) != "file-0777" {
		t.Errorf("file-0777 holds %q", b)
	}
}

// bigMiB is the size of TestBigFile's file: 64 MiB on a production kernel,
// less on a slower one.
func bigMiB() int { return max(64/guesttest.Slowdown(), 8) }

// TestBigFile: a 64 MiB file written in 1 MiB writes reads back with the
// same SHA-256, and statfs counts every page of it.
func TestBigFile(t *testing.T) {
	load(t)
	dir := mountFS(t, "")
	mib := bigMiB()
	path := filepath.Join(dir, "big")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	for i := 0; i < mib; i++ {
		chunk := pattern(1000+i, 1<<20)
		h.Write(chunk)
		if _, err := f.Write(chunk); err != nil {
			t.Fatalf("write MiB %d: %v", i, err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	want := h.Sum(nil)
	if used := usedPages(t, dir); used != uint64(mib)<<20/pageSize {
		t.Errorf("statfs: %d pages used, want %d", used, mib<<20/pageSize)
	}
	r, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	h.Reset()
	n, err := io.CopyBuffer(h, r, make([]byte, 1<<20))
	if err != nil || n != int64(mib)<<20 {
		t.Fatalf("read back %d bytes, %v; want %d", n, err, mib<<20)
	}
	if got := h.Sum(nil); !bytes.Equal(got, want) {
		t.Fatalf("sha256 read %x, written %x", got, want)
	}
	t.Logf("%d MiB, sha256 %x", mib, want)
	// Unlinked while open, the file keeps its pages until the close.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if used := usedPages(t, dir); used != uint64(mib)<<20/pageSize {
		t.Errorf("statfs after unlink, file still open: %d pages used, want %d", used, mib<<20/pageSize)
	}
	r.Close()
	if used := usedPages(t, dir); used != 0 {
		t.Errorf("statfs after the last close of the unlinked file: %d pages used, want 0", used)
	}
}

// TestRename: across directories, over an existing file (whose data stays
// readable through a descriptor still open on it), RENAME_NOREPLACE, and a
// directory over a non-empty one.
func TestRename(t *testing.T) {
	load(t)
	dir := mountFS(t, "")
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	for _, d := range []string{a, b} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(a, "x"), []byte("from a"))
	if err := os.Rename(filepath.Join(a, "x"), filepath.Join(b, "y")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(a, "x")); !errors.Is(err, unix.ENOENT) {
		t.Errorf("old name after rename: %v, want ENOENT", err)
	}
	if got := readFile(t, filepath.Join(b, "y")); string(got) != "from a" {
		t.Errorf("renamed file holds %q", got)
	}

	// Over an existing file: the target's old inode lives on while open.
	writeFile(t, filepath.Join(a, "old"), []byte("replaced"))
	victim, err := os.Open(filepath.Join(a, "old"))
	if err != nil {
		t.Fatal(err)
	}
	defer victim.Close()
	if err := os.Rename(filepath.Join(b, "y"), filepath.Join(a, "old")); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(a, "old")); string(got) != "from a" {
		t.Errorf("after rename over a file: %q, want the source's data", got)
	}
	got, _ := io.ReadAll(victim)
	if string(got) != "replaced" {
		t.Errorf("the replaced file, through a descriptor opened before: %q", got)
	}
	var vst unix.Stat_t
	unix.Fstat(int(victim.Fd()), &vst)
	if vst.Nlink != 0 {
		t.Errorf("the replaced file has nlink %d, want 0", vst.Nlink)
	}
	if ents, _ := os.ReadDir(b); len(ents) != 0 {
		t.Errorf("b is not empty after the move: %d entries", len(ents))
	}

	// RENAME_NOREPLACE refuses to overwrite.
	writeFile(t, filepath.Join(b, "z"), []byte("z"))
	err = unix.Renameat2(unix.AT_FDCWD, filepath.Join(b, "z"), unix.AT_FDCWD, filepath.Join(a, "old"), unix.RENAME_NOREPLACE)
	if !errors.Is(err, unix.EEXIST) {
		t.Errorf("RENAME_NOREPLACE over a file: %v, want EEXIST", err)
	}
	// A directory cannot replace a non-empty one, nor a file a directory.
	if err := os.Rename(b, a); !errors.Is(err, unix.ENOTEMPTY) && !errors.Is(err, unix.EEXIST) {
		t.Errorf("rename of a directory over a non-empty one: %v, want ENOTEMPTY", err)
	}
	if err := unix.Rename(filepath.Join(b, "z"), a); !errors.Is(err, unix.EISDIR) {
		t.Errorf("rename of a file over a directory: %v, want EISDIR", err)
	}
	// A directory moves with what it holds; link counts follow.
	if err := os.Rename(b, filepath.Join(a, "b")); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(a, "b", "z")); string(got) != "z" {
		t.Errorf("file in a moved directory: %q", got)
	}
	if st := lstat(t, a); st.Nlink != 3 {
		t.Errorf("a holds one directory: nlink %d, want 3", st.Nlink)
	}
	if st := lstat(t, dir); st.Nlink != 3 {
		t.Errorf("root holds one directory: nlink %d, want 3", st.Nlink)
	}
}

// TestNameTooLong: a name of 255 bytes is fine, 256 is ENAMETOOLONG
// for create, mkdir, lookup and rename.
func TestNameTooLong(t *testing.T) {
	load(t)
	dir := mountFS(t, "")
	ok := filepath.Join(dir, strings.Repeat("n", 255))
	long := filepath.Join(dir, strings.Repeat("n", 256))
	writeFile(t, ok, []byte("ok"))
	if got := readFile(t, ok); string(got) != "ok" {
		t.Errorf("255-byte name: %q", got)
	}
	check := func(what string, err error) {
		if !errors.Is(err, unix.ENAMETOOLONG) {
			t.Errorf("%s with a 256-byte name: %v, want ENAMETOOLONG", what, err)
		}
	}
	_, err := os.Create(long)
	check("create", err)
	check("mkdir", os.Mkdir(long, 0o755))
	_, err = os.Lstat(long)
	check("stat", err)
	check("rename", os.Rename(ok, long))
	check("symlink", os.Symlink("x", long))
	check("link", os.Link(ok, long))
}

// TestLinks: a hard link is the same inode under two names (nlink 2, the
// data survives the unlink of either); a symlink is a path that readlink
// returns and open follows.
func TestLinks(t *testing.T) {
	load(t)
	dir := mountFS(t, "")
	orig, link := filepath.Join(dir, "orig"), filepath.Join(dir, "link")
	writeFile(t, orig, []byte("shared"))
	if err := os.Link(orig, link); err != nil {
		t.Fatal(err)
	}
	so, sl := lstat(t, orig), lstat(t, link)
	if so.Ino != sl.Ino || so.Nlink != 2 {
		t.Errorf("hard link: inodes %d and %d, nlink %d; want one inode, nlink 2", so.Ino, sl.Ino, so.Nlink)
	}
	// A write through one name shows through the other.
	f, err := os.OpenFile(link, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("+more"))
	f.Close()
	if got := readFile(t, orig); string(got) != "shared+more" {
		t.Errorf("through the other name: %q", got)
	}
	if usedPages(t, dir) != 1 {
		t.Errorf("two names of one small file: %d pages used, want 1", usedPages(t, dir))
	}
	if err := os.Remove(orig); err != nil {
		t.Fatal(err)
	}
	if st := lstat(t, link); st.Nlink != 1 {
		t.Errorf("after unlink of the other name: nlink %d, want 1", st.Nlink)
	}
	if got := readFile(t, link); string(got) != "shared+more" {
		t.Errorf("after unlink of the other name: %q", got)
	}
	if err := os.Link(dir, filepath.Join(dir, "dirlink")); !errors.Is(err, unix.EPERM) {
		t.Errorf("hard link to a directory: %v, want EPERM", err)
	}

	// Symlinks: relative and absolute, dangling, and in a chain.
	sub := filepath.Join(dir, "sub")
	os.Mkdir(sub, 0o755)
	target := "../link"
	sym := filepath.Join(sub, "sym")
	if err := os.Symlink(target, sym); err != nil {
		t.Fatal(err)
	}
	if got, err := os.Readlink(sym); err != nil || got != target {
		t.Errorf("readlink: %q, %v; want %q", got, err, target)
	}
	if st := lstat(t, sym); st.Mode&unix.S_IFMT != unix.S_IFLNK || st.Size != int64(len(target)) {
		t.Errorf("lstat of a symlink: mode %o size %d", st.Mode, st.Size)
	}
	if got := readFile(t, sym); string(got) != "shared+more" {
		t.Errorf("read through the symlink: %q", got)
	}
	long := "/" + strings.Repeat("d/", 1500) + "end" // a target longer than the inline limit of some filesystems
	if err := os.Symlink(long, filepath.Join(dir, "longsym")); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.Readlink(filepath.Join(dir, "longsym")); got != long {
		t.Errorf("readlink of a %d-byte target: %d bytes back", len(long), len(got))
	}
	dangling := filepath.Join(dir, "dangling")
	os.Symlink("nowhere", dangling)
	if _, err := os.Stat(dangling); !errors.Is(err, unix.ENOENT) {
		t.Errorf("stat through a dangling symlink: %v, want ENOENT", err)
	}
	loop := filepath.Join(dir, "loop")
	os.Symlink("loop", loop)
	if _, err := os.Open(loop); !errors.Is(err, unix.ELOOP) {
		t.Errorf("open of a symlink to itself: %v, want ELOOP", err)
	}
}

// worker runs this test binary again as another user, to do one thing on
// a path and print the result (see TestMain).
func worker(t *testing.T, uid int, mode, path string) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), "VFS_WORKER="+mode, "VFS_PATH="+path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("worker %s as uid %d: %v\n%s", mode, uid, err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestMain(m *testing.M) {
	path := os.Getenv("VFS_PATH")
	switch os.Getenv("VFS_WORKER") {
	case "":
		os.Exit(m.Run())
	case "read": // uid=N read=<data or errno name>
		b, err := os.ReadFile(path)
		fmt.Printf("uid=%d read=%s\n", os.Getuid(), result(string(b), err))
	case "write":
		err := os.WriteFile(path, []byte("by "+strconv.Itoa(os.Getuid())), 0o644)
		fmt.Printf("uid=%d write=%s\n", os.Getuid(), result("ok", err))
	case "chmod":
		fmt.Printf("uid=%d chmod=%s\n", os.Getuid(), result("ok", os.Chmod(path, 0o666)))
	case "stat":
		var st unix.Stat_t
		err := unix.Stat(path, &st)
		fmt.Printf("uid=%d owner=%d:%d mode=%o %s\n", os.Getuid(), st.Uid, st.Gid, st.Mode&0o7777, result("", err))
	}
	os.Exit(0)
}

func result(ok string, err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return unix.ErrnoName(errno)
	}
	if err != nil {
		return err.Error()
	}
	return ok
}

// TestModeAndOwnership: chmod and chown change what another user may do,
// as that user sees it.
func TestModeAndOwnership(t *testing.T) {
	load(t)
	dir := mountFS(t, "")
	path := filepath.Join(dir, "secret")
	writeFile(t, path, []byte("data"))
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := worker(t, 1000, "read", path); got != "uid=1000 read=EACCES" {
		t.Errorf("root's 0600 file read by uid 1000: %q, want EACCES", got)
	}
	if err := os.Chown(path, 1000, 1000); err != nil {
		t.Fatal(err)
	}
	if got := worker(t, 1000, "stat", path); got != "uid=1000 owner=1000:1000 mode=600" {
		t.Errorf("stat by the new owner: %q", got)
	}
	if got := worker(t, 1000, "read", path); got != "uid=1000 read=data" {
		t.Errorf("read by the new owner: %q", got)
	}
	if got := worker(t, 1001, "read", path); got != "uid=1001 read=EACCES" {
		t.Errorf("read by another user: %q, want EACCES", got)
	}
	if got := worker(t, 1001, "chmod", path); got != "uid=1001 chmod=EPERM" {
		t.Errorf("chmod by a user who is not the owner: %q, want EPERM", got)
	}
	if got := worker(t, 1000, "chmod", path); got != "uid=1000 chmod=ok" {
		t.Errorf("chmod by the owner: %q", got)
	}
	if got := worker(t, 1001, "read", path); got != "uid=1001 read=data" {
		t.Errorf("read by another user after chmod 0666: %q", got)
	}
	// The root directory is root's 0755: others cannot create in it.
	if got := worker(t, 1000, "write", filepath.Join(dir, "new")); got != "uid=1000 write=EACCES" {
		t.Errorf("create in root's 0755 directory by uid 1000: %q, want EACCES", got)
	}
	if st := lstat(t, path); st.Uid != 1000 || st.Mode&0o777 != 0o666 {
		t.Errorf("root sees owner %d mode %o", st.Uid, st.Mode&0o777)
	}
	// chown to another user clears set-user-ID, as on any filesystem.
	os.Chmod(path, 0o4755)
	os.Chown(path, 1001, 1001)
	if st := lstat(t, path); st.Mode&0o4000 != 0 {
		t.Errorf("chown kept the set-user-ID bit: mode %o", st.Mode&0o7777)
	}
}

// TestSizeLimit: with size=1m the files may hold 256 pages. A write that
// needs more stops with ENOSPC after filling what is left; the earlier
// file is intact; statfs reports the use; unlink and truncate give pages
// back; a truncate up past the limit is refused; remount changes the
// limit but not below the use.
func TestSizeLimit(t *testing.T) {
	load(t)
	dir := mountFS(t, "size=1m")
	const limit = 256
	st := statfs(t, dir)
	if st.Blocks != limit || st.Bfree != limit || st.Bavail != limit {
		t.Fatalf("statfs of an empty size=1m mount: blocks %d free %d avail %d, want %d", st.Blocks, st.Bfree, st.Bavail, limit)
	}
	if line := mounted(t, dir); !strings.Contains(line, "size=1024k") {
		t.Errorf("/proc/self/mounts: %q, want size=1024k", line)
	}
	first := pattern(3, 300<<10) // 75 pages
	writeFile(t, filepath.Join(dir, "first"), first)
	if used := usedPages(t, dir); used != 75 {
		t.Errorf("after 300 KiB: %d pages used, want 75", used)
	}

	// Fill the rest in 64 KiB writes until ENOSPC.
	f, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	chunk := pattern(4, 64<<10)
	var written int64
	for i := 0; ; i++ {
		n, err := f.Write(chunk)
		written += int64(n)
		if err != nil {
			if !errors.Is(err, unix.ENOSPC) {
				t.Fatalf("write %d: %v, want ENOSPC in the end", i, err)
			}
			break
		}
		if i > 100 {
			t.Fatal("1 MiB limit, yet 6 MiB written")
		}
	}
	f.Close()
	if want := int64(limit-75) * pageSize; written != want {
		t.Errorf("filler took %d bytes before ENOSPC, want all that was left: %d", written, want)
	}
	if st := statfs(t, dir); st.Bfree != 0 || st.Bavail != 0 {
		t.Errorf("full: statfs free %d avail %d, want 0", st.Bfree, st.Bavail)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "filler")); fi.Size() != written {
		t.Errorf("filler's size %d, want the %d bytes written", fi.Size(), written)
	}
	// Nothing is lost from the earlier file.
	if got := readFile(t, filepath.Join(dir, "first")); !bytes.Equal(got, first) {
		t.Errorf("the earlier file changed when the filesystem filled up")
	}
	// A new file can be made (an inode costs no data page) but not written.
	if err := os.WriteFile(filepath.Join(dir, "more"), []byte("x"), 0o644); !errors.Is(err, unix.ENOSPC) {
		t.Errorf("write of 1 byte into a full filesystem: %v, want ENOSPC", err)
	}
	if err := os.Symlink("target", filepath.Join(dir, "sym")); !errors.Is(err, unix.ENOSPC) {
		t.Errorf("symlink in a full filesystem: %v, want ENOSPC", err)
	}
	if err := os.Truncate(filepath.Join(dir, "first"), 2<<20); !errors.Is(err, unix.ENOSPC) {
		t.Errorf("truncate up past the limit: %v, want ENOSPC", err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "first")); fi.Size() != int64(len(first)) {
		t.Errorf("a refused truncate changed the size to %d", fi.Size())
	}

	// Giving back: unlink, then truncate down.
	os.Remove(filepath.Join(dir, "more"))
	if err := os.Remove(filepath.Join(dir, "filler")); err != nil {
		t.Fatal(err)
	}
	if used := usedPages(t, dir); used != 75 {
		t.Errorf("after unlink of the filler: %d pages used, want 75", used)
	}
	if err := os.Truncate(filepath.Join(dir, "first"), 10*pageSize+1); err != nil {
		t.Fatal(err)
	}
	if used := usedPages(t, dir); used != 11 {
		t.Errorf("after truncate to 10 pages and a byte: %d pages used, want 11", used)
	}

	// Remount: not below the use, but up or down above it.
	err = unix.Mount("none", dir, fsType, unix.MS_REMOUNT, "size=8k")
	if !errors.Is(err, unix.EINVAL) {
		t.Errorf("remount with size=8k below 11 pages in use: %v, want EINVAL", err)
	}
	if err := unix.Mount("none", dir, fsType, unix.MS_REMOUNT, "size=2m"); err != nil {
		t.Fatalf("remount with size=2m: %v", err)
	}
	if st := statfs(t, dir); st.Blocks != 512 || st.Bfree != 512-11 {
		t.Errorf("after remount size=2m: blocks %d free %d, want 512 and 501", st.Blocks, st.Bfree)
	}
}

// TestBadOptions: bad option values and unknown options fail the mount
// with EINVAL and say why in the kernel log.
func TestBadOptions(t *testing.T) {
	load(t)
	dir := newMountPoint(t)
	for _, tc := range []struct{ opts, log string }{
		{"size=abc", "modlabfs: bad size 'abc'"},
		{"size=12q", "modlabfs: bad size '12q'"},
		{"size=0", "modlabfs: bad size '0'"},
		{"size=100", "modlabfs: bad size '100'"}, // less than a page
		{"size", "modlabfs: Bad value for 'size'"},
		{"colour=blue", "Unknown parameter 'colour'"},
	} {
		log := guesttest.KernelLog(t)
		err := unix.Mount("none", dir, fsType, 0, tc.opts)
		if !errors.Is(err, unix.EINVAL) {
			t.Errorf("mount -o %s: %v, want EINVAL", tc.opts, err)
			if err == nil {
				unix.Unmount(dir, 0)
			}
			continue
		}
		log.Want(t, tc.log)
	}
	for _, opts := range []string{"size=64k", "size=3m", "size=1g"} {
		if err := unix.Mount("none", dir, fsType, 0, opts); err != nil {
			t.Errorf("mount -o %s: %v", opts, err)
			continue
		}
		unmount(t, dir)
	}
}

// rmmodBusy is the errno delete_module(2) gives for a module in use,
// without O_TRUNC (forcing): both kernels return EWOULDBLOCK (EAGAIN)
// from try_stop_module. (Without O_NONBLOCK, old kernels waited; since
// 3.13 the result is the same either way.)
const rmmodBusy = unix.EWOULDBLOCK

// TestBusy: umount while a file is open is EBUSY; rmmod while mounted is
// refused; after the close both work.
func TestBusy(t *testing.T) {
	m := load(t)
	dir := mountFS(t, "")
	f, err := os.Create(filepath.Join(dir, "open"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Unmount(dir, 0); !errors.Is(err, unix.EBUSY) {
		t.Fatalf("umount with a file open: %v, want EBUSY", err)
	}
	if err := m.TryUnload(); !errors.Is(err, rmmodBusy) {
		t.Fatalf("rmmod while mounted: %v, want %s", err, unix.ErrnoName(rmmodBusy))
	} else {
		t.Logf("rmmod while mounted: %v", err)
	}
	// A working directory inside the mount holds it too.
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/bin/sh", "-c", "cd "+dir+" && echo in && exec sleep 30")
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	bufio.NewReader(stdout).ReadString('\n')
	if err := unix.Unmount(dir, 0); !errors.Is(err, unix.EBUSY) {
		t.Errorf("umount with a process inside: %v, want EBUSY", err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	unmount(t, dir)
	if err := m.TryUnload(); err != nil {
		t.Fatalf("rmmod after umount: %v", err)
	}
}

// slabObjects is the number of live objects in the module's inode cache,
// from /proc/slabinfo; the cache is shrunk first so that no per-CPU slab
// hides freed objects.
func slabObjects(t *testing.T) int {
	t.Helper()
	os.WriteFile("/sys/kernel/slab/modlabfs_inode_cache/shrink", []byte("1"), 0)
	for _, line := range strings.Split(guesttest.ReadFile(t, "/proc/slabinfo"), "\n") {
		f := strings.Fields(line)
		if len(f) > 2 && f[0] == "modlabfs_inode_cache" {
			n, err := strconv.Atoi(f[1])
			if err != nil {
				t.Fatalf("slabinfo: %q", line)
			}
			return n
		}
	}
	t.Fatal("/proc/slabinfo has no modlabfs_inode_cache")
	return 0
}

// meminfoKiB reads one /proc/meminfo field.
func meminfoKiB(t *testing.T, field string) int {
	t.Helper()
	for _, line := range strings.Split(guesttest.ReadFile(t, "/proc/meminfo"), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == field+":" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	t.Fatalf("/proc/meminfo has no %s", field)
	return 0
}

// TestNoLeak: 20 cycles of mount, fill (files, a directory tree, links,
// a symlink, 4 MiB of data, one file deleted while open), unmount. After
// them the module's inode cache is back where it started (inodes are
// freed after an RCU grace period: wait for it), the pages are back (the
// files' pages are unevictable, so Unevictable in /proc/meminfo counts
// them and little else: MemFree and Shmem move with everything else the
// guest does), and rmmod works. kmem_cache_destroy in the module's exit
// would also report any object left ("Objects remaining ..."), which the
// lab's log check fails.
func TestNoLeak(t *testing.T) {
	m := load(t)
	base := slabObjects(t)
	baseUnevictable := meminfoKiB(t, "Unevictable")
	cycles := guesttest.Rounds(20)
	const dataMiB = 4
	for c := 0; c < cycles; c++ {
		dir := mountFS(t, "size=8m")
		for i := 0; i < 20; i++ {
			sub := filepath.Join(dir, fmt.Sprintf("d%d", i), "e")
			if err := os.MkdirAll(sub, 0o755); err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(sub, "f"), pattern(i, 1000))
			os.Link(filepath.Join(sub, "f"), filepath.Join(sub, "hard"))
			os.Symlink("f", filepath.Join(sub, "sym"))
		}
		writeFile(t, filepath.Join(dir, "data"), pattern(c, dataMiB<<20))
		held, err := os.Open(filepath.Join(dir, "d0", "e", "f"))
		if err != nil {
			t.Fatal(err)
		}
		os.Remove(filepath.Join(dir, "d0", "e", "f"))
		os.Remove(filepath.Join(dir, "d0", "e", "hard"))
		held.Close()
		// 19 small files and symlinks (one page each) and the data.
		if used, want := usedPages(t, dir), uint64(19+20+dataMiB<<20/pageSize); used != want {
			t.Fatalf("cycle %d: %d pages used, want %d", c, used, want)
		}
		// 81 inodes are alive: the root, 40 directories, 19 files, 20
		// symlinks and the data. /proc/slabinfo counts objects a CPU's
		// slab holds loosely, so this only asks that it sees them.
		if n := slabObjects(t); n < base+60 {
			t.Errorf("cycle %d: %d inodes in the cache, want about %d", c, n, base+81)
		}
		unmount(t, dir)
	}
	var objs int
	for deadline := time.Now().Add(10 * time.Second); ; {
		if objs = slabObjects(t); objs == base || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if objs != base {
		t.Errorf("after %d cycles: %d objects in modlabfs_inode_cache, %d before", cycles, objs, base)
	}
	grew := meminfoKiB(t, "Unevictable") - baseUnevictable
	t.Logf("%d cycles of %d MiB: inode cache %d -> %d objects, Unevictable %+d KiB", cycles, dataMiB, base, objs, grew)
	if grew > dataMiB<<10 {
		t.Errorf("after %d cycles of %d MiB: Unevictable grew by %d KiB", cycles, dataMiB, grew)
	}
	m.Unload(t)
}

// TestConcurrent: writers to different files and readers of one file, at
// the same time; every byte read is right, every file ends as written.
func TestConcurrent(t *testing.T) {
	load(t)
	dir := mountFS(t, "")
	const workers = 8
	size := max((2<<20)/guesttest.Slowdown(), 256<<10)
	shared := pattern(99, 1<<20)
	writeFile(t, filepath.Join(dir, "shared"), shared)

	var wg sync.WaitGroup
	errs := make(chan error, 2*workers)
	for w := 0; w < workers; w++ {
		wg.Add(2)
		go func() { // a writer: its own file, 64 KiB at a time
			defer wg.Done()
			f, err := os.Create(filepath.Join(dir, fmt.Sprintf("w%d", w)))
			if err != nil {
				errs <- err
				return
			}
			defer f.Close()
			data := pattern(w, size)
			for off := 0; off < size; off += 64 << 10 {
				if _, err := f.Write(data[off:min(off+64<<10, size)]); err != nil {
					errs <- fmt.Errorf("writer %d: %w", w, err)
					return
				}
			}
		}()
		go func() { // a reader: random pieces of the shared file
			defer wg.Done()
			f, err := os.Open(filepath.Join(dir, "shared"))
			if err != nil {
				errs <- err
				return
			}
			defer f.Close()
			rng := rand.New(rand.NewSource(int64(w)))
			buf := make([]byte, 32<<10)
			for i := 0; i < guesttest.Rounds(200); i++ {
				off := rng.Intn(len(shared))
				n, err := f.ReadAt(buf, int64(off))
				if err != nil && err != io.EOF {
					errs <- fmt.Errorf("reader %d: %w", w, err)
					return
				}
				if !bytes.Equal(buf[:n], shared[off:off+n]) {
					errs <- fmt.Errorf("reader %d: wrong bytes at %d", w, off)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for w := 0; w < workers; w++ {
		if got := readFile(t, filepath.Join(dir, fmt.Sprintf("w%d", w))); !bytes.Equal(got, pattern(w, size)) {
			t.Errorf("writer %d's file: %d bytes, not what it wrote", w, len(got))
		}
	}
	if used, want := usedPages(t, dir), uint64(256+workers*((size+pageSize-1)/pageSize)); used != want {
		t.Errorf("statfs: %d pages used, want %d", used, want)
	}
}
