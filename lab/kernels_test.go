package lab

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/modlab/modlab/kmod/compression"
	"github.com/modlab/modlab/kmod/modname"
)

func fakeKernelTree(t *testing.T, rels ...string) string {
	t.Helper()
	root := t.TempDir()
	for _, r := range rels {
		os.MkdirAll(filepath.Join(root, "boot"), 0o755)
		os.WriteFile(filepath.Join(root, "boot", "vmlinuz-"+r), []byte("x"), 0o644)
		os.MkdirAll(filepath.Join(root, "lib/modules", r, "build"), 0o755)
		os.WriteFile(filepath.Join(root, "lib/modules", r, "build", "Makefile"), nil, 0o644)
	}
	// An image without headers is not usable.
	os.WriteFile(filepath.Join(root, "boot", "vmlinuz-5.10.0-9-amd64"), []byte("x"), 0o644)
	return root
}

// fakeCacheKernel registers a built kernel in cache, with the files a
// record needs, and returns its record.
func fakeCacheKernel(t *testing.T, cache, key, rel string, built time.Time) KernelRecord {
	t.Helper()
	dir := filepath.Join(KernelsDir(cache), key)
	r := KernelRecord{
		Release: rel, Origin: OriginDebug,
		Image:         filepath.Join(dir, "vmlinuz-"+rel),
		ModDir:        filepath.Join(dir, "modules", "lib", "modules", rel),
		BuildDir:      filepath.Join(dir, "build"),
		SourcePackage: "linux-source-6.12", SourceVersion: "6.12.117-1~deb12u1",
		ConfigDigest: strings.Repeat("ab", 32), Built: built, BuildSeconds: 812,
		Log: filepath.Join(dir, "build.log"),
	}
	for _, d := range []string{r.ModDir, r.BuildDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(r.Image, []byte("x"), 0o644)
	os.WriteFile(filepath.Join(r.ModDir, "modules.dep"), nil, 0o644)
	os.WriteFile(filepath.Join(r.BuildDir, "Makefile"), nil, 0o644)
	if err := WriteKernelRecord(dir, r); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestKernelRecordRoundTrip(t *testing.T) {
	t.Parallel()
	cache := t.TempDir()
	want := fakeCacheKernel(t, cache, "k1", "6.12.117-modlab-debug", time.Date(2026, 11, 30, 1, 2, 3, 0, time.UTC))
	got, err := ReadKernelRecord(filepath.Join(KernelsDir(cache), "k1"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("read back %+v\nwant %+v", got, want)
	}
	b, _ := os.ReadFile(filepath.Join(KernelsDir(cache), "k1", KernelRecordFile))
	for _, field := range []string{`"release": "6.12.117-modlab-debug"`, `"origin": "modlab-debug"`, `"source_version": "6.12.117-1~deb12u1"`, `"config_digest": "abab`} {
		if !strings.Contains(string(b), field) {
			t.Errorf("%s lacks %s:\n%s", KernelRecordFile, field, b)
		}
	}
	k := got.Kernel()
	if k.Release != want.Release || k.Origin != OriginDebug || k.Vmlinuz != want.Image || k.ModDir != want.ModDir ||
		k.BuildDir != want.BuildDir || k.Source != "linux-source-6.12 6.12.117-1~deb12u1, config abababababab" {
		t.Errorf("Kernel() = %+v", k)
	}
}

// TestCachedKernels: only whole builds are kernels, and of two builds of
// one release the last one counts.
func TestCachedKernels(t *testing.T) {
	t.Parallel()
	cache := t.TempDir()
	old := fakeCacheKernel(t, cache, "old", "6.12.117-modlab-debug", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	cur := fakeCacheKernel(t, cache, "new", "6.12.117-modlab-debug", time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC))
	broken := fakeCacheKernel(t, cache, "broken", "6.12.118-modlab-debug", time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC))
	os.Remove(filepath.Join(broken.ModDir, "modules.dep"))
	os.MkdirAll(filepath.Join(KernelsDir(cache), "unfinished", "build"), 0o755)
	os.WriteFile(filepath.Join(KernelsDir(cache), "garbage", KernelRecordFile), []byte("{"), 0o644)
	ks, err := CachedKernels(cache)
	if err != nil {
		t.Fatal(err)
	}
	if len(ks) != 1 || ks[0].Vmlinuz != cur.Image {
		t.Errorf("CachedKernels = %+v, want only %s (not %s)", ks, cur.Image, old.Image)
	}
	if ks, err := CachedKernels(filepath.Join(cache, "none")); err != nil || len(ks) != 0 {
		t.Errorf("empty cache: %v, %v", ks, err)
	}
}

func TestKernelsAndSelect(t *testing.T) {
	t.Parallel()
	root := fakeKernelTree(t, "6.1.0-50-cloud-amd64", "6.12.95+deb12-cloud-amd64")
	ks, err := Kernels(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(ks) != 2 || ks[0].Release != "6.12.95+deb12-cloud-amd64" || ks[1].Release != "6.1.0-50-cloud-amd64" {
		t.Fatalf("Kernels = %+v, want 6.12 then 6.1", ks)
	}
	for _, tc := range []struct {
		spec string
		want []string
		err  bool
	}{
		{"all", []string{"6.12.95+deb12-cloud-amd64", "6.1.0-50-cloud-amd64"}, false},
		{"6.1", []string{"6.1.0-50-cloud-amd64"}, false},
		{"6.12", []string{"6.12.95+deb12-cloud-amd64"}, false},
		{"6.1.0-50-cloud-amd64", []string{"6.1.0-50-cloud-amd64"}, false},
		{"6.1,6.12", []string{"6.1.0-50-cloud-amd64", "6.12.95+deb12-cloud-amd64"}, false},
		{"5.10", nil, true},
		{"6", []string{"6.12.95+deb12-cloud-amd64", "6.1.0-50-cloud-amd64"}, false},
	} {
		got, err := Select(ks, tc.spec)
		if (err != nil) != tc.err {
			t.Errorf("Select(%q) error = %v", tc.spec, err)
			continue
		}
		var rels []string
		for _, k := range got {
			rels = append(rels, k.Release)
		}
		if len(rels) != len(tc.want) {
			t.Errorf("Select(%q) = %v, want %v", tc.spec, rels, tc.want)
			continue
		}
		for i := range rels {
			if rels[i] != tc.want[i] {
				t.Errorf("Select(%q) = %v, want %v", tc.spec, rels, tc.want)
			}
		}
	}
	if _, err := Select(nil, "all"); err == nil {
		t.Error("Select with no kernels gave no error")
	}
	if _, err := Select(ks, "debug"); err == nil || !strings.Contains(err.Error(), "modlab kernels build-debug") {
		t.Errorf("Select(debug) without a debug kernel: error %v", err)
	}
}

// TestSelectWithDebugKernel: Debian's kernels come first, then the cache's;
// "debug" and "all" reach the debug kernel, prefixes name Debian's kernels
// unless only the debug kernel matches.
func TestSelectWithDebugKernel(t *testing.T) {
	t.Parallel()
	root := fakeKernelTree(t, "6.1.0-50-cloud-amd64", "6.12.95+deb12-cloud-amd64")
	cache := t.TempDir()
	fakeCacheKernel(t, cache, "k", "6.12.117-modlab-debug", time.Now())
	ks, err := AllKernels(root, cache)
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, k := range ks {
		listed = append(listed, k.Release+"/"+k.Origin)
	}
	if want := "6.12.95+deb12-cloud-amd64/debian 6.1.0-50-cloud-amd64/debian 6.12.117-modlab-debug/modlab-debug"; strings.Join(listed, " ") != want {
		t.Fatalf("AllKernels = %v, want %s", listed, want)
	}
	for _, tc := range []struct {
		spec string
		want string
	}{
		{"all", "6.12.95+deb12-cloud-amd64 6.1.0-50-cloud-amd64 6.12.117-modlab-debug"},
		{"", "6.12.95+deb12-cloud-amd64 6.1.0-50-cloud-amd64 6.12.117-modlab-debug"},
		{"debug", "6.12.117-modlab-debug"},
		{"modlab-debug", "6.12.117-modlab-debug"},
		{"debian", "6.12.95+deb12-cloud-amd64 6.1.0-50-cloud-amd64"},
		{"6.12", "6.12.95+deb12-cloud-amd64"},
		{"6", "6.12.95+deb12-cloud-amd64 6.1.0-50-cloud-amd64"},
		{"6.12.117", "6.12.117-modlab-debug"},
		{"6.12.117-modlab-debug", "6.12.117-modlab-debug"},
		{"6.12,debug", "6.12.95+deb12-cloud-amd64 6.12.117-modlab-debug"},
		{"debug,6.12.117", "6.12.117-modlab-debug"},
		{"6.1,debug", "6.1.0-50-cloud-amd64 6.12.117-modlab-debug"},
	} {
		got, err := Select(ks, tc.spec)
		if err != nil {
			t.Errorf("Select(%q): %v", tc.spec, err)
			continue
		}
		var rels []string
		for _, k := range got {
			rels = append(rels, k.Release)
		}
		if strings.Join(rels, " ") != tc.want {
			t.Errorf("Select(%q) = %v, want %s", tc.spec, rels, tc.want)
		}
	}
	if _, err := Select(ks, "6.13"); err == nil || !strings.Contains(err.Error(), "6.12.117-modlab-debug") {
		t.Errorf("Select(6.13): error %v, want one that lists every kernel", err)
	}
}

// TestBootImage extracts the ELF vmlinux of every installed kernel, and of
// the debug kernel once built: each must come out whole (the size the
// image announces) with a PVH entry.
func TestBootImage(t *testing.T) {
	ks, _ := AllKernels("/", DefaultCacheDir(os.Getenv))
	if len(ks) == 0 {
		t.Skip("no kernel installed (run scripts/setup.sh)")
	}
	for _, k := range ks {
		img, err := ExtractVmlinux(k.Vmlinuz)
		if err != nil {
			t.Errorf("%s: %v", k.Release, err)
			continue
		}
		if !hasPVHNote(img) {
			t.Errorf("%s: the extracted vmlinux has no PVH note", k.Release)
		}
	}
	if _, err := ExtractVmlinux("/etc/passwd"); err == nil {
		t.Error("a text file extracted as a kernel")
	}
}

// TestBootModuleFiles resolves the work-disk drivers of every installed
// kernel: dependencies first, built-in ones left out, virtio_blk last.
// (The debug kernel has them built in: nothing to load.)
func TestBootModuleFiles(t *testing.T) {
	ks, _ := Kernels("/")
	if len(ks) == 0 {
		t.Skip("no kernel installed (run scripts/setup.sh)")
	}
	for _, k := range ks {
		mods, err := bootModuleFiles(k)
		if err != nil {
			t.Errorf("%s: %v", k.Release, err)
			continue
		}
		var names []string
		pos := map[string]int{}
		for i, m := range mods {
			n := modname.FromPath(m.guestPath)
			names = append(names, n)
			pos[n] = i
			if f, _ := compression.FormatOf(m.guestPath); f.Kind != compression.None || !strings.HasPrefix(m.guestPath, "/lib/modules/"+k.Release+"/kernel/") {
				t.Errorf("%s: guest path %s", k.Release, m.guestPath)
			}
		}
		if len(names) == 0 || names[len(names)-1] != "virtio_blk" {
			t.Errorf("%s: boot modules %v, want virtio_blk last", k.Release, names)
		}
		if p, ok := pos["virtio_pci"]; ok {
			if v, ok := pos["virtio"]; ok && v > p {
				t.Errorf("%s: virtio after virtio_pci: %v", k.Release, names)
			}
		}
		t.Logf("%s: %v", k.Release, names)
	}
	debug, _ := CachedKernels(DefaultCacheDir(os.Getenv))
	for _, k := range debug {
		if mods, err := bootModuleFiles(k); err != nil || len(mods) != 0 {
			t.Errorf("%s: boot modules %v, %v; want none (built in)", k.Release, mods, err)
		}
	}
}
