package site

import (
	"context"
	"sync"

	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/pool"
)

// siteMemo keeps what every page of a chapter reads first, its settings
// and menu pages, for the database generation they were read at: a page
// the page cache does not serve (a signed-in visitor's, the first after a
// write, any with --page-cache-mb 0) then runs only its own queries. A
// write or a reopen moves the generation on, and the next page reads them
// again, so the memo is never staler than the page cache. The values are
// shared by concurrent requests and only read.
type siteMemo struct {
	mu sync.Mutex
	m  map[string]memoSite // by tenant id
}

type memoSite struct {
	gen  uint64
	site tenantdb.Site
	nav  []tenantdb.Page
}

// memoTenants bounds the memo: when it holds this many tenants it starts
// again empty (a memo entry is a few KB).
const memoTenants = 1024

// get returns tenant id's settings and menu pages, from the memo when db
// is still at the generation they were read at.
func (sm *siteMemo) get(ctx context.Context, id string, db *pool.Handle) (tenantdb.Site, []tenantdb.Page, error) {
	gen := db.Generation()
	sm.mu.Lock()
	e, ok := sm.m[id]
	sm.mu.Unlock()
	if ok && e.gen == gen {
		return e.site, e.nav, nil
	}
	site, err := db.Site(ctx)
	if err != nil {
		return tenantdb.Site{}, nil, err
	}
	nav, err := db.NavPages(ctx)
	if err != nil {
		return tenantdb.Site{}, nil, err
	}
	sm.mu.Lock()
	if sm.m == nil || len(sm.m) >= memoTenants {
		sm.m = make(map[string]memoSite)
	}
	sm.m[id] = memoSite{gen: gen, site: site, nav: nav}
	sm.mu.Unlock()
	return site, nav, nil
}
