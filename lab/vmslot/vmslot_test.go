package vmslot

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"
)

// holdEnv makes the test binary a holder of a slot (see TestMain).
const holdEnv = "VMSLOT_TEST_HOLD"

// TestMain: with holdEnv set to a directory, the test binary takes a slot
// of a one-slot pool there, says "held" and waits to be killed.
func TestMain(m *testing.M) {
	if dir := os.Getenv(holdEnv); dir != "" {
		s, err := Pool{Dir: dir, N: 1}.TryAcquire()
		if err != nil || s == nil {
			os.Exit(3)
		}
		os.Stdout.WriteString("held\n")
		time.Sleep(time.Minute)
		os.Exit(4)
	}
	os.Exit(m.Run())
}

func TestTryAcquire(t *testing.T) {
	p := Pool{Dir: t.TempDir(), N: 2}
	a, err := p.TryAcquire()
	if err != nil || a == nil {
		t.Fatalf("first slot: %v, %v", a, err)
	}
	b, err := p.TryAcquire()
	if err != nil || b == nil || b.N == a.N {
		t.Fatalf("second slot: %v, %v (first is %d)", b, err, a.N)
	}
	if c, err := p.TryAcquire(); c != nil || err != nil {
		t.Fatalf("a third slot of two: %v, %v; want none and no error", c, err)
	}
	a.Release()
	a.Release() // twice: no harm
	c, err := p.TryAcquire()
	if err != nil || c == nil || c.N != a.N {
		t.Fatalf("after a release: %v, %v; want slot %d again", c, err, a.N)
	}
	var none *Slot
	none.Release()
	if _, err := (Pool{Dir: t.TempDir()}).TryAcquire(); err == nil {
		t.Error("a pool of 0 slots: no error")
	}
}

// TestAcquireWaits: with every slot taken, Acquire says it waits, once,
// and returns the slot when its holder lets go; or ctx's error.
func TestAcquireWaits(t *testing.T) {
	p := Pool{Dir: t.TempDir(), N: 1, Poll: 10 * time.Millisecond}
	held, err := p.TryAcquire()
	if err != nil || held == nil {
		t.Fatal(held, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if s, err := p.Acquire(ctx, nil); s != nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Acquire with every slot held: %v, %v; want the context's error", s, err)
	}
	waits := 0
	go func() {
		time.Sleep(100 * time.Millisecond)
		held.Release()
	}()
	s, err := p.Acquire(context.Background(), func() { waits++ })
	if err != nil || s == nil {
		t.Fatalf("Acquire after the holder let go: %v, %v", s, err)
	}
	if waits != 1 {
		t.Errorf("waiting was called %d times, want once", waits)
	}
}

// TestHolderKilled: a slot held by another process is taken for it, and
// free again once that process is killed (no modlab left behind to let
// go of it).
func TestHolderKilled(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), holdEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "held\n" {
		t.Fatalf("the holder said %q, %v", line, err)
	}
	p := Pool{Dir: dir, N: 1}
	if s, err := p.TryAcquire(); s != nil || err != nil {
		t.Fatalf("the slot another process holds: %v, %v; want none", s, err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if s, err := p.TryAcquire(); s == nil || err != nil {
		t.Fatalf("after the holder was killed: %v, %v; want its slot", s, err)
	}
}
