package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// TestPageCacheNeverStale reads pages, writes, and reads again: every read
// after a write shows it, while reads without writes come from the cache.
func TestPageCacheNeverStale(t *testing.T) {
	ts := newSiteServer(t)
	db := ts.db("demo")
	ctx := context.Background()
	h := host("demo")
	first := ts.get(h, "/")
	hits := ts.srv.pages.hits.Load()
	second := ts.get(h, "/")
	if ts.srv.pages.hits.Load() != hits+1 || second.body != first.body {
		t.Fatalf("a second read of / was not served from the cache")
	}
	etag := second.header.Get("ETag")
	if etag == "" || second.header.Get("Content-Security-Policy") == "" {
		t.Fatalf("cached page: ETag %q, CSP %q", etag, second.header.Get("Content-Security-Policy"))
	}
	if r := ts.get(h, "/", "If-None-Match: "+etag); r.status != 304 || r.body != "" {
		t.Errorf("If-None-Match on a cached page: %d", r.status)
	}
	if r := ts.request("HEAD", h, "/", nil); r.status != 200 || r.body != "" || r.header.Get("Content-Length") != fmt.Sprint(len(first.body)) {
		t.Errorf("HEAD from the cache: %d, %d bytes, Content-Length %q", r.status, len(r.body), r.header.Get("Content-Length"))
	}
	for _, path := range []string{"/news", "/feed.xml", "/sitemap.xml", "/events.ics"} {
		a, b := ts.get(h, path), ts.get(h, path) // the second from the cache
		for _, k := range []string{"Content-Type", "Cache-Control", "Content-Disposition", "Content-Security-Policy", "X-Content-Type-Options"} {
			if a.header.Get(k) != b.header.Get(k) {
				t.Errorf("GET %s: %s is %q rendered, %q from the cache", path, k, a.header.Get(k), b.header.Get(k))
			}
		}
	}
	for i := 0; i < 10; i++ {
		now := time.Now().UTC()
		title := fmt.Sprintf("Fresh news number %d", i)
		p := &tenantdb.Post{Title: title, Body: "body", Published: true, PublishedAt: &now}
		must(t, db.SavePost(ctx, p))
		for _, path := range []string{"/", "/news", "/feed.xml", "/sitemap.xml", "/news/" + p.Slug} {
			if r := ts.get(h, path); r.status != 200 || !strings.Contains(r.body, title) && !strings.Contains(r.body, p.Slug) {
				t.Fatalf("write %d: GET %s is stale (status %d)", i, path, r.status)
			}
		}
		if r := ts.get(h, "/", "If-None-Match: "+etag); r.status == 304 {
			t.Fatalf("write %d: a stale ETag still matched", i)
		}
		site, err := db.Site(ctx)
		must(t, err)
		site.Tagline = fmt.Sprintf("Tagline version %d", i)
		must(t, db.UpdateSite(ctx, &site))
		if r := ts.get(h, "/"); !strings.Contains(r.body, site.Tagline) {
			t.Fatalf("write %d: / does not show the new tagline", i)
		}
		must(t, db.DeletePost(ctx, p.ID))
		if r := ts.get(h, "/news/"+p.Slug); r.status != 404 {
			t.Fatalf("write %d: deleted post still served: %d", i, r.status)
		}
		if r := ts.get(h, "/"); strings.Contains(r.body, title) {
			t.Fatalf("write %d: deleted post still on /", i)
		}
	}
}

// TestPageCacheUnderConcurrentWrites reads while a writer writes; once a
// write has returned, a read that starts after it must show it.
func TestPageCacheUnderConcurrentWrites(t *testing.T) {
	ts := newSiteServer(t)
	db := ts.db("demo")
	h := host("demo")
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
					ts.get(h, "/")
				}
			}
		}()
	}
	ctx := context.Background()
	for i := 0; i < 30; i++ {
		site, err := db.Site(ctx)
		must(t, err)
		site.Tagline = fmt.Sprintf("Concurrent tagline %d", i)
		must(t, db.UpdateSite(ctx, &site))
		if r := ts.get(h, "/"); !strings.Contains(r.body, site.Tagline) {
			close(stop)
			wg.Wait()
			t.Fatalf("write %d: stale /", i)
		}
	}
	close(stop)
	wg.Wait()
}

