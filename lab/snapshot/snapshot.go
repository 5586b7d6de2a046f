// Package snapshot keeps the lab's guests saved at /init's "ready", so
// that a run can restore one in half a second instead of booting its
// kernel (under TCG, 11 s for the debug kernel, 3.5 s for Debian's).
//
// An entry is one boot configuration of one kernel (qemu.StateKey): the
// state QEMU saved, and the console log of the boot that made it, which a
// restored run's console log starts with. One process at a time makes an
// entry (Claim); the others wait for it, restore it, and spend no CPU on
// the same boot. Each kernel release keeps its newest entries only
// (Store.Keep): an entry is the size of the guest's used memory, about
// 200 MB for the debug kernel.
package snapshot

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/modlab/modlab/lab/cachefile"
)

// Store is a directory of saved guests.
type Store struct {
	Dir string
	// Keep is how many entries of a kernel release are kept (the newest
	// made or restored; default DefaultKeep).
	Keep int
}

// DefaultKeep is how many entries a kernel release keeps: a run's
// kernel and a few variants of its command line or memory.
const DefaultKeep = 3

// Entry is one saved guest.
type Entry struct {
	State   string // QEMU's saved state (qemu.VM.Save writes it)
	Console string // the console log of the boot, up to ready
	lock    string
}

// Entry names the entry of kernel release for configuration key.
func (s Store) Entry(release, key string) Entry {
	base := filepath.Join(s.Dir, release+"@"+key)
	return Entry{State: base + ".state", Console: base + ".console", lock: base + ".lock"}
}

// Saved reports whether the entry holds a saved guest.
func (e Entry) Saved() bool {
	_, err := os.Stat(e.State)
	return err == nil
}

// Claim is the right to make an entry, held by one process at a time (a
// lock file, which the kernel drops when its holder exits).
type Claim = cachefile.Lock

// TryClaim takes the entry's claim, or returns nil when another process
// holds it.
func (e Entry) TryClaim() (*Claim, error) {
	if err := os.MkdirAll(filepath.Dir(e.lock), 0o755); err != nil {
		return nil, fmt.Errorf("saved guests: %w", err)
	}
	c, err := cachefile.TryLock(e.lock)
	if err != nil {
		return nil, fmt.Errorf("saved guests: %w", err)
	}
	return c, nil
}

// Claim waits for the entry's claim and takes it. waiting, when not nil,
// is called once if another process held it at first.
func (e Entry) Claim(ctx context.Context, waiting func()) (*Claim, error) {
	var c *Claim
	err := cachefile.Poll(ctx, 100*time.Millisecond, waiting, func() (bool, error) {
		var err error
		c, err = e.TryClaim()
		return c != nil, err
	})
	return c, err
}

// KeepConsole stores the console log of the boot that is being saved.
// Call it before saving the state: a restorer that finds the state finds
// the log too.
func (e Entry) KeepConsole(log string) error {
	return cachefile.Copy(log, e.Console)
}

// Used marks the entry as just used, for Prune, and copies its console
// log to log, which the restored guest's console then continues.
func (e Entry) Used(log string) error {
	now := time.Now()
	os.Chtimes(e.State, now, now)
	if _, err := os.Stat(e.Console); err != nil {
		return os.WriteFile(log, nil, 0o644)
	}
	return cachefile.Copy(e.Console, log)
}

// Discard removes the entry's files: its state would not restore.
func (e Entry) Discard() {
	os.Remove(e.State)
	os.Remove(e.Console)
}

// Prune removes all but the newest Keep entries of a kernel release.
// A guest being restored from a removed entry goes on: QEMU holds the
// file open.
func (s Store) Prune(release string) {
	keep := s.Keep
	if keep <= 0 {
		keep = DefaultKeep
	}
	states, _ := filepath.Glob(filepath.Join(s.Dir, release+"@*.state"))
	type entry struct {
		base string
		mod  time.Time
	}
	var es []entry
	for _, p := range states {
		if st, err := os.Stat(p); err == nil {
			es = append(es, entry{strings.TrimSuffix(p, ".state"), st.ModTime()})
		}
	}
	sort.Slice(es, func(i, j int) bool { return es[i].mod.After(es[j].mod) })
	for i := keep; i < len(es); i++ {
		for _, ext := range []string{".state", ".console", ".lock"} {
			os.Remove(es[i].base + ext)
		}
	}
}
