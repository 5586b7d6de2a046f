package loader

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// IsBuiltin reports whether name (the kernel's spelling, "rtc_cmos") is
// taken by code built into the running kernel: sysDir/module/NAME exists
// ("/sys/module/rtc_cmos", made at boot for built-in modules with
// parameters or a version) but procDir/modules ("/proc/modules", the
// loaded modules) does not list it. A module of that name cannot be
// loaded: the kernel refuses it with EINVAL and logs "NAME: module is
// already loaded".
func IsBuiltin(sysDir, procDir, name string) bool {
	if name == "" || strings.ContainsRune(name, '/') {
		return false
	}
	if st, err := os.Stat(filepath.Join(sysDir, "module", name)); err != nil || !st.IsDir() {
		return false
	}
	f, err := os.Open(filepath.Join(procDir, "modules"))
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if n, _, _ := strings.Cut(sc.Text(), " "); n == name {
			return false
		}
	}
	return sc.Err() == nil
}

// BuiltinHint says that a built-in module holds the name.
func BuiltinHint(name string) string {
	return "a built-in module named " + name + " exists (/sys/module/" + name +
		", not in /proc/modules; see modules.builtin): a module cannot take its name"
}

// nameTakenErrno reports whether errno is what a load gets when the
// module's name is taken: EEXIST for a loaded module, EINVAL for a
// built-in one (kernel/module/sysfs.c, mod_sysfs_init).
func nameTakenErrno(errno unix.Errno) bool {
	return errno == unix.EEXIST || errno == unix.EINVAL
}
