package modfile

import (
	"testing"

	"github.com/modlab/modlab/kmod/compression"
)

// images returns the uncompressed test modules.
func images(f *testing.F) [][]byte {
	var out [][]byte
	for _, name := range []string{"modinfo_sample.ko", "xt_pkttype-6.1.ko", "modinfo_sample_signed.ko.xz", "em_u32-6.12.ko.xz"} {
		b, _, err := compression.Decompress(readTestdata(f, name))
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// FuzzParse feeds arbitrary bytes to the ELF and .modinfo reader and to
// everything a Module answers: none of it may panic.
func FuzzParse(f *testing.F) {
	for _, img := range images(f) {
		f.Add(img)
		f.Add(img[:len(img)/2])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse("fuzz.ko", data)
		if err != nil {
			if m != nil {
				t.Fatal("Parse returned a module and an error")
			}
			return
		}
		m.Name()
		m.Depends()
		m.Vermagic()
		m.Params()
		m.KmodInfo()
		m.Exports()
		m.Versions()
		if s, err := m.Signature(); err == nil && s != nil {
			FormatHex(s.Data)
		}
	})
}

// FuzzSignature feeds arbitrary trailers to the signature decoder,
// PKCS#7 included.
func FuzzSignature(f *testing.F) {
	for _, img := range images(f) {
		if len(img) > 1024 {
			f.Add(img[len(img)-1024:])
		}
	}
	f.Add([]byte("junksigner\x01\x02SIG\x01\x04\x01\x06\x02\x00\x00\x00\x00\x00\x00\x03" + SigMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSignature(data)
		if err != nil && s != nil {
			t.Fatal("ParseSignature returned a signature and an error")
		}
		if s != nil {
			s.KmodInfo()
		}
	})
}
