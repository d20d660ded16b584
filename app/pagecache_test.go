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
	hits := ts.cacheHits()
	second := ts.get(h, "/")
	if ts.cacheHits() != hits+1 || second.body != first.body {
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
	hits := ts.cacheHits()
	ts.get(h, "/", "Cookie: session=abc")
	ts.get(h, "/", "Authorization: Bearer x")
	if ts.cacheHits() != hits {
		t.Errorf("a request with credentials was served from the cache")
	}
	off := newSiteServer(t, func(c *config) { c.pageCacheMB = 0 })
	if off.metric(`chapterhouse_page_cache_entries`) != "" {
		t.Fatalf("--page-cache-mb 0 still made a cache")
	}
	for i := 0; i < 2; i++ {
		if r := off.get(h, "/"); r.status != 200 || !strings.Contains(r.body, "Riverside") {
			t.Fatalf("without a cache: %d", r.status)
		}
	}
}
