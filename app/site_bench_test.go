package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
)

// The site benchmarks run over real loopback HTTP with benchConns
// connections at once, and report requests per second and the 99th
// percentile latency. Run them together so the ratios compare like with
// like:
//
//	go test -run '^$' -bench 'Site' -benchtime 20000x ./app
//
// BenchmarkSiteBare is the ceiling: a bare echo handler that returns a
// page as large as the demo home page.
const benchConns = 8

func BenchmarkSiteBare(b *testing.B) {
	ts := newSiteServer(b)
	page := ts.get(host("demo"), "/").body
	e := echo.New()
	e.HideBanner = true
	e.GET("/", func(c echo.Context) error { return c.HTML(http.StatusOK, page) })
	srv := httptest.NewServer(e)
	defer srv.Close()
	benchGet(b, srv.URL, "bare.test", len(page))
}

// BenchmarkSiteHomeWarm is the demo's home page from the page cache.
func BenchmarkSiteHomeWarm(b *testing.B) {
	ts := newSiteServer(b)
	page := ts.get(host("demo"), "/").body
	benchGet(b, ts.http.URL, host("demo"), len(page))
	if ts.srv.pages.hits.Load() < int64(b.N) {
		b.Fatalf("only %d cache hits for %d requests", ts.srv.pages.hits.Load(), b.N)
	}
}

// BenchmarkSiteHomeUncached renders the demo's home page every time
// (--page-cache-mb 0): queries, markdown and templates.
func BenchmarkSiteHomeUncached(b *testing.B) {
	ts := newSiteServer(b, func(c *config) { c.pageCacheMB = 0 })
	page := ts.get(host("demo"), "/").body
	benchGet(b, ts.http.URL, host("demo"), len(page))
}

// benchGet sends b.N GET / requests for hostname over benchConns
// keep-alive connections and reports req/s and p99 latency.
func benchGet(b *testing.B, base, hostname string, size int) {
	b.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: benchConns, MaxConnsPerHost: benchConns, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	get := func() error {
		req, _ := http.NewRequest(http.MethodGet, base+"/", nil)
		req.Host = hostname
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err == nil && (resp.StatusCode != 200 || n < int64(size)/2) {
			err = &benchError{resp.Status}
		}
		return err
	}
	for i := 0; i < 200; i++ { // warm up: connections, pools, the cache
		if err := get(); err != nil {
			b.Fatal(err)
		}
	}
	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for c := 0; c < benchConns; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				t0 := time.Now()
				if err := get(); err != nil {
					failed.Store(err)
					return
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(size), "page-bytes")
}

type benchError struct{ status string }

func (e *benchError) Error() string { return "unexpected response: " + strings.TrimSpace(e.status) }

// BenchmarkSiteHomeUncachedNoMemo is the uncached render with the
// markdown memo off too: every request converts and sanitises its
// markdown.
func BenchmarkSiteHomeUncachedNoMemo(b *testing.B) {
	markdownMemo.setOff(true)
	summaryMemo.setOff(true)
	defer markdownMemo.setOff(false)
	defer summaryMemo.setOff(false)
	ts := newSiteServer(b, func(c *config) { c.pageCacheMB = 0 })
	page := ts.get(host("demo"), "/").body
	benchGet(b, ts.http.URL, host("demo"), len(page))
}
