//go:build modlab_guest

// Package license_test checks, inside the lab's VM, what MODULE_LICENSE and
// a module's name do to a load: a proprietary module taints the kernel with
// P (in /proc/sys/kernel/tainted, in the module's /sys/module/NAME/taint
// and in the kernel log), a GPL module does not; modinfo shows every
// MODULE_* field; a module whose licence was changed after modpost's checks
// is judged again by the kernel; a module that takes a built-in module's
// name is refused. `modlab test license` runs it.
//
// The tests share one kernel and run in file order. The P taint cannot be
// cleared until the next boot: each test reads the flags before it loads
// anything, and expects the kernel's "taints kernel" line only when P was
// still clear. On a kernel with lockdep the first P also turns lock
// debugging off for the rest of the boot ("Disabling lock debugging due to
// kernel taint"): the lab runs this unit after the others (its proprietary
// module says so on the host), and would boot the kernel afresh for any
// unit after it, so that no later unit runs blind.
package license_test

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/modlab/modlab/internal/cli"
	"github.com/modlab/modlab/kmod/loaded"
	"github.com/modlab/modlab/kmod/loader"
	"github.com/modlab/modlab/lab/guesttest"
	"github.com/modlab/modlab/lab/kcheck"
)

// builtin is a module every kernel of the lab has built in, with a
// parameter, so with a /sys/module entry from boot on: drivers/rtc/rtc-cmos
// (modules.builtin of Debian's 6.1 and 6.12 and of the debug kernel, which
// license_host_test.go checks). rtc-cmos.ko in this folder takes its name.
const builtin = "rtc_cmos"

// run runs one of modlab's commands on the real system and returns what it
// printed and its exit status.
func run(argv ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	env := &cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: os.Getenv}
	code = cli.Main(env, append([]string{"modlab"}, argv...))
	return out.String(), errb.String(), code
}

// hasP reports whether the kernel is tainted with P.
func hasP(t *testing.T) bool {
	return guesttest.Tainted(t)&(1<<0) != 0
}

// moduleSigned reports whether the kernel checks module signatures
// (CONFIG_MODULE_SIG): then our unsigned modules taint it with E too.
func moduleSigned() bool {
	_, err := os.Stat("/sys/module/module/parameters/sig_enforce")
	return err == nil
}

// outOfTree is the taint letters every module of this folder carries:
// O (out of tree), and E (unsigned) where the kernel checks signatures.
func outOfTree() string {
	if moduleSigned() {
		return "OE"
	}
	return "O"
}

func TestBuiltinModulesInSysfs(t *testing.T) {
	// A built-in module with parameters has a /sys/module entry from boot
	// on, but none of a loaded module's attributes.
	dir := filepath.Join("/sys/module", builtin)
	if _, err := os.Stat(filepath.Join(dir, "parameters", "use_acpi_alarm")); err != nil {
		t.Fatalf("the built-in %s has no parameter in /sys/module: %v", builtin, err)
	}
	for _, f := range []string{"initstate", "refcnt", "taint", "coresize"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("%s/%s exists: %s looks loaded, not built in", dir, f, builtin)
		}
	}

	// /proc/modules (lsmod) lists loaded modules only; each of them has a
	// /sys/module entry too, and there are built-in ones besides.
	sys := loaded.Root("/")
	mods, err := sys.Modules()
	if err != nil {
		t.Fatal(err)
	}
	inProc := map[string]bool{}
	for _, m := range mods {
		inProc[m.Name] = true
		if _, err := os.Stat(filepath.Join("/sys/module", m.Name, "initstate")); err != nil {
			t.Errorf("loaded module %s has no /sys/module/%s/initstate: %v", m.Name, m.Name, err)
		}
	}
	if inProc[builtin] {
		t.Errorf("/proc/modules lists %s", builtin)
	}
	ents, err := os.ReadDir("/sys/module")
	if err != nil {
		t.Fatal(err)
	}
	var builtins []string
	for _, e := range ents {
		if !inProc[e.Name()] {
			builtins = append(builtins, e.Name())
		}
	}
	if len(builtins) < 10 {
		t.Errorf("/sys/module has %d entries that /proc/modules does not list (%q); want the built-in ones", len(builtins), builtins)
	}
	t.Logf("/sys/module: %d entries, %d of them loaded modules", len(ents), len(mods))

	out, errOut, code := run("lsmod")
	if code != 0 || errOut != "" || !strings.HasPrefix(out, loaded.LsmodHeader+"\n") {
		t.Fatalf("lsmod: exit %d, stderr %q, output %q", code, errOut, out)
	}
	if regexp.MustCompile(`(?m)^` + builtin + ` `).MatchString(out) {
		t.Errorf("lsmod lists the built-in %s:\n%s", builtin, out)
	}
}

