package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/chapterhouse/chapterhouse/app/internal/web"
	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
)

// opsServer serves ts's ops listener on a loopback port of its own.
func opsServer(t testing.TB, ts *testServer) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(ts.Web.OpsHandler())
	t.Cleanup(srv.Close)
	return srv
}

func ask(t testing.TB, ops *httptest.Server, domain string) int {
	t.Helper()
	code, _ := webtest.GetURL(t, ops.URL+"/tls/ask?domain="+url.QueryEscape(domain))
	return code
}

// domainsFixture is a test server with tenants in every state a custom
// domain or subdomain can be in.
func domainsFixture(t testing.TB, opts ...webtest.Option) *testServer {
	t.Helper()
	ts := newTestServer(t, opts...)
	ctx := context.Background()
	alpha := markerTenant(t, ts, "alpha", "ALPHAMARK")
	frozen := ts.tenant(t, "frozen", "Frozen Lodge", nil)
	gone := ts.tenant(t, "gone", "Suspended Troop", nil)
	add := func(tn catalog.Tenant, host string, status string) {
		t.Helper()
		if _, err := ts.p.AddDomain(ctx, tn, host); err != nil {
			t.Fatal(err)
		}
		if status != catalog.DomainPending {
			if _, err := ts.p.Catalog.SetDomainStatus(ctx, tn.ID, host, status); err != nil {
				t.Fatal(err)
			}
		}
	}
	add(alpha, "www.alpha.example", catalog.DomainVerified)
	add(alpha, "pending.alpha.example", catalog.DomainPending)
	add(alpha, "lapsed.alpha.example", catalog.DomainVerified)
	if _, err := ts.p.Catalog.RecordDomainCheck(ctx, alpha.ID, "lapsed.alpha.example", false, 0); err != nil {
		t.Fatal(err)
	}
	add(alpha, "grace.alpha.example", catalog.DomainVerified)
	if _, err := ts.p.Catalog.RecordDomainCheck(ctx, alpha.ID, "grace.alpha.example", false, time.Hour); err != nil {
		t.Fatal(err)
	}
	add(gone, "www.gone.example", catalog.DomainVerified)
	for slug, status := range map[string]string{frozen.Slug: catalog.StatusFrozen, gone.Slug: catalog.StatusSuspended} {
		if _, err := ts.p.Catalog.SetStatus(ctx, slug, status); err != nil {
			t.Fatal(err)
		}
	}
	return ts
}

func TestTLSAsk(t *testing.T) {
	ts := domainsFixture(t)
	ops := opsServer(t, ts)
	cases := []struct {
		domain string
		want   int
	}{
		{"alpha.localhost", 200},
		{"ALPHA.localhost.", 200},
		{"www.alpha.example", 200},
		{"grace.alpha.example", 200}, // misconfigured, within its grace period: still routes
		{"frozen.localhost", 200},    // read-only maintenance still serves
		{"nosuch.localhost", 404},
		{"www.nosuch.example", 404},
		{"pending.alpha.example", 404},
		{"lapsed.alpha.example", 404}, // misconfigured past its grace period
		{"gone.localhost", 404},       // suspended tenant
		{"www.gone.example", 404},     // suspended tenant's verified domain
		{"localhost", 404},            // the bare base domain has its own certificate
		{"deep.alpha.localhost", 404},
		{"alpha.localhost:443", 404},
		{"", 404},
		{"../catalog.db", 404},
		{"alpha.localhost/../x", 404},
	}
	for _, tc := range cases {
		if got := ask(t, ops, tc.domain); got != tc.want {
			t.Errorf("ask %q: %d, want %d", tc.domain, got, tc.want)
		}
	}
	if code, _ := webtest.GetURL(t, ops.URL+"/tls/ask"); code != 404 {
		t.Errorf("ask without a domain: %d, want 404", code)
	}

	// None of the ops routes exists on the public listener, whatever the Host.
	for _, host := range []string{"alpha.localhost", "www.alpha.example", "localhost", "nosuch.example", "127.0.0.1"} {
		for _, path := range []string{"/tls/ask?domain=alpha.localhost", "/metrics", "/readyz"} {
			code, body := ts.get(t, host, path)
			if code != http.StatusNotFound || strings.Contains(body, "chapterhouse_") {
				t.Errorf("public %s%s: %d, want 404", host, path, code)
			}
		}
	}
}

func TestTLSAskIsRateLimited(t *testing.T) {
	clock := webtest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	ts := domainsFixture(t, func(c *web.Config) { c.Now = clock.Now })
	ops := opsServer(t, ts)
	for i := range web.AskBurst {
		if got := ask(t, ops, "alpha.localhost"); got != 200 {
			t.Fatalf("ask %d within the burst: %d", i, got)
		}
	}
	if got := ask(t, ops, "alpha.localhost"); got != http.StatusTooManyRequests {
		t.Fatalf("ask past the burst: %d, want 429", got)
	}
	clock.Advance(time.Second)
	for i := range web.AskRate {
		if got := ask(t, ops, "alpha.localhost"); got != 200 {
			t.Fatalf("ask %d a second later: %d, want 200", i, got)
		}
	}
	if got := ask(t, ops, "alpha.localhost"); got != http.StatusTooManyRequests {
		t.Fatalf("ask past the refill: %d, want 429", got)
	}
}

