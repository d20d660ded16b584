// Package metrics holds the platform's Prometheus metrics (served on the ops
// listener) and the per-tenant request counts that `tenant stats` shows.
package metrics

import (
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb/pool"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the Prometheus metrics of one platform, served at /metrics
// on the ops listener. No metric has a per-tenant label: with thousands of
// tenants that would swamp Prometheus; `tenant stats SLUG` gives one
// tenant's numbers instead. github.com/prometheus/client_golang writes the
// exposition format, histograms and the Go runtime metrics, which we would
// otherwise have to get exactly right by hand.
type Metrics struct {
	reg *prometheus.Registry

	requests *prometheus.CounterVec   // by kind, route, method, code
	latency  *prometheus.HistogramVec // by kind, route, method, code
	// observers holds each requestLabels' *requestObserver.
	observers sync.Map
	openTime  prometheus.Histogram
	// opDuration times operator data operations by op: export, import,
	// backup, restore, move. See timeOp.
	opDuration   *prometheus.HistogramVec
	TLSAsk       *prometheus.CounterVec // /tls/ask answers by result
	DomainChecks *prometheus.CounterVec // DNS checks by result

	// Tenants counts requests per tenant in memory, for tenant stats.
	Tenants *TenantCounters
}

func New(tenants *pool.Pool) *Metrics {
	const ns = "chapterhouse"
	m := &Metrics{
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
		TLSAsk: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "tls_ask_total",
			Help: "Answers to Caddy's on-demand TLS ask: allowed, denied, limited (rate limit).",
		}, []string{"result"}),
		DomainChecks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "domain_checks_total",
			Help: "DNS checks of custom domains: passed, failed (record missing or wrong), error (lookup failed).",
		}, []string{"result"}),
		Tenants: newTenantCounters(100_000),
	}
	for _, r := range []string{"allowed", "denied", "limited"} {
		m.TLSAsk.WithLabelValues(r)
	}
	for _, r := range []string{"passed", "failed", "error"} {
		m.DomainChecks.WithLabelValues(r)
	}
	poolCounter := func(name, help string, v func() int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: ns, Name: name, Help: help},
			func() float64 { return float64(v()) })
	}
	s := &tenants.Stats
	m.reg.MustRegister(
		m.requests, m.latency, m.openTime, m.opDuration, m.TLSAsk, m.DomainChecks,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "tenants_open",
			Help: "Tenant databases open (or opening) now."}, func() float64 { return float64(tenants.Len()) }),
		poolCounter("tenant_opens_total", "Tenant databases opened.", s.Opens.Load),
		poolCounter("tenant_open_errors_total", "Tenant database opens that failed.", s.OpenErrors.Load),
		poolCounter("tenant_migrations_total", "Tenant opens that ran migrations.", s.Migrations.Load),
		poolCounter("tenant_evictions_total", "Idle tenants closed to make room for another.", s.Evictions.Load),
		poolCounter("tenant_resumes_total", "Opens of a tenant file unchanged since its close, which kept its generation (and cached pages).", s.Resumes.Load),
		poolCounter("tenant_idle_closes_total", "Tenants closed after the idle timeout.", s.IdleCloses.Load),
		poolCounter("tenant_pool_full_total", "Requests that gave up waiting for a free tenant slot (503).", s.FullRejects.Load),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	tenants.ObserveOpens(func(d time.Duration) { m.openTime.Observe(d.Seconds()) })
	return m
}

// PageCache is what the metrics read of a page cache.
type PageCache interface {
	Hits() int64
	Misses() int64
	Evictions() int64
	Len() int
	Size() int64
}

// WatchPageCache exports the counters of the server's page cache.
func (m *Metrics) WatchPageCache(pc PageCache) {
	const ns = "chapterhouse"
	lookups := func(result string, v func() int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: ns, Name: "page_cache_requests_total",
			Help:        "Page cache lookups by result (hit, miss).",
			ConstLabels: prometheus.Labels{"result": result},
		}, func() float64 { return float64(v()) })
	}
	for _, c := range []prometheus.Collector{
		lookups("hit", pc.Hits),
		lookups("miss", pc.Misses),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: ns, Name: "page_cache_evictions_total",
			Help: "Pages dropped from the cache to stay within its memory budget."},
			func() float64 { return float64(pc.Evictions()) }),
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

// Conns is what the metrics read of the public listener's connection
// caps (package netlimit).
type Conns struct {
	Open                        func() int
	RefusedTotal, RefusedClient func() int64 // refused at the total cap, at the per-client cap
	ClosedIdle                  func() int64 // idle connections closed to make room
}