// TestPageCacheExpiresWithTime caches a home page listing an event and
// moves the clock: the page changes when the event starts and when it
// ends, with no write in between.
func TestPageCacheExpiresWithTime(t *testing.T) {
	t0 := time.Date(2027, 5, 4, 15, 0, 0, 0, time.UTC)
	clock := newTestClock(t0)
	ts := newSiteServerAt(t, clock.now)
	ts.addTenant("timed", "Timed Club", func(db *tenantdb.DB) {
		e := &tenantdb.Event{Title: "Soon event", StartsAt: t0.Add(30 * time.Minute), EndsAt: t0.Add(90 * time.Minute), Timezone: "UTC"}
		must(t, db.SaveEvent(context.Background(), e))
	})
	h := host("timed")
	r := ts.get(h, "/")
	if !strings.Contains(r.body, "Soon event") || strings.Contains(r.body, "happening now") {
		t.Fatalf("before the event: not listed as upcoming")
	}
	clock.advance(10 * time.Minute)
	ts.get(h, "/") // still valid: from the cache
	clock.advance(35 * time.Minute)
	if r := ts.get(h, "/"); !strings.Contains(r.body, "happening now") {
		t.Errorf("during the event: the cached page was served")
	}
	clock.advance(time.Hour)
	if r := ts.get(h, "/"); strings.Contains(r.body, "Soon event") {
		t.Errorf("after the event: still listed as upcoming")
	}
}

func TestPageCacheSkipsCredentialsAndCanBeOff(t *testing.T) {
	ts := newSiteServer(t)
	h := host("demo")
	ts.get(h, "/")
	hits := ts.srv.pages.hits.Load()
	ts.get(h, "/", "Cookie: session=abc")
	ts.get(h, "/", "Authorization: Bearer x")
	if ts.srv.pages.hits.Load() != hits {
		t.Errorf("a request with credentials was served from the cache")
	}
	off := newSiteServer(t, func(c *config) { c.pageCacheMB = 0 })
	if off.srv.pages != nil {
		t.Fatalf("--page-cache-mb 0 still made a cache")
	}
	for i := 0; i < 2; i++ {
		if r := off.get(h, "/"); r.status != 200 || !strings.Contains(r.body, "Riverside") {
			t.Fatalf("without a cache: %d", r.status)
		}
	}
}

func TestPageCacheBudget(t *testing.T) {
	pc := newPageCache(64 << 10)
	body := make([]byte, 1000)
	for i := 0; i < 200; i++ {
		pc.put(&cachedPage{key: fmt.Sprint("k", i), gen: 1, body: body})
		if i == 100 {
			if pc.get("k30", 1, time.Now()) != nil {
				t.Fatalf("k30 should have been evicted by now")
			}
		}
		pc.get("k0", 1, time.Now()) // kept warm
	}
	if pc.Size() > 64<<10 {
		t.Errorf("size %d over the budget %d", pc.Size(), 64<<10)
	}
	if pc.get("k0", 1, time.Now()) == nil {
		t.Errorf("the most recently used entry was evicted")
	}
	if pc.get("k199", 2, time.Now()) != nil {
		t.Errorf("an entry of another generation was served")
	}
	if pc.get("k199", 1, time.Now()) != nil {
		t.Errorf("a mismatched generation did not drop the entry")
	}
	pc.put(&cachedPage{key: "huge", gen: 1, body: make([]byte, 16<<10)})
	if pc.get("huge", 1, time.Now()) != nil {
		t.Errorf("an entry over an eighth of the budget was kept")
	}
	exp := time.Now().Add(time.Minute)
	pc.put(&cachedPage{key: "timed", gen: 1, body: body, expires: exp})
	if pc.get("timed", 1, exp.Add(-time.Second)) == nil || pc.get("timed", 1, exp) != nil {
		t.Errorf("expiry not honoured")
	}
}
