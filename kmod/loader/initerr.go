package loader

import (
	"errors"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/modlab/modlab/kmod/modname"
)

// HasModuleSupport reports whether the running kernel was built with
// CONFIG_MODULES: only then does it have procDir/modules ("/proc/modules";
// /sys/module exists either way, for built-in code's parameters).
func HasModuleSupport(procDir string) bool {
	_, err := os.Stat(filepath.Join(procDir, "modules"))
	return err == nil
}

// InitFailed reports whether a load that failed with errno got as far as
// the module's init function, which returned -errno. That is certain for
// ENOSYS on a kernel with module support: such a kernel implements
// finit_module and init_module, and nothing else in a load returns ENOSYS
// (LKMPG's GPIO examples return it from init when they find no GPIO).
func InitFailed(errno unix.Errno, procDir string) bool {
	return errno == unix.ENOSYS && HasModuleSupport(procDir)
}

// InitHint says that the module's init function returned -errno.
func InitHint(errno unix.Errno) string {
	name := unix.ErrnoName(errno)
	if name == "" {
		name = errno.Error()
	}
	return "the module's init function returned -" + name +
		": the kernel has module support, so the module itself refused to load; its own log lines say why"
}

// Hint is Hint(e.Op, e.Errno), or InitHint when the module's init function
// returned the error, or BuiltinHint when a built-in module has the name.
func (e *Error) Hint() string {
	if e.InitFailed {
		return InitHint(e.Errno)
	}
	if e.Builtin != "" {
		return BuiltinHint(e.Builtin)
	}
	return Hint(e.Op, e.Errno)
}

func (l *Loader) procDir() string {
	if l.ProcDir == "" {
		return "/proc"
	}
	return l.ProcDir
}

// loadErr turns a failed finit_module or init_module into an *Error.
func (l *Loader) loadErr(name string, err error) error {
	var errno unix.Errno
	if errors.As(err, &errno) {
		e := &Error{Op: "load", Name: name, Errno: errno, InitFailed: InitFailed(errno, l.procDir())}
		if mod := modname.FromPath(name); nameTakenErrno(errno) && IsBuiltin(l.sysDir(), l.procDir(), mod) {
			e.Builtin = mod
		}
		return e
	}
	return &Error{Op: "load", Name: name, Err: err}
}

// ModuleLines picks, from what the kernel logged while a load of the module
// file failed, the lines about it: every line when its init function ran
// (they are the module's own, whatever their prefix), else those that name
// it ("name: Unknown symbol ...", "... name.ko ..."). name is the module's
// name as the kernel spells it. The kernel's notices that the module taints
// it say nothing about the failure and are left out.
func ModuleLines(name, file string, initFailed bool, msgs []string) []string {
	var out []string
	for _, m := range msgs {
		if isTaintNotice(m) {
			continue
		}
		if initFailed || strings.HasPrefix(m, name+": ") || strings.Contains(m, " "+name+" ") ||
			strings.Contains(m, " "+filepath.Base(file)) {
			out = append(out, m)
		}
	}
	return out
}

// isTaintNotice reports whether a log line is one of the notices
// kernel/module/main.c prints when a module taints the kernel ("mod:
// loading out-of-tree module taints kernel.", "mod: module verification
// failed: signature and/or required key missing - tainting kernel").
func isTaintNotice(m string) bool {
	return strings.HasSuffix(m, " taints kernel.") || strings.HasSuffix(m, " - tainting kernel") ||
		m == "Disabling lock debugging due to kernel taint"
}
