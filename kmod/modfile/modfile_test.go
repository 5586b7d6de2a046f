package modfile

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/modlab/modlab/kmod/compression"
)

// The test data (see testdata/README.md): modinfo_sample is built from
// testdata/modinfo_sample for 6.1 and stripped of debug information; the
// _signed files carry a signature by a throw-away key ("modlab test
// signing key", serial below). em_u32-6.12.ko.xz and xt_pkttype-6.1.ko
// are Debian's own modules.
const sampleSerial = "0E517AD693C9A0BFCBB3C725CB18FC8D46BA8DF1"

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func plainSample(t testing.TB) []byte { return readTestdata(t, "modinfo_sample.ko") }

func TestOpenSample(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		file   string
		comp   compression.Kind
		signed bool
	}{
		{"modinfo_sample.ko", compression.None, false},
		{"modinfo_sample.ko.gz", compression.Gzip, false},
		{"modinfo_sample_signed.ko.xz", compression.XZ, true},
		{"modinfo_sample_signed.ko.zst", compression.Zstd, true},
	} {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			m, err := Open(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if m.Compression != tc.comp {
				t.Errorf("Compression = %q, want %q", m.Compression, tc.comp)
			}
			if m.Class != elf.ELFCLASS64 || m.Machine != elf.EM_X86_64 {
				t.Errorf("Class, Machine = %v, %v", m.Class, m.Machine)
			}
			if err := m.CheckMachine(elf.EM_X86_64, elf.ELFCLASS64); err != nil {
				t.Error(err)
			}
			if got := m.Name(); got != "modinfo_sample" {
				t.Errorf("Name = %q", got)
			}
			// .modinfo keeps the linker's order: the last MODULE_* line of
			// the source comes first.
			info := m.Info()
			if len(info) == 0 || info[0] != (Info{"version", "1.2.3"}) {
				t.Errorf("first entry = %v, want version=1.2.3", info[:min(1, len(info))])
			}
			if got, want := m.Get("author"), []string{"A. N. Other <other@example.org>", "modlab"}; !reflect.DeepEqual(got, want) {
				t.Errorf("authors = %q, want %q", got, want)
			}
			if got := m.Get("empty"); !reflect.DeepEqual(got, []string{""}) {
				t.Errorf("empty = %q", got)
			}
			if got := m.Get("depends"); !reflect.DeepEqual(got, []string{""}) {
				t.Errorf("depends = %q, want one empty entry", got)
			}
			if d := m.Depends(); d != nil {
				t.Errorf("Depends = %q, want none", d)
			}
			if v := m.Vermagic(); !strings.HasPrefix(v, "6.1.0-50-cloud-amd64 SMP ") {
				t.Errorf("Vermagic = %q", v)
			}
			params, bad := m.Params()
			wantParams := []Param{
				{Name: "ghost", Description: "A description without a parameter", HasDesc: true},
				{Name: "quiet", Type: "ulong", HasType: true},
				{Name: "values", Description: "Up to four numbers", Type: "array of int", HasDesc: true, HasType: true},
				{Name: "verbose", Description: "Say more (default: off)", Type: "bool", HasDesc: true, HasType: true},
				{Name: "greeting", Description: "What to say", Type: "charp", HasDesc: true, HasType: true},
				{Name: "count", Description: "How many times to count", Type: "int", HasDesc: true, HasType: true},
			}
			if !reflect.DeepEqual(params, wantParams) {
				t.Errorf("Params =\n%+v\nwant\n%+v", params, wantParams)
			}
			if want := []Info{{"parm", "nocolon"}}; !reflect.DeepEqual(bad, want) {
				t.Errorf("bad params = %v, want %v", bad, want)
			}

			sig, err := m.Signature()
			if err != nil {
				t.Fatal(err)
			}
			if !tc.signed {
				if sig != nil {
					t.Errorf("unsigned module has signature %+v", sig)
				}
				if len(m.KmodInfo()) != len(info) {
					t.Errorf("KmodInfo adds entries to an unsigned module")
				}
			} else {
				if sig == nil {
					t.Fatal("no signature")
				}
				if sig.IDType != "PKCS#7" || sig.Signer != "modlab test signing key" || sig.HashAlgo != "sha256" || sig.Algo != "" {
					t.Errorf("signature = %+v", sig)
				}
				if got := strings.ToUpper(hex.EncodeToString(sig.KeyID)); got != sampleSerial {
					t.Errorf("KeyID = %s, want %s", got, sampleSerial)
				}
				if len(sig.Data) != 256 {
					t.Errorf("signature is %d bytes, want 256 (RSA 2048)", len(sig.Data))
				}
				ki := m.KmodInfo()
				tail := ki[len(ki)-5:]
				keys := []string{tail[0].Key, tail[1].Key, tail[2].Key, tail[3].Key, tail[4].Key}
				if !reflect.DeepEqual(keys, []string{"sig_id", "signer", "sig_key", "sig_hashalgo", "signature"}) {
					t.Errorf("signature keys = %q", keys)
				}
			}

			exports, err := m.Exports()
			if err != nil {
				t.Fatal(err)
			}
			// CRCs as Module.symvers of the build recorded them.
			wantExports := []Symbol{
				{Name: "modinfo_sample_gpl_only", CRC: 0x7e410ab6, GPL: true, Bind: BindLocal},
				{Name: "modinfo_sample_add", CRC: 0x613fcdf7, Bind: BindLocal},
			}
			sortByName(exports)
			sortByName(wantExports)
			if !reflect.DeepEqual(exports, wantExports) {
				t.Errorf("Exports = %+v, want %+v", exports, wantExports)
			}
			versions, err := m.Versions()
			if err != nil {
				t.Fatal(err)
			}
			// As kmod's modprobe --dump-modversions lists them.
			if len(versions) != 9 || versions[0] != (Symbol{Name: "__fentry__", CRC: 0xbdfb6dbb, Bind: BindUndef}) ||
				versions[2] != (Symbol{Name: "_printk", CRC: 0x92997ed8, Bind: BindUndef}) {
				t.Errorf("Versions = %+v", versions)
			}
		})
	}
}

