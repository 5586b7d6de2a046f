package qemu

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/digitalocean/go-qemu/qmp"
)

// A guest saved at /init's "ready" (Save) and started again from the file
// (VMConfig.Restore) skips the kernel's boot: under TCG that is 10 s of
// the debug kernel's 11 s to ready, and 3 of a Debian kernel's 3.5 s.
// QEMU writes the guest's memory and devices to the file (its migration
// to a file: URI, QEMU 8.2 and later) and reads them back with -incoming.
//
// The restored guest must meet the same devices with the same settings:
// the same QEMU binary, command line, kernel and initramfs (StateKey). Its
// files may differ: the work disk (its size is fixed, and the guest reads
// it only after "go", dropping what it cached), the console log and the
// control socket.

// qmpSocket is the name of the QMP socket in VMConfig.TmpDir.
const qmpSocket = "qmp.sock"

// StateKey names what a saved guest depends on: QEMU's command line for
// cfg with the run's own files left out, the QEMU binary's path, size and
// time of change, and the contents of the kernel and the initramfs (not
// their paths: the lab's cache may hold the same image under two names,
// when two runs made it at once). A guest saved under
// one key may be restored by a boot of the same key.
func StateKey(cfg VMConfig) (string, error) {
	if cfg.Interactive {
		return "", errors.New("an interactive console is not saved")
	}
	bin, err := exec.LookPath(qemuBinary(cfg))
	if err != nil {
		return "", fmt.Errorf("QEMU not found: %w", err)
	}
	c := cfg
	c.Disk, c.ConsoleLog, c.TmpDir, c.Restore = "DISK", "CONSOLE", "TMP", ""
	c.Image, c.Initramfs = "KERNEL", "INITRAMFS" // their contents count, below
	h := sha256.New()
	for _, a := range QEMUArgs(c, "CTL") {
		fmt.Fprintf(h, "%q\n", a)
	}
	st, err := os.Stat(bin)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(h, "%s %d %d\n", bin, st.Size(), st.ModTime().UnixNano())
	for _, f := range []string{cfg.Image, cfg.Initramfs} {
		if err := hashFile(h, f); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:20], nil
}

func hashFile(h io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(h, f)
	return err
}

func qemuBinary(cfg VMConfig) string {
	if cfg.QEMU == "" {
		return "qemu-system-x86_64"
	}
	return cfg.QEMU
}

// monitor is a QMP connection to a VM.
type monitor struct{ mon *qmp.SocketMonitor }

func dialMonitor(path string, timeout time.Duration) (*monitor, error) {
	deadline := time.Now().Add(timeout)
	for {
		mon, err := qmp.NewSocketMonitor("unix", path, time.Second)
		if err == nil {
			if err = mon.Connect(); err == nil {
				return &monitor{mon}, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("QMP %s: %w", path, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// run executes a QMP command and decodes its return value into ret
// (unless nil).
func (m *monitor) run(ret any, cmd string, args map[string]any) error {
	req := map[string]any{"execute": cmd}
	if args != nil {
		req["arguments"] = args
	}
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	out, err := m.mon.Run(b)
	if err != nil {
		return fmt.Errorf("QMP %s: %w", cmd, err)
	}
	if ret == nil {
		return nil
	}
	var r struct{ Return json.RawMessage }
	if err := json.Unmarshal(out, &r); err != nil {
		return fmt.Errorf("QMP %s: %w", cmd, err)
	}
	return json.Unmarshal(r.Return, ret)
}

func (m *monitor) status() (string, error) {
	var st struct{ Status string }
	err := m.run(&st, "query-status", nil)
	return st.Status, err
}

func (m *monitor) close() { m.mon.Disconnect() }

// Save writes the stopped guest's state to path (through path+".tmp",
// renamed when complete) and lets the guest go on. Call it when the guest
// waits for the host, at "ready": what it does while stopped is nothing.
func (vm *VM) Save(path string) error {
	if vm.mon == nil {
		return errors.New("save: the VM has no QMP monitor")
	}
	tmp := path + ".tmp"
	os.Remove(tmp)
	if err := vm.mon.run(nil, "stop", nil); err != nil {
		return err
	}
	defer vm.mon.run(nil, "cont", nil)
	if err := vm.mon.run(nil, "migrate", map[string]any{"uri": "file:" + tmp}); err != nil {
		return err
	}
	for {
		var mig struct {
			Status    string `json:"status"`
			ErrorDesc string `json:"error-desc"`
		}
		if err := vm.mon.run(&mig, "query-migrate", nil); err != nil {
			os.Remove(tmp)
			return err
		}
		switch mig.Status {
		case "completed":
			return os.Rename(tmp, path)
		case "failed", "cancelled":
			os.Remove(tmp)
			return fmt.Errorf("save: migration %s: %s", mig.Status, mig.ErrorDesc)
		}
		select {
		case <-vm.exited:
			os.Remove(tmp)
			return fmt.Errorf("save: QEMU exited: %v", vm.exitErr)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// resume waits until a guest started from a saved state has loaded it,
// and lets it run (it was saved stopped).
func (vm *VM) resume(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		st, err := vm.mon.status()
		if err != nil {
			return fmt.Errorf("restore %s: %w", vm.Config.Restore, err)
		}
		switch st {
		case "running":
			return nil
		case "paused", "postmigrate":
			if err := vm.mon.run(nil, "cont", nil); err != nil {
				return fmt.Errorf("restore %s: %w", vm.Config.Restore, err)
			}
			continue
		case "inmigrate":
		default:
			return fmt.Errorf("restore %s: the VM is %s", vm.Config.Restore, st)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("restore %s: not loaded within %v", vm.Config.Restore, timeout)
		}
		select {
		case <-vm.exited:
			return fmt.Errorf("restore %s: %s", vm.Config.Restore, strings.TrimPrefix(vm.ExitReason(), "QEMU: "))
		case <-time.After(20 * time.Millisecond):
		}
	}
}
