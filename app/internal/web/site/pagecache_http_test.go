package site_test

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/app/internal/web"
	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
	"github.com/chapterhouse/chapterhouse/tenantdb/pool"
)

// TestPageCacheNeverStale reads pages, writes, and reads again: every read
// after a write shows it, while reads without writes come from the cache.
func TestPageCacheNeverStale(t *testing.T) {
	ts := webtest.New(t)
	db := ts.DB("demo")
	ctx := context.Background()
	h := webtest.Host("demo")
	first := ts.Get(h, "/")
	hits := ts.CacheHits()
	second := ts.Get(h, "/")
	if ts.CacheHits() != hits+1 || second.Body != first.Body {
		t.Fatalf("a second read of / was not served from the cache")
	}
	etag := second.Header.Get("ETag")
	if etag == "" || second.Header.Get("Content-Security-Policy") == "" {
		t.Fatalf("cached page: ETag %q, CSP %q", etag, second.Header.Get("Content-Security-Policy"))
	}
	if r := ts.Get(h, "/", "If-None-Match: "+etag); r.Status != 304 || r.Body != "" {
		t.Errorf("If-None-Match on a cached page: %d", r.Status)
	}
	if r := ts.Do("HEAD", h, "/", nil); r.Status != 200 || r.Body != "" || r.Header.Get("Content-Length") != fmt.Sprint(len(first.Body)) {
		t.Errorf("HEAD from the cache: %d, %d bytes, Content-Length %q", r.Status, len(r.Body), r.Header.Get("Content-Length"))
	}
	for _, path := range []string{"/news", "/feed.xml", "/sitemap.xml", "/events.ics"} {
		a, b := ts.Get(h, path), ts.Get(h, path) // the second from the cache
		for _, k := range []string{"Content-Type", "Cache-Control", "Content-Disposition", "Content-Security-Policy", "X-Content-Type-Options"} {
			if a.Header.Get(k) != b.Header.Get(k) {
				t.Errorf("GET %s: %s is %q rendered, %q from the cache", path, k, a.Header.Get(k), b.Header.Get(k))
			}
		}
	}
	for i := 0; i < 10; i++ {
		now := time.Now().UTC()
		title := fmt.Sprintf("Fresh news number %d", i)
		p := &tenantdb.Post{Title: title, Body: "body", Published: true, PublishedAt: &now}
		webtest.Must(t, db.SavePost(ctx, p))
		for _, path := range []string{"/", "/news", "/feed.xml", "/sitemap.xml", "/news/" + p.Slug} {
			if r := ts.Get(h, path); r.Status != 200 || !strings.Contains(r.Body, title) && !strings.Contains(r.Body, p.Slug) {
				t.Fatalf("write %d: GET %s is stale (status %d)", i, path, r.Status)
			}
		}
		if r := ts.Get(h, "/", "If-None-Match: "+etag); r.Status == 304 {
			t.Fatalf("write %d: a stale ETag still matched", i)
		}
		site, err := db.Site(ctx)
		webtest.Must(t, err)
		site.Tagline = fmt.Sprintf("Tagline version %d", i)
		webtest.Must(t, db.UpdateSite(ctx, &site))
		if r := ts.Get(h, "/"); !strings.Contains(r.Body, site.Tagline) {
			t.Fatalf("write %d: / does not show the new tagline", i)
		}
		webtest.Must(t, db.DeletePost(ctx, p.ID))
		if r := ts.Get(h, "/news/"+p.Slug); r.Status != 404 {
			t.Fatalf("write %d: deleted post still served: %d", i, r.Status)
		}
		if r := ts.Get(h, "/"); strings.Contains(r.Body, title) {
			t.Fatalf("write %d: deleted post still on /", i)
		}
	}
}

// TestPageCacheUnderConcurrentWrites reads while a writer writes; once a
// write has returned, a read that starts after it must show it.
func TestPageCacheUnderConcurrentWrites(t *testing.T) {
	ts := webtest.New(t)
	db := ts.DB("demo")
	h := webtest.Host("demo")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
					ts.Get(h, "/")
				}
			}
		}()
	}
	ctx := context.Background()
	for i := 0; i < 30; i++ {
		site, err := db.Site(ctx)
		webtest.Must(t, err)
		site.Tagline = fmt.Sprintf("Concurrent tagline %d", i)
		webtest.Must(t, db.UpdateSite(ctx, &site))
		if r := ts.Get(h, "/"); !strings.Contains(r.Body, site.Tagline) {
			close(stop)
			wg.Wait()
			t.Fatalf("write %d: stale /", i)
		}
	}
	close(stop)
	wg.Wait()
}

