package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// opsServer serves ts's ops listener on a loopback port of its own.
func opsServer(t testing.TB, ts *testServer) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(ts.opsHandler())
	t.Cleanup(srv.Close)
	return srv
}

func getURL(t testing.TB, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func ask(t testing.TB, ops *httptest.Server, domain string) int {
	t.Helper()
	code, _ := getURL(t, ops.URL+"/tls/ask?domain="+url.QueryEscape(domain))
	return code
}

// domainsFixture is a test server with tenants in every state a custom
// domain or subdomain can be in.
func domainsFixture(t testing.TB) *testServer {
	t.Helper()
	ts := newTestServer(t)
	ctx := context.Background()
	alpha := markerTenant(t, ts, "alpha", "ALPHAMARK")
	frozen := ts.tenant(t, "frozen", "Frozen Lodge", nil)
	gone := ts.tenant(t, "gone", "Suspended Troop", nil)
	add := func(tn tenantdb.Tenant, host string, status string) {
		t.Helper()
		if _, err := ts.p.AddDomain(ctx, tn, host); err != nil {
			t.Fatal(err)
		}
		if status != tenantdb.DomainPending {
			if _, err := ts.p.Catalog.SetDomainStatus(ctx, host, status); err != nil {
				t.Fatal(err)
			}
		}
	}
	add(alpha, "www.alpha.example", tenantdb.DomainVerified)
	add(alpha, "pending.alpha.example", tenantdb.DomainPending)
	add(alpha, "lapsed.alpha.example", tenantdb.DomainVerified)
	if _, err := ts.p.Catalog.RecordDomainCheck(ctx, "lapsed.alpha.example", false, 0); err != nil {
		t.Fatal(err)
	}
	add(alpha, "grace.alpha.example", tenantdb.DomainVerified)
	if _, err := ts.p.Catalog.RecordDomainCheck(ctx, "grace.alpha.example", false, time.Hour); err != nil {
		t.Fatal(err)
	}
	add(gone, "www.gone.example", tenantdb.DomainVerified)
	for slug, status := range map[string]string{frozen.Slug: tenantdb.StatusFrozen, gone.Slug: tenantdb.StatusSuspended} {
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
	if code, _ := getURL(t, ops.URL+"/tls/ask"); code != 404 {
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
	ts := domainsFixture(t)
	ops := opsServer(t, ts)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ts.now = func() time.Time { return now }
	for i := range askBurst {
		if got := ask(t, ops, "alpha.localhost"); got != 200 {
			t.Fatalf("ask %d within the burst: %d", i, got)
		}
	}
	if got := ask(t, ops, "alpha.localhost"); got != http.StatusTooManyRequests {
		t.Fatalf("ask past the burst: %d, want 429", got)
	}
	now = now.Add(time.Second)
	for i := range askRate {
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
	return scrapeURL(t, ops.URL)
}

func scrapeURL(t testing.TB, base string) map[string]*dto.MetricFamily {
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

// sample is the value of the counter, gauge or histogram count of family
// name whose labels include want (0 when there is none).
func sample(mfs map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
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
		if d := sample(after, m.name, m.labels) - sample(before, m.name, m.labels); d != m.want {
			t.Errorf("%s%v moved by %v, want %v", m.name, m.labels, d, m.want)
		}
	}
	if hits := sample(after, "chapterhouse_page_cache_requests_total", map[string]string{"result": "hit"}); hits < 1 {
		t.Errorf("page cache hits = %v after %d requests of one page", hits, n)
	}
	if got := sample(after, "chapterhouse_tenants_open", nil); got < 1 {
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
		if code, _ := getURL(t, ops.URL+path); code != 200 {
			t.Errorf("%s: %d, want 200", path, code)
		}
	}
	ts.draining.Store(true)
	if code, body := getURL(t, ops.URL+"/readyz"); code != 503 || !strings.Contains(body, "shutting down") {
		t.Errorf("readyz while shutting down: %d %q", code, body)
	}
	if code, _ := getURL(t, ops.URL+"/healthz"); code != 200 {
		t.Errorf("healthz while shutting down: %d", code)
	}
	ts.draining.Store(false)
	ts.p.Catalog.Close()
	if code, body := getURL(t, ops.URL+"/readyz"); code != 503 || !strings.Contains(body, "catalog") {
		t.Errorf("readyz with the catalog closed: %d %q", code, body)
	}
}

// The real program: the ops listener runs beside the public one, and
// tenant stats reads the running server's counts.
func TestOpsListenerAndTenantStats(t *testing.T) {
	s := startServer(t, "--no-demo", "--log-format", "json")
	if s.ops == "" {
		t.Fatal("no ops listener announced")
	}
	mustCLI(t, s.dir, "tenant", "create", "alpha", "--name", "Alpha Post")
	host := "alpha.localhost:" + s.port
	const n = 5
	for range n {
		if code, _ := s.get(t, host, "/"); code != 200 {
			t.Fatalf("alpha: %d", code)
		}
	}
	for _, path := range []string{"/healthz", "/readyz", "/tls/ask?domain=alpha.localhost", "/metrics"} {
		if code, _ := getURL(t, s.ops+path); code != 200 {
			t.Errorf("ops %s: %d", path, code)
		}
	}

	var st platform.TenantStats
	if err := json.Unmarshal([]byte(mustCLI(t, s.dir, "tenant", "stats", "alpha", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Requests != n || !st.Serving || !st.Open || st.LastRequest == nil || st.DBBytes == 0 || st.SizeBytes < st.DBBytes {
		t.Errorf("tenant stats while serving: %+v", st)
	}
	out := mustCLI(t, s.dir, "tenant", "stats", "alpha")
	for _, want := range []string{"size on disk", "open now:", "yes", "5 since the server started", "last request"} {
		if !strings.Contains(out, want) {
			t.Errorf("tenant stats lacks %q:\n%s", want, out)
		}
	}
	if code, _ := s.get(t, host, "/metrics"); code != 404 {
		t.Errorf("public /metrics: %d, want 404", code)
	}
	// Operator data operations are timed.
	before := sample(scrapeURL(t, s.ops), "chapterhouse_operation_duration_seconds", map[string]string{"op": "backup"})
	mustCLI(t, s.dir, "backup", filepath.Join(t.TempDir(), "backup"))
	mustCLI(t, s.dir, "export", "alpha", filepath.Join(t.TempDir(), "alpha.db"))
	after := scrapeURL(t, s.ops)
	if got := sample(after, "chapterhouse_operation_duration_seconds", map[string]string{"op": "backup"}); got != before+1 {
		t.Errorf("backups timed: %v, want %v", got, before+1)
	}
	if got := sample(after, "chapterhouse_operation_duration_seconds", map[string]string{"op": "export"}); got < 1 {
		t.Errorf("exports timed: %v, want at least 1 (a backup exports too)", got)
	}
	if code, _, errOut := runCLI(t, s.dir, "", "tenant", "stats", "nosuch"); code == 0 || !strings.Contains(errOut, "not found") {
		t.Errorf("stats of an unknown tenant: %d %q", code, errOut)
	}

	// Every log line is one JSON object with the request's fields.
	s.stop()
	var requests int
	for _, line := range strings.Split(strings.TrimSpace(s.logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("log line is not JSON: %q", line)
			continue
		}
		if rec["msg"] == "request" && rec["tenant"] != "" {
			requests++
			for _, k := range []string{"time", "level", "request_id", "host", "method", "path", "route", "status", "bytes", "duration", "ip"} {
				if _, ok := rec[k]; !ok {
					t.Errorf("request log lacks %q: %s", k, line)
				}
			}
		}
	}
	if requests < n {
		t.Errorf("%d tenant request log lines, want %d", requests, n)
	}
	if !strings.Contains(s.logs.String(), `"msg":"operator command","command":"tenant create","exit":0`) {
		t.Errorf("operator commands run by the server are not logged:\n%s", s.logs)
	}

	// Without a server, stats say what they cannot know.
	var off platform.TenantStats
	if err := json.Unmarshal([]byte(mustCLI(t, s.dir, "tenant", "stats", "alpha", "--json")), &off); err != nil {
		t.Fatal(err)
	}
	if off.Serving || off.Requests != 0 || off.Open || off.DBBytes == 0 {
		t.Errorf("tenant stats without a server: %+v", off)
	}
}
