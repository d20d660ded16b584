package pool

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// newTenants creates n migrated tenant files in one data dir.
func newTenants(t *testing.T, n int) (string, []string) {
	t.Helper()
	dir := t.TempDir()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = tenantdb.NewTenantID()
		db, err := tenantdb.Create(context.Background(), dir, ids[i])
		if err != nil {
			t.Fatal(err)
		}
		db.Close()
	}
	return dir, ids
}

func TestPoolCapsOpenTenants(t *testing.T) {
	dir, ids := newTenants(t, 10)
	p := New(dir, 3, 0)
	defer p.Close()
	ctx := context.Background()
	for round := range 3 {
		for _, id := range ids {
			h, err := p.Acquire(ctx, id)
			if err != nil {
				t.Fatalf("round %d: Acquire(%s): %v", round, id, err)
			}
			if _, err := h.Site(ctx); err != nil {
				t.Fatalf("query on acquired tenant: %v", err)
			}
			h.Release()
			if n := p.Len(); n > 3 {
				t.Fatalf("%d tenants open, want at most 3", n)
			}
		}
	}
	if ev := p.Stats.Evictions.Load(); ev < 27 {
		t.Errorf("%d evictions for 30 acquires of 10 tenants with room for 3, want at least 27", ev)
	}
}

func TestPoolNeverClosesTenantInUse(t *testing.T) {
	dir, ids := newTenants(t, 2)
	p := New(dir, 1, 0)
	defer p.Close()
	ctx := context.Background()
	held, err := p.Acquire(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := p.Acquire(short, ids[1]); !errors.Is(err, ErrFull) {
		t.Fatalf("Acquire with the only slot in use: %v, want ErrPoolFull", err)
	}
	if _, err := held.Site(ctx); err != nil {
		t.Fatalf("the held tenant was closed under its user: %v", err)
	}
	// Released, the slot goes to a waiter.
	got := make(chan error, 1)
	go func() {
		h, err := p.Acquire(ctx, ids[1])
		if err == nil {
			h.Release()
		}
		got <- err
	}()
	waitFor(t, "the waiter to wait", func() bool { p.mu.Lock(); defer p.mu.Unlock(); return p.waiters > 0 })
	held.Release()
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("waiter: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waiter never got the released slot")
	}
}

