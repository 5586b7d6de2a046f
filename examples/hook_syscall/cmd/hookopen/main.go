// Command hookopen opens files the way a test of hook_syscall needs them
// opened: as a chosen uid, through a chosen system call (open, openat or
// openat2), relative to a chosen directory, in a loop, or with a path the
// kernel cannot read (a bad pointer) or that hook_syscall cannot read
// without sleeping (a page that is not mapped yet).
//
//	hookopen [-uid N] [-call openat] [-dir D] [-for 2s] [-nice 10] PATH...
//	hookopen [-uid N] [-call openat] -bad
//	hookopen [-uid N] [-call openat] -unfaulted PATH
//
// It prints its pid and uid, then one line per open (the loop prints a
// count instead):
//
//	hookopen: pid 212 uid 1000
//	hookopen: openat "/tmp/hello": fd 3
//	hookopen: openat "nothere": ENOENT
//
// Each file is closed at once. With -nice it lowers its own priority
// first, so that a loop of it leaves the CPU to the process that matters
// whenever that one wants it. With -uid it drops to that uid and gid
// (and no supplementary groups) before the first open; that needs root.
// With -bad it passes two bad pointers as the path: 0x1 (nothing is ever
// mapped there) and a page it has just unmapped; each open must fail with
// EFAULT. With -unfaulted it writes PATH, NUL-terminated, to a file,
// maps the file and passes the mapping, never touched, as the path: the
// kernel reads it (it may sleep to fault the page in), a hook that must
// not sleep cannot.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func main() {
	uid := flag.Int("uid", -1, "become this uid and gid first (-1: stay)")
	call := flag.String("call", "openat", "the system call: open, openat or openat2")
	dir := flag.String("dir", "", "resolve relative paths here (openat, openat2: a directory fd; open: chdir)")
	loop := flag.Duration("for", 0, "open the paths again and again for this long, then print the count")
	bad := flag.Bool("bad", false, "pass bad pointers as the path: each must fail with EFAULT")
	unfaulted := flag.Bool("unfaulted", false, "pass PATH from a mapped page that was never touched")
	nice := flag.Int("nice", 0, "lower the priority by this much first (0 to 19)")
	flag.Parse()
	if *nice != 0 {
		if err := lowerPriority(*nice); err != nil {
			fmt.Fprintln(os.Stderr, "hookopen:", err)
			os.Exit(1)
		}
	}
	if err := run(*uid, *call, *dir, *loop, *bad, *unfaulted, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "hookopen:", err)
		os.Exit(1)
	}
}

func run(uid int, call, dir string, loop time.Duration, bad, unfaulted bool, paths []string) error {
	if call != "open" && call != "openat" && call != "openat2" {
		return fmt.Errorf("unknown system call %q: want open, openat or openat2", call)
	}
	if !bad && len(paths) == 0 {
		return errors.New("no path given")
	}
	if uid >= 0 {
		if err := becomeUID(uid); err != nil {
			return err
		}
	}
	dirfd := unix.AT_FDCWD
	if dir != "" {
		if call == "open" {
			if err := os.Chdir(dir); err != nil {
				return err
			}
		} else {
			fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				return fmt.Errorf("open %s: %w", dir, err)
			}
			defer unix.Close(fd)
			dirfd = fd
		}
	}
	fmt.Printf("hookopen: pid %d uid %d\n", os.Getpid(), os.Getuid())
	switch {
	case bad:
		return openBad(call, dirfd)
	case unfaulted:
		return openUnfaulted(call, dirfd, paths)
	case loop > 0:
		n := 0
		for end := time.Now().Add(loop); time.Now().Before(end); {
			for _, p := range paths {
				b, err := unix.BytePtrFromString(p)
				if err != nil {
					return err
				}
				if fd, err := openPtr(call, dirfd, uintptr(unsafe.Pointer(b))); err == nil {
					unix.Close(fd)
				}
				runtime.KeepAlive(b)
				n++
			}
		}
		fmt.Printf("hookopen: %d opens in %v\n", n, loop)
		return nil
	}
	for _, p := range paths {
		b, err := unix.BytePtrFromString(p)
		if err != nil {
			return err
		}
		report(call, fmt.Sprintf("%q", p), uintptr(unsafe.Pointer(b)), dirfd)
		runtime.KeepAlive(b)
	}
	return nil
}

