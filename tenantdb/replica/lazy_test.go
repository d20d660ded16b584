package replica

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/pool"
)

// The cold path through a pool: an open of a tenant whose replica is in
// step registers nothing with Litestream and lists nothing however often
// it is read and closed; its first write registers it and ships within
// the interval with no sync asked for; a change made while the server
// was down (an open without replication) registers at the next open and
// reaches the replica.
func TestLazyRegisterAtFirstWrite(t *testing.T) {
	ctx := context.Background()
	dir, id := testTenant(t)
	r := newFileReplicator(t, dir, Options{Interval: 200 * time.Millisecond})
	p := pool.New(dir, 4, 0)
	t.Cleanup(func() { p.Close() })
	p.Replicate(r)
	closeTenant := func() {
		t.Helper()
		if err := p.Drain(ctx, id, func() error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	use := func(fn func(db *tenantdb.DB)) {
		t.Helper()
		h, err := p.Acquire(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		fn(h.DB)
		h.Release()
	}
	restored := func() map[string]bool {
		t.Helper()
		out := filepath.Join(t.TempDir(), "out.db")
		if err := r.Target().Restore(ctx, id, out, time.Time{}); err != nil {
			t.Fatal(err)
		}
		return titles(t, out)
	}
	// waitShipped waits, with no sync asked for, until the replica has
	// a transaction after txid: Litestream's monitor ships it.
	waitShipped := func(txid uint64) {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
			st, _ := r.Status(id)
			if st.Registered && st.TXID > txid {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the write did not reach the replica within a minute: %+v", st)
			}
		}
	}

	// A first open has no record: registered at open.
	use(func(db *tenantdb.DB) { post(t, db, "first") })
	if n := r.Stats.Registers.Load(); n != 1 {
		t.Fatalf("a first open and write: %d registers, want 1", n)
	}
	closeTenant()

	regs, lists, reads := r.Stats.Registers.Load(), r.Stats.Lists.Load(), r.Stats.Reads.Load()
	for range 5 {
		use(func(db *tenantdb.DB) {
			if _, err := db.Site(ctx); err != nil {
				t.Fatal(err)
			}
			if st, _ := r.Status(id); !st.Waiting || st.Registered {
				t.Errorf("an in-step tenant open and only read: status %+v, want waiting for a write, not registered", st)
			}
			if err := r.Sync(ctx, id); err != nil {
				t.Errorf("sync of a tenant waiting for its first write: %v, want nil (in step)", err)
			}
		})
		closeTenant()
	}
	if n := r.Stats.Registers.Load() - regs; n != 0 {
		t.Errorf("5 opens of an in-step tenant, only read: %d registers with Litestream, want 0", n)
	}
	if l, rd := r.Stats.Lists.Load()-lists, r.Stats.Reads.Load()-reads; l != 0 || rd != 0 {
		t.Errorf("5 opens of an in-step tenant, only read: %d lists and %d reads of the replica, want 0 and 0", l, rd)
	}
	if n := r.Stats.Deferred.Load(); n != 5 {
		t.Errorf("Deferred = %d, want 5", n)
	}

	// The first write of an open registers the tenant and ships.
	before, _ := r.Status(id)
	use(func(db *tenantdb.DB) {
		if _, err := db.Site(ctx); err != nil {
			t.Fatal(err)
		}
		post(t, db, "second")
	})
	if n := r.Stats.Registers.Load() - regs; n != 1 {
		t.Errorf("the first write after reads: %d registers, want 1", n)
	}
	waitShipped(before.TXID)
	if got := restored(); !got["first"] || !got["second"] {
		t.Errorf("restored while the tenant is open after its first write: posts %v, want first and second", got)
	}
	closeTenant()
	if l, rd := r.Stats.Lists.Load()-lists, r.Stats.Reads.Load()-reads; l != 0 || rd != 0 {
		t.Errorf("registered at a write, in step: %d lists and %d reads of the replica, want 0 and 0", l, rd)
	}

	// A change made while the server was down: registered at open.
	db, err := tenantdb.Open(ctx, dir, id)
	if err != nil {
		t.Fatal(err)
	}
	post(t, db, "offline")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	regs = r.Stats.Registers.Load()
	use(func(db *tenantdb.DB) {
		if _, err := db.Site(ctx); err != nil {
			t.Fatal(err)
		}
	})
	if n := r.Stats.Registers.Load() - regs; n != 1 {
		t.Errorf("an open after a change made offline, only read: %d registers, want 1", n)
	}
	closeTenant()
	if got := restored(); !got["offline"] {
		t.Errorf("restored after an offline change was opened: posts %v, want offline among them", got)
	}
}
