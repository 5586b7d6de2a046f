package modfile

import (
	"io"
	"os"

	"github.com/modlab/modlab/kmod/loader"
)

// decompress returns the plain image of a compressed module file, and
// whether it is a recycled buffer (see freeImages) that Close may recycle
// again.
func decompress(c loader.Compression, f *os.File, size int64) ([]byte, bool, error) {
	if c == loader.XZ {
		buf := getImage(int(size))
		defer putImage(buf)
		n, err := f.ReadAt(buf, 0)
		if err != nil && err != io.EOF {
			return nil, false, err
		}
		return decodeXZ(buf[:n])
	}
	img, err := loader.Decompress(c, io.NewSectionReader(f, 0, size))
	return img, false, err
}

// freeImages recycles the buffers of compressed files and decompressed
// images: modinfo over a kernel's modules otherwise hands the garbage
// collector a hundred megabytes to sweep. It holds a few buffers of at
// most maxFreeImage bytes, so what it keeps stays small.
var freeImages = make(chan []byte, 8)

const maxFreeImage = 4 << 20

func getImage(n int) []byte {
	select {
	case b := <-freeImages:
		if cap(b) >= n {
			return b[:n]
		}
	default:
	}
	return make([]byte, n)
}

func putImage(b []byte) {
	if cap(b) > maxFreeImage {
		return
	}
	select {
	case freeImages <- b:
	default:
	}
}
