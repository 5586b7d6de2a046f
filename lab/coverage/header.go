package coverage

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// GCC's notes (.gcno) and data (.gcda) files start with a magic number,
// the version of the GCC that made them and a stamp that ties a data file
// to its notes file (gcc/gcov-io.h). Both are written in the byte order
// of the machine that made them.
const (
	magicNotes = 0x67636e6f // "gcno"
	magicData  = 0x67636461 // "gcda"
)

// header is the start of a notes or data file.
type header struct {
	data    bool   // a .gcda file (else .gcno)
	version uint32 // four characters, e.g. "B22*" for GCC 12.2
	stamp   uint32
}

// parseHeader reads the first 12 bytes of a notes or data file.
func parseHeader(b []byte) (header, error) {
	if len(b) < 12 {
		return header{}, errors.New("too short for a gcov header")
	}
	for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		var h header
		switch order.Uint32(b) {
		case magicNotes:
		case magicData:
			h.data = true
		default:
			continue
		}
		h.version = order.Uint32(b[4:])
		h.stamp = order.Uint32(b[8:])
		return h, nil
	}
	return header{}, fmt.Errorf("not a gcov notes or data file (magic %x)", b[:4])
}

// gccVersion is a GCC release's major and minor number.
type gccVersion struct{ major, minor int }

func (v gccVersion) String() string { return fmt.Sprintf("%d.%d", v.major, v.minor) }

// gcc decodes the header's version: "B22*" is 12.2 (a major number of two
// digits, the first written from 'A'), "408*" is 4.8 (GCC before 10:
// one digit, then two for the minor number).
func (h header) gcc() (gccVersion, error) {
	c := [3]byte{byte(h.version >> 24), byte(h.version >> 16), byte(h.version >> 8)}
	digit := func(b byte) bool { return '0' <= b && b <= '9' }
	switch {
	case 'A' <= c[0] && c[0] <= 'Z' && digit(c[1]) && digit(c[2]):
		return gccVersion{int(c[0]-'A')*10 + int(c[1]-'0'), int(c[2] - '0')}, nil
	case digit(c[0]) && digit(c[1]) && digit(c[2]):
		return gccVersion{int(c[0] - '0'), int(c[1]-'0')*10 + int(c[2]-'0')}, nil
	}
	return gccVersion{}, fmt.Errorf("unknown gcov version %q", c[:])
}
