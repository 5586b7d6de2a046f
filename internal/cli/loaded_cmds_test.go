package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/modlab/modlab/kmod/loader"
)

// fakeKernel stands in for the module system calls in insmod and rmmod
// tests, so that no fixture module name ever reaches the real kernel.
type fakeKernel struct {
	loads   []string // "path|params|ignore"
	unloads []string // "name|flags"
	err     error
	onLoad  func()
	ignore  bool
}

func (k *fakeKernel) LoadFile(path, params string) error {
	k.loads = append(k.loads, path+"|"+params)
	if k.onLoad != nil {
		k.onLoad()
	}
	return k.err
}

func (k *fakeKernel) Unload(name string, flags loader.UnloadFlags) error {
	k.unloads = append(k.unloads, name+"|"+map[loader.UnloadFlags]string{0: "0", loader.Force: "force"}[flags])
	return k.err
}

// useFakeKernel swaps the system calls for k until the test ends. Tests
// that use it must not run in parallel.
func useFakeKernel(t *testing.T, k *fakeKernel) {
	old := openKernel
	openKernel = func(env *Env, ignore bool) moduleSyscalls {
		k.ignore = ignore
		return k
	}
	t.Cleanup(func() { openKernel = old })
}

func TestLsmodGolden(t *testing.T) {
	t.Parallel()
	want, err := os.ReadFile("testdata/loaded/lsmod.golden")
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runLoaded(loadedRoot(t), nil, "lsmod")
	if code != 0 || errOut != "" || out != string(want) {
		t.Errorf("lsmod: exit %d, stderr %q, output differs from kmod's format:\n%s", code, errOut, loadedDiff(string(want), out))
	}
}

func TestLsmodErrors(t *testing.T) {
	t.Parallel()
	_, errOut, code := runLoaded(loadedRoot(t), nil, "lsmod", "extra")
	if code != 1 || errOut != "Usage: lsmod\n" {
		t.Errorf("lsmod extra: exit %d, stderr %q", code, errOut)
	}
	_, errOut, code = runLoaded(t.TempDir(), nil, "lsmod")
	if code != 1 || !strings.HasPrefix(errOut, "Error: could not get list of modules: No such file or directory\nlsmod: HINT: ") ||
		!strings.Contains(errOut, "no module support") {
		t.Errorf("lsmod without /proc/modules: exit %d, stderr %q", code, errOut)
	}
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "proc"), 0o755)
	os.WriteFile(filepath.Join(root, "proc", "modules"), []byte("ok 1 0 - Live 0x0\nbroken 12\n"), 0o644)
	_, errOut, code = runLoaded(root, nil, "lsmod")
	if code != 1 || !strings.Contains(errOut, "proc/modules:2: want at least 4 fields") {
		t.Errorf("lsmod with a bad line: exit %d, stderr %q", code, errOut)
	}
}

func TestRmmod(t *testing.T) {
	root := loadedRoot(t)
	tests := []struct {
		args    []string
		code    int
		stderr  string
		unloads []string
	}{
		{[]string{"export_provider"}, 1, "rmmod: ERROR: Module export_provider is in use by: export_user\n", nil},
		{[]string{"snd_hda_codec_generic"}, 1, "rmmod: ERROR: Module snd_hda_codec_generic is in use by: snd_hda_codec_hdmi snd_hda_intel snd_hda_codec_realtek\n", nil},
		{[]string{"nosuch"}, 1, "rmmod: ERROR: Module nosuch is not currently loaded\n", nil},
		{[]string{"8250"}, 1, "rmmod: ERROR: Module 8250 is builtin.\n", nil},
		{[]string{"nounload_mod"}, 1, "rmmod: ERROR: Module unloading is not supported\n", nil},
		{[]string{"loading_mod"}, 1, "rmmod: ERROR: Module loading_mod is in use\n", nil},
		{[]string{"export-user"}, 0, "", []string{"export_user|0"}},
		{[]string{"-v", "export_user", "permanent_mod"}, 0, "", []string{"export_user|0", "permanent_mod|0"}},
		{[]string{"-f", "export_provider"}, 0, "", []string{"export_provider|force"}},
		{[]string{"nosuch", "export_user"}, 1, "rmmod: ERROR: Module nosuch is not currently loaded\n", []string{"export_user|0"}},
		{[]string{"/some/dir/export-user.ko"}, 1, "rmmod: ERROR: Module /some/dir/export_user is not currently loaded\n", nil},
		{nil, 1, "rmmod: ERROR: missing module name.\n", nil},
	}
	for _, tc := range tests {
		k := &fakeKernel{}
		useFakeKernel(t, k)
		_, errOut, code := runLoaded(root, nil, append([]string{"rmmod"}, tc.args...)...)
		if code != tc.code || errOut != tc.stderr || strings.Join(k.unloads, ",") != strings.Join(tc.unloads, ",") {
			t.Errorf("rmmod %v: exit %d, stderr %q, unloads %q; want %d, %q, %q",
				tc.args, code, errOut, k.unloads, tc.code, tc.stderr, tc.unloads)
		}
	}
}

