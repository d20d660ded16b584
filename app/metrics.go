package main

import (
	"errors"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// metrics are the Prometheus metrics of one platform, served at /metrics
// on the ops listener. No metric has a per-tenant label: with thousands of
// tenants that would swamp Prometheus; `tenant stats SLUG` gives one
// tenant's numbers instead. github.com/prometheus/client_golang writes the
// exposition format, histograms and the Go runtime metrics, which we would
// otherwise have to get exactly right by hand.
type metrics struct {
	reg *prometheus.Registry

	requests *prometheus.CounterVec   // by kind, route, method, code
	latency  *prometheus.HistogramVec // by kind, route, method, code
	openTime prometheus.Histogram
	// opDuration times operator data operations by op: export, import,
	// backup, restore, move. See timeOp.
	opDuration   *prometheus.HistogramVec
	ask          *prometheus.CounterVec // /tls/ask answers by result
	domainChecks *prometheus.CounterVec // DNS checks by result

	// perTenant counts requests per tenant in memory, for tenant stats.
	perTenant *tenantCounters
}

func newMetrics(pool *tenantdb.Pool) *metrics {
	const ns = "chapterhouse"
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "http_requests_total",
			Help: "HTTP requests served, by host kind (tenant, platform, unknown, ops), route pattern, method and status code.",
		}, []string{"kind", "route", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Name: "http_request_duration_seconds",
			Help:    "Time to serve HTTP requests, by host kind, route pattern, method and status code.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"kind", "route", "method", "code"}),
		openTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Name: "tenant_open_duration_seconds",
			Help:    "Time to open a tenant database, migrations included.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5},
		}),
		opDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Name: "operation_duration_seconds",
			Help:    "Duration of operator data operations (export, import, backup, restore, move).",
			Buckets: []float64{.01, .05, .1, .5, 1, 5, 10, 30, 60, 300, 900, 3600},
		}, []string{"op"}),
		ask: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "tls_ask_total",
			Help: "Answers to Caddy's on-demand TLS ask: allowed, denied, limited (rate limit).",
		}, []string{"result"}),
		domainChecks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "domain_checks_total",
			Help: "DNS checks of custom domains: passed, failed (record missing or wrong), error (lookup failed).",
		}, []string{"result"}),
		perTenant: newTenantCounters(100_000),
	}
	for _, r := range []string{"allowed", "denied", "limited"} {
		m.ask.WithLabelValues(r)
	}
	for _, r := range []string{"passed", "failed", "error"} {
		m.domainChecks.WithLabelValues(r)
	}
	poolCounter := func(name, help string, v func() int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: ns, Name: name, Help: help},
			func() float64 { return float64(v()) })
	}
	s := &pool.Stats
	m.reg.MustRegister(
		m.requests, m.latency, m.openTime, m.opDuration, m.ask, m.domainChecks,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "tenants_open",
			Help: "Tenant databases open (or opening) now."}, func() float64 { return float64(pool.Len()) }),
		poolCounter("tenant_opens_total", "Tenant databases opened.", s.Opens.Load),
		poolCounter("tenant_open_errors_total", "Tenant database opens that failed.", s.OpenErrors.Load),
		poolCounter("tenant_migrations_total", "Tenant opens that ran migrations.", s.Migrations.Load),
		poolCounter("tenant_evictions_total", "Idle tenants closed to make room for another.", s.Evictions.Load),
		poolCounter("tenant_idle_closes_total", "Tenants closed after the idle timeout.", s.IdleCloses.Load),
		poolCounter("tenant_pool_full_total", "Requests that gave up waiting for a free tenant slot (503).", s.FullRejects.Load),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	pool.ObserveOpens(func(d time.Duration) { m.openTime.Observe(d.Seconds()) })
	return m
}

// watchPageCache exports the counters of the server's page cache.
func (m *metrics) watchPageCache(pc *pageCache) {
	if pc == nil {
		return
	}
	const ns = "chapterhouse"
	lookups := func(result string, v *atomic.Int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: ns, Name: "page_cache_requests_total",
			Help:        "Page cache lookups by result (hit, miss).",
			ConstLabels: prometheus.Labels{"result": result},
		}, func() float64 { return float64(v.Load()) })
	}
	for _, c := range []prometheus.Collector{
		lookups("hit", &pc.hits),
		lookups("miss", &pc.misses),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: ns, Name: "page_cache_evictions_total",
			Help: "Pages dropped from the cache to stay within its memory budget."},
			func() float64 { return float64(pc.evictions.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "page_cache_bytes",
			Help: "Memory the cached pages cost."}, func() float64 { return float64(pc.Size()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "page_cache_entries",
			Help: "Pages in the cache."}, func() float64 { return float64(pc.Len()) }),
	} {
		// A second server on one platform (tests only) keeps the first's.
		if err := m.reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				panic(err)
			}
		}
	}
}

// handler serves the metrics in the Prometheus text format.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// observeRequest counts one served request.
func (m *metrics) observeRequest(kind, route, method string, code int, d time.Duration) {
	if route == "" {
		route = "(none)"
	}
	labels := []string{kind, route, methodLabel(method), strconv.Itoa(code)}
	m.requests.WithLabelValues(labels...).Inc()
	m.latency.WithLabelValues(labels...).Observe(d.Seconds())
}

// timeOp starts timing an operator data operation; call the function it
// returns when the operation ends:
//
//	defer p.metrics.timeOp("backup")()
func (m *metrics) timeOp(op string) func() {
	start := time.Now()
	return func() { m.opDuration.WithLabelValues(op).Observe(time.Since(start).Seconds()) }
}

// methodLabel keeps the method label to a fixed set of values.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "OTHER"
}

// tenantCounters counts requests per tenant since the server started, for
// `tenant stats`. It holds at most max tenants (ids come only from the
// catalog, so it is bounded by the number of tenants anyway); past that,
// new tenants go uncounted rather than growing memory.
type tenantCounters struct {
	mu      sync.Mutex
	max     int
	m       map[string]*tenantCount
	dropped int64
}

type tenantCount struct {
	requests int64
	last     time.Time
}

func newTenantCounters(max int) *tenantCounters {
	return &tenantCounters{max: max, m: map[string]*tenantCount{}}
}

// add counts one request of tenant id at time at.
func (c *tenantCounters) add(id string, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	tc := c.m[id]
	if tc == nil {
		if len(c.m) >= c.max {
			c.dropped++
			return
		}
		tc = &tenantCount{}
		c.m[id] = tc
	}
	tc.requests++
	if at.After(tc.last) {
		tc.last = at
	}
}

// get returns tenant id's request count and last request time.
func (c *tenantCounters) get(id string) (requests int64, last time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if tc := c.m[id]; tc != nil {
		return tc.requests, tc.last
	}
	return 0, time.Time{}
}

// forget drops a deleted tenant's counts.
func (c *tenantCounters) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
}
