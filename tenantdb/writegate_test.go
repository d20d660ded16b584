package tenantdb

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"
)

// The write gate of idle replication (BeforeWrite, IfIdle), the pinned
// connection (Pin, Unpin), Resume's bound and the write fence, with
// tenantdb's own tests: the replica's tests reach them only through
// Litestream and NATS, and take minutes.

// noopWrite is a write transaction that changes nothing: it still runs
// the BeforeWrite function and holds the write gate.
func noopWrite(ctx context.Context, db *DB) error {
	return db.write(ctx, func(*sql.Tx) error { return nil })
}

// TestBeforeWriteRunsArmedOnceBeforeTheWrite: an armed BeforeWrite
// function runs once, before the first write's transaction begins (it sees
// the file without that write's change), and not again for later writes;
// an unarmed one does not run.
func TestBeforeWriteRunsArmedOnceBeforeTheWrite(t *testing.T) {
	ctx := context.Background()
	db := openTenant(t)
	var calls, pagesSeen int
	db.BeforeWrite(func(ctx context.Context) {
		calls++
		must(t, db.r.QueryRowContext(ctx, `SELECT count(*) FROM pages`).Scan(&pagesSeen))
	}, true)
	must(t, db.SavePage(ctx, &Page{Title: "History", Body: "Founded 1946.", Published: true}))
	if calls != 1 || pagesSeen != 0 {
		t.Fatalf("after the first write: the function ran %d times, seeing %d pages; want once, before the page", calls, pagesSeen)
	}
	must(t, db.SavePage(ctx, &Page{Title: "Officers", Body: "Elected yearly.", Published: true}))
	must(t, noopWrite(ctx, db))
	if calls != 1 {
		t.Fatalf("after three writes the function ran %d times, want once", calls)
	}

	unarmed := openTenant(t)
	ran := false
	unarmed.BeforeWrite(func(context.Context) { ran = true }, false)
	must(t, noopWrite(ctx, unarmed))
	if ran {
		t.Fatal("an unarmed BeforeWrite function ran")
	}
}

// TestIfIdleRearmsOnlyWhenIdle: IfIdle runs its function only for a
// tenant with a BeforeWrite function, no write running, none within d,
// not armed already and still open; when the function reports true the
// next write runs the BeforeWrite function again, when false it does not.
func TestIfIdleRearmsOnlyWhenIdle(t *testing.T) {
	ctx := context.Background()
	calledFn := func(ran *bool, report bool) func() bool {
		return func() bool { *ran = true; return report }
	}

	t.Run("no BeforeWrite function", func(t *testing.T) {
		db := openTenant(t)
		ran := false
		if db.IfIdle(0, calledFn(&ran, true)) || ran {
			t.Fatalf("IfIdle without a BeforeWrite function ran its function (%v)", ran)
		}
	})

	db := openTenant(t)
	hooks := 0
	db.BeforeWrite(func(context.Context) { hooks++ }, false)
	must(t, noopWrite(ctx, db))

	ran := false
	if db.IfIdle(time.Hour, calledFn(&ran, true)) || ran {
		t.Fatal("IfIdle ran its function for a tenant written within the hour")
	}
	if !db.IfIdle(0, calledFn(&ran, true)) || !ran {
		t.Fatalf("IfIdle(0) of an idle tenant: function ran %v, want true", ran)
	}
	ran = false
	if db.IfIdle(0, calledFn(&ran, true)) || ran {
		t.Fatal("IfIdle ran its function again while the BeforeWrite function was armed")
	}
	must(t, noopWrite(ctx, db))
	must(t, noopWrite(ctx, db))
	if hooks != 1 {
		t.Fatalf("after IfIdle rearmed and two writes, the BeforeWrite function ran %d times, want 1", hooks)
	}

	// A function that reports false (it did not stop streaming) arms nothing.
	if db.IfIdle(0, calledFn(&ran, false)) {
		t.Fatal("IfIdle reported true for a function that reported false")
	}
	must(t, noopWrite(ctx, db))
	if hooks != 1 {
		t.Fatalf("the BeforeWrite function ran after an IfIdle whose function reported false (%d runs)", hooks)
	}

	// A write in progress: IfIdle answers false at once, without its function.
	ran = false
	var during bool
	must(t, db.write(ctx, func(*sql.Tx) error {
		during = db.IfIdle(0, calledFn(&ran, true))
		return nil
	}))
	if during || ran {
		t.Fatalf("IfIdle during a write: %v, function ran %v; want false, not run", during, ran)
	}

	// Closed: nothing runs.
	must(t, db.Close())
	if db.IfIdle(0, calledFn(&ran, true)) || ran {
		t.Fatal("IfIdle ran its function on a closed tenant")
	}
}