// TestRmmodPath: an existing module file names its module.
func TestRmmodPath(t *testing.T) {
	p := filepath.Join(t.TempDir(), "export-user.ko")
	os.WriteFile(p, []byte("not really a module"), 0o644)
	k := &fakeKernel{}
	useFakeKernel(t, k)
	_, errOut, code := runLoaded(loadedRoot(t), nil, "rmmod", p)
	if code != 0 || errOut != "" || strings.Join(k.unloads, ",") != "export_user|0" {
		t.Errorf("rmmod %s: exit %d, stderr %q, unloads %q", p, code, errOut, k.unloads)
	}
}

func TestRmmodKernelErrors(t *testing.T) {
	tests := []struct {
		errno unix.Errno
		want  string
	}{
		{unix.ENOSYS, "rmmod: ERROR: could not remove 'export_user': Function not implemented\n" +
			"rmmod: ERROR: could not remove module export_user: Function not implemented\n" +
			"rmmod: HINT: the running kernel has no module support: it was built without CONFIG_MODULES\n"},
		{unix.EWOULDBLOCK, "rmmod: ERROR: could not remove 'export_user': Resource temporarily unavailable\n" +
			"rmmod: ERROR: could not remove module export_user: Resource temporarily unavailable\n" +
			"rmmod: HINT: the module is in use: see its holders and refcnt in /sys/module\n"},
		{unix.EPERM, "rmmod: ERROR: could not remove 'export_user': Operation not permitted\n" +
			"rmmod: ERROR: could not remove module export_user: Operation not permitted\n" +
			"rmmod: HINT: loading and unloading modules needs CAP_SYS_MODULE, and /proc/sys/kernel/modules_disabled must be 0\n"},
	}
	for _, tc := range tests {
		k := &fakeKernel{err: &loader.Error{Op: "unload", Name: "export_user", Errno: tc.errno}}
		useFakeKernel(t, k)
		_, errOut, code := runLoaded(loadedRoot(t), nil, "rmmod", "export_user")
		if code != 1 || errOut != tc.want {
			t.Errorf("rmmod with %v: exit %d, stderr\n%s\nwant\n%s", tc.errno, code, errOut, tc.want)
		}
	}
}

