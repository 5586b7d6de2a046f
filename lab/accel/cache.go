package accel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// probeVersion changes whenever the probe changes what it measures, so that
// verdicts of an older probe are not trusted.
const probeVersion = 1

// cacheKey is what a verdict holds for: this boot of the host (a reboot may
// load kvm modules or change their parameters) and this QEMU binary.
type cacheKey struct {
	Probe     int    `json:"probe"`
	BootID    string `json:"boot_id"`
	QEMU      string `json:"qemu"`
	QEMUMtime int64  `json:"qemu_mtime_ns"`
	QEMUSize  int64  `json:"qemu_size"`
}

// cacheEntry is the cache file's content.
type cacheEntry struct {
	Key     cacheKey `json:"key"`
	Verdict verdict  `json:"verdict"`
}

// cacheKeyFor builds the key for the QEMU binary at path in the boot whose
// id is in the file bootIDPath.
func cacheKeyFor(qemu, bootIDPath string) (cacheKey, error) {
	b, err := os.ReadFile(bootIDPath)
	if err != nil {
		return cacheKey{}, fmt.Errorf("boot id: %w", err)
	}
	id := strings.TrimSpace(string(b))
	if id == "" {
		return cacheKey{}, fmt.Errorf("boot id: %s is empty", bootIDPath)
	}
	if abs, err := filepath.Abs(qemu); err == nil {
		qemu = abs
	}
	if resolved, err := filepath.EvalSymlinks(qemu); err == nil {
		qemu = resolved
	}
	st, err := os.Stat(qemu)
	if err != nil {
		return cacheKey{}, fmt.Errorf("QEMU binary: %w", err)
	}
	return cacheKey{Probe: probeVersion, BootID: id, QEMU: qemu,
		QEMUMtime: st.ModTime().UnixNano(), QEMUSize: st.Size()}, nil
}

// cache keeps one verdict in a small file in dir.
type cache struct{ dir string }

func (c cache) file() string { return filepath.Join(c.dir, "kvm-probe.json") }

// load returns the stored verdict if it was made for key.
func (c cache) load(key cacheKey) (verdict, bool) {
	b, err := os.ReadFile(c.file())
	if err != nil {
		return verdict{}, false
	}
	return decodeEntry(b, key)
}

// decodeEntry parses a cache file and returns its verdict if it holds for
// key. Anything unexpected means "not cached".
func decodeEntry(b []byte, key cacheKey) (verdict, bool) {
	var e cacheEntry
	if err := json.Unmarshal(b, &e); err != nil || e.Key != key {
		return verdict{}, false
	}
	if !e.Verdict.Usable && e.Verdict.Reason == "" {
		return verdict{}, false // a refusal always says why
	}
	return e.Verdict, true
}

// store writes the verdict for key, atomically.
func (c cache) store(key cacheKey, v verdict) error {
	b, err := json.MarshalIndent(cacheEntry{Key: key, Verdict: v}, "", "\t")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	tmp, err := os.CreateTemp(c.dir, "kvm-probe-*.tmp")
	if err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("cache: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	if err := os.Rename(tmp.Name(), c.file()); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	return nil
}

// lock keeps two modlab processes from probing at the same time: the second
// waits for the first one's verdict. It gives up waiting after max (or when
// ctx ends) and carries on unlocked; a probe too many is harmless.
func (c cache) lock(ctx context.Context, max time.Duration) (unlock func()) {
	nop := func() {}
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return nop
	}
	f, err := os.OpenFile(filepath.Join(c.dir, "kvm-probe.lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nop
	}
	deadline := time.Now().Add(max)
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() {
				unix.Flock(int(f.Fd()), unix.LOCK_UN)
				f.Close()
			}
		}
		if !errors.Is(err, unix.EWOULDBLOCK) || time.Now().After(deadline) || ctx.Err() != nil {
			f.Close()
			return nop
		}
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
}
