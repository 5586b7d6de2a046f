package snapshot

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestClaim: one claim at a time; a waiter is told once that it waits,
// gets the claim when it is released, and gives up when its context
// ends.
func TestClaim(t *testing.T) {
	t.Parallel()
	e := Store{Dir: t.TempDir()}.Entry("6.1.0-50-cloud-amd64", "abc")
	c1, err := e.TryClaim()
	if err != nil || c1 == nil {
		t.Fatalf("first claim: %v, %v", c1, err)
	}
	if c2, err := e.TryClaim(); c2 != nil || err != nil {
		t.Fatalf("second claim while the first is held: %v, %v; want none", c2, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if c, err := e.Claim(ctx, nil); c != nil || err != context.DeadlineExceeded {
		t.Fatalf("claim with the context ending: %v, %v; want the context's error", c, err)
	}
	waited := 0
	go func() {
		time.Sleep(200 * time.Millisecond)
		c1.Release()
	}()
	c3, err := e.Claim(context.Background(), func() { waited++ })
	if err != nil || c3 == nil {
		t.Fatalf("claim after release: %v, %v", c3, err)
	}
	if waited != 1 {
		t.Errorf("waiting called %d times, want 1", waited)
	}
	c3.Release()
	c3.Release() // twice is harmless
	var none *Claim
	none.Release()
}

// TestConsole: the console of the saved boot reaches the restored run's
// log, whose old contents it replaces; without one the log starts empty.
func TestConsole(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := Store{Dir: dir}.Entry("k", "key")
	boot := filepath.Join(dir, "boot.log")
	os.WriteFile(boot, []byte("[    0.000000] Linux version\n"), 0o644)
	if err := e.KeepConsole(boot); err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(dir, "run.log")
	os.WriteFile(run, []byte("stale\n"), 0o644)
	os.WriteFile(e.State, []byte("state"), 0o600)
	if err := e.Used(run); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(run); string(b) != "[    0.000000] Linux version\n" {
		t.Errorf("restored run's log = %q, want the saved boot's", b)
	}
	e.Discard()
	if e.Saved() {
		t.Error("entry still saved after Discard")
	}
	if err := e.Used(run); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(run); len(b) != 0 {
		t.Errorf("log = %q without a saved console, want empty", b)
	}
}

// TestPrune: a release keeps its newest entries, with their consoles and
// locks; other releases are left alone.
func TestPrune(t *testing.T) {
	t.Parallel()
	s := Store{Dir: t.TempDir(), Keep: 2}
	now := time.Now()
	var es []Entry
	for i, key := range []string{"old", "mid", "new"} {
		e := s.Entry("6.12.117-modlab-debug", key)
		for _, f := range []string{e.State, e.Console, e.lock} {
			os.WriteFile(f, []byte(key), 0o644)
		}
		when := now.Add(time.Duration(i-3) * time.Minute)
		os.Chtimes(e.State, when, when)
		es = append(es, e)
	}
	other := s.Entry("6.1.0-50-cloud-amd64", "old")
	os.WriteFile(other.State, nil, 0o644)
	os.Chtimes(other.State, now.Add(-time.Hour), now.Add(-time.Hour))
	s.Prune("6.12.117-modlab-debug")
	for i, e := range es {
		for _, f := range []string{e.State, e.Console, e.lock} {
			_, err := os.Stat(f)
			if kept := err == nil; kept != (i > 0) {
				t.Errorf("%s kept = %v, want %v", filepath.Base(f), kept, i > 0)
			}
		}
	}
	if !other.Saved() {
		t.Error("another release's entry was pruned")
	}
}
