package site

import (
	"bytes"
	"container/list"
	"encoding/hex"
	"hash/fnv"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/chapterhouse/chapterhouse/app/internal/web/httpx"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
)

// pageCache keeps rendered public pages of every tenant within one byte
// budget, least recently used out first. An entry is served only while its
// tenant's database is at the generation it was rendered from (every
// committed write moves the generation on, and so does every reopen of a
// file that changed or was replaced while closed: the pool resumes the
// generation of an unchanged one, so its pages outlive an eviction), and only until
// the time its content changes by itself (an event starts or ends). So a
// write is never followed by a stale page.
type pageCache struct {
	budget int64

	mu      sync.Mutex
	size    int64
	lru     list.List // of *cachedPage, most recently used first
	entries map[string]*list.Element

	hits, misses, stores, evictions atomic.Int64
}

type cachedPage struct {
	key     string
	gen     uint64
	expires time.Time // zero: only a write ends it
	// The response's headers, each a slice made when the page is stored
	// and set as it is on every hit (see setPageHeaders on sharing them);
	// nil: not sent.
	contentType, cacheCtl, disposition, etag, length []string
	body                                             []byte
}

// entryOverhead approximates the bytes an entry costs besides its key
// and body.
const entryOverhead = 256

func (e *cachedPage) cost() int64 { return int64(len(e.key) + len(e.body) + entryOverhead) }

// newPageCache returns a cache of at most budget bytes, or nil (no cache)
// for a budget of 0.
func newPageCache(budget int64) *pageCache {
	if budget <= 0 {
		return nil
	}
	return &pageCache{budget: budget, entries: map[string]*list.Element{}}
}

// get returns the entry for key if it was rendered at generation gen and
// has not expired at now.
func (pc *pageCache) get(key string, gen uint64, now time.Time) *cachedPage {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	el, ok := pc.entries[key]
	if !ok {
		pc.misses.Add(1)
		return nil
	}
	e := el.Value.(*cachedPage)
	if e.gen != gen || !e.expires.IsZero() && !now.Before(e.expires) {
		pc.remove(el)
		pc.misses.Add(1)
		return nil
	}
	pc.lru.MoveToFront(el)
	pc.hits.Add(1)
	return e
}

// put stores e, evicting the least recently used entries to stay within
// the budget. An entry larger than an eighth of the budget is not kept.
func (pc *pageCache) put(e *cachedPage) {
	if e.cost() > pc.budget/8 {
		return
	}
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if old, ok := pc.entries[e.key]; ok {
		pc.remove(old)
	}
	pc.entries[e.key] = pc.lru.PushFront(e)
	pc.size += e.cost()
	pc.stores.Add(1)
	for pc.size > pc.budget {
		pc.remove(pc.lru.Back())
		pc.evictions.Add(1)
	}
}

func (pc *pageCache) remove(el *list.Element) {
	e := pc.lru.Remove(el).(*cachedPage)
	delete(pc.entries, e.key)
	pc.size -= e.cost()
}

// Hits, Misses and Evictions count lookups that found a page, lookups that
// did not, and pages dropped to stay within the budget.
func (pc *pageCache) Hits() int64      { return pc.hits.Load() }
func (pc *pageCache) Misses() int64    { return pc.misses.Load() }
func (pc *pageCache) Evictions() int64 { return pc.evictions.Load() }

// Len and Size report the number of entries and the bytes they cost.
func (pc *pageCache) Len() int {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	return len(pc.entries)
}

func (pc *pageCache) Size() int64 {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	return pc.size
}

// cacheKey is the page cache's key of request r for tenant t: the
// tenant, its status, the base URL, the decoded path and only the query
// parameters the route reads (params), in a canonical order. A query
// parameter the page ignores therefore never makes a new entry, so junk
// query strings (?x=1, ?x=2, ...) cannot fill the cache and evict every
// chapter's pages.
func cacheKey(c echo.Context, t catalog.Tenant, params []string) string {
	r := c.Request()
	key := t.ID + "\x00" + t.Status + "\x00" + httpx.BaseURL(c) + r.URL.Path
	if len(params) == 0 || r.URL.RawQuery == "" {
		return key
	}
	q, kept := r.URL.Query(), url.Values{}
	for _, name := range params {
		if v, ok := q[name]; ok {
			kept[name] = v
		}
	}
	if len(kept) == 0 {
		return key
	}
	return key + "?" + kept.Encode()
}

// cachePage serves anonymous GET and HEAD requests of a public page from
// the page cache, and stores what it renders (status 200 only); params
// are the query parameters the page reads (see cacheKey): a handler that
// reads another must name it here. Requests with credentials (a cookie or
// an Authorization header) always render: whatever a signed-in person
// sees is never shared.
func (s *Handler) cachePage(params ...string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return s.cachedPage(next, params)
	}
}

func (s *Handler) cachedPage(next echo.HandlerFunc, params []string) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if s.cache == nil || r.Method != http.MethodGet && r.Method != http.MethodHead ||
			r.Header.Get("Authorization") != "" || r.Header.Get("Cookie") != "" {
			return next(c)
		}
		t := httpx.Tenant(c)
		gen := httpx.DB(c).Generation()
		key := cacheKey(c, t, params)
		if e := s.cache.get(key, gen, s.now()); e != nil {
			return writeCached(c, e)
		}
		w := &teeWriter{StatusWriter: httpx.StatusWriter{ResponseWriter: c.Response().Writer}}
		c.Response().Writer = w
		err := next(c)
		c.Response().Writer = w.ResponseWriter
		res := c.Response()
		if err != nil || res.Status != http.StatusOK || w.Code() != http.StatusOK || w.buf.Len() == 0 {
			return err
		}
		e := &cachedPage{
			key:         key,
			gen:         gen,
			contentType: []string{res.Header().Get("Content-Type")},
			cacheCtl:    headerValue(res.Header().Get("Cache-Control")),
			disposition: headerValue(res.Header().Get("Content-Disposition")),
			body:        bytes.Clone(w.buf.Bytes()),
		}
		e.length = []string{strconv.Itoa(len(e.body))}
		if t, ok := c.Get(expiresKey).(time.Time); ok {
			e.expires = t
		}
		h := fnv.New64a()
		h.Write(e.body)
		e.etag = []string{`W/"` + hex.EncodeToString(h.Sum(nil)) + `"`}
		s.cache.put(e)
		return nil
	}
}

// headerValue is v as a header's values, nil for none.
func headerValue(v string) []string {
	if v == "" {
		return nil
	}
	return []string{v}
}

func writeCached(c echo.Context, e *cachedPage) error {
	h := c.Response().Header()
	h["Content-Type"] = e.contentType
	if e.cacheCtl != nil {
		h["Cache-Control"] = e.cacheCtl
	}
	if e.disposition != nil {
		h["Content-Disposition"] = e.disposition
	}
	h["Etag"] = e.etag
	if inm := c.Request().Header["If-None-Match"]; len(inm) > 0 && etagMatches(inm[0], e.etag[0]) {
		return c.NoContent(http.StatusNotModified)
	}
	h["Content-Length"] = e.length
	c.Response().WriteHeader(http.StatusOK)
	_, err := c.Response().Write(e.body)
	return err
}

// teeWriter keeps a copy of the body a handler writes, and its status as
// httpx.StatusWriter does.
type teeWriter struct {
	httpx.StatusWriter
	buf bytes.Buffer
}

func (w *teeWriter) Write(b []byte) (int, error) {
	w.buf.Write(b)
	return w.StatusWriter.Write(b)
}