// lowerPriority sets the nice value of every thread of the process: on
// Linux, setpriority(PRIO_PROCESS) sets one thread's, and a thread the Go
// runtime starts later inherits it from the thread that starts it.
func lowerPriority(nice int) error {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := unix.Setpriority(unix.PRIO_PROCESS, tid, nice); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("setpriority %d: %w", nice, err)
		}
	}
	return nil
}

// becomeUID drops root for uid (and the gid of the same number), for
// every thread of the process (Go's syscall.Setuid does all of them).
func becomeUID(uid int) error {
	if err := syscall.Setgroups(nil); err != nil {
		return fmt.Errorf("setgroups: %w", err)
	}
	if err := syscall.Setgid(uid); err != nil {
		return fmt.Errorf("setgid %d: %w", uid, err)
	}
	if err := syscall.Setuid(uid); err != nil {
		return fmt.Errorf("setuid %d: %w", uid, err)
	}
	return nil
}

// report opens the path at p, prints the outcome and closes the file.
func report(call, what string, p uintptr, dirfd int) (int, error) {
	fd, err := openPtr(call, dirfd, p)
	if err != nil {
		fmt.Printf("hookopen: %s %s: %s\n", call, what, unix.ErrnoName(err.(unix.Errno)))
		return fd, err
	}
	fmt.Printf("hookopen: %s %s: fd %d\n", call, what, fd)
	unix.Close(fd)
	return fd, nil
}

// openPtr makes the system call with p as the path, read-only.
func openPtr(call string, dirfd int, p uintptr) (int, error) {
	var r uintptr
	var e unix.Errno
	switch call {
	case "open":
		r, _, e = unix.Syscall(unix.SYS_OPEN, p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	case "openat":
		r, _, e = unix.Syscall6(unix.SYS_OPENAT, uintptr(dirfd), p, unix.O_RDONLY|unix.O_CLOEXEC, 0, 0, 0)
	default:
		how := unix.OpenHow{Flags: unix.O_RDONLY | unix.O_CLOEXEC}
		r, _, e = unix.Syscall6(unix.SYS_OPENAT2, uintptr(dirfd), p, uintptr(unsafe.Pointer(&how)), unsafe.Sizeof(how), 0, 0)
		runtime.KeepAlive(&how)
	}
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

// openBad passes 0x1 and an unmapped page as the path: each open must
// fail with EFAULT.
func openBad(call string, dirfd int) error {
	page, err := unix.Mmap(-1, 0, os.Getpagesize(), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return fmt.Errorf("mmap: %w", err)
	}
	gone := uintptr(unsafe.Pointer(unsafe.SliceData(page)))
	if err := unix.Munmap(page); err != nil {
		return fmt.Errorf("munmap: %w", err)
	}
	for _, c := range []struct {
		what string
		p    uintptr
	}{
		{"0x1", 1},
		{fmt.Sprintf("%#x (unmapped)", gone), gone},
	} {
		if _, err := report(call, c.what, c.p, dirfd); !errors.Is(err, unix.EFAULT) {
			return fmt.Errorf("%s with the path at %s: %v, want EFAULT", call, c.what, err)
		}
	}
	return nil
}

// openUnfaulted opens each path from a shared mapping of a file that
// holds it, a mapping this process never touches: the page table has no
// entry for it until the kernel's own read of the path faults it in.
func openUnfaulted(call string, dirfd int, paths []string) error {
	for _, p := range paths {
		f, err := os.CreateTemp("", "hookopen-path-")
		if err != nil {
			return err
		}
		name := f.Name()
		_, err = f.WriteString(p + "\x00")
		if err == nil {
			err = f.Sync()
		}
		if err != nil {
			f.Close()
			os.Remove(name)
			return err
		}
		m, err := unix.Mmap(int(f.Fd()), 0, os.Getpagesize(), unix.PROT_READ, unix.MAP_SHARED)
		f.Close()
		os.Remove(name)
		if err != nil {
			return fmt.Errorf("mmap %s: %w", filepath.Base(name), err)
		}
		report(call, fmt.Sprintf("%q (unfaulted)", p), uintptr(unsafe.Pointer(unsafe.SliceData(m))), dirfd)
		unix.Munmap(m)
	}
	return nil
}
