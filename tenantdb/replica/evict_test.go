package replica

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb/pool"
)

func openFDs(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(fds)
}

// Eviction under replication: a pool of cap 8 over 200 tenants written in
// turn (three passes) replicates each one as it opens and syncs it as it
// is evicted. No write is lost (every tenant restores with all its posts),
// and goroutines and open files stay bounded by the cap, not the number of
// tenants.
func TestEvictionUnderReplication(t *testing.T) {
	ctx := context.Background()
	const capOpen, tenants, passes = 8, 200, 3
	dir := t.TempDir()
	ids := createTenants(t, dir, tenants)
	r := newFileReplicator(t, dir, Options{})
	p := pool.New(dir, capOpen, 0)
	p.Replicate(r)
	defer p.Close()

	// A warm-up pass fills the pool, so the baseline has cap tenants open.
	write := func(pass int) {
		for _, id := range ids {
			h, err := p.Acquire(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			post(t, h.DB, fmt.Sprintf("pass %d", pass))
			h.Release()
		}
	}
	write(0)
	baseG, baseFD := runtime.NumGoroutine(), openFDs(t)
	maxG, maxFD := baseG, baseFD
	for pass := 1; pass < passes; pass++ {
		for _, id := range ids {
			h, err := p.Acquire(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			post(t, h.DB, fmt.Sprintf("pass %d", pass))
			h.Release()
			maxG, maxFD = max(maxG, runtime.NumGoroutine()), max(maxFD, openFDs(t))
		}
	}
	t.Logf("%d tenants through a pool of %d, %d passes: goroutines %d at the baseline, at most %d; open files %d, at most %d; evictions %d",
		tenants, capOpen, passes, baseG, maxG, baseFD, maxFD, p.Stats.Evictions.Load())
	// One tenant more or less registered than at the baseline moves the
	// counts by a few (the spike: +4 goroutines, +4 fds each), and an
	// evicted tenant's replica winds down while the next one starts (on a
	// loaded machine a few of them at once): at most the cap's worth again.
	// Growth with the tenants written would be hundreds.
	if bound := capOpen * 6; maxG > baseG+bound || maxFD > baseFD+bound {
		t.Errorf("goroutines %d (baseline %d) or open files %d (baseline %d) grew beyond the cap's bound", maxG, baseG, maxFD, baseFD)
	}
	if got := len(r.Registered()); got > capOpen {
		t.Errorf("%d databases registered, want at most the cap %d", got, capOpen)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for _, id := range ids {
		out := filepath.Join(t.TempDir(), id+".db")
		if err := r.Target().Restore(ctx, id, out, time.Time{}); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		got := titles(t, out)
		for pass := range passes {
			if !got[fmt.Sprintf("pass %d", pass)] {
				t.Errorf("%s: the post of pass %d is not in the replica (got %v)", id, pass, got)
			}
		}
	}
	t.Logf("restored %d tenants in %s", tenants, time.Since(start).Round(time.Millisecond))
}
