package replica

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// testTenant creates a tenant file in a new data dir and returns its dir and id.
func testTenant(t testing.TB) (string, string) {
	t.Helper()
	dir := t.TempDir()
	id := tenantdb.NewTenantID()
	db, err := tenantdb.Create(context.Background(), dir, id)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	site, err := db.Site(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	site.Name = "Test chapter"
	if err := db.UpdateSite(context.Background(), &site); err != nil {
		t.Fatal(err)
	}
	return dir, id
}

func newFileReplicator(t *testing.T, dir string, opt Options) *Replicator {
	t.Helper()
	target, err := ParseURL("file://" + filepath.Join(t.TempDir(), "replica"))
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

func post(t testing.TB, db *tenantdb.DB, title string) {
	t.Helper()
	if err := db.SavePost(context.Background(), &tenantdb.Post{Title: title, Body: "b"}); err != nil {
		t.Fatal(err)
	}
}

// titles opens the file at path (moved into a data dir of its own) and
// returns the titles of its posts, up to 1000.
func titles(t *testing.T, path string) map[string]bool {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	id := tenantdb.NewTenantID()
	if err := os.MkdirAll(filepath.Join(dir, "tenants"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path, tenantdb.TenantPath(dir, id)); err != nil {
		t.Fatal(err)
	}
	db, err := tenantdb.Open(ctx, dir, id)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ps, _, err := db.Posts(ctx, tenantdb.PostQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]bool{}
	for _, p := range ps {
		m[p.Title] = true
	}
	return m
}

// A tenant whose replica is in step re-registers without listing or
// reading the replica: the position record answers. Without the record
// (removed here in the second half) every register lists.
func TestReregisterInStepListsNothing(t *testing.T) {
	ctx := context.Background()
	dir, id := testTenant(t)
	r := newFileReplicator(t, dir, Options{noMonitors: true})
	open := func() *tenantdb.DB {
		db, err := openPinned(ctx, dir, id)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Register(ctx, id, db.Path()); err != nil {
			t.Fatal(err)
		}
		return db
	}
	closeIt := func(db *tenantdb.DB) {
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if err := r.Unregister(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	db := open()
	post(t, db, "first")
	if err := r.Sync(ctx, id); err != nil {
		t.Fatal(err)
	}
	closeIt(db)
	lists, reads := r.Stats.Lists.Load(), r.Stats.Reads.Load()
	for i := 0; i < 5; i++ {
		db := open()
		if err := r.Sync(ctx, id); err != nil {
			t.Fatal(err)
		}
		closeIt(db)
	}
	if l, rd := r.Stats.Lists.Load()-lists, r.Stats.Reads.Load()-reads; l != 0 || rd != 0 {
		t.Errorf("5 re-registers in step: %d lists and %d reads of the replica, want 0 and 0", l, rd)
	}
	// A write between: still in step after its sync, and still no list.
	db = open()
	post(t, db, "second")
	if err := r.Sync(ctx, id); err != nil {
		t.Fatal(err)
	}
	closeIt(db)
	db = open()
	if err := r.Sync(ctx, id); err != nil {
		t.Fatal(err)
	}
	closeIt(db)
	if l := r.Stats.Lists.Load() - lists; l != 0 {
		t.Errorf("re-registers after a write: %d lists, want 0", l)
	}
	// Without the record, a register lists: the counter does count.
	if err := os.Remove(r.recordPath(id)); err != nil {
		t.Fatal(err)
	}
	db = open()
	if err := r.Sync(ctx, id); err != nil {
		t.Fatal(err)
	}
	closeIt(db)
	if l := r.Stats.Lists.Load() - lists; l == 0 {
		t.Errorf("a register without its position record listed nothing: the count proves nothing")
	}
	out := filepath.Join(t.TempDir(), "out.db")
	if err := r.Target().Restore(ctx, id, out, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if got := titles(t, out); !got["first"] || !got["second"] {
		t.Errorf("restored posts %v, want first and second", got)
	}
}

// A restore at a time gets the writes synced before it and not those after.
func TestRestoreAtTime(t *testing.T) {
	ctx := context.Background()
	dir, id := testTenant(t)
	r := newFileReplicator(t, dir, Options{})
	db, err := openPinned(ctx, dir, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Register(ctx, id, db.Path()); err != nil {
		t.Fatal(err)
	}
	post(t, db, "A")
	if err := r.Sync(ctx, id); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond) // the replica's times are in ms
	at := time.Now()
	time.Sleep(5 * time.Millisecond)
	post(t, db, "B")
	if err := r.Sync(ctx, id); err != nil {
		t.Fatal(err)
	}
	db.Close()
	r.Unregister(ctx, id)

	out := filepath.Join(t.TempDir(), "at.db")
	if err := r.Target().Restore(ctx, id, out, at); err != nil {
		t.Fatal(err)
	}
	if got := titles(t, out); !got["A"] || got["B"] {
		t.Errorf("restored at the time between A and B: posts %v, want A only", got)
	}
	err = r.Target().Restore(ctx, id, filepath.Join(t.TempDir(), "old.db"), at.Add(-time.Hour))
	if !errors.Is(err, ErrNotAvailable) {
		t.Errorf("restore an hour before the first sync: %v, want ErrNotAvailable", err)
	}
	t.Log(err)
}

// A replica that cannot be written shows in Status and, once it has
// failed for longer than the limit, in Failing (what /readyz reports).
func TestFailingReplica(t *testing.T) {
	ctx := context.Background()
	dir, id := testTenant(t)
	blocked := filepath.Join(t.TempDir(), "replica")
	if err := os.WriteFile(blocked, []byte("a file where the replica's directory should be"), 0o600); err != nil {
		t.Fatal(err)
	}
	target, err := ParseURL("file://" + blocked)
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(ctx, target, filepath.Join(dir, "litestream"), Options{CloseTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	db, err := openPinned(ctx, dir, id)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	r.Register(ctx, id, db.Path())
	post(t, db, "A")
	if err := r.Sync(ctx, id); err == nil {
		t.Fatal("a sync to a replica that cannot be written succeeded")
	}
	s, _ := r.Status(id)
	if s.LastError == "" || s.FailingSince.IsZero() {
		t.Errorf("status after a failed sync: %+v, want its error and since when", s)
	}
	if got := r.Failing(time.Minute, time.Now()); len(got) != 0 {
		t.Errorf("failing for a moment, Failing(1m) = %v, want none yet", got)
	}
	if got := r.Failing(time.Minute, time.Now().Add(2*time.Minute)); len(got) != 1 || got[0] != id {
		t.Errorf("two minutes on, Failing(1m) = %v, want [%s]", got, id)
	}
}

// openPinned opens a tenant for replication as the pool does when it
// registers it at its open: with a connection of ours pinned, so that
// Litestream's comes second.
func openPinned(ctx context.Context, dir, id string) (*tenantdb.DB, error) {
	db, err := tenantdb.OpenReplicated(ctx, dir, id)
	if err != nil {
		return nil, err
	}
	if err := db.Pin(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}
