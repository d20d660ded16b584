package pool

import (
	"context"
	"os"
	"testing"

	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// TestReopenOfUnchangedFileKeepsItsGeneration closes tenants by eviction
// and reopens them: a file nobody changed comes back at the generation it
// was closed at (so pages cached from it still serve); a file written
// while closed (by another opener), replaced, or drained comes back at a
// new generation, never at one seen before.
func TestReopenOfUnchangedFileKeepsItsGeneration(t *testing.T) {
	dir, ids := newTenants(t, 2)
	p := New(dir, 1, 0)
	defer p.Close()
	ctx := context.Background()
	a, b := ids[0], ids[1]
	seen := map[uint64]bool{}
	// use acquires id, reads (and writes a post if write), releases, and
	// returns the generation it had when released.
	use := func(id string, write bool) uint64 {
		t.Helper()
		h, err := p.Acquire(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		defer h.Release()
		if _, err := h.Site(ctx); err != nil {
			t.Fatal(err)
		}
		if write {
			if err := h.SavePost(ctx, &tenantdb.Post{Title: "news", Body: "x", Published: true}); err != nil {
				t.Fatal(err)
			}
		}
		return h.Generation()
	}
	gen := use(a, false)
	use(b, false) // evicts a
	if got := use(a, false); got != gen {
		t.Fatalf("unchanged file reopened at generation %d, want %d as closed", got, gen)
	}
	if p.Stats.Resumes.Load() != 1 {
		t.Fatalf("resumes = %d, want 1", p.Stats.Resumes.Load())
	}
	written := use(a, true)
	if written == gen {
		t.Fatal("a write did not move the generation")
	}
	use(b, false)
	if got := use(a, false); got != written {
		t.Fatalf("file closed after a write reopened at %d, want %d", got, written)
	}
	seen[gen], seen[written] = true, true

	// Written by another opener while the pool had it closed.
	use(b, false)
	db, err := tenantdb.Open(ctx, dir, a)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.SavePost(ctx, &tenantdb.Post{Title: "from outside", Body: "x", Published: true}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if got := use(a, false); seen[got] {
		t.Fatalf("file written while closed reopened at generation %d, seen before", got)
	} else {
		seen[got] = true
	}

	// Replaced by another file (as restore and import rename one in), of
	// the same size and modification time, as a copy that keeps times
	// (cp -p, rsync -a, tar) makes: only the file's identity tells.
	use(b, false)
	path := tenantdb.TenantPath(dir, a)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".new", data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path+".new", fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
	if got := use(a, false); seen[got] {
		t.Fatalf("replaced file reopened at generation %d, seen before", got)
	} else {
		seen[got] = true
	}

	// Drained (its fn may change the file in any way): a new generation.
	if err := p.Drain(ctx, a, func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	if got := use(a, false); seen[got] {
		t.Fatalf("drained file reopened at generation %d, seen before", got)
	}
}

// TestResumeOnlyBeforeAWrite checks tenantdb's side: a DB takes up an
// older generation only while nothing has been written through it.
func TestResumeOnlyBeforeAWrite(t *testing.T) {
	dir, ids := newTenants(t, 1)
	ctx := context.Background()
	db, err := tenantdb.Open(ctx, dir, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.Resume(db.Generation() + 1) {
		t.Fatal("resumed a generation newer than the open's")
	}
	if err := db.SavePost(ctx, &tenantdb.Post{Title: "news", Body: "x", Published: true}); err != nil {
		t.Fatal(err)
	}
	after := db.Generation()
	if db.Resume(1) || db.Generation() != after {
		t.Fatal("resumed an old generation after a write")
	}
}