// TestPageCacheExpiresWithTime caches a home page listing an event and
// moves the clock: the page comes from the cache until the event starts,
// and changes at its start and at its end (each a miss), with no write in
// between.
func TestPageCacheExpiresWithTime(t *testing.T) {
	t0 := time.Date(2027, 5, 4, 15, 0, 0, 0, time.UTC)
	clock := webtest.NewClock(t0)
	ts := webtest.New(t, func(c *web.Config) { c.Now = clock.Now })
	ts.AddTenant("timed", "Timed Club", func(db *tenantdb.DB) {
		e := &tenantdb.Event{Title: "Soon event", StartsAt: t0.Add(30 * time.Minute), EndsAt: t0.Add(90 * time.Minute), Timezone: "UTC"}
		webtest.Must(t, db.SaveEvent(context.Background(), e))
	})
	h := webtest.Host("timed")
	r := ts.Get(h, "/")
	if !strings.Contains(r.Body, "Soon event") || strings.Contains(r.Body, "happening now") {
		t.Fatalf("before the event: not listed as upcoming")
	}
	clock.Advance(10 * time.Minute)
	hits := ts.CacheHits()
	if r := ts.Get(h, "/"); ts.CacheHits() != hits+1 || strings.Contains(r.Body, "happening now") {
		t.Fatalf("before the event starts the page was not served from the cache (hits %d -> %d)", hits, ts.CacheHits())
	}
	clock.Advance(20 * time.Minute) // exactly the start
	hits = ts.CacheHits()
	if r := ts.Get(h, "/"); !strings.Contains(r.Body, "happening now") || ts.CacheHits() != hits {
		t.Errorf("at the event's start: the cached page was served")
	}
	clock.Advance(time.Hour) // exactly the end
	hits = ts.CacheHits()
	if r := ts.Get(h, "/"); strings.Contains(r.Body, "Soon event") || ts.CacheHits() != hits {
		t.Errorf("at the event's end: still listed, or served from the cache")
	}
}

func TestPageCacheSkipsCredentialsAndCanBeOff(t *testing.T) {
	ts := webtest.New(t)
	h := webtest.Host("demo")
	ts.Get(h, "/")
	hits := ts.CacheHits()
	ts.Get(h, "/", "Cookie: session=abc")
	ts.Get(h, "/", "Authorization: Bearer x")
	if ts.CacheHits() != hits {
		t.Errorf("a request with credentials was served from the cache")
	}
	// Nor is what a request with credentials renders stored: the first
	// anonymous read of a page read only with credentials renders it.
	for _, cred := range []string{"Cookie: session=abc", "Authorization: Bearer x"} {
		path := "/about"
		if strings.HasPrefix(cred, "Authorization") {
			path = "/events"
		}
		if r := ts.Get(h, path, cred); r.Status != 200 {
			t.Fatalf("GET %s with %s: %d", path, cred, r.Status)
		}
		hits = ts.CacheHits()
		ts.Get(h, path)
		if ts.CacheHits() != hits {
			t.Errorf("GET %s with %s stored the page it rendered", path, cred)
		}
		ts.Get(h, path)
		if ts.CacheHits() != hits+1 {
			t.Errorf("the second anonymous GET %s was not a hit: the test would prove nothing", path)
		}
	}
	off := webtest.New(t, func(c *web.Config) { c.PageCacheMB = 0 })
	if off.Metric(`chapterhouse_page_cache_entries`) != "" {
		t.Fatalf("--page-cache-mb 0 still made a cache")
	}
	for i := 0; i < 2; i++ {
		if r := off.Get(h, "/"); r.Status != 200 || !strings.Contains(r.Body, "Riverside") {
			t.Fatalf("without a cache: %d", r.Status)
		}
	}
}

// TestReplacedFileIsNeverServedStale replaces a chapter's file under the
// pool, by import --replace and by restore, after its pages were cached
// from a fresh open, and checks that the next GET shows the new file.
func TestReplacedFileIsNeverServedStale(t *testing.T) {
	ctx := context.Background()
	ts := webtest.New(t)
	p := ts.Platform
	h := webtest.Host("demo")
	setName := func(name string) {
		t.Helper()
		webtest.Must(t, p.WithTenant(ctx, "demo", func(_ catalog.Tenant, db *pool.Handle) error {
			site, err := db.Site(ctx)
			if err != nil {
				return err
			}
			site.Name = name
			return db.UpdateSite(ctx, &site)
		}))
	}
	// cachedFromFreshOpen closes the tenant, so that the page is rendered
	// by a fresh open, and reads it twice (the second from the cache).
	cachedFromFreshOpen := func(want string) {
		t.Helper()
		webtest.Must(t, p.Pool.Drain(ctx, ts.Demo.ID, func() error { return nil }))
		for i := range 2 {
			if r := ts.Get(h, "/"); r.Status != 200 || !strings.Contains(r.Body, want) {
				t.Fatalf("read %d before the swap: %d, want %q", i, r.Status, want)
			}
		}
	}

	// import --replace with another chapter's export.
	other := ts.AddTenant("other", "Elsewhere Lodge", nil)
	file := filepath.Join(t.TempDir(), "other.db")
	_, err := p.Export(ctx, other, file)
	webtest.Must(t, err)
	cachedFromFreshOpen("Riverside Veterans Post 42")
	_, err = p.Import(ctx, platform.ImportRequest{Slug: "demo", Src: file, Replace: true, MaxSize: platform.DefaultMaxImport})
	webtest.Must(t, err)
	if r := ts.Get(h, "/"); !strings.Contains(r.Body, "Elsewhere Lodge") {
		t.Fatalf("after import --replace the home page still shows the old file")
	}

	// restore from a backup taken before a change.
	setName("Before The Backup")
	backup := filepath.Join(t.TempDir(), "backup")
	_, failed, err := p.Backup(ctx, backup, 1, func(string, int) platform.Progress { return quiet{} })
	if err != nil || len(failed) > 0 {
		t.Fatalf("backup: %v %v", err, failed)
	}
	setName("After The Backup")
	cachedFromFreshOpen("After The Backup")
	_, err = p.Restore(ctx, backup, "demo", platform.DefaultMaxImport)
	webtest.Must(t, err)
	if r := ts.Get(h, "/"); !strings.Contains(r.Body, "Before The Backup") {
		t.Fatalf("after restore the home page still shows the replaced file")
	}
}