func sortByName(s []Symbol) {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j].Name < s[i].Name {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
}

func TestDebianModules(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		file, name, depends, sigKey string
	}{
		{"em_u32-6.12.ko.xz", "em_u32", "", "41:90:55:45:10:D0:70:5A:D5:A8:B3:67:0B:C6:DA:55:71:CF:5C:31"},
		{"xt_pkttype-6.1.ko", "xt_pkttype", "x_tables", "0F:03:AA:1A:7A:5C:EA:CD:46:05:41:BA:84:27:7A:99:B3:91:ED:F0"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			m, err := Open(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if m.Name() != tc.name {
				t.Errorf("Name = %q, want %q", m.Name(), tc.name)
			}
			if got := strings.Join(m.Depends(), ","); got != tc.depends {
				t.Errorf("Depends = %q, want %q", got, tc.depends)
			}
			sig, err := m.Signature()
			if err != nil || sig == nil {
				t.Fatalf("Signature = %v, %v", sig, err)
			}
			if sig.Signer != "Build time autogenerated kernel key" || FormatHex(sig.KeyID) != tc.sigKey {
				t.Errorf("signer %q key %s", sig.Signer, FormatHex(sig.KeyID))
			}
		})
	}
}

func TestFormatHex(t *testing.T) {
	t.Parallel()
	seq := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i)
		}
		return b
	}
	for _, tc := range []struct {
		in   []byte
		want string
	}{
		{nil, ""},
		{[]byte{0xab}, "AB"},
		{[]byte{0, 0x0f, 0xf0}, "00:0F:F0"},
		{seq(20), "00:01:02:03:04:05:06:07:08:09:0A:0B:0C:0D:0E:0F:10:11:12:13"},
		{seq(21), "00:01:02:03:04:05:06:07:08:09:0A:0B:0C:0D:0E:0F:10:11:12:13:\n\t\t14"},
	} {
		if got := FormatHex(tc.in); got != tc.want {
			t.Errorf("FormatHex(% x) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// patch returns a copy of b with f applied.
func patch(b []byte, f func([]byte)) []byte {
	c := bytes.Clone(b)
	f(c)
	return c
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	ko := plainSample(t)
	xzData := readTestdata(t, "modinfo_sample_signed.ko.xz")
	zstData := readTestdata(t, "modinfo_sample_signed.ko.zst")
	gzData := readTestdata(t, "modinfo_sample.ko.gz")
	for _, tc := range []struct {
		name string
		data []byte
		want error  // wrapped sentinel, nil to check the text only
		text string // part of the message
	}{
		{"empty.ko", nil, ErrEmpty, "empty file"},
		{"text.ko", []byte("hello, world\n"), ErrNotELF, "not an ELF file"},
		{"magic-only.ko", []byte("\x7fELF"), ErrTruncated, "truncated ELF"},
		{"header-cut.ko", ko[:40], ErrTruncated, "truncated ELF"},
		{"sections-cut.ko", ko[:len(ko)-100], ErrTruncated, "truncated ELF"},
		{"bad-class.ko", patch(ko, func(b []byte) { b[elf.EI_CLASS] = 7 }), ErrCorrupt, "unknown ELF class 7"},
		{"bad-shentsize.ko", patch(ko, func(b []byte) { binary.LittleEndian.PutUint16(b[58:], 32) }), ErrCorrupt, "corrupt ELF"},
		{"no-modinfo.ko", patch(ko, func(b []byte) {
			i := bytes.Index(b, []byte(".modinfo\x00"))
			copy(b[i:], ".modinfX")
		}), ErrNoModinfo, "no .modinfo section"},
		{"bad.ko.xz", xzData[:len(xzData)/2], nil, "bad xz stream"},
		{"bad.ko.zst", zstData[:len(zstData)/2], nil, "bad zstd stream"},
		{"bad.ko.gz", gzData[:len(gzData)/2], nil, "bad gzip stream"},
		{"garbage.ko.xz", append([]byte{0xfd, '7', 'z', 'X', 'Z', 0}, bytes.Repeat([]byte{0x55}, 200)...), nil, "bad xz stream"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), tc.name)
			if err := os.WriteFile(path, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			m, err := Open(path)
			if err == nil {
				m.Close()
				t.Fatal("Open succeeded")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("error %q does not wrap %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.text) {
				t.Errorf("error %q should name %s and say %q", err, path, tc.text)
			}
		})
	}
}

func TestOtherMachine(t *testing.T) {
	t.Parallel()
	arm := patch(plainSample(t), func(b []byte) { binary.LittleEndian.PutUint16(b[18:], uint16(elf.EM_AARCH64)) })
	// Like kmod's modinfo, the information of a foreign module is readable.
	m, err := Parse("arm.ko", arm)
	if err != nil {
		t.Fatal(err)
	}
	if m.Name() != "modinfo_sample" {
		t.Errorf("Name = %q", m.Name())
	}
	err = m.CheckMachine(elf.EM_X86_64, elf.ELFCLASS64)
	if !errors.Is(err, ErrMachine) || !strings.Contains(err.Error(), "arm.ko") || !strings.Contains(err.Error(), "EM_AARCH64") {
		t.Errorf("CheckMachine = %v", err)
	}
}

func TestSignatureTrailer(t *testing.T) {
	t.Parallel()
	trailer := func(algo, hash, idType, signerLen, keyLen byte, sigLen uint32) []byte {
		b := []byte{algo, hash, idType, signerLen, keyLen, 0, 0, 0, 0, 0, 0, 0}
		binary.BigEndian.PutUint32(b[8:], sigLen)
		return append(b, SigMagic...)
	}
	x509 := append([]byte("junk"), "signer"+"\x01\x02"+"SIG"...)
	x509 = append(x509, trailer(1, 4, 1, 6, 2, 3)...)
	for _, tc := range []struct {
		name    string
		data    []byte
		want    *Signature
		wantErr string
	}{
		{"unsigned", []byte("just a module"), nil, ""},
		{"x509", x509, &Signature{Algo: "RSA", IDType: "X509", Signer: "signer", KeyID: []byte{1, 2}, HashAlgo: "sha256", Data: []byte("SIG")}, ""},
		{"short", []byte(SigMagic), nil, "no room"},
		{"bad-hash", append([]byte("xxxx"), trailer(1, 99, 2, 0, 0, 1)...), nil, "unknown hash"},
		{"empty-sig", append([]byte("xxxx"), trailer(1, 4, 2, 0, 0, 0)...), nil, "empty signature"},
		{"too-long", append([]byte("xxxx"), trailer(1, 4, 2, 0, 0, 100)...), nil, "need 100 bytes"},
		{"pkcs7-garbage", append([]byte("xxxx"), trailer(1, 4, 2, 0, 0, 4)...), nil, "PKCS#7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseSignature(tc.data)
			if tc.wantErr != "" {
				if err == nil || !errors.Is(err, ErrBadSignature) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestSplitModinfo(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want []Info
	}{
		{"", nil},
		{"\x00\x00\x00", nil},
		{"a", nil}, // kmod ignores a one-byte section
		{"\x00\x00a", nil},
		{"a=1\x00b\x00\x00\x00c=x=y", []Info{{"a", "1"}, {"b", ""}, {"c", "x=y"}}},
		{"\x00license=GPL\x00", []Info{{"license", "GPL"}}},
	} {
		if got := splitModinfo([]byte(tc.in)); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("splitModinfo(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// TestTaintsProprietary: the kernel's rule for taint P, on the first
// "license" entry only.
func TestTaintsProprietary(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		info []Info
		want bool
	}{
		{[]Info{{"license", "GPL"}}, false},
		{[]Info{{"license", "GPL v2"}}, false},
		{[]Info{{"license", "Dual MIT/GPL"}}, false},
		{[]Info{{"license", "GPL and additional rights"}}, false},
		{[]Info{{"license", "Proprietary"}}, true},
		{[]Info{{"license", "gpl"}}, true}, // the kernel compares exactly
		{[]Info{{"license", "GPLv2"}}, true},
		{nil, true}, // no licence: "unspecified"
		{[]Info{{"license", "Proprietary"}, {"license", "GPL"}}, true},
		{[]Info{{"license", "GPL"}, {"license", "Proprietary"}}, false},
	} {
		m := &Module{info: tc.info}
		if got := m.TaintsProprietary(); got != tc.want {
			t.Errorf("TaintsProprietary(%v) = %v, want %v", tc.info, got, tc.want)
		}
	}
	// A real module: the sample is GPL.
	m, err := Parse("modinfo_sample.ko", plainSample(t))
	if err != nil {
		t.Fatal(err)
	}
	if m.TaintsProprietary() {
		t.Errorf("modinfo_sample.ko (license %q) taints P", m.Get("license"))
	}
}
