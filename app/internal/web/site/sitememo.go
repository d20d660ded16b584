package site

import (
	"context"
	"errors"
	"html/template"
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
	// docs and albums: the menu links to the documents and the albums.
	docs, albums bool
	// hero and strip are the home page's photo and album strip as HTML,
	// "" for none: made here so that a home page the page cache does not
	// serve runs no query, no srcset formatting and no template action
	// for them.
	hero, strip template.HTML
}

// memoTenants bounds the memo: when it holds this many tenants it starts
// again empty (a memo entry is a few KB).
const memoTenants = 1024

// get returns tenant id's settings and menu, from the memo when db is
// still at the generation they were read at.
func (sm *siteMemo) get(ctx context.Context, id string, db *pool.Handle) (memoSite, error) {
	gen := db.Generation()
	sm.mu.Lock()
	e, ok := sm.m[id]
	sm.mu.Unlock()
	if ok && e.gen == gen {
		return e, nil
	}
	e = memoSite{gen: gen}
	var err error
	if e.site, err = db.Site(ctx); err != nil {
		return memoSite{}, err
	}
	if e.nav, err = db.NavPages(ctx); err != nil {
		return memoSite{}, err
	}
	if e.docs, e.albums, err = db.Shelves(ctx); err != nil {
		return memoSite{}, err
	}
	if e.site.HeroID != "" {
		m, err := db.Media(ctx, e.site.HeroID)
		if err != nil && !errors.Is(err, tenantdb.ErrNotFound) {
			return memoSite{}, err
		}
		if err == nil {
			e.hero = newPicture(m, "large").Tag("hero-photo", "100vw", false)
		}
	}
	if e.albums {
		strip, err := latestAlbumStrip(ctx, db)
		if err != nil {
			return memoSite{}, err
		}
		if strip != nil {
			e.strip = strip.Section
		}
	}
	sm.mu.Lock()
	if sm.m == nil || len(sm.m) >= memoTenants {
		sm.m = make(map[string]memoSite)
	}
	sm.m[id] = e
	sm.mu.Unlock()
	return e, nil
}

// genMemo keeps one value of type T per tenant, for the database
// generation it was computed at: what a page reads that only a write can
// change (the home page's events and public latest news) is read once per
// generation, and each request does only what depends on it alone (the
// time, a member's session). Like siteMemo it is never staler than the
// page cache, and it is bounded the same way.
type genMemo[T any] struct {
	mu sync.Mutex
	m  map[string]genEntry[T] // by tenant id
}

type genEntry[T any] struct {
	gen uint64
	v   T
}

// get returns tenant id's value for generation gen, from the memo or from
// load. The generation is read before load runs, so a write during load
// leaves a value that the next request, at the new generation, replaces.
func (g *genMemo[T]) get(id string, gen uint64, load func() (T, error)) (T, error) {
	g.mu.Lock()
	e, ok := g.m[id]
	g.mu.Unlock()
	if ok && e.gen == gen {
		return e.v, nil
	}
	v, err := load()
	if err != nil {
		return v, err
	}
	g.mu.Lock()
	if g.m == nil || len(g.m) >= memoTenants {
		g.m = make(map[string]genEntry[T])
	}
	g.m[id] = genEntry[T]{gen: gen, v: v}
	g.mu.Unlock()
	return v, nil
}
