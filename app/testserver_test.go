package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// testBase is the platform domain of test servers: tenant slug is served
// at slug.chapters.test (requests go to the loopback listener with that
// Host header).
const testBase = "chapters.test"

// siteServer is the real server handler over real loopback HTTP, on a temp
// data dir seeded with the demo tenant.
type siteServer struct {
	t      testing.TB
	srv    *server
	p      *platform.Platform
	http   *httptest.Server
	client *http.Client // does not follow redirects
	demo   tenantdb.Tenant
}

// newSiteServer starts a server on 127.0.0.1:0 over a new data dir with the
// demo tenant. configure, if given, changes the config before the server
// is built (say, the page cache budget).
func newSiteServer(t testing.TB, configure ...func(*config)) *siteServer {
	t.Helper()
	return newSiteServerAt(t, nil, configure...)
}

// newSiteServerAt is newSiteServer with the server's clock set to now
// (when not nil) before it serves anything.
func newSiteServerAt(t testing.TB, now func() time.Time, configure ...func(*config)) *siteServer {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := config{
		dataDir:        dir,
		addr:           "127.0.0.1:0",
		baseDomain:     testBase,
		maxOpen:        16,
		idleTimeout:    time.Minute,
		acquireTimeout: 5 * time.Second,
		maxBody:        12 << 20,
		logFormat:      "text",
		pageCacheMB:    64,
	}
	cfg.now = now
	for _, f := range configure {
		f(&cfg)
	}
	p, err := platform.Open(ctx, dir, cfg.maxOpen, cfg.idleTimeout, log)
	if err != nil {
		t.Fatal(err)
	}
	p.Base = testBase
	if err := platform.SeedDemo(ctx, p, io.Discard); err != nil {
		p.Close()
		t.Fatal(err)
	}
	s, err := newServer(cfg, p, log)
	if err != nil {
		p.Close()
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	ts := &siteServer{
		t:    t,
		srv:  s,
		p:    p,
		http: hs,
		client: &http.Client{
			Timeout:       30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	ts.demo, _ = p.Catalog.TenantBySlug("demo")
	t.Cleanup(func() {
		hs.Close()
		p.Close()
	})
	return ts
}

// addTenant creates tenant slug and lets fill write its content.
func (ts *siteServer) addTenant(slug, name string, fill func(db *tenantdb.DB)) tenantdb.Tenant {
	ts.t.Helper()
	ctx := context.Background()
	t, err := ts.p.CreateTenant(ctx, slug, name)
	if err != nil {
		ts.t.Fatal(err)
	}
	if fill != nil {
		h := ts.db(slug)
		fill(h.DB)
	}
	return t
}

// db returns tenant slug's open database, the same one the server uses,
// released when the test ends.
func (ts *siteServer) db(slug string) *tenantdb.Handle {
	ts.t.Helper()
	t, ok := ts.p.Catalog.TenantBySlug(slug)
	if !ok {
		ts.t.Fatalf("no tenant %q", slug)
	}
	h, err := ts.p.Pool.Acquire(context.Background(), t.ID)
	if err != nil {
		ts.t.Fatal(err)
	}
	ts.t.Cleanup(h.Release)
	return h
}

// host is the host name of tenant slug.
func host(slug string) string { return slug + "." + testBase }

type response struct {
	status int
	header http.Header
	body   string
}

// request sends method path to host with optional headers ("Name: value")
// and form body, and reads the whole response.
func (ts *siteServer) request(method, host, path string, form url.Values, headers ...string) response {
	ts.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, ts.http.URL+path, body)
	if err != nil {
		ts.t.Fatal(err)
	}
	req.Host = host
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(k, strings.TrimSpace(v))
	}
	resp, err := ts.client.Do(req)
	if err != nil {
		ts.t.Fatalf("%s %s%s: %v", method, host, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		ts.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func (ts *siteServer) get(host, path string, headers ...string) response {
	ts.t.Helper()
	return ts.request(http.MethodGet, host, path, nil, headers...)
}

func (ts *siteServer) post(host, path string, form url.Values, headers ...string) response {
	ts.t.Helper()
	return ts.request(http.MethodPost, host, path, form, headers...)
}

// testClock is a clock a test moves while the server reads it.
type testClock struct{ ns atomic.Int64 }

func newTestClock(t time.Time) *testClock {
	c := &testClock{}
	c.ns.Store(t.UnixNano())
	return c
}

func (c *testClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *testClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// metric is the value of the sample named name (with its labels, as the
// exposition format writes them) on the server's /metrics, "" if absent.
func (ts *siteServer) metric(name string) string {
	ts.t.Helper()
	rec := httptest.NewRecorder()
	ts.p.Metrics.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return v
		}
	}
	return ""
}

// cacheHits is how many requests the page cache has answered.
func (ts *siteServer) cacheHits() int64 {
	ts.t.Helper()
	n, err := strconv.ParseFloat(ts.metric(`chapterhouse_page_cache_requests_total{result="hit"}`), 64)
	if err != nil {
		ts.t.Fatalf("page cache hits: %v", err)
	}
	return int64(n)
}
