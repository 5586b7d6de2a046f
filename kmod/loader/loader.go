// Package loader puts modules into the running kernel and takes them out:
// finit_module(2) for plain files, the kernel's own decompression for
// compressed files when /sys/module/compression says it can, and
// decompression in user space followed by init_module(2) otherwise.
package loader

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/modlab/modlab/kmod/compression"
	"github.com/modlab/modlab/kmod/modname"
)

// Loader loads and unloads modules. SysDir is where sysfs is mounted ("/sys"
// when empty); it is read for /sys/module/compression. ProcDir is where proc
// is mounted ("/proc" when empty); /proc/modules tells a kernel without
// module support from a module whose init failed.
type Loader struct {
	SysDir  string
	ProcDir string
	// IgnoreVersions asks the kernel to skip the vermagic and modversions
	// checks (insmod -f; MODULE_INIT_IGNORE_*). Only finit_module can do
	// that; it taints the kernel.
	IgnoreVersions bool
}

// Error is a failed load or unload, with the errno the kernel returned.
type Error struct {
	Op    string // "load" or "unload"
	Name  string // the file or module name
	Errno unix.Errno
	Err   error // set when the failure was not the kernel's
	// InitFailed says the kernel ran the module's init function, which
	// returned -Errno (see InitFailed).
	InitFailed bool
	// Builtin is the name of the built-in module that holds the module's
	// name, when that is why the kernel refused it (see IsBuiltin).
	Builtin string
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("could not %s %s: %v", e.Op, e.Name, e.Err)
	}
	msg := fmt.Sprintf("could not %s %s: %s", e.Op, e.Name, Explain(e.Op, e.Errno))
	if h := e.Hint(); h != "" {
		msg += " (" + h + ")"
	}
	return msg
}

func (e *Error) Unwrap() error {
	if e.Err != nil {
		return e.Err
	}
	return e.Errno
}

// Explain turns an errno into the words kmod 30's tools print for it. op
// selects the tool: "load" is insmod's wording (tools/insmod.c
// mod_strerror), "probe" is modprobe's, "unload" is rmmod's (plain
// strerror). Other errnos read as strerror(3) does.
func Explain(op string, errno unix.Errno) string {
	switch op {
	case "load":
		switch errno {
		case unix.ENOEXEC:
			return "Invalid module format"
		case unix.ENOENT:
			return "Unknown symbol in module"
		case unix.ESRCH:
			return "Module has wrong symbol version"
		case unix.EINVAL:
			return "Invalid parameters"
		}
	case "probe":
		switch errno {
		case unix.EEXIST:
			return "Module already in kernel"
		case unix.ENOENT:
			return "Unknown symbol in module, or unknown parameter (see dmesg)"
		}
	}
	return Strerror(errno)
}

// Strerror is strerror(3)'s text for errno ("Function not implemented").
func Strerror(errno unix.Errno) string {
	if errno == 0 {
		return "Success"
	}
	s := errno.Error()
	return strings.ToUpper(s[:1]) + s[1:]
}

// Hint says in a few words what usually causes a load or unload errno, or
// "" when there is nothing to add to Explain's text. kmod prints no hints;
// modlab's tools print them on a line of their own.
func Hint(op string, errno unix.Errno) string {
	switch errno {
	case unix.ENOSYS:
		return "the running kernel has no module support: it was built without CONFIG_MODULES"
	case unix.EPERM:
		return "loading and unloading modules needs CAP_SYS_MODULE, and /proc/sys/kernel/modules_disabled must be 0"
	}
	switch op {
	case "load", "probe":
		switch errno {
		case unix.ENOEXEC:
			return "not a module for this kernel: wrong vermagic, architecture or ELF layout; the kernel log says which"
		case unix.ENOENT:
			return "the kernel log names the missing symbol or parameter; load the module that exports the symbol first"
		case unix.ESRCH:
			return "the module was built against other kernel headers (modversions CRC mismatch)"
		case unix.EINVAL:
			return "a parameter value is malformed; the kernel log says which"
		case unix.EEXIST:
			return "a module of that name is already loaded (see lsmod)"
		case unix.EKEYREJECTED, unix.EBADMSG, unix.ENOKEY:
			return "the module signature was rejected and the kernel enforces signatures"
		case unix.EBUSY:
			return "a module of that name is still being loaded or unloaded"
		}
	case "unload":
		switch errno {
		case unix.EWOULDBLOCK:
			return "the module is in use: see its holders and refcnt in /sys/module"
		case unix.ENOENT:
			return "no module of that name is loaded"
		case unix.EBUSY:
			return "the module is still initialising, or has no exit function and cannot be unloaded"
		}
	}
	return ""
}

