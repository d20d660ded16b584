// Package web answers HTTP for every chapter: it normalises the Host,
// routes the request to the platform's own pages or a tenant's site (404
// without opening anything otherwise), logs, recovers and counts it, holds
// the tenant's database open for the request, and maps errors to pages.
// It composes the interfaces of a site (site, admin, api, auth), and
// serves the ops listener (/tls/ask, /metrics, /healthz, /readyz).
package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"

	"github.com/chapterhouse/chapterhouse/app/internal/hostname"
	"github.com/chapterhouse/chapterhouse/app/internal/metrics"
	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/app/internal/render"
	"github.com/chapterhouse/chapterhouse/app/internal/web/admin"
	"github.com/chapterhouse/chapterhouse/app/internal/web/api"
	"github.com/chapterhouse/chapterhouse/app/internal/web/auth"
	"github.com/chapterhouse/chapterhouse/app/internal/web/httpx"
	"github.com/chapterhouse/chapterhouse/app/internal/web/site"
	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
	"github.com/chapterhouse/chapterhouse/views"
)

// Config is how the web server runs.
type Config struct {
	BaseDomain     string        // tenants are served at <slug>.<BaseDomain>
	MaxBody        int64         // the largest request body
	AcquireTimeout time.Duration // how long a request waits for a tenant slot
	// BodyTimeout is how long a client may take over a request body, or
	// over taking a response while its chapter is held open (each chunk,
	// and on average no slower than httpx.MinClientRate after it); 0: only
	// the http.Server's timeouts.
	BodyTimeout time.Duration
	// BodyDiskBytes bounds the large request bodies (uploads) kept on disk
	// at once while their requests wait or run; 0: 256 MiB or 4 MaxBody.
	BodyDiskBytes  int64
	MaxExports     int           // export downloads at once (one per tenant); 0: 4
	TrustedProxies []*net.IPNet  // whose X-Forwarded-For and -Proto are believed
	PageCacheMB    int           // memory for rendered public pages; 0: no cache
	DomainRecheck  time.Duration // how often custom domains are checked (for the dashboard's words)
	// DataDir and SecretFile find the login-token secrets: SecretFile,
	// else DATA/token-secrets, generated on first use.
	DataDir, SecretFile string
	// Now is the clock; nil is time.Now. Tests pass their own.
	Now func() time.Time
	// NoMarkdownMemo turns off the memory of rendered markdown, so that
	// a benchmark measures the rendering itself.
	NoMarkdownMemo bool
}

// Server answers HTTP for every tenant. It routes each request by Host:
// the bare base domain gets the platform's own pages, a tenant's host its
// site, anything else a 404 that opens no file.
type Server struct {
	cfg     Config
	p       *platform.Platform
	views   *render.Renderer
	md      *render.Markdown
	log     *slog.Logger
	now     func() time.Time
	tenants *echo.Echo   // tenant sites
	landing *echo.Echo   // the platform's own pages on the bare base domain
	static  http.Handler // views/static at /static/ on every host, known or not

	// The interfaces of a tenant's site: its public pages, dashboard and
	// login (the API needs no state of its own).
	pub   *site.Handler
	admin *admin.Handler
	auth  *auth.Auth

	opsEcho *echo.Echo // the ops listener: /tls/ask, /metrics, /healthz, /readyz

	bodies  *httpx.Bodies      // every tenant request's body, read before its slot is taken
	exports *httpx.ExportSlots // export downloads running

	fwd      *forwarder // to the owners of other nodes' tenants (cluster mode)
	ipOf     echo.IPExtractor
	askLimit *rate.Limiter
	draining atomic.Bool // set when shutdown begins: /readyz fails
}

