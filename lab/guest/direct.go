package guest

import (
	"fmt"
	"io"

	"golang.org/x/sys/unix"
)

// directReader reads a file (the work disk) with O_DIRECT, a chunk at a
// time into one page-aligned window, and serves any ReadAt from that
// window: the cpio reader's small reads at odd offsets become a few large
// reads that bypass the page cache. On the debug kernel under TCG,
// reading 80 MB of the work disk through the page cache took 2.78 s in
// 32 KB reads (what io.Copy does) and 1.84 s in 1 MB reads; 1 MB direct
// reads took 0.30 s. Where O_DIRECT is refused, the same window reads
// through the cache.
type directReader struct {
	fd    int
	buf   []byte // mmap'd, so page-aligned, as O_DIRECT wants
	start int64  // the offset of buf[0]
	n     int    // valid bytes in buf
}

// openDirect opens path for reading through a window of chunk bytes (a
// power of two, at least a page).
func openDirect(path string, chunk int) (*directReader, error) {
	if chunk < unix.Getpagesize() || chunk&(chunk-1) != 0 {
		return nil, fmt.Errorf("read %s: chunk %d is not a power of two of at least a page", path, chunk)
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECT|unix.O_CLOEXEC, 0)
	if err == unix.EINVAL {
		fd, err = unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	buf, err := unix.Mmap(-1, 0, chunk, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("read %s: window: %w", path, err)
	}
	return &directReader{fd: fd, buf: buf}, nil
}

// ReadAt reads len(p) bytes at off, refilling the window as needed.
func (d *directReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("read at %d: negative offset", off)
	}
	total := 0
	for len(p) > 0 {
		if off < d.start || off >= d.start+int64(d.n) {
			if err := d.fill(off &^ int64(len(d.buf)-1)); err != nil {
				return total, err
			}
			if off >= d.start+int64(d.n) {
				return total, io.EOF
			}
		}
		k := copy(p, d.buf[off-d.start:d.n])
		p, off, total = p[k:], off+int64(k), total+k
	}
	return total, nil
}

// fill reads the chunk at the aligned offset at into the window; at the
// end of the file the window holds less, or nothing.
func (d *directReader) fill(at int64) error {
	for {
		n, err := unix.Pread(d.fd, d.buf, at)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			d.n = 0
			return fmt.Errorf("read at %d: %w", at, err)
		}
		d.start, d.n = at, n
		return nil
	}
}

// Close releases the window and the file.
func (d *directReader) Close() error {
	unix.Munmap(d.buf)
	return unix.Close(d.fd)
}