// TestPinHoldsOneConnectionUntilUnpin: Pin holds one reader connection
// however often it is called, Unpin closes it (not back to the pool of
// idle readers), and a later Pin takes one again. A replicated open has a
// reader beside the pinned one for each of the four of a plain open.
func TestPinHoldsOneConnectionUntilUnpin(t *testing.T) {
	ctx := context.Background()
	dir, id := newTenant(t)
	db, err := OpenReplicated(ctx, dir, id)
	must(t, err)
	defer db.Close()
	if n := db.r.Stats().MaxOpenConnections; n != 5 {
		t.Fatalf("a replicated open allows %d readers, want 5 (4 and the pinned one)", n)
	}
	if n := openTenant(t).r.Stats().MaxOpenConnections; n != 4 {
		t.Fatalf("a plain open allows %d readers, want 4", n)
	}

	must(t, db.Unpin()) // nothing pinned: nothing to do
	must(t, db.Pin(ctx))
	must(t, db.Pin(ctx))
	if s := db.r.Stats(); s.InUse != 1 {
		t.Fatalf("after two Pins %d reader connections are held, want 1", s.InUse)
	}
	must(t, db.Unpin())
	if s := db.r.Stats(); s.InUse != 0 || s.Idle != 0 {
		t.Fatalf("after Unpin: %d held, %d idle; want the pinned connection closed", s.InUse, s.Idle)
	}
	must(t, db.Pin(ctx))
	if s := db.r.Stats(); s.InUse != 1 {
		t.Fatalf("Pin after Unpin holds %d connections, want 1", s.InUse)
	}
	must(t, db.Unpin())

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := db.Pin(cancelled); !errors.Is(err, context.Canceled) {
		t.Fatalf("Pin with a cancelled context: %v, want context.Canceled", err)
	}
	if s := db.r.Stats(); s.InUse != 0 {
		t.Fatalf("a failed Pin holds %d connections", s.InUse)
	}
}

// TestResumeTakesOnlyAnEarlierGeneration: Resume takes up a generation
// older than the open's, and reports false (changing nothing) for zero,
// for the open's own and for a later one.
func TestResumeTakesOnlyAnEarlierGeneration(t *testing.T) {
	first := openTenant(t)
	db := openTenant(t)
	own := db.Generation()
	for _, gen := range []uint64{0, own, own + 1} {
		if db.Resume(gen) {
			t.Errorf("Resume(%d) of an open at generation %d reported true", gen, own)
		}
		if db.Generation() != own {
			t.Fatalf("Resume(%d) moved the generation to %d", gen, db.Generation())
		}
	}
	older := first.Generation()
	if !db.Resume(older) || db.Generation() != older {
		t.Fatalf("Resume(%d): generation %d, want it taken up", older, db.Generation())
	}
}

// TestFencedWriteCommitsNothing: a content write that the fence refuses
// (a cluster node that lost the tenant) fails with the fence's error and
// leaves nothing in the file; once the fence allows, writes commit.
func TestFencedWriteCommitsNothing(t *testing.T) {
	ctx := context.Background()
	db := openTenant(t)
	errFenced := errors.New("fenced: another node owns the tenant")
	refuse := true
	db.SetFence(func() error {
		if refuse {
			return errFenced
		}
		return nil
	})
	if err := db.SavePage(ctx, &Page{Title: "History", Body: "Founded 1946.", Published: true}); !errors.Is(err, errFenced) {
		t.Fatalf("a write while fenced: %v, want the fence's error", err)
	}
	var n int
	must(t, db.r.QueryRowContext(ctx, `SELECT count(*) FROM pages`).Scan(&n))
	if n != 0 {
		t.Fatalf("%d pages written while fenced", n)
	}
	refuse = false
	must(t, db.SavePage(ctx, &Page{Title: "History", Body: "Founded 1946.", Published: true}))
	must(t, db.r.QueryRowContext(ctx, `SELECT count(*) FROM pages`).Scan(&n))
	if n != 1 {
		t.Fatalf("%d pages after the fence allows, want 1", n)
	}
}