// New builds the server of platform p: the templates and markdown, the
// login keys, and each interface of a tenant's site with its routes.
func New(cfg Config, p *platform.Platform, log *slog.Logger) (*Server, error) {
	md := render.NewMarkdown(markdownMemoBytes, log)
	if cfg.NoMarkdownMemo {
		md = render.NewMarkdown(0, log)
	}
	v, err := render.New(views.FS, render.Funcs(md), site.Funcs(), admin.Funcs())
	if err != nil {
		return nil, err
	}
	keys, err := auth.LoadKeyring(cfg.DataDir, cfg.SecretFile)
	if err != nil {
		return nil, err
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	tmp, err := p.TmpDir()
	if err != nil {
		return nil, err
	}
	if cfg.BodyDiskBytes == 0 {
		cfg.BodyDiskBytes = max(256<<20, 4*cfg.MaxBody)
	}
	if cfg.MaxExports == 0 {
		cfg.MaxExports = 4
	}
	s := &Server{cfg: cfg, p: p, views: v, md: md, log: log, now: now,
		auth:     auth.New(p, keys, now),
		askLimit: rate.NewLimiter(AskRate, AskBurst),
		ipOf:     cfg.ipExtractor(),
		bodies: &httpx.Bodies{TmpDir: tmp, Timeout: cfg.BodyTimeout, MaxBody: cfg.MaxBody,
			MemBytes: bodyMemBytes, DiskBytes: cfg.BodyDiskBytes},
		exports: httpx.NewExportSlots(cfg.MaxExports),
	}
	if p.Cluster != nil {
		s.fwd = newForwarder(p.Cluster.Node.ID())
	}
	p.Metrics.WatchExports(metrics.Exports{Running: s.exports.Running,
		RefusedTenant: s.exports.RefusedTenant.Load, RefusedTotal: s.exports.RefusedTotal.Load})
	s.tenants = s.newEcho(s.siteError)
	s.landing = s.newEcho(s.landingError)
	s.opsEcho = s.newEcho(s.opsError)
	s.routes()
	return s, nil
}

func (s *Server) newEcho(onError echo.HTTPErrorHandler) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Renderer = echoRenderer{s.views}
	e.HTTPErrorHandler = onError
	e.IPExtractor = s.cfg.ipExtractor()
	e.Use(recordRoute)
	return e
}

// recordRoute notes the matched route pattern (c.Path(), never the raw
// path) for the request log and metrics.
func recordRoute(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := httpx.RequestOf(c.Request().Context())
		req.Route = c.Path()
		req.IP = c.RealIP()
		return next(c)
	}
}

// routes lists every route of the platform and of the tenant sites.
func (s *Server) routes() {
	s.static = staticHandler()
	static := echo.WrapHandler(s.static)
	s.landing.GET("/", s.showLanding)
	s.landing.GET("/static/*", static)

	s.tenants.GET("/static/*", static)
	t := s.tenants.Group("", s.withTenant)

	// Each interface registers its own routes (see its Register).
	// The public site (package site): no login, the page cache.
	s.pub = site.Register(t, site.Deps{Platform: s.p, Markdown: s.md, Now: s.now, Log: s.log, PageCacheBytes: int64(s.cfg.PageCacheMB) << 20, Views: s.views})
	// The API's login routes (auth) and the API (api): Bearer token.
	s.auth.Register(t)
	api.Register(t, api.Deps{Platform: s.p, Auth: s.auth})
	// The dashboard (admin): cookie login, CSRF-checked forms.
	s.admin = admin.Register(t, admin.Deps{Platform: s.p, Auth: s.auth, Markdown: s.md, Now: s.now, Log: s.log, DomainRecheck: s.cfg.DomainRecheck})

	// The ops listener (--ask-addr) only.
	s.opsEcho.GET("/tls/ask", s.tlsAsk)
	s.opsEcho.GET("/metrics", echo.WrapHandler(s.p.Metrics.Handler()))
	s.opsEcho.GET("/healthz", s.healthz)
	s.opsEcho.GET("/readyz", s.readyz)
}

