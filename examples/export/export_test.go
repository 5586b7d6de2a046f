//go:build modlab_guest

// Package export_test checks, inside the lab's VM, what a user sees when
// one module uses a symbol another exports: the call works, /proc/kallsyms
// lists the exported symbols under the provider's name, lsmod shows the
// user as the provider's holder, rmmod of the provider fails while the user
// is loaded, and both unload in the right order. It also runs modlab's own
// insmod, rmmod, lsmod and dmesg (internal/cli) against the real kernel:
// parameters, a bad module file, an unknown symbol. `modlab test export`
// runs it.
//
// The tests do not run in parallel: they share one kernel, and a module
// can only be loaded once at a time.
package export_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
	"golang.org/x/sys/unix"

	"github.com/modlab/modlab/internal/cli"
	"github.com/modlab/modlab/kmod/kallsyms"
	"github.com/modlab/modlab/kmod/loaded"
	"github.com/modlab/modlab/kmod/loader"
	"github.com/modlab/modlab/lab/guesttest"
)

// run runs one of modlab's commands on the real system and returns what it
// printed and its exit status.
func run(argv ...string) (stdout, stderr string, code int) { return runIn("/", argv...) }

// runIn runs modlab with the files of the system under root.
func runIn(root string, argv ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	env := &cli.Env{Root: root, Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: os.Getenv}
	code = cli.Main(env, append([]string{"modlab"}, argv...))
	return out.String(), errb.String(), code
}

// kallsymsSnapshot copies /proc/kallsyms, as it is now, to ROOT/proc/kallsyms
// in a new folder ROOT, and returns ROOT.
func kallsymsSnapshot(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/kallsyms")
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "proc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "proc", "kallsyms"), b, 0o444); err != nil {
		t.Fatal(err)
	}
	return root
}

var sys = loaded.Root("/")