func TestInsmod(t *testing.T) {
	root := loadedRoot(t)
	ko := filepath.Join(t.TempDir(), "export-provider.ko")
	os.WriteFile(ko, []byte("\x7fELF garbage"), 0o644)

	// Success: parameters joined by spaces, as kmod passes them.
	k := &fakeKernel{}
	useFakeKernel(t, k)
	out, errOut, code := runLoaded(root, nil, "insmod", ko, "answer=3", `greeting="hi there"`)
	if code != 0 || out != "" || errOut != "" || strings.Join(k.loads, ",") != ko+`|answer=3 greeting="hi there"` || k.ignore {
		t.Errorf("insmod: exit %d, stdout %q, stderr %q, loads %q", code, out, errOut, k.loads)
	}
	_, _, _ = runLoaded(root, nil, "insmod", "-f", ko)
	if !k.ignore {
		t.Error("insmod -f did not ask to ignore versions")
	}

	tests := []struct {
		name string
		args []string
		err  error
		want []string // lines of stderr, in order; a line ending in "..." is a prefix
	}{
		{"missing file name", nil, nil, []string{"insmod: ERROR: missing filename."}},
		{"stdin", []string{"-"}, nil, []string{"insmod: ERROR: this tool does not support loading from stdin!"}},
		{"no such file", []string{"/no/such.ko"}, nil, []string{"insmod: ERROR: could not load module /no/such.ko: No such file or directory"}},
		{"bad format", []string{ko}, unix.ENOEXEC, []string{
			"insmod: ERROR: could not insert module " + ko + ": Invalid module format",
			"insmod: HINT: not a module for this kernel: wrong vermagic, architecture or ELF layout; the kernel log says which",
			"insmod: HINT: " + ko + " is not a usable module file: ..."}},
		{"already loaded", []string{ko}, unix.EEXIST, []string{
			"insmod: ERROR: could not insert module " + ko + ": File exists",
			"insmod: HINT: a module of that name is already loaded (see lsmod)"}},
		{"unknown symbol", []string{ko}, unix.ENOENT, []string{
			"insmod: ERROR: could not insert module " + ko + ": Unknown symbol in module",
			"insmod: HINT: the kernel log names the missing symbol or parameter; load the module that exports the symbol first"}},
		{"bad parameter", []string{ko, "answer=x"}, unix.EINVAL, []string{
			"insmod: ERROR: could not insert module " + ko + ": Invalid parameters",
			"insmod: HINT: a parameter value is malformed; the kernel log says which"}},
		{"wrong symbol version", []string{ko}, unix.ESRCH, []string{
			"insmod: ERROR: could not insert module " + ko + ": Module has wrong symbol version..."}},
	}
	for _, tc := range tests {
		k := &fakeKernel{}
		if tc.err != nil {
			k.err = &loader.Error{Op: "load", Name: ko, Errno: tc.err.(unix.Errno)}
		}
		useFakeKernel(t, k)
		_, errOut, code := runLoaded(root, nil, append([]string{"insmod"}, tc.args...)...)
		lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
		ok := code == 1 && len(lines) >= len(tc.want)
		for i := 0; ok && i < len(tc.want); i++ {
			if p, cut := strings.CutSuffix(tc.want[i], "..."); cut {
				ok = strings.HasPrefix(lines[i], p)
			} else {
				ok = lines[i] == tc.want[i]
			}
		}
		if !ok {
			t.Errorf("%s: exit %d, stderr\n%s\nwant (at least)\n%s", tc.name, code, errOut, strings.Join(tc.want, "\n"))
		}
	}
}

// TestInsmodKernelLogHint: what the kernel logs about the module while the
// load fails is shown, older records are not.
func TestInsmodKernelLogHint(t *testing.T) {
	root := t.TempDir()
	kmsgPath := filepath.Join(root, "dev", "kmsg")
	os.MkdirAll(filepath.Dir(kmsgPath), 0o755)
	os.WriteFile(kmsgPath, []byte("4,1,100,-;export_user: Unknown symbol old_one (err -2)\n"), 0o644)
	ko := filepath.Join(t.TempDir(), "export_user.ko")
	os.WriteFile(ko, []byte("x"), 0o644)
	k := &fakeKernel{err: &loader.Error{Op: "load", Name: ko, Errno: unix.ENOENT}, onLoad: func() {
		f, _ := os.OpenFile(kmsgPath, os.O_APPEND|os.O_WRONLY, 0)
		f.WriteString("4,2,200,-;export_user: Unknown symbol export_provider_add (err -2)\n6,3,300,-;unrelated: hello\n")
		f.Close()
	}}
	useFakeKernel(t, k)
	_, errOut, code := runLoaded(root, nil, "insmod", ko)
	if code != 1 || !strings.HasSuffix(errOut, "insmod: HINT: kernel log: export_user: Unknown symbol export_provider_add (err -2)\n") ||
		strings.Contains(errOut, "old_one") || strings.Contains(errOut, "unrelated") {
		t.Errorf("stderr:\n%s", errOut)
	}
}

// TestInsmodVermagicHint uses a real module of an installed kernel against
// a fixture root that says another release runs.
func TestInsmodVermagicHint(t *testing.T) {
	matches, _ := filepath.Glob("/lib/modules/6.12*/kernel/fs/fat/fat.ko*")
	if len(matches) == 0 {
		t.Skip("no 6.12 kernel modules installed (scripts/setup.sh installs them)")
	}
	k := &fakeKernel{err: &loader.Error{Op: "load", Name: matches[0], Errno: unix.ENOEXEC}}
	useFakeKernel(t, k)
	_, errOut, _ := runLoaded(loadedRoot(t), nil, "insmod", matches[0])
	if !strings.Contains(errOut, "was built for 6.12") || !strings.Contains(errOut, "the running kernel is 6.1.0-50-cloud-amd64") {
		t.Errorf("stderr does not compare the releases:\n%s", errOut)
	}
}