// scrape reads /metrics and parses it as the Prometheus text format.
func scrape(t testing.TB, ops *httptest.Server) map[string]*dto.MetricFamily {
	t.Helper()
	return webtest.Scrape(t, ops.URL)
}

func TestMetricsMoveWithRequests(t *testing.T) {
	ts := domainsFixture(t)
	ops := opsServer(t, ts)
	alpha, _ := ts.p.Catalog.Tenant("alpha")
	ts.p.Pool.Drain(context.Background(), alpha.ID, func() error { return nil })

	before := scrape(t, ops)
	home := map[string]string{"kind": "tenant", "route": "/", "method": "GET", "code": "200"}
	const n = 7
	for range n {
		if code, _ := ts.get(t, "www.alpha.example", "/"); code != 200 {
			t.Fatalf("alpha home: %d", code)
		}
	}
	ts.get(t, "nosuch.example", "/some/path")
	ts.get(t, "alpha.localhost", "/no-such-page-here")
	ask(t, ops, "alpha.localhost")
	ask(t, ops, "nosuch.localhost")
	after := scrape(t, ops)

	moved := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"chapterhouse_http_requests_total", home, n},
		{"chapterhouse_http_request_duration_seconds", home, n},
		{"chapterhouse_http_requests_total", map[string]string{"kind": "unknown", "route": "(none)", "code": "404"}, 1},
		{"chapterhouse_tenant_opens_total", nil, 1},
		{"chapterhouse_tenant_open_duration_seconds", nil, 1},
		{"chapterhouse_tls_ask_total", map[string]string{"result": "allowed"}, 1},
		{"chapterhouse_tls_ask_total", map[string]string{"result": "denied"}, 1},
		{"chapterhouse_http_requests_total", map[string]string{"kind": "ops", "route": "/tls/ask"}, 2},
		{"chapterhouse_page_cache_requests_total", nil, n}, // hits and misses
	}
	for _, m := range moved {
		if d := webtest.Sample(after, m.name, m.labels) - webtest.Sample(before, m.name, m.labels); d != m.want {
			t.Errorf("%s%v moved by %v, want %v", m.name, m.labels, d, m.want)
		}
	}
	if hits := webtest.Sample(after, "chapterhouse_page_cache_requests_total", map[string]string{"result": "hit"}); hits < 1 {
		t.Errorf("page cache hits = %v after %d requests of one page", hits, n)
	}
	if got := webtest.Sample(after, "chapterhouse_tenants_open", nil); got < 1 {
		t.Errorf("tenants_open = %v, want at least 1", got)
	}
	for _, name := range []string{"chapterhouse_tenant_evictions_total", "chapterhouse_tenant_migrations_total",
		"chapterhouse_page_cache_requests_total", "chapterhouse_operation_duration_seconds", "go_goroutines"} {
		if _, ok := after[name]; !ok && name != "chapterhouse_operation_duration_seconds" {
			t.Errorf("%s missing from /metrics", name)
		}
	}

	// Routes are patterns, never raw paths, and no label names a tenant.
	for name, mf := range after {
		for _, m := range mf.Metric {
			for _, lp := range m.Label {
				v := lp.GetValue()
				if strings.Contains(v, "no-such-page") || strings.Contains(v, "/some/path") ||
					strings.Contains(v, "alpha") || v == alpha.ID {
					t.Errorf("%s has label %s=%q", name, lp.GetName(), v)
				}
			}
		}
	}
}

func TestHealthAndReadiness(t *testing.T) {
	ts := newTestServer(t)
	ops := opsServer(t, ts)
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, _ := webtest.GetURL(t, ops.URL+path); code != 200 {
			t.Errorf("%s: %d, want 200", path, code)
		}
	}
	ts.Web.Drain()
	if code, body := webtest.GetURL(t, ops.URL+"/readyz"); code != 503 || !strings.Contains(body, "shutting down") {
		t.Errorf("readyz while shutting down: %d %q", code, body)
	}
	if code, _ := webtest.GetURL(t, ops.URL+"/healthz"); code != 200 {
		t.Errorf("healthz while shutting down: %d", code)
	}
	ts = newTestServer(t)
	ops = opsServer(t, ts)
	ts.p.Catalog.Close()
	if code, body := webtest.GetURL(t, ops.URL+"/readyz"); code != 503 || !strings.Contains(body, "catalog") {
		t.Errorf("readyz with the catalog closed: %d %q", code, body)
	}
}
