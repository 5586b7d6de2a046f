package depmod

import (
	"strings"
	"testing"
)

func TestBuiltinAliases(t *testing.T) {
	t.Parallel()
	data := "ext4.alias=fs-ext4\x00ext4.license=GPL\x00vfat.alias=fs-vfat\x00bad\x00x.alias=a]b\x00crc.alias=crc-[0-9]\x00"
	var warnings []string
	got := builtinAliases([]byte(data), func(f string, a ...any) { warnings = append(warnings, f) })
	want := [][2]string{{"fs_ext4", "ext4"}, {"fs_vfat", "vfat"}, {"crc_[0-9]", "crc"}}
	if len(got) != len(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("pair %d = %q, want %q", i, got[i], want[i])
		}
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "Unmatched bracket") {
		t.Errorf("warnings = %q", warnings)
	}
}

func FuzzBuiltinAliases(f *testing.F) {
	f.Add([]byte("ext4.alias=fs-ext4\x00ext4.license=GPL\x00"))
	f.Add([]byte("a.b\x00.=\x00x.alias=[\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		builtinAliases(data, func(string, ...any) {})
	})
}

func FuzzScanMajorMinor(f *testing.F) {
	f.Add("char-major-10-200")
	f.Add("block-major-7-*")
	f.Fuzz(func(t *testing.T, s string) {
		scanMajorMinor(s, "char-major-")
	})
}