// TenantRoutes lists the routes of a tenant's site, for the tests that
// walk every one of them.
func (s *Server) TenantRoutes() []*echo.Route { return s.tenants.Routes() }

func staticHandler() http.Handler {
	sub, err := fs.Sub(views.FS, "static")
	if err != nil {
		panic(err)
	}
	files := http.StripPrefix("/static/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	})
}

// ServeHTTP logs, recovers and routes every request by its Host.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	// One allocation for what the request log and the handlers share.
	st := &requestState{req: httpx.Request{ID: newRequestID(), Exports: s.exports},
		sw: httpx.StatusWriter{ResponseWriter: w}}
	req, sw := &st.req, &st.sw
	r = r.WithContext(httpx.WithRequest(r.Context(), req))
	sw.Header()["X-Request-Id"] = []string{req.ID}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("panic", "request_id", req.ID, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if !sw.Written() {
				http.Error(sw, "internal server error", http.StatusInternalServerError)
			}
		}
		elapsed := time.Since(start)
		if req.IP == "" {
			req.IP = s.ipOf(r)
		}
		s.logRequest(r.Context(),
			slog.String("request_id", req.ID),
			slog.String("tenant", req.Tenant.ID),
			slog.String("host", r.Host),
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.String("route", req.Route),
			slog.Int("status", sw.Code()),
			slog.Int64("bytes", sw.Bytes()),
			slog.Duration("duration", elapsed),
			slog.String("ip", req.IP),
			slog.String("user_agent", r.UserAgent()),
		)
		s.p.Metrics.ObserveRequest(req.Kind, req.Route, r.Method, sw.Code(), elapsed)
		if req.Tenant.ID != "" {
			s.p.Metrics.Tenants.Add(req.Tenant.ID, start)
		}
	}()
	r.Body = http.MaxBytesReader(sw, r.Body, s.cfg.MaxBody)
	s.dispatch(sw, r, req)
	// A multipart form (an upload) parsed on this copy of the request
	// spilled its larger files to the temp dir; net/http removes only the
	// files of the request it passed in, so they are removed here, after
	// the handler, whatever it answered.
	if r.MultipartForm != nil {
		if err := r.MultipartForm.RemoveAll(); err != nil {
			s.log.Warn("removing an upload's temporary files", "request_id", req.ID, "err", err)
		}
	}
}

// logRequest writes the request log line. It is Logger.LogAttrs without
// the caller's program counter, which no handler of ours prints and which
// costs a stack walk on every request.
func (s *Server) logRequest(ctx context.Context, attrs ...slog.Attr) {
	h := s.log.Handler()
	if !h.Enabled(ctx, slog.LevelInfo) {
		return
	}
	rec := slog.NewRecord(time.Now(), slog.LevelInfo, "request", 0)
	rec.AddAttrs(attrs...)
	h.Handle(ctx, rec)
}