// WatchConns exports the counters of the public listener's connection
// caps.
func (m *Metrics) WatchConns(c Conns) {
	const ns = "chapterhouse"
	counter := func(name, help string, labels prometheus.Labels, v func() int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: ns, Name: name, Help: help, ConstLabels: labels},
			func() float64 { return float64(v()) })
	}
	refused := "Public connections refused (503 and closed) because a cap was reached and no connection was idle, by cap (total: --max-conns, client: --max-conns-per-ip)."
	m.register(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "connections_open",
			Help: "Public connections open now."}, func() float64 { return float64(c.Open()) }),
		counter("connections_refused_total", refused, prometheus.Labels{"cap": "total"}, c.RefusedTotal),
		counter("connections_refused_total", refused, prometheus.Labels{"cap": "client"}, c.RefusedClient),
		counter("connections_idle_closed_total", "Idle public connections closed to make room for a new one at a cap.", nil, c.ClosedIdle),
	)
}

// Exports is what the metrics read of the export downloads' bounds.
type Exports struct {
	Running       func() int
	RefusedTenant func() int64 // a download of the same tenant was running
	RefusedTotal  func() int64 // --max-exports were running
}

// WatchExports exports the counters of the export downloads' bounds.
func (m *Metrics) WatchExports(e Exports) {
	const ns = "chapterhouse"
	refused := "Export downloads refused, by reason (tenant: one of the same chapter was running; total: --max-exports were running)."
	counter := func(reason string, v func() int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: ns, Name: "export_downloads_refused_total",
			Help: refused, ConstLabels: prometheus.Labels{"reason": reason}}, func() float64 { return float64(v()) })
	}
	m.register(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "export_downloads_running",
			Help: "Export downloads running now (each holds a snapshot file)."}, func() float64 { return float64(e.Running()) }),
		counter("tenant", e.RefusedTenant),
		counter("total", e.RefusedTotal),
	)
}

// Mail is what the metrics read of the mail worker.
type Mail struct {
	TenantsWaiting func() int  // tenants with mail still to send
	ScanDone       func() bool // the start's look at every outbox is done
	Sent, Failed   func() int64
}

// WatchMail exports the mail worker's state and counters.
func (m *Metrics) WatchMail(w Mail) {
	const ns = "chapterhouse"
	m.register(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "mail_tenants_waiting",
			Help: "Chapters with mail still to send (due now or later)."}, func() float64 { return float64(w.TenantsWaiting()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "mail_start_scan_done",
			Help: "1 once the mail worker has looked at every chapter's outbox after the start."}, func() float64 {
			if w.ScanDone() {
				return 1
			}
			return 0
		}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: ns, Name: "mail_sent_total",
			Help: "Mails the SMTP server accepted."}, func() float64 { return float64(w.Sent()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: ns, Name: "mail_attempts_failed_total",
			Help: "Attempts at sending a mail that failed (it is retried unless the failure was final)."}, func() float64 { return float64(w.Failed()) }),
	)
}

// register adds collectors; a second server on one platform (tests only)
// keeps the first's.
func (m *Metrics) register(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := m.reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				panic(err)
			}
		}
	}
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// ObserveRequest counts one served request.
func (m *Metrics) ObserveRequest(kind, route, method string, code int, d time.Duration) {
	if route == "" {
		route = "(none)"
	}
	key := requestLabels{kind, route, methodLabel(method), code}
	o, ok := m.observers.Load(key)
	if !ok {
		labels := []string{key.kind, key.route, key.method, strconv.Itoa(code)}
		o, _ = m.observers.LoadOrStore(key, &requestObserver{
			requests: m.requests.WithLabelValues(labels...),
			latency:  m.latency.WithLabelValues(labels...),
		})
	}
	ro := o.(*requestObserver)
	ro.requests.Inc()
	ro.latency.Observe(d.Seconds())
}

// requestLabels are the labels of a request's metrics; the set is small
// (kinds, route patterns, methods and statuses are all bounded), so each
// combination's counter and histogram are looked up once and kept in
// Metrics.observers: a request then costs one map read instead of two
// label hashes and lookups and the string of its status.
type requestLabels struct {
	kind, route, method string
	code                int
}

type requestObserver struct {
	requests prometheus.Counter
	latency  prometheus.Observer
}

// TimeOp starts timing an operator data operation; call the function it
// returns when the operation ends:
//
//	defer p.metrics.timeOp("backup")()
func (m *Metrics) TimeOp(op string) func() {
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

// TenantCounters counts requests per tenant since the server started, for
// `tenant stats`. It holds at most max tenants (ids come only from the
// catalog, so it is bounded by the number of tenants anyway); past that,
// new tenants go uncounted rather than growing memory.
type TenantCounters struct {
	mu      sync.Mutex
	max     int
	m       map[string]*tenantCount
	dropped int64
}

type tenantCount struct {
	requests int64
	last     time.Time
}

func newTenantCounters(max int) *TenantCounters {
	return &TenantCounters{max: max, m: map[string]*tenantCount{}}
}

// Add counts one request of tenant id at time at.
func (c *TenantCounters) Add(id string, at time.Time) {
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

// Get returns tenant id's request count and last request time.
func (c *TenantCounters) Get(id string) (requests int64, last time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if tc := c.m[id]; tc != nil {
		return tc.requests, tc.last
	}
	return 0, time.Time{}
}

// Forget drops a deleted tenant's counts.
func (c *TenantCounters) Forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
}
