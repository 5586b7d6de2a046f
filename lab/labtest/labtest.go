// Package labtest is what the host-side tests that boot the lab share:
// the lab's own (lab/*_vm_test.go) and the examples' tests of their
// READMEs' commands. Setup skips a test, with the reason, on a machine
// that cannot boot the lab; Modlab builds the modlab binary from the tree.
package labtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/modlab/modlab/lab"
)

// Setup returns Debian's kernels installed on this machine (tests of one
// kernel use one of them; lab/debug_vm_test.go adds the debug kernel), the
// source root and the lab's cache directory. It skips the test in -short
// mode, without an installed kernel with headers, or without QEMU.
func Setup(t testing.TB) (kernels []lab.Kernel, root, cache string) {
	t.Helper()
	if testing.Short() {
		t.Skip("boots QEMU: not in -short mode")
	}
	ks, _ := lab.Kernels("/")
	if len(ks) == 0 {
		t.Skip("no kernel with headers installed: run scripts/setup.sh")
	}
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("qemu-system-x86_64 not installed: run scripts/setup.sh")
	}
	root, err := lab.FindSourceRoot(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	return ks, root, lab.DefaultCacheDir(os.Getenv)
}

// Modlab builds ./cmd/modlab of the tree at root, static, into the test's
// temporary directory, and returns the binary's path: a test of a command
// as a user types it runs it.
func Modlab(t testing.TB, root string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "modlab")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/modlab")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/modlab: %v\n%s", err, out)
	}
	return bin
}
