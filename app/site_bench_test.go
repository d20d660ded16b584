package main

import (
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/chapterhouse/chapterhouse/app/internal/web"
	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
	"github.com/labstack/echo/v4"
)

// The site benchmarks run over real loopback HTTP with benchConns
// connections at once (see load in bench_test.go). Run them together so the ratios compare like with
// like:
//
//	go test -run '^$' -bench 'Site' -benchtime 20000x ./app
//
// BenchmarkSiteBare is the ceiling: a bare echo handler that returns a
// page as large as the demo home page.
func BenchmarkSiteBare(b *testing.B) {
	ts := webtest.New(b)
	page := ts.Get(webtest.Host("demo"), "/").Body
	e := echo.New()
	e.HideBanner = true
	e.GET("/", func(c echo.Context) error { return c.HTML(http.StatusOK, page) })
	srv := httptest.NewServer(e)
	defer srv.Close()
	load(b, srv.URL+"/", len(page)/2, func(*rand.Rand) string { return "bare.test" })
}

// BenchmarkSiteHomeWarm is the demo's home page from the page cache.
func BenchmarkSiteHomeWarm(b *testing.B) {
	ts := webtest.New(b)
	page := ts.Get(webtest.Host("demo"), "/").Body
	load(b, ts.URL+"/", len(page)/2, func(*rand.Rand) string { return webtest.Host("demo") })
	if ts.CacheHits() < int64(b.N) {
		b.Fatalf("only %d cache hits for %d requests", ts.CacheHits(), b.N)
	}
}

// BenchmarkSiteHomeUncached renders the demo's home page every time
// (--page-cache-mb 0): queries, markdown and templates.
func BenchmarkSiteHomeUncached(b *testing.B) {
	ts := webtest.New(b, func(c *web.Config) { c.PageCacheMB = 0 })
	page := ts.Get(webtest.Host("demo"), "/").Body
	load(b, ts.URL+"/", len(page)/2, func(*rand.Rand) string { return webtest.Host("demo") })
}

// BenchmarkSiteHomeUncachedNoMemo is the uncached render with the
// markdown memo off too: every request converts and sanitises its
// markdown.
func BenchmarkSiteHomeUncachedNoMemo(b *testing.B) {
	ts := webtest.New(b, func(c *web.Config) { c.PageCacheMB, c.NoMarkdownMemo = 0, true })
	page := ts.Get(webtest.Host("demo"), "/").Body
	load(b, ts.URL+"/", len(page)/2, func(*rand.Rand) string { return webtest.Host("demo") })
}
