package web

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestLazyTimeoutEndsAWaitAtItsDeadline: a request that does wait for a
// tenant slot still gives up at --acquire-timeout, though the timer
// starts only when it waits.
func TestLazyTimeoutEndsAWaitAtItsDeadline(t *testing.T) {
	ctx := newLazyTimeout(context.Background(), 10*time.Millisecond)
	defer ctx.cancel()
	if d, ok := ctx.Deadline(); !ok || time.Until(d) > 10*time.Millisecond {
		t.Errorf("Deadline() = %v, %v; want within 10ms", d, ok)
	}
	<-ctx.Done()
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Errorf("Err() = %v, want %v", ctx.Err(), context.DeadlineExceeded)
	}
}

// TestLazyTimeoutEndsWithItsParentAndWhenCancelled: the parent's end
// reaches a waiter, and a context cancelled before anyone waited is done.
func TestLazyTimeoutEndsWithItsParentAndWhenCancelled(t *testing.T) {
	parent, cancel := context.WithCancel(context.Background())
	ctx := newLazyTimeout(parent, time.Hour)
	done := ctx.Done()
	cancel()
	<-done
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Errorf("after the parent's cancel: Err() = %v, want %v", ctx.Err(), context.Canceled)
	}
	ctx.cancel()

	unused := newLazyTimeout(context.Background(), time.Hour)
	unused.cancel()
	select {
	case <-unused.Done():
	default:
		t.Error("a cancelled lazy timeout is not done")
	}
	if unused.Err() == nil {
		t.Error("a cancelled lazy timeout has no Err")
	}
}
