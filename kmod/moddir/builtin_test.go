package moddir

import "testing"

func FuzzBuiltinModinfo(f *testing.F) {
	f.Add([]byte("ext4.alias=fs-ext4\x00ext4.license=GPL\x00vfat.x=y\x00"), "ext4")
	f.Add([]byte("nodot\x00"), "a")
	f.Fuzz(func(t *testing.T, data []byte, name string) {
		parseBuiltinModinfo("fuzz", data, name)
	})
}
