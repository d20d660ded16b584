// Package webtest runs the real web server over real loopback HTTP on a
// temporary data dir seeded with the demo chapter: the one harness of the
// web packages' tests (site, admin, api, auth and the server itself).
// Nothing is mocked: the platform, its SQLite files and the pool are the
// ones the program uses.
package webtest

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
	"github.com/chapterhouse/chapterhouse/tenantdb/pool"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/app/internal/web"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// Base is the platform domain of test servers: tenant slug is served at
// slug.chapters.test (requests go to the loopback listener with that Host
// header).
const Base = "chapters.test"

// Host is the host name of tenant slug.
func Host(slug string) string { return slug + "." + Base }

// Server is a running web server and its platform.
type Server struct {
	Client
	t        testing.TB
	Platform *platform.Platform
	Web      *web.Server
	URL      string       // http://127.0.0.1:PORT
	HTTP     *http.Client // does not follow redirects, and keeps no cookies
	Demo     catalog.Tenant
	Dir      string // the data dir
}

// Option changes the web config of a test server before it is built.
type Option func(*web.Config)

// New starts a server on 127.0.0.1:0 over a new data dir with the demo
// tenant, and stops it when the test ends.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	return start(t, true, opts)
}

// NewEmpty is New without the demo tenant.
func NewEmpty(t testing.TB, opts ...Option) *Server {
	t.Helper()
	return start(t, false, opts)
}

func start(t testing.TB, demo bool, opts []Option) *Server {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := web.Config{
		DataDir:        dir,
		BaseDomain:     Base,
		AcquireTimeout: 5 * time.Second,
		BodyTimeout:    30 * time.Second,
		MaxBody:        12 << 20,
		PageCacheMB:    64,
	}
	for _, o := range opts {
		o(&cfg)
	}
	p, err := platform.Open(ctx, dir, 64, time.Minute, log)
	if err != nil {
		t.Fatal(err)
	}
	p.Base = cfg.BaseDomain
	if demo {
		if err := platform.SeedDemo(ctx, p, io.Discard, "chapterhouse"); err != nil {
			p.Close()
			t.Fatal(err)
		}
	}
	s, err := web.New(cfg, p, log)
	if err != nil {
		p.Close()
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	ts := &Server{
		t:        t,
		Platform: p,
		Web:      s,
		URL:      hs.URL,
		Dir:      dir,
		Client:   Client{Addr: strings.TrimPrefix(hs.URL, "http://")},
		HTTP: &http.Client{
			Timeout:       30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	ts.Demo, _ = p.Catalog.TenantBySlug("demo")
	t.Cleanup(func() {
		hs.Close()
		p.Close()
	})
	return ts
}

// AddTenant creates tenant slug and lets fill write its content.
func (ts *Server) AddTenant(slug, name string, fill func(db *tenantdb.DB)) catalog.Tenant {
	ts.t.Helper()
	t, err := ts.Platform.CreateTenant(context.Background(), slug, name)
	if err != nil {
		ts.t.Fatal(err)
	}
	if fill != nil {
		h, err := ts.Platform.Pool.Acquire(context.Background(), t.ID)
		if err != nil {
			ts.t.Fatal(err)
		}
		defer h.Release()
		fill(h.DB)
	}
	return t
}

// DB returns tenant slug's open database, the same one the server uses,
// released when the test ends.
func (ts *Server) DB(slug string) *pool.Handle {
	ts.t.Helper()
	t, ok := ts.Platform.Catalog.TenantBySlug(slug)
	if !ok {
		ts.t.Fatalf("no tenant %q", slug)
	}
	h, err := ts.Platform.Pool.Acquire(context.Background(), t.ID)
	if err != nil {
		ts.t.Fatal(err)
	}
	ts.t.Cleanup(h.Release)
	return h
}

// Response is a whole response.
type Response struct {
	Status int
	Header http.Header
	Body   string
}

// Do sends method path to host with optional headers ("Name: value") and
// form body, and reads the whole response.
func (ts *Server) Do(method, host, path string, form url.Values, headers ...string) Response {
	ts.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, ts.URL+path, body)
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
	resp, err := ts.HTTP.Do(req)
	if err != nil {
		ts.t.Fatalf("%s %s%s: %v", method, host, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		ts.t.Fatal(err)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}
}

// Get is Do with GET.
func (ts *Server) Get(host, path string, headers ...string) Response {
	ts.t.Helper()
	return ts.Do(http.MethodGet, host, path, nil, headers...)
}

// Post is Do with POST and a form.
func (ts *Server) Post(host, path string, form url.Values, headers ...string) Response {
	ts.t.Helper()
	return ts.Do(http.MethodPost, host, path, form, headers...)
}

// Metric is the value of the sample named name (with its labels, as the
// exposition format writes them) on the server's /metrics, "" if absent.
func (ts *Server) Metric(name string) string {
	ts.t.Helper()
	rec := httptest.NewRecorder()
	ts.Platform.Metrics.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return v
		}
	}
	return ""
}

// Scrape reads base/metrics (an ops listener's URL) and parses it as the
// Prometheus text format.
func Scrape(t testing.TB, base string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics is not the Prometheus text format: %v", err)
	}
	return mfs
}

// Sample is the sum of the counters, gauges or histogram counts of family
// name whose labels include want (0 when there is none).
func Sample(mfs map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	mf := mfs[name]
	if mf == nil {
		return 0
	}
	var total float64
next:
	for _, m := range mf.Metric {
		have := map[string]string{}
		for _, lp := range m.Label {
			have[lp.GetName()] = lp.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			total += m.Counter.GetValue()
		case m.Gauge != nil:
			total += m.Gauge.GetValue()
		case m.Histogram != nil:
			total += float64(m.Histogram.GetSampleCount())
		}
	}
	return total
}

// CacheHits is how many requests the page cache has answered.
func (ts *Server) CacheHits() int64 {
	ts.t.Helper()
	n, err := strconv.ParseFloat(ts.Metric(`chapterhouse_page_cache_requests_total{result="hit"}`), 64)
	if err != nil {
		ts.t.Fatalf("page cache hits: %v", err)
	}
	return int64(n)
}

// Clock is a clock a test moves while the server reads it.
type Clock struct{ ns atomic.Int64 }

// NewClock is a clock at t.
func NewClock(t time.Time) *Clock {
	c := &Clock{}
	c.ns.Store(t.UnixNano())
	return c
}

// Now is the clock's time.
func (c *Clock) Now() time.Time { return time.Unix(0, c.ns.Load()) }

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// Must fails the test on err.
func Must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Files lists the files under dir (paths relative to it), to check that
// a request created none.
func Files(t testing.TB, dir string) []string {
	t.Helper()
	var files []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, strings.TrimPrefix(p, dir))
		}
		return nil
	})
	return files
}

// GetURL GETs the absolute URL u and returns the status and body.
func GetURL(t testing.TB, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
