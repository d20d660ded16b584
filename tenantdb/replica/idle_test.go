package replica

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/internal/natstest"
	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/pool"
)

// newNATSReplicator is a Replicator to bucket on a real NATS server
// started in this process.
func newNATSReplicator(t *testing.T, dir, bucket string, opt Options) *Replicator {
	t.Helper()
	c := natstest.Start(t, 1)
	target, err := ParseURL(c.URL(0) + "/" + bucket)
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(context.Background(), target, filepath.Join(dir, "litestream"), opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(context.Background()) })
	return r
}

// waitFor polls cond until it holds; a minute without is a failure.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within a minute", what)
		}
	}
}

// createTenants makes n tenant files in dir, each with a site name.
func createTenants(t *testing.T, dir string, n int) []string {
	t.Helper()
	ctx := context.Background()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = tenantdb.NewTenantID()
		db, err := tenantdb.Create(ctx, dir, ids[i])
		if err != nil {
			t.Fatal(err)
		}
		site, _ := db.Site(ctx)
		site.Name = "Chapter " + ids[i]
		if err := db.UpdateSite(ctx, &site); err != nil {
			t.Fatal(err)
		}
		db.Close()
	}
	return ids
}

// A tenant open in the pool and no longer written is synced and
// unregistered after Options.Idle while it stays open: Litestream's
// goroutines go, its status says it waits for a write, with the
// replica's position from its record. Its next write registers it again
// with no listing and no read of the replica, and reaches the replica.
func TestIdleTenantUnregisters(t *testing.T) {
	ctx := context.Background()
	const n = 6
	dir := t.TempDir()
	ids := createTenants(t, dir, n)
	// The idle loop runs by hand: the counts before it are exact.
	r := newNATSReplicator(t, dir, "idle", Options{Interval: 200 * time.Millisecond, Idle: time.Millisecond, idleByHand: true})
	p := pool.New(dir, 2*n, 0)
	t.Cleanup(func() { p.Close() })
	p.Replicate(r)
	write := func(id, title string) {
		t.Helper()
		h, err := p.Acquire(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		defer h.Release()
		post(t, h.DB, title)
	}
	for _, id := range ids {
		write(id, "before idle")
	}
	if got := len(r.Registered()); got != n {
		t.Fatalf("%d tenants written: %d registered, want %d", n, got, n)
	}
	gRegistered := runtime.NumGoroutine()
	time.Sleep(2 * time.Millisecond) // Idle since the last write
	r.idleOnce()
	if got := r.Stats.IdleUnregisters.Load(); got != n || len(r.Registered()) != 0 {
		t.Fatalf("after the idle period: %d idle unregisters, %d registered, want %d and 0", got, len(r.Registered()), n)
	}
	gIdle := runtime.NumGoroutine()
	if drop := gRegistered - gIdle; drop < 2*n {
		t.Errorf("goroutines %d with %d tenants registered, %d once idle: want at least %d fewer (Litestream's per database)", gRegistered, n, gIdle, 2*n)
	}
	t.Logf("goroutines: %d with %d tenants registered, %d once they idled", gRegistered, n, gIdle)
	for _, id := range ids {
		st, ok := r.Status(id)
		if !ok || st.Registered || !st.Waiting || st.TXID == 0 || st.TXID != st.LocalTXID {
			t.Errorf("status of an idle tenant: %+v (known %v), want waiting for a write, in step from its record", st, ok)
		}
	}
	if got := p.Len(); got != n {
		t.Errorf("pool holds %d tenants after they idled out of the replica, want %d (they stay open)", got, n)
	}

	regs, lists, reads, bytes := r.Stats.Registers.Load(), r.Stats.Lists.Load(), r.Stats.Reads.Load(), r.Stats.Bytes.Load()
	for _, id := range ids {
		write(id, "after idle")
	}
	if got := r.Stats.Registers.Load() - regs; got != n {
		t.Errorf("the first write of %d idle tenants: %d registers, want %d", n, got, n)
	}
	for _, id := range ids {
		if err := r.Sync(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if l, rd := r.Stats.Lists.Load()-lists, r.Stats.Reads.Load()-reads; l != 0 || rd != 0 {
		t.Errorf("re-registered at a write after idle: %d lists and %d reads of the replica, want 0 and 0", l, rd)
	}
	fi, err := os.Stat(tenantdb.TenantPath(dir, ids[0]))
	if err != nil {
		t.Fatal(err)
	}
	per := (r.Stats.Bytes.Load() - bytes) / n
	t.Logf("re-register at a write after idle: %d bytes shipped per tenant (file %d bytes)", per, fi.Size())
	if per >= fi.Size()/2 {
		t.Errorf("re-registered at a write after idle: %d bytes shipped per tenant for a file of %d: a snapshot, want the write's pages", per, fi.Size())
	}
	for _, id := range ids {
		out := filepath.Join(t.TempDir(), "out.db")
		if err := r.Target().Restore(ctx, id, out, time.Time{}); err != nil {
			t.Fatal(err)
		}
		if got := titles(t, out); !got["before idle"] || !got["after idle"] {
			t.Errorf("%s restored after a write that followed idle: posts %v, want both", id, got)
		}
	}
}

// A write racing the idle unregister is never lost: a writer posts with
// pauses around Options.Idle while the replicator unregisters the tenant
// whenever it idles; each post is either in the final sync or
// registers the tenant again. Once the tenant waits again (in step), the
// replica holds every post, and again after the pool closes.
func TestIdleRaceLosesNoWrite(t *testing.T) {
	ctx := context.Background()
	dir, id := testTenant(t)
	const idle = 30 * time.Millisecond
	r := newNATSReplicator(t, dir, "race", Options{Interval: 100 * time.Millisecond, Idle: idle})
	p := pool.New(dir, 4, 0)
	p.Replicate(r)
	// Each writer writes at least 60 posts, and on until the tenant
	// idled out 10 times (at most 1000: a replica that keeps failing
	// keeps it registered).
	const writes, cycles = 120, 10
	var done [2]int
	var wg sync.WaitGroup
	for w := range 2 { // two writers: the gate holds off more than one
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000 && (i < writes/2 || r.Stats.IdleUnregisters.Load() < cycles); i++ {
				done[w] = i + 1
				h, err := p.Acquire(ctx, id)
				if err != nil {
					t.Error(err)
					return
				}
				if err := h.DB.SavePost(ctx, &tenantdb.Post{Title: fmt.Sprintf("w%d-%d", w, i), Body: "b"}); err != nil {
					t.Error(err)
				}
				h.Release()
				// Pauses from well under to well over the idle period.
				time.Sleep(time.Duration((i*7+w*3)%9) * idle / 4)
			}
		}()
	}
	wg.Wait()
	if n := r.Stats.IdleUnregisters.Load(); n < cycles {
		t.Fatalf("%d idle unregisters during %d writes, want at least %d for the race to be tried", n, done[0]+done[1], cycles)
	}
	check := func(when string) {
		t.Helper()
		out := filepath.Join(t.TempDir(), "out.db")
		if err := r.Target().Restore(ctx, id, out, time.Time{}); err != nil {
			t.Fatal(err)
		}
		got := titles(t, out)
		var missing []string
		for w := range 2 {
			for i := range done[w] {
				if k := fmt.Sprintf("w%d-%d", w, i); !got[k] {
					missing = append(missing, k)
				}
			}
		}
		if len(missing) > 0 {
			t.Errorf("%s: %d of %d writes not on the replica: %v", when, len(missing), done[0]+done[1], missing)
		}
	}
	waitFor(t, "the tenant idle again", func() bool { st, _ := r.Status(id); return st.Waiting })
	check("restored while the tenant waits, open and idle")
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	check("restored after the pool closed")
	t.Logf("%d writes, %d idle unregisters, %d registers, %d lists", done[0]+done[1], r.Stats.IdleUnregisters.Load(), r.Stats.Registers.Load(), r.Stats.Lists.Load())
}

// A write that comes while an idle tenant's final sync uploads waits
// until the unregister is done and then registers the tenant again: it
// is not committed between the final sync and the position record (it
// would then be on neither the replica nor, the tenant said in step,
// ever shipped). The replica's fence, called at each upload, starts
// that write in the middle of the final sync.
func TestIdleWriteDuringFinalSync(t *testing.T) {
	ctx := context.Background()
	dir, id := testTenant(t)
	var inject atomic.Bool
	var db *tenantdb.DB
	var racing sync.WaitGroup
	fence := func(string) error {
		if !inject.CompareAndSwap(true, false) {
			return nil
		}
		done := make(chan struct{})
		racing.Add(1)
		go func() {
			defer racing.Done()
			defer close(done)
			if err := db.SavePost(ctx, &tenantdb.Post{Title: "racing", Body: "b"}); err != nil {
				t.Error(err)
			}
		}()
		select { // committed, or held off by the unregister
		case <-done:
		case <-time.After(300 * time.Millisecond):
		}
		return nil
	}
	r := newNATSReplicator(t, dir, "final", Options{Interval: 200 * time.Millisecond, Idle: time.Millisecond, idleByHand: true, Fence: fence})
	p := pool.New(dir, 4, 0)
	t.Cleanup(func() { p.Close() })
	p.Replicate(r)
	h, err := p.Acquire(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release()
	db = h.DB
	post(t, db, "first")
	time.Sleep(2 * time.Millisecond) // Idle since the last write
	inject.Store(true)
	r.idleOnce()
	racing.Wait()
	if n := r.Stats.IdleUnregisters.Load(); n != 1 {
		t.Fatalf("%d idle unregisters, want 1", n)
	}
	if err := r.Sync(ctx, id); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out.db")
	if err := r.Target().Restore(ctx, id, out, time.Time{}); err != nil {
		t.Fatal(err)
	}
	st, _ := r.Status(id)
	if got := titles(t, out); !got["first"] || !got["racing"] {
		t.Errorf("a write during an idle tenant's final sync: restored posts %v, want first and racing (status %+v)", got, st)
	}
}