func (s *Server) dispatch(w http.ResponseWriter, r *http.Request, req *httpx.Request) {
	if r.URL.Path == "/healthz" {
		req.Kind, req.Route = "health", "/healthz"
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
		return
	}
	host, err := hostname.Normalize(r.Host)
	if err != nil {
		req.Kind = "bad-host"
		http.Error(w, "400 bad request: malformed Host header", http.StatusBadRequest)
		return
	}
	req.Host = host
	req.Secure, req.BaseURL = s.origin(r)
	t, kind := s.resolve(host)
	switch kind {
	case hostPlatform:
		req.Kind = "platform"
		s.landing.ServeHTTP(w, r)
	case hostTenant:
		if s.p.Cluster != nil && s.routeCluster(w, r, req, t) {
			return // forwarded to its owner, or refused
		}
		req.Kind = "tenant"
		req.Tenant = t
		s.tenants.ServeHTTP(w, r)
	default:
		req.Kind = "unknown"
		if strings.HasPrefix(r.URL.Path, "/static/") { // the page below's stylesheet and icon
			req.Route = "/static/*"
			s.static.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		s.views.Execute(w, "platform/error.html", platformPage{
			Title: "No chapter here",
			Data:  "There is no chapter site at this address. Check the spelling, or ask the chapter for its web address.",
		})
	}
}

// resolve maps a normalised host to a tenant from the catalog's memory:
// <slug>.<base domain> by slug, any other host by verified custom domain.
func (s *Server) resolve(host string) (catalog.Tenant, hostKind) {
	base := s.cfg.BaseDomain
	if host == base {
		return catalog.Tenant{}, hostPlatform
	}
	if label, ok := strings.CutSuffix(host, "."+base); ok {
		if strings.Contains(label, ".") {
			return catalog.Tenant{}, hostUnknown
		}
		if t, ok := s.p.Catalog.TenantBySlug(label); ok {
			return t, hostTenant
		}
		return catalog.Tenant{}, hostUnknown
	}
	if t, ok := s.p.Catalog.TenantByHost(host); ok {
		return t, hostTenant
	}
	return catalog.Tenant{}, hostUnknown
}

// withTenant holds the request's tenant database open for the whole
// request, error page included. A suspended tenant gets a 503 page and a
// frozen one refuses writes, without opening anything.
//
// No slot waits on the client: the request's whole body is read first
// (within the body timeout, see httpx.Bodies), and the response is paced
// (httpx.PaceResponse), so a client that stops reading lets go of the
// slot after the body timeout. A handler that only streams bytes after
// reading what it needs gives the slot back early (httpx.ReleaseDB).
func (s *Server) withTenant(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		t := httpx.Tenant(c)
		switch {
		case t.Status == catalog.StatusSuspended:
			return s.pub.Suspended(c, t)
		case t.Status == catalog.StatusFrozen && !httpx.SafeMethod(c.Request().Method):
			return httpx.ErrFrozen
		}
		if err := s.fenced(c, t); err != nil {
			return err
		}
		body, err := s.bodies.Read(c.Response(), c.Request())
		if err != nil {
			return err
		}
		if body != nil {
			defer body.Close()
		}
		if s.cfg.BodyTimeout > 0 {
			httpx.PaceResponse(c, s.cfg.BodyTimeout)
		}
		h, err := s.p.Pool.AcquireBy(c.Request().Context(), t.ID, time.Now().Add(s.cfg.AcquireTimeout))
		if err != nil {
			return err
		}
		req := httpx.From(c)
		req.HoldDB(h)
		defer req.ReleaseHeld()
		// A freeze that began while this request waited must hold: an
		// operator drains the tenant after freezing it and trusts that no
		// write lands after the drain.
		if !httpx.SafeMethod(c.Request().Method) {
			cur, ok := s.p.Catalog.TenantByID(t.ID)
			if !ok {
				return tenantdb.ErrNotFound
			}
			if cur.Status == catalog.StatusFrozen {
				return httpx.ErrFrozen
			}
		}
		if err := next(c); err != nil {
			c.Error(err)
		}
		return nil
	}
}

// siteError renders an error on a tenant's site: JSON under /api/, else
// the tenant's themed error page. Only 5xx are logged.
func (s *Server) siteError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status := httpx.Status(err)
	s.logError(c, err, status)
	httpx.SetRetryAfter(c, err)
	msg := httpx.Message(err, status)
	if strings.HasPrefix(c.Path(), "/api/") || httpx.IsAPI(c) {
		httpx.JSONError(c, err, status)
		return
	}
	if admin.IsAdminPath(c) {
		s.admin.Error(c, err, status, msg)
		return
	}
	s.pub.Error(c, err, status)
}

func (s *Server) landingError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status := httpx.Status(err)
	s.logError(c, err, status)
	title := http.StatusText(status)
	if status == http.StatusNotFound {
		title = "Page not found"
	}
	c.Render(status, "platform/error.html", platformPage{Title: title, Data: httpx.Message(err, status)})
}

