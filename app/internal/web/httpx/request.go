// Package httpx is what every interface of a chapter's site (public pages,
// dashboard, API, login) shares about a request: its tenant and open
// database, its base URL, how errors become statuses, and reading bodies.
package httpx

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
	"github.com/chapterhouse/chapterhouse/tenantdb/pool"

	"github.com/labstack/echo/v4"
)

type ctxKey struct{}

// Request is what the server learns about a request as it routes it: for
// the request log and metrics, and for the handlers. The tenant and its
// open database travel here together.
type Request struct {
	ID    string
	Kind  string // tenant, platform, unknown, ops, ... (metrics label)
	Route string // the matched route pattern
	IP    string // the client's address, proxy-aware

	// Host is the normalised Host: lower case, no port, no trailing dot.
	Host string
	// Secure says the client talks to us over TLS, directly or through a
	// trusted proxy that says so; BaseURL is scheme://host[:port] of the
	// request, for absolute URLs.
	Secure  bool
	BaseURL string

	Tenant catalog.Tenant
	// DB is the tenant's open database while the tenant middleware holds
	// it: nil before and after.
	DB   *pool.Handle
	held atomic.Pointer[pool.Handle] // DB until it is released

	// Exports bounds export downloads (see ExportDownload); nil: no bound.
	Exports *ExportSlots
}

// WithRequest returns ctx carrying req.
func WithRequest(ctx context.Context, req *Request) context.Context {
	return context.WithValue(ctx, ctxKey{}, req)
}

// RequestOf is the request info ctx carries, or an empty one.
func RequestOf(ctx context.Context) *Request {
	if r, ok := ctx.Value(ctxKey{}).(*Request); ok {
		return r
	}
	return &Request{}
}

// From is the request info of c.
func From(c echo.Context) *Request { return RequestOf(c.Request().Context()) }

// Tenant is the catalog entry of the request's tenant.
func Tenant(c echo.Context) catalog.Tenant { return From(c).Tenant }

// DB is the open database of the request's tenant; only valid behind the
// tenant middleware.
func DB(c echo.Context) *pool.Handle { return From(c).DB }

// BaseURL is scheme://host[:port] of the request, for the absolute URLs of
// canonical links, feeds and the sitemap.
func BaseURL(c echo.Context) string { return From(c).BaseURL }

// Secure reports whether the client talks to us over TLS.
func Secure(c echo.Context) bool { return From(c).Secure }

// SafeMethod reports whether m changes nothing: GET, HEAD, OPTIONS.
func SafeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// IsAPI reports whether the request is for the JSON API.
func IsAPI(c echo.Context) bool {
	return strings.HasPrefix(c.Request().URL.Path, "/api/")
}

// ReleaseDB gives the request's tenant database back to the pool before
// the request ends, for a handler that has read all it needs and now
// only sends bytes to the client (an export): a slow client then holds no
// slot. DB is nil afterwards.
func ReleaseDB(c echo.Context) { From(c).ReleaseHeld() }

// HoldDB records h as the request's tenant database until ReleaseHeld.
func (req *Request) HoldDB(h *pool.Handle) {
	req.DB = h
	req.held.Store(h)
}

// ReleaseHeld gives the database HoldDB recorded back to the pool, once,
// whether ReleaseDB did already or not.
func (req *Request) ReleaseHeld() {
	if h := req.held.Swap(nil); h != nil {
		req.DB = nil
		h.Release()
	}
}