func TestBuiltinNameRefused(t *testing.T) {
	// rtc-cmos.ko is the module rtc_cmos; the kernel finds that name in
	// /sys/module and refuses it before its init runs.
	log := guesttest.KernelLog(t)
	err := guesttest.TryLoad(t, "rtc-cmos")
	if !errors.Is(err, unix.EINVAL) {
		t.Fatalf("loading rtc-cmos.ko: %v, want EINVAL", err)
	}
	log.Want(t, builtin+": module is already loaded")
	log.WantNot(t, "this kernel has no built-in rtc_cmos")
	if !strings.Contains(err.Error(), "a built-in module named rtc_cmos exists") {
		t.Errorf("the loader's error does not name the built-in module: %v", err)
	}

	// modlab's insmod prints kmod's words for EINVAL, then says why.
	ko := guesttest.ModulePath(t, "rtc-cmos")
	_, errOut, code := run("insmod", ko)
	want := "insmod: ERROR: could not insert module " + ko + ": Invalid parameters\n" +
		"insmod: HINT: a built-in module named rtc_cmos exists (/sys/module/rtc_cmos, not in /proc/modules; see modules.builtin): a module cannot take its name\n" +
		"insmod: HINT: kernel log: rtc_cmos: module is already loaded\n"
	if code != 1 || errOut != want {
		t.Errorf("insmod rtc-cmos.ko: exit %d, stderr:\n%s\nwant:\n%s", code, errOut, want)
	}
	if _, err := os.Stat(filepath.Join("/sys/module", builtin, "initstate")); err == nil {
		t.Errorf("/sys/module/%s/initstate exists after the refused load", builtin)
	}
}

func TestGPLAddsNoP(t *testing.T) {
	before := guesttest.Tainted(t)
	log := guesttest.KernelLog(t)
	m := guesttest.Load(t, "license-gpl")
	log.Want(t, "license_gpl: loaded; ktime_get_mono_fast_ns, a GPL-only export, says ")
	if got := strings.TrimSpace(guesttest.ReadFile(t, m.SysDir()+"/taint")); got != outOfTree() {
		t.Errorf("%s/taint = %q, want %q", m.SysDir(), got, outOfTree())
	}
	after := guesttest.Tainted(t)
	if before&1 == 0 && after&1 != 0 {
		t.Errorf("tainted went from %d (%s) to %d (%s): the GPL module set P", before, before.Letters(), after, after.Letters())
	}
	for _, l := range log.Lines() {
		if strings.Contains(l, "module license") {
			t.Errorf("the kernel logged a licence taint for a GPL module: %q", l)
		}
	}
	out, _, code := run("modinfo", "-F", "license", guesttest.ModulePath(t, "license-gpl"))
	if code != 0 || out != "GPL\n" {
		t.Errorf("modinfo -F license license-gpl.ko: exit %d, %q", code, out)
	}
	m.Unload(t)
}

