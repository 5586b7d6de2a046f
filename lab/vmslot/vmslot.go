// Package vmslot shares the host's CPUs among the VMs of every modlab
// process on it: at most N of them run at once. Under TCG each VM keeps a
// CPU busy, and more VMs than CPUs cost CPU time and not only wall time
// (measured on 2 CPUs, the debug kernel's shortest run: 20 CPU-seconds
// with two at once, 22 each with three, 26 each with four), starve each
// other's timer interrupts and make boots miss their timeout. Test
// packages that run at the same time, and two modlab commands in two
// terminals, each see only their own VMs; the pool sees them all.
//
// A slot is a file DIR/N held with flock(2): the kernel frees it when the
// holder exits, however it exits, so a killed modlab leaves no slot
// taken.
package vmslot

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/modlab/modlab/lab/cachefile"
)

// Pool is N slots in Dir.
type Pool struct {
	Dir string
	N   int
	// Poll is how often a waiter tries the slots again (default 50ms).
	Poll time.Duration
}

// Slot is a held slot.
type Slot struct {
	l *cachefile.Lock
	N int // which one, from 0
}

// Release frees the slot. It may be called more than once, and on nil.
func (s *Slot) Release() {
	if s != nil {
		s.l.Release()
	}
}

// TryAcquire takes a free slot, or returns nil when all are taken.
func (p Pool) TryAcquire() (*Slot, error) {
	if p.N <= 0 {
		return nil, fmt.Errorf("VM slots in %s: %d slots", p.Dir, p.N)
	}
	if err := os.MkdirAll(p.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("VM slots: %w", err)
	}
	for i := 0; i < p.N; i++ {
		l, err := cachefile.TryLock(filepath.Join(p.Dir, strconv.Itoa(i)))
		if err != nil {
			return nil, fmt.Errorf("VM slot: %w", err)
		}
		if l != nil {
			return &Slot{l: l, N: i}, nil
		}
	}
	return nil, nil
}

// Acquire waits until a slot is free and takes it. waiting, when not nil,
// is called once if no slot was free at first. It returns ctx's error when
// ctx ends first.
func (p Pool) Acquire(ctx context.Context, waiting func()) (*Slot, error) {
	poll := p.Poll
	if poll <= 0 {
		poll = 50 * time.Millisecond
	}
	var s *Slot
	err := cachefile.Poll(ctx, poll, waiting, func() (bool, error) {
		var err error
		s, err = p.TryAcquire()
		return s != nil, err
	})
	return s, err
}
