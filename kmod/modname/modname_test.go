package modname

import "testing"

func TestNormalize(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"snd-hda-intel", "snd_hda_intel"},
		{"snd_hda_intel", "snd_hda_intel"},
		{"hello-5.ko", "hello_5"},
		{"a-b.c.ko.xz", "a_b"},
		{"", ""},
	} {
		if got := Normalize(tc.in); got != tc.want {
			t.Errorf("Normalize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFromPath(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"/lib/modules/x/kernel/fs/ext4.ko.xz", "ext4"},
		{"snd-hda-intel.ko", "snd_hda_intel"},
		{"dir.with.dots/a-b.c.ko", "a_b"},
		{"/some/dir/export-user.ko.zst", "export_user"},
		{"kernel/drivers/tty/serial/8250/8250.ko", "8250"},
		{"hello-5", "hello_5"},
	} {
		if got := FromPath(tc.in); got != tc.want {
			t.Errorf("FromPath(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestNormalizeAlias(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"pci:v00008086d*sv*", "pci:v00008086d*sv*", true},
		{"fs-ext4", "fs_ext4", true},
		{"usb:v*p[0-9a-f]*-x", "usb:v*p[0-9a-f]*_x", true},
		{"bad]name", "", false},
		{"bad[name", "", false},
	} {
		got, err := NormalizeAlias(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("NormalizeAlias(%q) = %q, %v; want %q, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}
