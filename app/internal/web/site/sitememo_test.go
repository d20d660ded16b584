package site

import (
	"context"
	"fmt"
	"testing"

	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/pool"
)

// memoTenant opens a real tenant file for the memo to read.
func memoTenant(t *testing.T) *pool.Handle {
	t.Helper()
	dir := t.TempDir()
	id := tenantdb.NewTenantID()
	db, err := tenantdb.Create(context.Background(), dir, id)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	p := pool.New(dir, 2, 0)
	t.Cleanup(func() { p.Close() })
	h, err := p.Acquire(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Release)
	return h
}

// TestSiteMemoIsBoundedAndFollowsWrites checks the memo of settings and
// menus: it answers from memory while the generation holds, reads again
// after a write, and starts again empty when it holds memoTenants tenants
// (not one before).
func TestSiteMemoIsBoundedAndFollowsWrites(t *testing.T) {
	ctx := context.Background()
	h := memoTenant(t)
	var sm siteMemo
	memo, err := sm.get(ctx, h.ID, h)
	if err != nil || memo.site.Name == "Renamed" {
		t.Fatalf("first read: %+v %v", memo.site, err)
	}
	s, err := h.Site(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.Name = "Renamed"
	if err := h.UpdateSite(ctx, &s); err != nil {
		t.Fatal(err)
	}
	if memo, _ := sm.get(ctx, h.ID, h); memo.site.Name != "Renamed" {
		t.Errorf("after a write the memo gave %q, want the new name", memo.site.Name)
	}
	// A memo entry at the current generation is what get returns, without
	// reading: plant one to tell a read from a hit.
	gen := h.Generation()
	sm.mu.Lock()
	sm.m[h.ID] = memoSite{gen: gen, site: tenantdb.Site{Name: "From the memo"}}
	sm.mu.Unlock()
	if memo, _ := sm.get(ctx, h.ID, h); memo.site.Name != "From the memo" {
		t.Errorf("at the same generation the memo read again (%q)", memo.site.Name)
	}
	// Fill it to one under the bound: the next tenant is added, nothing dropped.
	sm.mu.Lock()
	sm.m = map[string]memoSite{}
	for i := 0; i < memoTenants-1; i++ {
		sm.m[fmt.Sprint("other", i)] = memoSite{}
	}
	sm.mu.Unlock()
	sm.get(ctx, h.ID, h)
	if n := len(sm.m); n != memoTenants {
		t.Errorf("under the bound the memo holds %d, want %d", n, memoTenants)
	}
	// At the bound, the next read starts it again with only itself.
	sm.mu.Lock()
	delete(sm.m, h.ID)
	sm.m["one-more"] = memoSite{}
	sm.mu.Unlock()
	sm.get(ctx, h.ID, h)
	if n := len(sm.m); n != 1 {
		t.Errorf("at the bound the memo holds %d after a read, want 1 (started again)", n)
	}
}