func TestKallsymsCLI(t *testing.T) {
	t.Parallel()
	root := loadedRoot(t)
	tests := []struct {
		args         []string
		code         int
		stdout, errs string
	}{
		{[]string{"_printk"}, 0, "ffffffff810a2c10 T _printk\n", ""},
		{[]string{"show_calls"}, 0, "ffffffffc0201000 t show_calls\t[export_provider]\nffffffffc0206100 t show_calls\t[export_user]\n", ""},
		{[]string{"export_user:show_calls"}, 0, "ffffffffc0206100 t show_calls\t[export_user]\n", ""},
		{[]string{"0xffffffffc0201045"}, 0, "export_provider_add+0x15/0x40 [export_provider]\n", ""},
		{[]string{"0xFFFFFFFF810A2C15", "vprintk"}, 0, "_printk+0x5/0x80\nffffffff810a2d40 T vprintk\n", ""},
		{[]string{"nosuch", "_printk"}, 1, "ffffffff810a2c10 T _printk\n", "kallsyms: ERROR: nosuch: no such symbol\n"},
		{[]string{"0x10"}, 1, "", "kallsyms: ERROR: 0x10: no symbol at or below this address\n"},
		{[]string{"--json", "0xffffffffc0201045"}, 0, `[
  {
    "query": "0xffffffffc0201045",
    "address": "0xffffffffc0201030",
    "type": "T",
    "name": "export_provider_add",
    "module": "export_provider",
    "offset": "0x15",
    "size": "0x40"
  }
]
`, ""},
	}
	for _, tc := range tests {
		out, errOut, code := runLoaded(root, nil, append([]string{"kallsyms"}, tc.args...)...)
		if code != tc.code || out != tc.stdout || errOut != tc.errs {
			t.Errorf("kallsyms %v: exit %d, stdout %q, stderr %q; want %d, %q, %q", tc.args, code, out, errOut, tc.code, tc.stdout, tc.errs)
		}
	}
	// Hidden addresses: names still answer (with a warning), addresses
	// cannot.
	hidden := t.TempDir()
	os.MkdirAll(filepath.Join(hidden, "proc"), 0o755)
	os.WriteFile(filepath.Join(hidden, "proc", "kallsyms"), []byte("0000000000000000 A fixed_percpu_data\n0000000000000000 T _printk\n"), 0o644)
	out, errOut, code := runLoaded(hidden, nil, "kallsyms", "_printk", "0xffffffff810a2c15")
	if code != 1 || out != "0000000000000000 T _printk\n" || !strings.Contains(errOut, "WARNING: addresses in /proc/kallsyms are hidden") ||
		!strings.Contains(errOut, "ERROR: 0xffffffff810a2c15: addresses in /proc/kallsyms are hidden") {
		t.Errorf("hidden: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	_, errOut, code = runLoaded(t.TempDir(), nil, "kallsyms", "x")
	if code != 1 || !strings.Contains(errOut, "kallsyms: ERROR: read symbols: open ") {
		t.Errorf("no kallsyms: exit %d, stderr %q", code, errOut)
	}
	if _, errOut, code = runLoaded(root, nil, "kallsyms"); code != 2 || !strings.Contains(errOut, "missing symbol name or address") {
		t.Errorf("no arguments: exit %d, stderr %q", code, errOut)
	}
}

// TestExporterHints: an "Unknown symbol" line names the module that
// exports the symbol when the module directory knows it. It uses an
// installed kernel tree where fat exports fat_attach (vfat needs it).
func TestExporterHints(t *testing.T) {
	t.Parallel()
	rel := ""
	trees, _ := filepath.Glob("/lib/modules/*/modules.symbols")
	for _, f := range trees {
		if b, err := os.ReadFile(f); err == nil && strings.Contains(string(b), "alias symbol:fat_attach fat\n") {
			rel = filepath.Base(filepath.Dir(f))
			break
		}
	}
	if rel == "" {
		t.Skip("no installed kernel tree lists fat_attach in modules.symbols (run scripts/setup.sh)")
	}
	env := &Env{Getenv: func(string) string { return "" }}
	got := exporterHints(env, rel, []string{
		"vfat: Unknown symbol fat_attach (err -2)",
		"vfat: Unknown symbol no_such_symbol_anywhere (err -2)",
		"vfat: something else",
	})
	if len(got) != 1 || got[0] != "fat_attach is exported by module fat: load it first (modprobe loads it for you)" {
		t.Errorf("exporterHints on %s = %q", rel, got)
	}
	if got := exporterHints(env, "0.0.0-none", []string{"x: Unknown symbol fat_attach (err -2)"}); got != nil {
		t.Errorf("with no module directory: %q, want nothing", got)
	}
}