func (l *Loader) sysDir() string {
	if l.SysDir == "" {
		return "/sys"
	}
	return l.SysDir
}

// KernelCompression reads which compression the running kernel unpacks
// itself (compression.None when none or unknown).
func (l *Loader) KernelCompression() compression.Kind {
	b, err := os.ReadFile(filepath.Join(l.sysDir(), "module", "compression"))
	if err != nil {
		return compression.None
	}
	return compression.Kind(strings.TrimSpace(string(b)))
}

// LoadFile loads the module file at path with the given parameters
// ("name=value name2=value2").
func (l *Loader) LoadFile(path, params string) error {
	f, err := os.Open(path)
	if err != nil {
		return &Error{Op: "load", Name: path, Err: err}
	}
	defer f.Close()
	head := make([]byte, 8)
	n, _ := io.ReadFull(f, head)
	c := compression.Detect(head[:n])
	var ignore int
	if l.IgnoreVersions {
		ignore = unix.MODULE_INIT_IGNORE_MODVERSIONS | unix.MODULE_INIT_IGNORE_VERMAGIC
	}
	if c == compression.None {
		if err := unix.FinitModule(int(f.Fd()), params, ignore); err != nil {
			return l.loadErr(path, err)
		}
		return nil
	}
	if c == l.KernelCompression() {
		err := unix.FinitModule(int(f.Fd()), params, unix.MODULE_INIT_COMPRESSED_FILE|ignore)
		if err == nil {
			return nil
		}
		// Only "cannot decompress" falls back to user space. EINVAL is
		// also what a bad parameter gives: retrying would load twice.
		if !errors.Is(err, unix.EOPNOTSUPP) {
			return l.loadErr(path, err)
		}
	}
	st, err := f.Stat()
	if err != nil {
		return &Error{Op: "load", Name: path, Err: err}
	}
	img, _, err := compression.Read(f, st.Size())
	if err != nil {
		return &Error{Op: "load", Name: path, Err: err}
	}
	defer compression.Release(img) // the kernel has its own copy
	return l.LoadImage(path, img, params)
}

// LoadImage loads a module from memory; name is used in errors only.
func (l *Loader) LoadImage(name string, img []byte, params string) error {
	if err := unix.InitModule(img, params); err != nil {
		return l.loadErr(name, err)
	}
	return nil
}

// UnloadFlags select how delete_module(2) behaves.
type UnloadFlags int

const (
	// Force removes a module even when it is in use (needs
	// CONFIG_MODULE_FORCE_UNLOAD); it taints the kernel.
	Force UnloadFlags = 1 << iota
	// Wait blocks until the module is no longer in use instead of failing.
	Wait
)

// Unload removes a loaded module by name ("-" and "_" alike).
func (l *Loader) Unload(name string, flags UnloadFlags) error {
	kname := modname.Normalize(name)
	f := unix.O_NONBLOCK
	if flags&Wait != 0 {
		f = 0
	}
	if flags&Force != 0 {
		f |= unix.O_TRUNC
	}
	if err := retryEINTR(func() error { return unix.DeleteModule(kname, f) }); err != nil {
		var errno unix.Errno
		if errors.As(err, &errno) {
			return &Error{Op: "unload", Name: kname, Errno: errno}
		}
		return &Error{Op: "unload", Name: kname, Err: err}
	}
	return nil
}

// retryEINTR calls f again while it fails with EINTR. delete_module(2)
// returns EINTR when a signal arrives while it waits for the kernel's
// module_mutex (mutex_lock_interruptible in kernel/module/main.c), before
// it has done anything; the Go runtime signals its threads all the time
// (SIGURG preempts goroutines), so while other loads and unloads hold the
// mutex an unload fails so now and then, and the only right answer is to
// ask again. Seen in the VM: 4 goroutines loading and unloading modules,
// "could not unload procfs3: Interrupted system call" at cycle 66.
func retryEINTR(f func() error) error {
	for {
		err := f()
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}