func TestPoolSingleFlightOpen(t *testing.T) {
	dir := t.TempDir()
	// A zero-length file: a valid SQLite database, cold and unmigrated.
	id := tenantdb.NewTenantID()
	if err := os.MkdirAll(filepath.Join(dir, "tenants"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tenantdb.TenantPath(dir, id), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	p := New(dir, 8, 0)
	defer p.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	start := make(chan struct{})
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			h, err := p.Acquire(context.Background(), id)
			if err != nil {
				errs <- err
				return
			}
			_, err = h.Site(context.Background())
			h.Release()
			errs <- err
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if opens, migrations := p.Stats.Opens.Load(), p.Stats.Migrations.Load(); opens != 1 || migrations != 1 {
		t.Errorf("100 concurrent first acquires: %d opens, %d migrations; want 1, 1", opens, migrations)
	}
}

func TestPoolClosesIdleTenants(t *testing.T) {
	dir, ids := newTenants(t, 3)
	p := New(dir, 10, time.Hour) // the janitor ticks every 15 minutes: it stays out of the way
	defer p.Close()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	p.now = func() time.Time { return now }
	ctx := context.Background()
	for _, id := range ids {
		h, err := p.Acquire(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		h.Release()
	}
	inUse, err := p.Acquire(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(30 * time.Minute)
	h, _ := p.Acquire(ctx, ids[1]) // used again: fresh
	h.Release()
	now = now.Add(45 * time.Minute) // ids[2] idle 75 min, ids[1] 45 min
	p.closeIdle()
	if open, _ := p.IsOpen(ids[2]); open {
		t.Error("tenant idle past the timeout is still open")
	}
	if open, _ := p.IsOpen(ids[1]); !open {
		t.Error("tenant idle for less than the timeout was closed")
	}
	now = now.Add(2 * time.Hour)
	p.closeIdle()
	if open, _ := p.IsOpen(ids[0]); !open {
		t.Error("tenant in use was closed by the idle timeout")
	}
	if _, err := inUse.Site(ctx); err != nil {
		t.Fatalf("in-use tenant unusable: %v", err)
	}
	inUse.Release()
	if n := p.Stats.IdleCloses.Load(); n != 2 {
		t.Errorf("%d idle closes, want 2", n)
	}
}

func TestPoolDrainWaitsForUsersAndBlocksOpens(t *testing.T) {
	dir, ids := newTenants(t, 1)
	id := ids[0]
	p := New(dir, 4, 0)
	defer p.Close()
	ctx := context.Background()
	user, err := p.Acquire(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var order []string
	note := func(s string) { mu.Lock(); order = append(order, s); mu.Unlock() }
	drained := make(chan error)
	go func() {
		drained <- p.Drain(ctx, id, func() error { note("fn"); return nil })
	}()
	waitFor(t, "the drain to begin", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		e := p.entries[id]
		return e != nil && e.draining != nil
	})
	acquired := make(chan struct{})
	go func() {
		h, err := p.Acquire(ctx, id)
		if err != nil {
			t.Error(err)
		} else {
			note("reacquired")
			h.Release()
		}
		close(acquired)
	}()
	// Give the acquirer a moment to reach the drain and wait there (if it
	// is late, the order below still holds: it is what is asserted).
	time.Sleep(30 * time.Millisecond)
	// The user finishes its write: the drain may only proceed now.
	if err := user.SavePost(ctx, &tenantdb.Post{Title: "written during drain", Published: true}); err != nil {
		t.Fatal(err)
	}
	note("released")
	user.Release()
	if err := <-drained; err != nil {
		t.Fatal(err)
	}
	<-acquired
	want := []string{"released", "fn", "reacquired"}
	if len(order) != 3 || order[0] != want[0] || order[1] != want[1] || order[2] != want[2] {
		t.Errorf("order %v, want %v", order, want)
	}
	h, err := p.Acquire(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release()
	if _, err := h.PublishedPost(ctx, "written-during-drain"); err != nil {
		t.Errorf("write acknowledged before the drain is gone: %v", err)
	}
}

// TestPoolKeepsTenantWhileAnyHolderRemains acquires one tenant twice and
// releases one handle: the tenant stays in use for the other holder, so a
// full pool cannot evict it; only the last release frees its slot.
func TestPoolKeepsTenantWhileAnyHolderRemains(t *testing.T) {
	dir, ids := newTenants(t, 2)
	p := New(dir, 1, 0)
	defer p.Close()
	ctx := context.Background()
	first, err := p.Acquire(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	second, err := p.Acquire(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	first.Release()
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if h, err := p.Acquire(short, ids[1]); !errors.Is(err, ErrFull) {
		if err == nil {
			h.Release()
		}
		t.Fatalf("another tenant while one holder remains: %v, want ErrFull (the held tenant must not be evicted)", err)
	}
	if _, err := second.Site(ctx); err != nil {
		t.Fatalf("the remaining holder's tenant was closed under it: %v", err)
	}
	if open, _ := p.IsOpen(ids[0]); !open {
		t.Fatal("the held tenant is not open")
	}
	second.Release()
	h, err := p.Acquire(ctx, ids[1])
	if err != nil {
		t.Fatalf("after the last release the slot is not free: %v", err)
	}
	h.Release()
	if open, _ := p.IsOpen(ids[0]); open {
		t.Error("the released tenant was not the one evicted")
	}
}

// waitFor polls cond until it holds (a state of the pool another goroutine
// is about to reach), failing the test after ten seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestAcquireByGivesUpAtItsDeadline: a request that must wait for a slot
// gives up at its deadline (the server's --acquire-timeout), with
// ErrFull; an open tenant is taken without waiting, so even a deadline
// already past does not refuse it.
func TestAcquireByGivesUpAtItsDeadline(t *testing.T) {
	dir, ids := newTenants(t, 2)
	p := New(dir, 1, 0)
	defer p.Close()
	ctx := context.Background()
	held, err := p.AcquireBy(ctx, ids[0], time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	if _, err := p.AcquireBy(ctx, ids[1], time.Now().Add(20*time.Millisecond)); !errors.Is(err, ErrFull) {
		t.Fatalf("AcquireBy with the only slot in use: %v, want ErrFull at the deadline", err)
	}
	// Twenty times: were the ready tenant and the passed deadline raced in
	// one select, each would go either way.
	for range 20 {
		again, err := p.AcquireBy(ctx, ids[0], time.Now().Add(-time.Second))
		if err != nil {
			t.Fatalf("AcquireBy of the open tenant with a past deadline: %v, want it taken without waiting", err)
		}
		again.Release()
	}
	// The caller's own end still counts.
	gone, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := p.AcquireBy(gone, ids[1], time.Now().Add(time.Minute)); !errors.Is(err, ErrFull) {
		t.Fatalf("AcquireBy for a request already gone: %v, want ErrFull", err)
	}
}
