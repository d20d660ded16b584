package web

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/chapterhouse/chapterhouse/app/internal/hostname"
	"github.com/chapterhouse/chapterhouse/app/internal/web/httpx"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
)

// The ops listener (--ask-addr, 127.0.0.1:8081 by default) serves what only
// the machine's own services may ask: Caddy's on-demand TLS question,
// Prometheus's scrape and the health probes. None of it is routed on the
// public listener, whatever the Host.

// Caddy asks before it gets a certificate for a name it has not seen; a
// flood of handshakes with made-up names must not turn into a flood of
// certificate orders, so answers are rate-limited (Caddy treats the 429
// as a no and asks again on a later handshake).
const (
	AskRate  = 10 // answers per second, sustained
	AskBurst = 50
)

// OpsHandler serves the ops listener: counted in the metrics like the
// public listener, under kind "ops".
func (s *Server) OpsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		req := &httpx.Request{ID: newRequestID(), Kind: "ops"}
		sw := &httpx.StatusWriter{ResponseWriter: w}
		r = r.WithContext(httpx.WithRequest(r.Context(), req))
		s.opsEcho.ServeHTTP(sw, r)
		s.p.Metrics.ObserveRequest(req.Kind, req.Route, r.Method, sw.Code(), time.Since(start))
	})
}

// tlsAsk answers Caddy's on-demand TLS question "may I get a certificate
// for this name?": 200 for the platform subdomain of an existing tenant
// that is not suspended and for a custom domain that routes (verified, or
// misconfigured within its grace period); 404 for anything else, the bare
// base domain included (give it a certificate in its own Caddy site block).
func (s *Server) tlsAsk(c echo.Context) error {
	raw := c.QueryParam("domain")
	if !s.askLimit.AllowN(s.now(), 1) {
		s.p.Metrics.TLSAsk.WithLabelValues("limited").Inc()
		s.log.Warn("tls ask: rate limited", "domain", raw)
		c.Response().Header().Set("Retry-After", "1")
		return c.String(http.StatusTooManyRequests, "too many requests\n")
	}
	t, ok := s.certAllowed(raw)
	if !ok {
		s.p.Metrics.TLSAsk.WithLabelValues("denied").Inc()
		s.log.Info("tls ask", "domain", raw, "allowed", false)
		return c.String(http.StatusNotFound, "no site here\n")
	}
	s.p.Metrics.TLSAsk.WithLabelValues("allowed").Inc()
	s.log.Info("tls ask", "domain", raw, "allowed", true, "tenant", t.ID)
	return c.String(http.StatusOK, "ok\n")
}

// certAllowed says whether host is a name a certificate may be issued for.
func (s *Server) certAllowed(raw string) (catalog.Tenant, bool) {
	// Caddy sends the bare name: a port or anything else is not one.
	if strings.ContainsRune(raw, ':') {
		return catalog.Tenant{}, false
	}
	host, err := hostname.Normalize(raw)
	if err != nil {
		return catalog.Tenant{}, false
	}
	t, kind := s.resolve(host)
	if kind != hostTenant || t.Status == catalog.StatusSuspended {
		return catalog.Tenant{}, false
	}
	return t, true
}

// healthz says the process is up.
func (s *Server) healthz(c echo.Context) error {
	return c.String(http.StatusOK, "ok\n")
}

// readyz says whether to send this server traffic: not while it shuts
// down, and not while its catalog does not answer.
func (s *Server) readyz(c echo.Context) error {
	if s.draining.Load() {
		return c.String(http.StatusServiceUnavailable, "shutting down\n")
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if err := s.p.Catalog.Ping(ctx); err != nil {
		s.log.Error("readyz: catalog", "err", err)
		return c.String(http.StatusServiceUnavailable, "catalog unavailable\n")
	}
	if msg := s.p.ReplicaProblem(); msg != "" {
		return c.String(http.StatusServiceUnavailable, msg+"\n")
	}
	return c.String(http.StatusOK, "ready\n")
}

// opsError answers errors on the ops listener in plain text.
func (s *Server) opsError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status := httpx.Status(err)
	s.logError(c, err, status)
	c.String(status, httpx.Message(err, status)+"\n")
}