func TestExportedSymbolAndHolder(t *testing.T) {
	log := guesttest.KernelLog(t)
	prov := guesttest.Load(t, "export-provider", "bias=10")
	if got := prov.Param(t, "bias"); got != "10" {
		t.Errorf("bias = %q, want 10", got)
	}
	user := guesttest.Load(t, "export-user", "a=2", "b=3")

	// The user's init called the provider: 2 + 3 + bias 10, first call.
	log.Want(t,
		"export_provider: loaded: exporting export_provider_add and export_provider_calls (bias=10)",
		"export_user: export_provider_add(2, 3) = 15 (call 1)")

	// /proc/kallsyms lists the exports under the provider's name, with
	// their __ksymtab_ entries (module symbols print in lower case even
	// when exported).
	//
	// The table is read from /proc once, and the library and the command
	// both look at that copy: a read of /proc/kallsyms takes 2.7 s on the
	// debug kernel under TCG.
	snap := kallsymsSnapshot(t)
	tab, err := kallsyms.Load(filepath.Join(snap, "proc"))
	if err != nil {
		t.Fatal(err)
	}
	for name, types := range map[string]string{"export_provider_add": "tT", "export_provider_calls": "bBdD"} {
		syms := tab.Lookup("export_provider:" + name)
		if len(syms) != 1 || !strings.ContainsRune(types, rune(syms[0].Type)) || !tab.Exported(syms[0]) {
			t.Errorf("kallsyms for %s: %v, want one exported symbol of type [%s] in [export_provider]", name, syms, types)
		}
	}
	if syms := tab.Lookup("export_provider:export_provider_init"); len(syms) != 0 {
		t.Errorf("kallsyms still lists the init function after init: %v", syms)
	}
	if add := tab.Lookup("export_provider_add"); len(add) == 1 && !tab.Hidden() {
		loc, ok := tab.Addr(add[0].Addr + 4)
		if !ok || loc.Symbol.Name != "export_provider_add" || loc.Offset != 4 || loc.Symbol.Module != "export_provider" {
			t.Errorf("address export_provider_add+4 resolves to %v", loc)
		}
		out, errOut, code := runIn(snap, "kallsyms", fmt.Sprintf("%#x", add[0].Addr))
		if code != 0 || !strings.HasPrefix(out, "export_provider_add+0x0/0x") || !strings.HasSuffix(out, " [export_provider]\n") {
			t.Errorf("modlab kallsyms ADDR: exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	}

	// The kernel records the user as holder of the provider.
	if _, err := os.Lstat("/sys/module/export_provider/holders/export_user"); err != nil {
		t.Errorf("holder link: %v", err)
	}
	if h, err := sys.Holders("export_provider"); err != nil || !slices.Equal(h, []string{"export_user"}) {
		t.Errorf("holders of export_provider = %q, %v", h, err)
	}
	if n, err := sys.Refcnt("export_provider"); n != 1 || err != nil {
		t.Errorf("refcnt of export_provider = %d, %v; want 1", n, err)
	}
	mods, err := sys.Modules()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mods {
		if m.Name == "export_provider" && (!slices.Equal(m.UsedBy, []string{"export_user"}) || m.State != "Live" || !strings.Contains(m.Taints, "O")) {
			t.Errorf("/proc/modules line of export_provider: %+v", m)
		}
	}

	// lsmod, through the library and through the command, in kmod's
	// format: "%-19s %8ld  %d holders".
	out, errOut, code := run("lsmod")
	if code != 0 || errOut != "" || !strings.HasPrefix(out, loaded.LsmodHeader+"\n") {
		t.Fatalf("lsmod: exit %d, stderr %q, output %q", code, errOut, out)
	}
	if !regexp.MustCompile(`(?m)^export_provider     [ \d]{8}  1 export_user$`).MatchString(out) {
		t.Errorf("lsmod lacks the line \"export_provider <size>  1 export_user\":\n%s", out)
	}
	if !regexp.MustCompile(`(?m)^export_user         [ \d]{8}  0$`).MatchString(out) {
		t.Errorf("lsmod lacks the line \"export_user <size>  0\":\n%s", out)
	}

	// rmmod of the provider fails and names the holder; so does the
	// kernel when asked directly.
	_, errOut, code = run("rmmod", "export_provider")
	if code != 1 || errOut != "rmmod: ERROR: Module export_provider is in use by: export_user\n" {
		t.Errorf("rmmod export_provider: exit %d, stderr %q", code, errOut)
	}
	if err := prov.TryUnload(); !errors.Is(err, unix.EWOULDBLOCK) {
		t.Errorf("delete_module(export_provider) = %v, want EWOULDBLOCK", err)
	}
	if !prov.Loaded() {
		t.Fatal("export_provider went away while in use")
	}

	// In the right order both go: the user first, then the provider.
	user.Unload(t)
	if h, _ := sys.Holders("export_provider"); len(h) != 0 {
		t.Errorf("holders after the user left: %q", h)
	}
	_, errOut, code = run("rmmod", "export_provider")
	if code != 0 || errOut != "" {
		t.Errorf("rmmod export_provider after the user: exit %d, stderr %q", code, errOut)
	}
	log.Want(t, "export_user: unloaded", "export_provider: unloaded after 1 calls")
	if prov.Loaded() {
		t.Error("export_provider is still loaded")
	}
	_, errOut, code = run("rmmod", "export_provider")
	if code != 1 || errOut != "rmmod: ERROR: Module export_provider is not currently loaded\n" {
		t.Errorf("second rmmod: exit %d, stderr %q", code, errOut)
	}
	log.Clean(t)
}

// TestUserNeedsProvider: without the provider the user's symbol cannot be
// resolved; the kernel names it.
func TestUserNeedsProvider(t *testing.T) {
	log := guesttest.KernelLog(t)
	err := guesttest.TryLoad(t, "export-user")
	if !errors.Is(err, unix.ENOENT) {
		t.Fatalf("loading export-user alone: %v, want ENOENT", err)
	}
	log.Want(t, "export_user: Unknown symbol export_provider_add")
	_, errOut, code := run("insmod", guesttest.ModulePath(t, "export-user"))
	if code != 1 || !strings.Contains(errOut, ": Unknown symbol in module\n") ||
		!strings.Contains(errOut, "insmod: HINT: kernel log: export_user: Unknown symbol export_provider_add") {
		t.Errorf("modlab insmod export-user: exit %d, stderr:\n%s", code, errOut)
	}
}

// TestInsmod runs modlab's insmod: parameters, bad values, a module
// loaded twice, files that are no module.
func TestInsmod(t *testing.T) {
	ko := guesttest.ModulePath(t, "export-provider")
	unload := func() {
		if err := (&loader.Loader{}).Unload("export_provider", 0); err != nil {
			t.Fatalf("unload: %v", err)
		}
	}

	log := guesttest.KernelLog(t)
	if _, errOut, code := run("insmod", ko, "bias=-4"); code != 0 {
		t.Fatalf("insmod %s bias=-4: exit %d, stderr %q", ko, code, errOut)
	}
	if b := strings.TrimSpace(guesttest.ReadFile(t, "/sys/module/export_provider/parameters/bias")); b != "-4" {
		t.Errorf("bias = %q, want -4", b)
	}
	log.Want(t, "export_provider: loaded: exporting export_provider_add and export_provider_calls (bias=-4)")

	_, errOut, code := run("insmod", ko)
	if code != 1 || !strings.HasPrefix(errOut, "insmod: ERROR: could not insert module "+ko+": File exists\n") {
		t.Errorf("second insmod: exit %d, stderr %q", code, errOut)
	}
	unload()

	// A value the parameter's type cannot take: EINVAL, and the kernel
	// says which parameter.
	_, errOut, code = run("insmod", ko, "bias=lots")
	if code != 1 || !strings.HasPrefix(errOut, "insmod: ERROR: could not insert module "+ko+": Invalid parameters\n") ||
		!strings.Contains(errOut, "HINT: kernel log: export_provider: ") {
		t.Errorf("insmod bias=lots: exit %d, stderr %q", code, errOut)
	}
	// An unknown parameter is ignored with a warning; the load succeeds.
	log = guesttest.KernelLog(t)
	if _, errOut, code := run("insmod", ko, "nosuch=1"); code != 0 {
		t.Errorf("insmod nosuch=1: exit %d, stderr %q", code, errOut)
	} else {
		log.Want(t, "export_provider: unknown parameter 'nosuch' ignored")
		unload()
	}

	// Files that are no module: ENOEXEC, "Invalid module format".
	img, err := os.ReadFile(ko)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bad := map[string][]byte{
		"garbage.ko":   []byte("this is not an ELF file at all, just text\n"),
		"truncated.ko": img[:len(img)/3],
		"badmagic.ko":  append([]byte("\x7fELG"), img[4:]...),
	}
	for name, b := range bad {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		err := (&loader.Loader{}).LoadFile(p, "")
		if !errors.Is(err, unix.ENOEXEC) {
			t.Errorf("loading %s: %v, want ENOEXEC", name, err)
		}
		_, errOut, code := run("insmod", p)
		if code != 1 || !strings.HasPrefix(errOut, "insmod: ERROR: could not insert module "+p+": Invalid module format\n") {
			t.Errorf("insmod %s: exit %d, stderr %q", name, code, errOut)
		}
	}
}

// TestDmesgAndSysfsOrder: modlab's dmesg shows the module's line as
// util-linux's would, and the kernfs order modlab predicts for holders is
// the order this kernel's sysfs really has.
func TestDmesgAndSysfsOrder(t *testing.T) {
	guesttest.Load(t, "export-provider", "bias=1")
	out, errOut, code := run("dmesg", "-x", "-l", "info")
	if code != 0 || errOut != "" {
		t.Fatalf("dmesg: exit %d, stderr %q", code, errOut)
	}
	re := regexp.MustCompile(`(?m)^kern  :info  : \[ *\d+\.\d{6}\] export_provider: loaded: exporting export_provider_add and export_provider_calls \(bias=1\)$`)
	if !re.MatchString(out) {
		t.Errorf("dmesg -x -l info lacks the provider's line")
	}
	f, err := os.Open("/sys/module")
	if err != nil {
		t.Fatal(err)
	}
	ents, err := f.ReadDir(-1)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sorted := slices.Clone(names)
	loaded.KernfsSort(sorted)
	if !slices.Equal(names, sorted) {
		t.Errorf("/sys/module readdir order %q differs from KernfsSort's %q", names, sorted)
	}
}

// TestModprobeWithDependency installs both modules into a module directory
// of their own in the guest, indexes it with modlab's depmod, and loads the
// user with modlab's modprobe: the provider must come first, by itself.
// modprobe -r then removes the user and the provider it no longer needs.
func TestModprobeWithDependency(t *testing.T) {
	rel := os.Getenv(guesttest.EnvKernel)
	if rel == "" {
		t.Fatal("MODLAB_KERNEL is not set: not running in the lab's guest")
	}
	base := t.TempDir()
	extra := filepath.Join(base, "lib/modules", rel, "extra")
	if err := os.MkdirAll(extra, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"export-provider", "export-user"} {
		data, err := os.ReadFile(guesttest.ModulePath(t, m))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(extra, m+".ko"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if out, errs, code := run("depmod", "-b", base, rel); code != 0 {
		t.Fatalf("depmod exited %d: %s%s", code, out, errs)
	}
	dep, err := os.ReadFile(filepath.Join(base, "lib/modules", rel, "modules.dep"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(dep), "extra/export-user.ko: extra/export-provider.ko\n") {
		t.Fatalf("modules.dep lacks the dependency:\n%s", dep)
	}

	out, errs, code := run("modprobe", "-d", base, "-S", rel, "--show-depends", "export_user")
	want := fmt.Sprintf("insmod %s/export-provider.ko \ninsmod %s/export-user.ko \n", extra, extra)
	if code != 0 || out != want {
		t.Fatalf("modprobe --show-depends: exit %d, stdout %q, stderr %q; want %q", code, out, errs, want)
	}

	log := guesttest.KernelLog(t)
	if out, errs, code := run("modprobe", "-d", base, "-S", rel, "export_user", "a=4", "b=5"); code != 0 {
		t.Fatalf("modprobe export_user exited %d: %s%s", code, out, errs)
	}
	prov := &guesttest.Module{Name: "export_provider"}
	user := &guesttest.Module{Name: "export_user"}
	t.Cleanup(func() {
		for _, m := range []*guesttest.Module{user, prov} {
			if m.Loaded() {
				m.TryUnload()
			}
		}
	})
	if !prov.Loaded() || !user.Loaded() {
		t.Fatalf("after modprobe: provider loaded %v, user loaded %v; want both", prov.Loaded(), user.Loaded())
	}
	log.Want(t, "export_provider: loaded", "export_user: export_provider_add(4, 5) = 9")
	if _, err := os.Stat(filepath.Join(prov.SysDir(), "holders", "export_user")); err != nil {
		t.Errorf("export_user is not a holder of export_provider: %v", err)
	}

	if out, errs, code := run("modprobe", "-d", base, "-S", rel, "-r", "export_user"); code != 0 {
		t.Fatalf("modprobe -r export_user exited %d: %s%s", code, out, errs)
	}
	if prov.Loaded() || user.Loaded() {
		t.Errorf("after modprobe -r: provider loaded %v, user loaded %v; want neither", prov.Loaded(), user.Loaded())
	}
}

// TestCompressedModules loads the provider compressed with xz and with
// zstd. Where /sys/module/compression names the format (xz on 6.12) the
// kernel decompresses it; otherwise kmod/loader decompresses it in user
// space (both formats on 6.1, zstd on 6.12). Either way the module must
// load, work and unload; and a bad parameter must be refused once, not
// retried the other way.
func TestCompressedModules(t *testing.T) {
	plain, err := os.ReadFile(guesttest.ModulePath(t, "export-provider"))
	if err != nil {
		t.Fatal(err)
	}
	kernelSide := ""
	if b, err := os.ReadFile("/sys/module/compression"); err == nil {
		kernelSide = strings.TrimSpace(string(b))
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		ext      string
		compress func([]byte) ([]byte, error)
	}{
		{"xz", compressXZ},
		{"zst", compressZstd},
	} {
		t.Run(tc.ext, func(t *testing.T) {
			data, err := tc.compress(plain)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "export-provider.ko."+tc.ext)
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			var ld loader.Loader
			log := guesttest.KernelLog(t)
			if err := ld.LoadFile(path, "bias=5"); err != nil {
				t.Fatalf("load %s (kernel decompresses: %q): %v", filepath.Base(path), kernelSide, err)
			}
			m := &guesttest.Module{Name: "export_provider"}
			if got := m.Param(t, "bias"); got != "5" {
				t.Errorf("bias = %q, want 5", got)
			}
			log.Want(t, "export_provider: loaded")
			m.Unload(t)

			log = guesttest.KernelLog(t)
			err = ld.LoadFile(path, "bias=notanumber")
			if !errors.Is(err, unix.EINVAL) {
				t.Fatalf("load with bias=notanumber: %v, want EINVAL", err)
			}
			n := 0
			for _, l := range log.Lines() {
				if strings.Contains(l, "invalid for parameter `bias'") {
					n++
				}
			}
			if n != 1 {
				t.Errorf("the kernel refused the parameter %d times, want once:\n%s", n, strings.Join(log.Lines(), "\n"))
			}
			if m.Loaded() {
				t.Error("module loaded despite the bad parameter")
				m.TryUnload()
			}
		})
	}
}

// compressXZ compresses like the kernel's build does for modules: xz with a
// CRC32 check, which the kernel's own decompressor reads.
func compressXZ(b []byte) ([]byte, error) {
	var out bytes.Buffer
	w, err := xz.WriterConfig{CheckSum: xz.CRC32}.NewWriter(&out)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(b); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func compressZstd(b []byte) ([]byte, error) {
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		return nil, err
	}
	defer enc.Close()
	return enc.EncodeAll(b, nil), nil
}
