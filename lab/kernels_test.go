package lab

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

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
}

// TestBootImage extracts the ELF vmlinux of every installed kernel: each
// must come out whole (the size the image announces) with a PVH entry.
func TestBootImage(t *testing.T) {
	ks, _ := Kernels("/")
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
}
