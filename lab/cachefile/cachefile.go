// Package cachefile is what modlab processes that share one cache need of
// its files: locks that the kernel drops when their holder exits, however
// it exits (flock(2)), a wait for one, and copies that a reader never
// sees half written.
package cachefile

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Lock is a held lock file.
type Lock struct{ f *os.File }

// TryLock takes the lock of the file at path (created if missing), or
// returns nil when another holder has it.
func TryLock(path string) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if err == nil {
		return &Lock{f}, nil
	}
	f.Close()
	if err == unix.EWOULDBLOCK || err == unix.EINTR {
		return nil, nil
	}
	return nil, fmt.Errorf("flock %s: %w", path, err)
}

// Release drops the lock. It may be called more than once, and on nil.
func (l *Lock) Release() {
	if l == nil || l.f == nil {
		return
	}
	l.f.Close() // closing the file drops the lock
	l.f = nil
}

// Poll calls try every poll until it succeeds or fails, or ctx ends (then
// ctx's error). waiting, when not nil, is called once if the first try
// did not succeed.
func Poll(ctx context.Context, poll time.Duration, waiting func(), try func() (bool, error)) error {
	t := time.NewTicker(poll)
	defer t.Stop()
	for first := true; ; first = false {
		ok, err := try()
		if ok || err != nil {
			return err
		}
		if first && waiting != nil {
			waiting()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Copy copies src to dst through dst.tmp, renamed when complete.
func Copy(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".tmp"
	out, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(tmp)
		return err
	}
	if err := out.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, dst)
}