func (s *Server) logError(c echo.Context, err error, status int) {
	if status >= 500 {
		s.log.Error("request failed", "request_id", httpx.From(c).ID,
			"tenant", httpx.Tenant(c).ID, "path", c.Request().URL.Path, "status", status, "err", err)
	}
}

// hostKind says what a normalised host is to the platform.
type hostKind int

const (
	hostUnknown  hostKind = iota
	hostPlatform          // the bare base domain: the platform's own pages
	hostTenant            // a tenant's platform subdomain or verified custom domain
)

// echoRenderer lets echo's c.Render execute our templates.
type echoRenderer struct{ *render.Renderer }

func (r echoRenderer) Render(w io.Writer, name string, data any, _ echo.Context) error {
	return r.Execute(w, name, data)
}

// origin is how the client reached us: over TLS or not (directly, or as
// a trusted proxy's X-Forwarded-Proto says), and the base URL
// scheme://host[:port] of the request, for absolute URLs.
func (s *Server) origin(r *http.Request) (secure bool, baseURL string) {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	} else if p := r.Header.Get("X-Forwarded-Proto"); (p == "https" || p == "http") && s.fromTrustedProxy(r) {
		scheme = p
	}
	host := strings.ToLower(r.Host)
	if h, port, err := net.SplitHostPort(host); err == nil {
		host = strings.TrimSuffix(h, ".")
		if !(scheme == "http" && port == "80" || scheme == "https" && port == "443") {
			host += ":" + port
		}
	} else {
		host = strings.TrimSuffix(host, ".")
	}
	return scheme == "https", scheme + "://" + host
}

// fromTrustedProxy reports whether the request's peer is a --trusted-proxy.
func (s *Server) fromTrustedProxy(r *http.Request) bool {
	if len(s.cfg.TrustedProxies) == 0 {
		return false
	}
	h, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(h)
	for _, n := range s.cfg.TrustedProxies {
		if ip != nil && n.Contains(ip) {
			return true
		}
	}
	return false
}

// platformPage is what the platform's own pages render from.
type platformPage struct {
	Title string
	Data  any
}

func (s *Server) showLanding(c echo.Context) error {
	return c.Render(http.StatusOK, "platform/landing.html", platformPage{})
}

// ipExtractor finds the client's address: the connection's peer, unless
// that peer is a trusted proxy, in which case X-Forwarded-For is read back
// to the first address that is not a trusted proxy. A client cannot reset a
// limit by sending its own X-Forwarded-For.
func (cfg *Config) ipExtractor() echo.IPExtractor {
	if len(cfg.TrustedProxies) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, n := range cfg.TrustedProxies {
		opts = append(opts, echo.TrustIPRange(n))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// requestState is what ServeHTTP allocates for a request.
type requestState struct {
	req httpx.Request
	sw  httpx.StatusWriter
}

// newRequestID is 16 random hex digits.
func newRequestID() string {
	var b [8]byte
	var h [16]byte
	rand.Read(b[:])
	hex.Encode(h[:], b[:])
	return string(h[:])
}

// bodyMemBytes is the largest request body kept in memory while its
// request waits and runs (every form and nearly every JSON request);
// larger ones (uploads) go to a file.
const bodyMemBytes = 64 << 10

// Markdown is the server's markdown renderer (tests observe it).
func (s *Server) Markdown() *render.Markdown { return s.md }

// markdownMemoBytes is the memory for rendered markdown and summaries.
const markdownMemoBytes = 10 << 20

// Routes are the routes of the tenant sites: public pages, dashboard,
// API.
func (s *Server) Routes() []*echo.Route { return s.tenants.Routes() }

// Drain makes /readyz fail from now on, as shutdown begins: the ops
// listener stays up until the public requests have finished.
func (s *Server) Drain() { s.draining.Store(true) }