func TestModinfoFields(t *testing.T) {
	ko := guesttest.ModulePath(t, "license-fields")
	out, errOut, code := run("modinfo", ko)
	if code != 0 || errOut != "" {
		t.Fatalf("modinfo %s: exit %d, stderr %q", ko, code, errOut)
	}
	// kmod's format: "%-16s%s" with the key and a colon; the strings in
	// .modinfo order, which is the reverse of the source's.
	rel := os.Getenv(guesttest.EnvKernel)
	want := []string{
		"filename:       " + ko,
		"import_ns:      DMA_BUF",
		"room:           examples/license",
		"firmware:       modlab/fields.bin",
	}
	if hasWeakdep(t, ko) {
		want = append(want, "weakdep:        license-gpl")
	}
	want = append(want,
		"softdep:        pre: license-gpl post: license-proprietary",
		"alias:          char-major-240-*",
		"alias:          modlab-fields",
		"version:        1.2.3",
		"description:    Every MODULE_* field the kernel knows",
		"author:         A second author <second@example.org>",
		"author:         The modlab authors",
		"license:        GPL",
	)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) < len(want)+6 {
		t.Fatalf("modinfo printed %d lines:\n%s", len(lines), out)
	}
	for i, w := range want {
		if lines[i] != w {
			t.Errorf("modinfo line %d = %q, want %q", i+1, lines[i], w)
		}
	}
	rest := strings.Join(lines[len(want):], "\n") + "\n"
	re := regexp.MustCompile(`^srcversion:     ([0-9A-F]{23})\n` +
		`depends:        \n` +
		// 6.1's modpost writes retpoline before name, 6.12's after.
		`(name:           license_fields\nretpoline:      Y\n|retpoline:      Y\nname:           license_fields\n)` +
		`vermagic:       ` + regexp.QuoteMeta(rel) + ` SMP preempt mod_unload (modversions )?\n` +
		`parm:           fd:A file descriptor handed to dma_buf_get\(\) \(default -1: none\) \(int\)\n$`)
	sm := re.FindStringSubmatch(rest)
	if sm == nil {
		t.Fatalf("modinfo's last lines:\n%s\ndo not match %s", rest, re)
	}

	// Loaded, the kernel shows the version and srcversion in /sys/module;
	// the srcversion is the one modpost wrote into the file. The
	// namespaced symbol resolved (dma_buf_get(-1) is -EBADF).
	log := guesttest.KernelLog(t)
	m := guesttest.Load(t, "license-fields")
	log.Want(t, "license_fields: loaded; dma_buf_get(-1) = -9, from namespace DMA_BUF")
	if got := strings.TrimSpace(guesttest.ReadFile(t, m.SysDir()+"/srcversion")); got != sm[1] {
		t.Errorf("%s/srcversion = %q, modinfo says %q", m.SysDir(), got, sm[1])
	}
	if got := strings.TrimSpace(guesttest.ReadFile(t, m.SysDir()+"/version")); got != "1.2.3" {
		t.Errorf("%s/version = %q, want 1.2.3", m.SysDir(), got)
	}
	for _, f := range []struct{ field, want string }{
		{"license", "GPL\n"},
		{"author", "A second author <second@example.org>\nThe modlab authors\n"},
		{"import_ns", "DMA_BUF\n"},
		{"room", "examples/license\n"},
	} {
		if out, _, code := run("modinfo", "-F", f.field, ko); code != 0 || out != f.want {
			t.Errorf("modinfo -F %s: exit %d, %q, want %q", f.field, code, out, f.want)
		}
	}
	m.Unload(t)

	// Without its MODULE_IMPORT_NS the same module is refused: the
	// kernel's own check of namespaces, after modpost's.
	noNS := doctored(t, "license-fields", "import_ns=DMA_BUF", "import_xx=DMA_BUF")
	log = guesttest.KernelLog(t)
	err := (&loader.Loader{}).LoadFile(noNS, "")
	unloadIfLoaded(t, "license_fields")
	if !errors.Is(err, unix.EINVAL) {
		t.Errorf("license-fields.ko without import_ns: %v, want EINVAL", err)
	}
	log.Want(t, "license_fields: module uses symbol (dma_buf_get) from namespace DMA_BUF, but does not import it.")
}

// hasWeakdep reports whether the module file carries a weakdep string
// (MODULE_WEAKDEP exists from 6.11 on).
func hasWeakdep(t *testing.T, ko string) bool {
	return bytes.Contains(modinfoSection(t, ko), []byte("\x00weakdep="))
}

func TestProprietaryTaints(t *testing.T) {
	wasP := hasP(t)
	log := guesttest.KernelLog(t)
	m := guesttest.Load(t, "license-proprietary")
	log.Want(t, "license_proprietary: loaded; the kernel is tainted with P now")
	if !hasP(t) {
		t.Errorf("/proc/sys/kernel/tainted = %d: bit 0 (P) is clear after loading a proprietary module", guesttest.Tainted(t))
	}
	if got, want := strings.TrimSpace(guesttest.ReadFile(t, m.SysDir()+"/taint")), "P"+outOfTree(); got != want {
		t.Errorf("%s/taint = %q, want %q", m.SysDir(), got, want)
	}
	if !strings.Contains(kcheck.Taint(guesttest.Tainted(t)).Letters(), "P") {
		t.Errorf("taint letters %q lack P", guesttest.Tainted(t).Letters())
	}
	if wasP {
		t.Log("P was already set before this test: the kernel logs its licence line only for the first proprietary module of a boot")
	} else {
		log.Want(t,
			"license_proprietary: module license 'Proprietary' taints kernel.",
			"Disabling lock debugging due to kernel taint")
		// 6.12 checks the licence before its list of modules known to
		// lie about theirs, and says so once more after it; 6.1 after.
		if kernelAtLeast(t, 6, 12) {
			log.Want(t, "Disabling lock debugging due to kernel taint", "license_proprietary: module license taints kernel.")
		} else {
			log.WantNot(t, "license_proprietary: module license taints kernel.")
		}
	}
	out, _, code := run("modinfo", "-F", "license", guesttest.ModulePath(t, "license-proprietary"))
	if code != 0 || out != "Proprietary\n" {
		t.Errorf("modinfo -F license license-proprietary.ko: exit %d, %q", code, out)
	}
	// lsmod has no taint column; /proc/modules has, for tainted modules.
	mods, err := loaded.Root("/").Modules()
	if err != nil {
		t.Fatal(err)
	}
	for _, mod := range mods {
		if mod.Name == m.Name && mod.Taints != "P"+outOfTree() {
			t.Errorf("/proc/modules taints of %s: %q", m.Name, mod.Taints)
		}
	}
	m.Unload(t)
	if !hasP(t) {
		t.Error("P went away with the module; it stays until the next boot")
	}
}

