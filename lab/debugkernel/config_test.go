package debugkernel

import (
	"bytes"
	"strings"
	"testing"
)

// A fake .config as `make x86_64_defconfig kvm_guest.config` leaves it:
// some of the fragment's options on, some off, some absent.
const fakeBase = `#
# Automatically generated file; DO NOT EDIT.
# Linux/x86 6.12.117 Kernel Configuration
#
CONFIG_LOCALVERSION=""
CONFIG_LOCALVERSION_AUTO=y
CONFIG_MODULES=y
# CONFIG_KASAN is not set
CONFIG_DRM=y
CONFIG_DRM_I915=y
CONFIG_WERROR=y
CONFIG_FRAME_WARN=2048
`

func settings(t *testing.T, s string) []Setting {
	t.Helper()
	out, err := ParseConfig(strings.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestMergeReplacesEveryLineOfTheFragmentsNames(t *testing.T) {
	frag := settings(t, `# a comment
CONFIG_KASAN=y
# CONFIG_DRM is not set
CONFIG_LOCALVERSION="-modlab-debug"
# CONFIG_LOCALVERSION_AUTO is not set
CONFIG_NEW_ONE=y
`)
	merged := string(Merge([]byte(fakeBase), frag))
	for _, gone := range []string{"# CONFIG_KASAN is not set\n", "CONFIG_DRM=y\n", "CONFIG_LOCALVERSION=\"\"\n", "CONFIG_LOCALVERSION_AUTO=y\n"} {
		if strings.Contains(merged, gone) {
			t.Errorf("merged config still has %q:\n%s", gone, merged)
		}
	}
	for _, kept := range []string{"CONFIG_DRM_I915=y\n", "CONFIG_WERROR=y\n", "CONFIG_FRAME_WARN=2048\n", "# Linux/x86 6.12.117 Kernel Configuration\n"} {
		if !strings.Contains(merged, kept) {
			t.Errorf("merged config lost %q", kept)
		}
	}
	got := settings(t, merged)
	if bad := Verify(got, frag); len(bad) != 0 {
		t.Errorf("Verify of the merged config: %v", bad)
	}
	// Merging twice changes nothing more.
	if again := string(Merge([]byte(merged), frag)); strings.Count(again, "CONFIG_KASAN=y") != 1 {
		t.Errorf("second merge:\n%s", again)
	}
}

// TestVerifyNamesWhatOlddefconfigDropped: olddefconfig turns off an option
// whose dependency is off; Verify lists each such option with what it got.
func TestVerifyNamesWhatOlddefconfigDropped(t *testing.T) {
	frag := settings(t, `CONFIG_KASAN=y
CONFIG_KASAN_INLINE=y
CONFIG_LOCALVERSION="-modlab-debug"
# CONFIG_DRM is not set
# CONFIG_MODULE_SIG_FORCE is not set
CONFIG_GCOV_KERNEL=y
CONFIG_FRAME_WARN=2048
`)
	final := settings(t, `CONFIG_KASAN=y
# CONFIG_KASAN_INLINE is not set
CONFIG_KASAN_OUTLINE=y
CONFIG_LOCALVERSION="-other"
CONFIG_DRM=m
CONFIG_FRAME_WARN=1024
`)
	var got []string
	for _, m := range Verify(final, frag) {
		got = append(got, m.String())
	}
	want := []string{
		"CONFIG_KASAN_INLINE: asked y, got n",
		`CONFIG_LOCALVERSION: asked "-modlab-debug", got "-other"`,
		"CONFIG_DRM: asked n, got m",
		"CONFIG_GCOV_KERNEL: asked y, got n", // absent: its dependency is off
		"CONFIG_FRAME_WARN: asked 2048, got 1024",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Verify:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestParseConfig(t *testing.T) {
	got := settings(t, "CONFIG_A=y\n\n# plain comment\n# CONFIG_B is not set\nCONFIG_A=m\nCONFIG_S=\"x y\"\n")
	want := []Setting{{"A", "m"}, {"B", "n"}, {"S", `"x y"`}}
	if len(got) != len(want) {
		t.Fatalf("ParseConfig = %v, want %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("setting %d = %v, want %v", i, got[i], want[i])
		}
	}
	if _, err := ParseConfig(strings.NewReader("CONFIG_A=y\nKASAN=y\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("a line that is no setting: error %v", err)
	}
}

// TestFragment checks the repository's fragment asks for what the lab and
// the issue need, and for what it must not have.
func TestFragment(t *testing.T) {
	frag := settings(t, Fragment)
	have := map[string]string{}
	for _, s := range frag {
		have[s.Name] = s.Value
	}
	for _, on := range []string{"MODULES", "MODULE_UNLOAD", "DEVTMPFS", "DEVTMPFS_MOUNT", "VIRTIO_PCI",
		"VIRTIO_BLK", "VIRTIO_CONSOLE", "SERIAL_8250", "SERIAL_8250_CONSOLE", "BLK_DEV_INITRD", "PVH",
		"IKCONFIG_PROC", "KPROBES", "FTRACE", "FUNCTION_TRACER", "DEBUG_FS", "KALLSYMS_ALL",
		"KASAN", "KASAN_GENERIC", "KASAN_INLINE", "PROVE_LOCKING", "DEBUG_ATOMIC_SLEEP",
		"DEBUG_KMEMLEAK", "UBSAN", "DEBUG_LIST", "GCOV_KERNEL", "DEBUG_INFO_DWARF_TOOLCHAIN_DEFAULT"} {
		if have[on] != "y" {
			t.Errorf("debug.config: CONFIG_%s = %q, want y", on, have[on])
		}
	}
	for _, off := range []string{"DEBUG_INFO_BTF", "DRM", "SOUND", "WLAN", "USB_SUPPORT", "WIRELESS",
		"MODULE_SIG_FORCE", "GCOV_PROFILE_ALL", "LOCALVERSION_AUTO", "DEBUG_KMEMLEAK_AUTO_SCAN", "WERROR"} {
		if have[off] != "n" {
			t.Errorf("debug.config: CONFIG_%s = %q, want not set", off, have[off])
		}
	}
	if have["LOCALVERSION"] != `"-modlab-debug"` {
		t.Errorf("debug.config: LOCALVERSION = %s", have["LOCALVERSION"])
	}
}

func TestKeyAndDigest(t *testing.T) {
	d := ConfigDigest(Fragment)
	if len(d) != 64 || d != ConfigDigest(Fragment) {
		t.Fatalf("ConfigDigest = %q: not a stable SHA-256", d)
	}
	if ConfigDigest(Fragment+"CONFIG_X=y\n") == d {
		t.Error("a changed fragment has the same digest")
	}
	k := Key("6.12.117-1~deb12u1", d)
	if k != "6.12.117-1_deb12u1-"+d[:12] {
		t.Errorf("Key = %q", k)
	}
	if Key("6.12.118-1~deb12u1", d) == k {
		t.Error("another source version has the same key")
	}
	if strings.ContainsAny(Key("../../x y/z", d), "/ ") {
		t.Errorf("Key keeps path characters: %q", Key("../../x y/z", d))
	}
}

// FuzzParseConfig: whatever ParseConfig accepts, Merge and ParseConfig
// read back with the fragment's values.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(fakeBase), []byte("CONFIG_KASAN=y\n# CONFIG_DRM is not set\n"))
	f.Add([]byte("CONFIG_A=\"\"\n"), []byte("CONFIG_A=\"x\"\n"))
	f.Fuzz(func(t *testing.T, base, frag []byte) {
		if _, err := ParseConfig(bytes.NewReader(base)); err != nil {
			return
		}
		fr, err := ParseConfig(bytes.NewReader(frag))
		if err != nil {
			return
		}
		merged, err := ParseConfig(bytes.NewReader(Merge(base, fr)))
		if err != nil {
			t.Fatalf("the merged config does not parse: %v", err)
		}
		if bad := Verify(merged, fr); len(bad) != 0 {
			t.Fatalf("merged config misses the fragment: %v", bad)
		}
	})
}