type quiet struct{}

func (quiet) Step(string) {}

// TestJunkQueryStringsShareOneCacheEntry: query parameters a page does not
// read make no entry of their own (so one client cannot fill the cache
// with ?x=1..N and evict every chapter's pages), while the ones it reads
// (?page= of /news, ?v= of /theme.css) still key their own pages.
func TestJunkQueryStringsShareOneCacheEntry(t *testing.T) {
	ts := webtest.New(t)
	h := webtest.Host("demo")
	entries := func() string { return ts.Metric("chapterhouse_page_cache_entries") }
	ts.Get(h, "/")
	ts.Get(h, "/news")
	before, hits := entries(), ts.CacheHits()
	const n = 200
	for i := 0; i < n; i++ {
		for _, path := range []string{fmt.Sprintf("/?x=%d", i), fmt.Sprintf("/news?utm_source=%d&y=%d", i, i)} {
			if r := ts.Get(h, path); r.Status != 200 {
				t.Fatalf("GET %s: %d", path, r.Status)
			}
		}
	}
	if got := entries(); got != before {
		t.Errorf("%d junk query strings: %s cache entries, want %s as before", n, got, before)
	}
	if got := ts.CacheHits() - hits; got != 2*n {
		t.Errorf("%d requests with junk query strings: %d cache hits, want all", 2*n, got)
	}

	// The parameters a page reads still make different pages.
	m := regexp.MustCompile(`/theme\.css\?v=([0-9a-f]+)`).FindStringSubmatch(ts.Get(h, "/").Body)
	if m == nil {
		t.Fatal("the home page links no /theme.css?v=")
	}
	current := ts.Get(h, "/theme.css?junk=1&v="+m[1])
	other := ts.Get(h, "/theme.css?v=000000")
	if current.Header.Get("Cache-Control") == other.Header.Get("Cache-Control") {
		t.Errorf("/theme.css with the current and another ?v=: both Cache-Control %q, want the other short-lived", other.Header.Get("Cache-Control"))
	}
	for _, path := range []string{"/news?page=1", "/news?page=x&z=1", "/news?page=2&page=3"} {
		if r := ts.Get(h, path); r.Status != 404 {
			t.Errorf("GET %s after /news was cached: %d, want 404 (the page parameter still counts)", path, r.Status)
		}
	}
}

// TestUncachedPagesShowEveryWrite: without the page cache, every page
// still shows the chapter's settings and menu as of the last write,
// though they are read once per generation (siteMemo).
func TestUncachedPagesShowEveryWrite(t *testing.T) {
	ts := webtest.New(t, func(c *web.Config) { c.PageCacheMB = 0 })
	db := ts.DB("demo")
	ctx := context.Background()
	h := webtest.Host("demo")
	for i := 0; i < 3; i++ {
		ts.Get(h, "/")
		ts.Get(h, "/about")
		site, err := db.Site(ctx)
		webtest.Must(t, err)
		site.Name = fmt.Sprintf("Riverside version %d", i)
		webtest.Must(t, db.UpdateSite(ctx, &site))
		page := &tenantdb.Page{Title: fmt.Sprintf("Menu page %d", i), Body: "body", Published: true, ShowInNav: true}
		webtest.Must(t, db.SavePage(ctx, page))
		for _, path := range []string{"/", "/about", "/news", "/events"} {
			r := ts.Get(h, path)
			if !strings.Contains(r.Body, site.Name) || !strings.Contains(r.Body, page.Title) {
				t.Fatalf("write %d: GET %s lacks the new name %q or menu page %q", i, path, site.Name, page.Title)
			}
		}
	}
}