// TestLicenseChangedAfterBuild: modpost refuses a module without a licence
// and a proprietary one that uses GPL-only symbols (refused/), but a module
// file can still change after the build. The kernel reads the licence from
// .modinfo again at every load: a module with none is "unspecified", which
// taints P; a module that is not GPL-compatible cannot resolve GPL-only
// symbols. Renaming the "license" key in a copy of a built module makes
// such a file.
func TestLicenseChangedAfterBuild(t *testing.T) {
	var ld loader.Loader

	// license-proprietary without its licence: loads, taints P.
	wasP := hasP(t)
	none := doctored(t, "license-proprietary", "license=Proprietary", "licence=Proprietary")
	log := guesttest.KernelLog(t)
	if err := ld.LoadFile(none, ""); err != nil {
		t.Fatalf("license-proprietary.ko without a licence: %v", err)
	}
	if got, want := strings.TrimSpace(guesttest.ReadFile(t, "/sys/module/license_proprietary/taint")), "P"+outOfTree(); got != want {
		t.Errorf("taint of the licence-less module = %q, want %q", got, want)
	}
	if !wasP {
		log.Want(t, "license_proprietary: module license 'unspecified' taints kernel.")
	}
	unloadIfLoaded(t, "license_proprietary")
	if !hasP(t) {
		t.Error("no P after a module without a licence")
	}

	// license-gpl without its licence: its GPL-only symbol is hidden,
	// the load fails with ENOENT, and P is set all the same.
	bad := doctored(t, "license-gpl", "license=GPL", "licence=GPL")
	log = guesttest.KernelLog(t)
	err := ld.LoadFile(bad, "")
	unloadIfLoaded(t, "license_gpl")
	if !errors.Is(err, unix.ENOENT) {
		t.Fatalf("license-gpl.ko without a licence: %v, want ENOENT", err)
	}
	log.Want(t, "license_gpl: Unknown symbol ktime_get_mono_fast_ns (err -2)")
	_, errOut, code := run("insmod", bad)
	if code != 1 || !strings.HasPrefix(errOut, "insmod: ERROR: could not insert module "+bad+": Unknown symbol in module\n") ||
		!strings.Contains(errOut, "insmod: HINT: kernel log: license_gpl: Unknown symbol ktime_get_mono_fast_ns (err -2)\n") {
		t.Errorf("insmod of license-gpl.ko without a licence: exit %d, stderr:\n%s", code, errOut)
	}
	unloadIfLoaded(t, "license_gpl")
}

// kernelAtLeast reports whether the running kernel is major.minor or later.
func kernelAtLeast(t *testing.T, major, minor int) bool {
	t.Helper()
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	var ma, mi int
	if _, err := fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &ma, &mi); err != nil {
		t.Fatalf("kernel release %q: %v", u.Release[:], err)
	}
	return ma > major || ma == major && mi >= minor
}

// doctored copies the module name to a temporary file with old replaced by
// new (of the same length) inside its .modinfo section, and returns its path.
func doctored(t *testing.T, name, old, new string) string {
	t.Helper()
	if len(old) != len(new) {
		t.Fatalf("doctored: %q and %q differ in length", old, new)
	}
	src := guesttest.ModulePath(t, name)
	img, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.NewFile(bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	sec := f.Section(".modinfo")
	if sec == nil {
		t.Fatalf("%s has no .modinfo", src)
	}
	info := img[sec.Offset : sec.Offset+sec.Size]
	// Each string ends in a NUL; the first has none before it.
	i := bytes.Index(append([]byte{0}, info...), []byte("\x00"+old+"\x00"))
	if i < 0 {
		t.Fatalf("%s: .modinfo has no %q", src, old)
	}
	copy(info[i:], new)
	out := filepath.Join(t.TempDir(), filepath.Base(src))
	if err := os.WriteFile(out, img, 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// modinfoSection returns the .modinfo section of a module file.
func modinfoSection(t *testing.T, ko string) []byte {
	t.Helper()
	f, err := elf.Open(ko)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		t.Fatalf("%s has no .modinfo", ko)
	}
	b, err := sec.Data()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// unloadIfLoaded removes a module a doctored load may have left behind.
func unloadIfLoaded(t *testing.T, name string) {
	t.Helper()
	m := &guesttest.Module{Name: name}
	if m.Loaded() {
		if err := m.TryUnload(); err != nil {
			t.Errorf("rmmod %s: %v", name, err)
		}
	}
}
