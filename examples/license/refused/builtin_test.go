package refused_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modlab/modlab/internal/cli"
	"github.com/modlab/modlab/lab"
)

// builtinModinfo is what kmod's modinfo prints for the built-in rtc_cmos
// on every kernel of the lab: its strings from modules.builtin.modinfo.
const builtinModinfo = `name:           rtc_cmos
filename:       (builtin)
license:        GPL
file:           drivers/rtc/rtc-cmos
description:    Driver for PC-style 'CMOS' RTCs
author:         David Brownell
alias:          platform:rtc_cmos
parm:           use_acpi_alarm:bool
`

// TestBuiltinRTCCMOS checks, for every kernel of the lab, what the guest
// test of examples/license relies on: rtc-cmos is built in (the kernel's
// modules.builtin lists it) and has a parameter (so the kernel makes
// /sys/module/rtc_cmos at boot). modlab's modinfo prints it as kmod's does,
// by either spelling of the name.
func TestBuiltinRTCCMOS(t *testing.T) {
	ks, err := lab.AllKernels("/", lab.DefaultCacheDir(os.Getenv))
	if err != nil || len(ks) == 0 {
		t.Skipf("no kernel installed (%v): run scripts/setup.sh", err)
	}
	// kmod's own, not a link to modlab that may come first on the PATH.
	kmodModinfo := "/sbin/modinfo"
	if _, err := os.Stat(kmodModinfo); err != nil {
		kmodModinfo = ""
	}
	for _, k := range ks {
		b, err := os.ReadFile(filepath.Join(k.ModDir, "modules.builtin"))
		if err != nil {
			t.Errorf("%s: %v", k.Release, err)
			continue
		}
		if !bytes.Contains(b, []byte("kernel/drivers/rtc/rtc-cmos.ko\n")) {
			t.Errorf("%s: modules.builtin does not list kernel/drivers/rtc/rtc-cmos.ko", k.Release)
		}
		b, err = os.ReadFile(filepath.Join(k.ModDir, "modules.builtin.modinfo"))
		if err != nil || !bytes.Contains(b, []byte("\x00rtc_cmos.parmtype=use_acpi_alarm:bool\x00")) {
			t.Errorf("%s: modules.builtin.modinfo has no parameter for rtc_cmos (%v): no /sys/module/rtc_cmos at boot", k.Release, err)
		}
		// ModDir is BASE/lib/modules/RELEASE.
		base := strings.TrimSuffix(k.ModDir, filepath.Join("/lib/modules", k.Release))
		args := []string{"-k", k.Release}
		if base != "" && base != k.ModDir {
			args = append([]string{"-b", base}, args...)
		}
		for _, name := range []string{"rtc_cmos", "rtc-cmos"} {
			var out, errb bytes.Buffer
			env := &cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: os.Getenv}
			code := cli.Main(env, append(append([]string{"modlab", "modinfo"}, args...), name))
			if code != 0 || out.String() != builtinModinfo {
				t.Errorf("%s: modlab modinfo %s %s: exit %d, stderr %q, stdout:\n%s", k.Release, strings.Join(args, " "), name, code, errb.String(), out.String())
			}
			if kmodModinfo == "" {
				continue
			}
			ref, err := exec.Command(kmodModinfo, append(args, name)...).Output()
			if err != nil || string(ref) != out.String() {
				t.Errorf("%s: kmod's modinfo %s %s (%v) prints:\n%s\nmodlab's:\n%s", k.Release, strings.Join(args, " "), name, err, ref, out.String())
			}
		}
	}
}
