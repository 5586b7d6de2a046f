// Package rawfile reads small files and directories with plain system
// calls. The os package registers every file it opens with the runtime's
// poller (two extra system calls per file), which shows in tools such as
// modprobe that open a dozen files and exit within milliseconds.
package rawfile

import (
	"io/fs"
	"os"
	"syscall"
)

func pathErr(op, path string, err error) error {
	return &fs.PathError{Op: op, Path: path, Err: err}
}

func open(path string, flags int) (int, error) {
	for {
		fd, err := syscall.Open(path, flags|syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return -1, pathErr("open", path, err)
		}
		return fd, nil
	}
}

// ReadFile returns the contents of the file at path.
func ReadFile(path string) ([]byte, error) {
	fd, err := open(path, 0)
	if err != nil {
		return nil, err
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, pathErr("stat", path, err)
	}
	if st.Mode&syscall.S_IFMT == syscall.S_IFDIR {
		return nil, pathErr("read", path, syscall.EISDIR)
	}
	size := int(st.Size)
	if size < 512 {
		size = 512
	}
	buf := make([]byte, 0, size+1)
	for {
		n, err := syscall.Read(fd, buf[len(buf):cap(buf)])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, pathErr("read", path, err)
		}
		if n == 0 {
			return buf, nil
		}
		buf = buf[:len(buf)+n]
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
	}
}

// Map maps the file at path read-only into memory. Small or special files
// (where mmap fails) are read instead. The mapping is never unmapped
// unless Unmap is called; callers keep it for the life of the process.
func Map(path string) (data []byte, mapped bool, err error) {
	fd, err := open(path, 0)
	if err != nil {
		return nil, false, err
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		syscall.Close(fd)
		return nil, false, pathErr("stat", path, err)
	}
	if st.Mode&syscall.S_IFMT == syscall.S_IFREG && st.Size > 0 && st.Size < 1<<31 {
		data, err := syscall.Mmap(fd, 0, int(st.Size), syscall.PROT_READ, syscall.MAP_PRIVATE)
		syscall.Close(fd)
		if err == nil {
			return data, true, nil
		}
	} else {
		syscall.Close(fd)
	}
	data, err = ReadFile(path)
	return data, false, err
}

// Unmap releases a mapping made by Map.
func Unmap(data []byte) error { return syscall.Munmap(data) }

// ReadDir lists a directory in the order the file system returns it (not
// sorted). notDir is true when path exists but is not a directory.
func ReadDir(path string) (ents []os.DirEntry, notDir bool, err error) {
	fd, err := open(path, syscall.O_DIRECTORY)
	if err != nil {
		if pe, ok := err.(*fs.PathError); ok && pe.Err == syscall.ENOTDIR {
			return nil, true, err
		}
		return nil, false, err
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	ents, err = f.ReadDir(-1)
	return ents, false, err
}
