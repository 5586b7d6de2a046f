package qemu

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestTrimNoise: line noise around an event is dropped, the event is not
// touched; a line of noise alone becomes empty.
func TestTrimNoise(t *testing.T) {
	t.Parallel()
	const ev = `{"ev":"hello","t":10.1,"kernel":"6.12.117-modlab-debug"}`
	for _, tc := range []struct{ in, want string }{
		{ev, ev},
		{"\xff" + ev, ev}, // seen: the debug kernel booted with acpi=off
		{"\x00\x00" + ev + "\r", ev},
		{"  " + ev + " \t", ev},
		{"\xff\xfe", ""},
		{"", ""},
		{`{"msg":"caf\u00e9 ü"}`, `{"msg":"caf\u00e9 ü"}`},
	} {
		if got := string(trimNoise([]byte(tc.in))); got != tc.want {
			t.Errorf("trimNoise(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestRenice: every thread of the process gets the new nice value. A
// process with several threads stands in for QEMU (its vCPU runs in a
// thread of its own).
func TestRenice(t *testing.T) {
	t.Parallel()
	// The test binary itself has many threads: run it again as the child.
	cmd := exec.Command(os.Args[0], "-test.run=^TestReniceChild$")
	cmd.Env = append(os.Environ(), "MODLAB_RENICE_CHILD=1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	vm := &VM{cmd: cmd}
	var tasks []os.DirEntry
	for deadline := time.Now().Add(10 * time.Second); ; {
		tasks, _ = os.ReadDir(fmt.Sprintf("/proc/%d/task", cmd.Process.Pid))
		if len(tasks) > 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(tasks) < 2 {
		t.Fatalf("the child has %d threads, want several", len(tasks))
	}
	if err := vm.Renice(10); err != nil {
		t.Fatal(err)
	}
	tasks, _ = os.ReadDir(fmt.Sprintf("/proc/%d/task", cmd.Process.Pid))
	for _, task := range tasks {
		tid, _ := strconv.Atoi(task.Name())
		// getpriority returns 20 - nice for PRIO_PROCESS.
		prio, err := syscall.Getpriority(syscall.PRIO_PROCESS, tid)
		if err != nil {
			continue // the thread ended
		}
		if nice := 20 - prio; nice != 10 {
			t.Errorf("thread %d: nice %d, want 10", tid, nice)
		}
	}
}

// TestReniceChild is the process TestRenice renices: it waits to be
// killed.
func TestReniceChild(t *testing.T) {
	if os.Getenv("MODLAB_RENICE_CHILD") != "1" {
		t.Skip("only as TestRenice's child")
	}
	time.Sleep(time.Minute)
}

// TestStateKey: a saved guest's key follows the command line, the QEMU
// binary, and the contents of the kernel and the initramfs; not the run's
// own files, nor the names of the images.
func TestStateKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := func(name, data string, mode os.FileMode) string {
		p := dir + "/" + name
		if err := os.WriteFile(p, []byte(data), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	base := VMConfig{QEMU: file("qemu", "#!/bin/sh\n", 0o755), Image: file("vmlinux", "kernel", 0o644),
		Initramfs: file("initrd", "init", 0o644), Disk: "/run/a/work.img", ConsoleLog: "/run/a/console.log",
		TmpDir: "/run/a", Append: "slub_debug=FZPU"}
	key := func(cfg VMConfig) string {
		t.Helper()
		k, err := StateKey(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	os.Chtimes(base.Initramfs, time.Unix(1, 0), time.Unix(1, 0))
	k0 := key(base)
	same := base
	same.Disk, same.ConsoleLog, same.TmpDir, same.Restore = "/run/b/work.img", "/run/b/console.log", "/run/b", "/x.state"
	same.Initramfs = file("initrd-copy", "init", 0o644) // the same image under another name
	if k := key(same); k != k0 {
		t.Errorf("another run's files changed the key: %s, want %s", k, k0)
	}
	for name, change := range map[string]func(*VMConfig){
		"append": func(c *VMConfig) { c.Append += " quiet" },
		"memory": func(c *VMConfig) { c.MemoryMB = 1024 },
		"accel":  func(c *VMConfig) { c.Accel = []string{"-accel", "kvm", "-cpu", "host"} },
		"kernel": func(c *VMConfig) { c.Image = file("vmlinux2", "another kernel", 0o644) },
		"initramfs": func(c *VMConfig) {
			os.WriteFile(c.Initramfs, []byte("init, rebuilt"), 0o644)
		},
	} {
		c := base
		change(&c)
		if k := key(c); k == k0 {
			t.Errorf("%s: the key did not change", name)
		}
		// Put the initramfs back as it was, time included.
		os.WriteFile(base.Initramfs, []byte("init"), 0o644)
		os.Chtimes(base.Initramfs, time.Unix(1, 0), time.Unix(1, 0))
	}
	inter := base
	inter.Interactive = true
	if _, err := StateKey(inter); err == nil {
		t.Error("an interactive console got a key")
	}
}
