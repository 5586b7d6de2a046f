package cli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var depmodOutputs = []string{
	"modules.dep", "modules.dep.bin", "modules.alias", "modules.alias.bin", "modules.softdep",
	"modules.symbols", "modules.symbols.bin", "modules.builtin.bin", "modules.builtin.alias.bin", "modules.devname",
}

// copyTree makes root/lib/modules/rel a copy of a real module directory:
// the kernel's own files copied, the module tree linked.
func copyTree(t *testing.T, rel string) string {
	t.Helper()
	root := t.TempDir()
	src := filepath.Join("/lib/modules", rel)
	dst := filepath.Join(root, "lib", "modules", rel)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"modules.order", "modules.builtin", "modules.builtin.modinfo"} {
		data, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(src, "kernel"), filepath.Join(dst, "kernel")); err != nil {
		t.Fatal(err)
	}
	return root
}

// TestDepmodMatchesDebian runs Debian's depmod and ours on copies of each
// installed kernel's tree and compares every file they write, byte for
// byte; then it asks kmod's own modprobe, for every module name, what it
// would load with our indexes and with Debian's.
func TestDepmodMatchesDebian(t *testing.T) {
	kdepmod := kmodTool(t, "depmod")
	kmodprobe := kmodTool(t, "modprobe")
	for _, rel := range installedReleases(t) {
		t.Run(rel, func(t *testing.T) {
			t.Parallel()
			if testing.Short() && strings.Contains(rel, "6.12") {
				t.Skip("-short: the .ko.xz tree takes ~10 s to index")
			}
			deb, ours := copyTree(t, rel), copyTree(t, rel)
			if out, err := exec.Command(kdepmod, "-b", deb, rel).CombinedOutput(); err != nil {
				t.Fatalf("Debian's depmod: %v\n%s", err, out)
			}
			if _, stderr, code := runModlab(runDepmod, []string{"-b", ours, rel}); code != 0 || stderr != "" {
				t.Fatalf("depmod: exit %d\n%s", code, stderr)
			}
			for _, f := range depmodOutputs {
				a, err1 := os.ReadFile(filepath.Join(deb, "lib/modules", rel, f))
				b, err2 := os.ReadFile(filepath.Join(ours, "lib/modules", rel, f))
				if err1 != nil || err2 != nil {
					t.Fatalf("%s: %v, %v", f, err1, err2)
				}
				if !bytes.Equal(a, b) {
					t.Errorf("%s differs from Debian's (%d bytes, Debian %d)", f, len(b), len(a))
				}
			}
			names := moduleNames(t, filepath.Join("/lib/modules", rel))
			names = append(names, "fs-ext4", "crypto-md5", "symbol:crc32c", "net-pf-10")
			var argsOurs, argsDeb [][]string
			for _, n := range names {
				argsOurs = append(argsOurs, []string{"-d", ours, "-S", rel, "-D", n})
				argsDeb = append(argsDeb, []string{"-d", deb, "-S", rel, "-D", n})
			}
			gotOurs, codesOurs := runKmodParallel(t, kmodprobe, argsOurs)
			gotDeb, codesDeb := runKmodParallel(t, kmodprobe, argsDeb)
			bad := 0
			for i, n := range names {
				a := strings.ReplaceAll(gotOurs[i], ours, "ROOT")
				b := strings.ReplaceAll(gotDeb[i], deb, "ROOT")
				if a != b || codesOurs[i] != codesDeb[i] {
					if bad++; bad <= 5 {
						t.Errorf("kmod modprobe -D %s: with our indexes:\n%s(exit %d)\nwith Debian's:\n%s(exit %d)", n, a, codesOurs[i], b, codesDeb[i])
					}
				}
			}
			if bad == 0 {
				t.Logf("%d names: kmod's modprobe answers the same with our indexes", len(names))
			}
		})
	}
}

// TestDepmodShowMatchesDebian compares "depmod -n" on the installed trees.
func TestDepmodShowMatchesDebian(t *testing.T) {
	kdepmod := kmodTool(t, "depmod")
	for _, rel := range installedReleases(t) {
		t.Run(rel, func(t *testing.T) {
			t.Parallel()
			if testing.Short() && strings.Contains(rel, "6.12") {
				t.Skip("-short: the .ko.xz tree takes ~10 s to index")
			}
			want, err := exec.Command(kdepmod, "-n", rel).Output()
			if err != nil {
				t.Fatal(err)
			}
			got, stderr, code := runModlab(runDepmod, []string{"-n", rel})
			if code != 0 || got != string(want) {
				t.Errorf("depmod -n %s: exit %d, %d bytes (Debian %d)\n%s", rel, code, len(got), len(want), stderr)
			}
		})
	}
}

// TestDepmodCLIErrors checks the errors a user sees.
func TestDepmodCLIErrors(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-b", root, "notaversion"}, "depmod: ERROR: Bad version passed notaversion\n"},
		{[]string{"-b", root, "1.2.3"}, "depmod: FATAL: could not open directory " + root + "/lib/modules/1.2.3"},
		{[]string{"-P", "ab", "1.2"}, "depmod: FATAL: -P only takes a single char\n"},
	} {
		_, stderr, code := runModlab(runDepmod, tc.args)
		if code != 1 || !strings.HasPrefix(stderr, tc.want) {
			t.Errorf("depmod %q: exit %d, stderr %q; want exit 1 and %q", tc.args, code, stderr, tc.want)
		}
	}
}
