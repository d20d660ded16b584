package main

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chapterhouse/chapterhouse/app/internal/web"
	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
	"github.com/chapterhouse/chapterhouse/tenantdb"
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

// BenchmarkSiteHomeRender renders the demo's uncached home page in
// process, without a client or a socket (the server's handler called
// with a recorded response), so that the time is the render's alone and
// a small difference shows: "library" is the demo as it is, with its
// home page photo and album strip; "plain" is the demo without them (no
// hero, every album unpublished). Their ratio is what the photo and the
// strip cost an uncached render (issue 15: at most 10% more).
//
//	go test -run '^$' -bench SiteHomeRender -count 6 ./app
func BenchmarkSiteHomeRender(b *testing.B) {
	ts := webtest.New(b, func(c *web.Config) { c.PageCacheMB = 0 })
	ctx := context.Background()
	db := ts.DB("demo").DB
	site, err := db.Site(ctx)
	webtest.Must(b, err)
	albums, err := db.Albums(ctx, false, true, tenantdb.Window{})
	webtest.Must(b, err)
	// set shows the demo with its photo and strip, or without.
	set := func(b *testing.B, library bool) {
		s := site
		if !library {
			s.HeroID = ""
		}
		webtest.Must(b, db.UpdateSite(ctx, &s))
		for _, a := range albums {
			a.Published = library && a.Published
			webtest.Must(b, db.SaveAlbum(ctx, &a))
		}
	}
	render := func(b *testing.B) string {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Host = webtest.Host("demo")
		req.RemoteAddr = "127.0.0.1:4242"
		rec := httptest.NewRecorder()
		ts.Web.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("GET /: %d", rec.Code)
		}
		return rec.Body.String()
	}
	for _, tc := range []struct {
		name    string
		library bool
	}{{"library", true}, {"plain", false}} {
		b.Run(tc.name, func(b *testing.B) {
			set(b, tc.library)
			page := render(b)
			if has := strings.Contains(page, "hero-photo") && strings.Contains(page, `class="strip"`); has != tc.library {
				b.Fatalf("the home page has its photo and strip: %v, want %v", has, tc.library)
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime()
			for range b.N {
				render(b)
			}
			// The process's CPU time: on a shared machine the wall time
			// is mostly waiting for a core.
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}

// BenchmarkSiteHomeUncachedNoMemo is the uncached render with the
// markdown memo off too: every request converts and sanitises its
// markdown.
func BenchmarkSiteHomeUncachedNoMemo(b *testing.B) {
	ts := webtest.New(b, func(c *web.Config) { c.PageCacheMB, c.NoMarkdownMemo = 0, true })
	page := ts.Get(webtest.Host("demo"), "/").Body
	load(b, ts.URL+"/", len(page)/2, func(*rand.Rand) string { return webtest.Host("demo") })
}
