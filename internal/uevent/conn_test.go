package uevent

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestReceiveStops: a Receive waiting for events returns the context's
// error soon after the context ends, and the connection can wait again
// afterwards. (The events themselves are tested in the VM, where the
// examples' modules make them: examples/chardev.)
func TestReceiveStops(t *testing.T) {
	c, err := Listen()
	if err != nil {
		t.Skipf("no uevent socket here: %v", err)
	}
	defer c.Close()
	for i := 0; i < 2; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		start := time.Now()
		// Events the host happens to send are fine: wait past them.
		for {
			_, err = c.Receive(ctx)
			if err != nil {
				break
			}
		}
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Receive %d: %v, want the context's deadline", i, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("Receive %d took %v to notice its context ended", i, d)
		}
	}
	// A closed connection fails at once.
	c.Close()
	if _, err := c.Receive(context.Background()); err == nil {
		t.Fatal("Receive on a closed connection succeeded")
	}
}
