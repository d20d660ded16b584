package auth

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/app/internal/web/httpx"
	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
	"github.com/chapterhouse/chapterhouse/tenantdb/pool"
)

// These tests run auth's middleware and login routes over real HTTP on
// loopback, against a real data dir with two tenants, so that the
// package's own tests cover what web/api and web/admin rely on. The
// server in front is the least the real one does for auth: it picks the
// tenant by the Host's first label, holds its database for the request,
// and maps errors to statuses with httpx, as web's error handler does.

const (
	ownerEmail  = "owner@demo.example"
	editorEmail = "editor@demo.example"
	ownerPW     = "correct horse battery staple"
	editorPW    = "editor horse battery staple"
)

// testClock is the clock tokens and throttles read; tests move it.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	t             *testing.T
	p             *platform.Platform
	a             *Auth
	clock         *testClock
	srv           *httptest.Server
	demo, other   catalog.Tenant
	owner, editor tenantdb.Admin
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	p, err := platform.Open(ctx, t.TempDir(), 4, time.Minute, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	f := &fixture{t: t, p: p, clock: &testClock{now: time.Now().UTC().Truncate(time.Second)}}
	if f.demo, err = p.CreateTenant(ctx, "demo", "Demo"); err != nil {
		t.Fatal(err)
	}
	if f.other, err = p.CreateTenant(ctx, "other", "Other"); err != nil {
		t.Fatal(err)
	}
	err = p.WithTenant(ctx, "demo", func(_ catalog.Tenant, h *pool.Handle) error {
		var err error
		if f.owner, _, err = p.AddAdmin(ctx, h.DB, ownerEmail, tenantdb.RoleOwner, ownerPW); err != nil {
			return err
		}
		f.editor, _, err = p.AddAdmin(ctx, h.DB, editorEmail, tenantdb.RoleEditor, editorPW)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// The other tenant has an admin of the same email and password, so
	// only the tenant separates their logins.
	err = p.WithTenant(ctx, "other", func(_ catalog.Tenant, h *pool.Handle) error {
		_, _, err := p.AddAdmin(ctx, h.DB, ownerEmail, tenantdb.RoleOwner, ownerPW)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := NewKeyring(NewSecret())
	if err != nil {
		t.Fatal(err)
	}
	f.a = New(p, keys, f.clock.Now)
	f.srv = httptest.NewServer(f.echo())
	t.Cleanup(f.srv.Close)
	return f
}

// echo is the server in front of auth: tenant by Host, errors by httpx.
// A request with X-Test-TLS: 1 counts as one over TLS.
func (f *fixture) echo() *echo.Echo {
	e := echo.New()
	e.HTTPErrorHandler = func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		httpx.SetRetryAfter(c, err)
		httpx.JSONError(c, err, httpx.Status(err))
	}
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			slug, _, _ := strings.Cut(r.Host, ".")
			t, err := f.p.Catalog.Tenant(slug)
			if err != nil {
				return echo.NewHTTPError(http.StatusNotFound, "no such site")
			}
			h, err := f.p.Pool.Acquire(r.Context(), t.ID)
			if err != nil {
				return err
			}
			defer h.Release()
			secure := r.Header.Get("X-Test-TLS") == "1"
			scheme := "http"
			if secure {
				scheme = "https"
			}
			req := &httpx.Request{Tenant: t, DB: h, Secure: secure, BaseURL: scheme + "://" + r.Host}
			c.SetRequest(r.WithContext(httpx.WithRequest(r.Context(), req)))
			return next(c)
		}
	})
	f.a.Register(e.Group(""))
	who := func(c echo.Context) error {
		admin, sess, ok := LoggedIn(c)
		if !ok || admin.ID != AdminOf(c).ID || sess.ID != SessionOf(c).ID {
			return c.String(http.StatusTeapot, "LoggedIn disagrees with AdminOf")
		}
		return c.String(http.StatusOK, Actor(c)+" "+sess.ID)
	}
	for _, path := range []string{"/admin/x", "/api/x"} {
		e.GET(path, who, f.a.RequireAdmin)
		e.POST(path, who, f.a.RequireAdmin)
	}
	e.POST("/admin/owner", who, f.a.RequireOwner)
	e.GET("/admin/login", func(c echo.Context) error {
		if _, _, ok := LoggedIn(c); ok {
			return c.String(http.StatusTeapot, "LoggedIn outside RequireAdmin")
		}
		if f.a.LoggedInNow(c) {
			return c.String(http.StatusOK, "logged in")
		}
		return c.String(http.StatusOK, "not logged in")
	})
	e.POST("/origin", func(c echo.Context) error {
		if err := f.a.CheckOrigin(c); err != nil {
			return err
		}
		return c.NoContent(http.StatusNoContent)
	})
	e.GET("/cookie/set", func(c echo.Context) error {
		d, err := time.ParseDuration(c.QueryParam("max_age"))
		if err != nil {
			return err
		}
		f.a.SetCookie(c, SessionCookie, "v", d)
		return c.NoContent(http.StatusNoContent)
	})
	e.GET("/cookie/clear", func(c echo.Context) error {
		f.a.ClearCookie(c, LoginCookie)
		return c.String(http.StatusOK, f.a.CookieName(c, LoginCookie))
	})
	return e
}

// req is one request to the test server.
type req struct {
	method, host, path string
	body               string
	header             map[string]string
	cookie             string // the session cookie's value, sent as-is
}

// answer is a response read whole.
type answer struct {
	status int
	header http.Header
	body   string
}

func (f *fixture) do(r req) answer {
	f.t.Helper()
	if r.method == "" {
		r.method = http.MethodGet
	}
	if r.host == "" {
		r.host = "demo.localhost"
	}
	hr, err := http.NewRequest(r.method, f.srv.URL+r.path, strings.NewReader(r.body))
	if err != nil {
		f.t.Fatal(err)
	}
	hr.Host = r.host
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	if r.cookie != "" {
		name := SessionCookie
		if r.header["X-Test-TLS"] == "1" {
			name = HostPrefix + SessionCookie
		}
		hr.Header.Set("Cookie", name+"="+r.cookie)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(hr)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, string(body)}
}

// login logs email in on host through POST /api/login from client ip
// and returns the answer.
func (f *fixture) login(host, ip, email, pw string) answer {
	f.t.Helper()
	body, _ := json.Marshal(map[string]string{"email": email, "password": pw})
	return f.do(req{method: http.MethodPost, host: host, path: "/api/login", body: string(body),
		header: map[string]string{"Content-Type": "application/json", "X-Real-IP": ip}})
}

// token logs email in on demo and returns the login token.
func (f *fixture) token(email, pw string) string {
	f.t.Helper()
	ans := f.login("demo.localhost", "192.0.2.1", email, pw)
	var out struct {
		Token     string    `json:"token"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	if ans.status != http.StatusOK || json.Unmarshal([]byte(ans.body), &out) != nil || out.Token == "" {
		f.t.Fatalf("login %s: %d %s", email, ans.status, ans.body)
	}
	return out.Token
}

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

// sessionOf is the session id a token of demo names.
func (f *fixture) sessionOf(tok string) string {
	f.t.Helper()
	claims, err := f.a.parseToken(f.demo.ID, tok)
	if err != nil {
		f.t.Fatal(err)
	}
	return claims.SessionID
}

func (a answer) check(t *testing.T, what string, status int, bodyHas string) {
	t.Helper()
	if a.status != status || !strings.Contains(a.body, bodyHas) {
		t.Errorf("%s: got %d %q, want %d with %q", what, a.status, a.body, status, bodyHas)
	}
}

// TestBearerTokenLogsInOnItsOwnTenantOnly: the API takes a Bearer token
// (the scheme in any case, spaces around the token trimmed) of this
// tenant and a live session; anything else is 401 with the
// WWW-Authenticate challenge, and every answer behind the check is
// no-store.
func TestBearerTokenLogsInOnItsOwnTenantOnly(t *testing.T) {
	f := newFixture(t)
	tok := f.token(ownerEmail, ownerPW)
	sid := f.sessionOf(tok)
	for _, tc := range []struct {
		name, host, auth string
		status           int
	}{
		{"Bearer", "", "Bearer " + tok, 200},
		{"lower-case scheme", "", "bearer " + tok, 200},
		{"spaces around the token", "", "Bearer   " + tok + "  ", 200},
		{"another scheme", "", "Basic " + tok, 401},
		{"no space", "", "Bearer" + tok, 401},
		{"no token", "", "Bearer ", 401},
		{"a token changed", "", "Bearer " + tok[:len(tok)-2] + "xx", 401},
		{"another tenant", "other.localhost", "Bearer " + tok, 401},
		{"no header", "", "", 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{}
			if tc.auth != "" {
				h["Authorization"] = tc.auth
			}
			ans := f.do(req{host: tc.host, path: "/api/x", header: h})
			if ans.status != tc.status {
				t.Fatalf("got %d %q, want %d", ans.status, ans.body, tc.status)
			}
			if cc := ans.header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", cc)
			}
			if tc.status == 200 {
				if want := "admin " + ownerEmail + " " + sid; ans.body != want {
					t.Errorf("body %q, want %q", ans.body, want)
				}
				return
			}
			if got := ans.header.Get("WWW-Authenticate"); got != `Bearer realm="chapterhouse"` {
				t.Errorf("WWW-Authenticate %q", got)
			}
			if !strings.Contains(ans.body, "log in first") {
				t.Errorf("body %q, want the log-in hint", ans.body)
			}
		})
	}
}

// TestDashboardWithoutLoginGoesToTheLoginForm: a read comes back to the
// page asked for, a write to /admin; a stale cookie is cleared (an empty
// one needs no clearing), with the __Host- name over TLS.
func TestDashboardWithoutLoginGoesToTheLoginForm(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name, method, path, cookie string
		tls                        bool
		location, setCookie        string
	}{
		{"read", "GET", "/admin/x?page=2", "", false, "/admin/login?next=%2Fadmin%2Fx%3Fpage%3D2", ""},
		{"write", "POST", "/admin/x?page=2", "", false, "/admin/login?next=%2Fadmin", ""},
		{"stale cookie", "GET", "/admin/x", "stale", false, "/admin/login?next=%2Fadmin%2Fx",
			"chapterhouse_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax"},
		{"stale cookie over TLS", "GET", "/admin/x", "stale", true, "/admin/login?next=%2Fadmin%2Fx",
			"__Host-chapterhouse_session=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{}
			if tc.tls {
				h["X-Test-TLS"] = "1"
			}
			ans := f.do(req{method: tc.method, path: tc.path, cookie: tc.cookie, header: h})
			if ans.status != http.StatusSeeOther || ans.header.Get("Location") != tc.location {
				t.Fatalf("got %d to %q, want 303 to %q", ans.status, ans.header.Get("Location"), tc.location)
			}
			if got := ans.header.Get("Set-Cookie"); got != tc.setCookie {
				t.Errorf("Set-Cookie %q, want %q", got, tc.setCookie)
			}
		})
	}
	t.Run("empty cookie", func(t *testing.T) {
		hr, _ := http.NewRequest("GET", f.srv.URL+"/admin/x", nil)
		hr.Host = "demo.localhost"
		hr.Header.Set("Cookie", SessionCookie+"=")
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Set-Cookie") != "" {
			t.Errorf("got %d, Set-Cookie %q; want 303 and no cookie", resp.StatusCode, resp.Header.Get("Set-Cookie"))
		}
	})
}

// TestCookieLoginPassesTheEmbeddingAndCSRFChecks: with the dashboard's
// cookie a read must be a page the admin opened, and a write must carry
// the session's CSRF token (header or form field) and come from this
// origin. The same write with a Bearer token needs no CSRF token.
func TestCookieLoginPassesTheEmbeddingAndCSRFChecks(t *testing.T) {
	f := newFixture(t)
	tok := f.token(ownerEmail, ownerPW)
	csrf := f.a.CSRFToken(f.demo.ID, f.sessionOf(tok))
	otherCSRF := f.a.CSRFToken(f.demo.ID, f.sessionOf(f.token(ownerEmail, ownerPW)))
	if csrf == otherCSRF {
		t.Fatal("two sessions have one CSRF token")
	}
	if f.a.CSRFToken(f.other.ID, f.sessionOf(tok)) == csrf {
		t.Fatal("one session id gives one CSRF token on two tenants")
	}
	const embedded, crossSite, badCSRF = "loaded from inside another page", "came from another site", "This form has expired"
	for _, tc := range []struct {
		name, method string
		header       map[string]string
		form         string
		status       int
		bodyHas      string
	}{
		{"read, no fetch metadata", "GET", nil, "", 200, "admin " + ownerEmail},
		{"read, a navigation from anywhere", "GET", map[string]string{"Sec-Fetch-Dest": "document", "Sec-Fetch-Site": "cross-site"}, "", 200, "admin "},
		{"read, embedded as an image", "GET", map[string]string{"Sec-Fetch-Dest": "image", "Sec-Fetch-Site": "same-origin"}, "", 403, embedded},
		{"read, in an iframe", "GET", map[string]string{"Sec-Fetch-Dest": "iframe"}, "", 403, embedded},
		{"read, a fetch from a sibling", "GET", map[string]string{"Sec-Fetch-Dest": "empty", "Sec-Fetch-Site": "same-site"}, "", 403, embedded},
		{"read, a fetch from this origin", "GET", map[string]string{"Sec-Fetch-Dest": "empty", "Sec-Fetch-Site": "same-origin"}, "", 200, "admin "},
		{"read, a fetch typed in", "GET", map[string]string{"Sec-Fetch-Dest": "empty", "Sec-Fetch-Site": "none"}, "", 200, "admin "},
		{"read, a fetch without a site", "GET", map[string]string{"Sec-Fetch-Dest": "empty"}, "", 200, "admin "},
		{"write, no token", "POST", nil, "", 403, badCSRF},
		{"write, token in the header", "POST", map[string]string{"X-CSRF-Token": csrf}, "", 200, "admin "},
		{"write, token in the form", "POST", nil, "csrf_token=" + url.QueryEscape(csrf), 200, "admin "},
		{"write, another session's token", "POST", map[string]string{"X-CSRF-Token": otherCSRF}, "", 403, badCSRF},
		{"write, a wrong header beats a right form", "POST", map[string]string{"X-CSRF-Token": otherCSRF}, "csrf_token=" + url.QueryEscape(csrf), 403, badCSRF},
		{"write, an empty form token", "POST", nil, "csrf_token=", 403, badCSRF},
		{"write from a sibling", "POST", map[string]string{"X-CSRF-Token": csrf, "Sec-Fetch-Site": "same-site"}, "", 403, crossSite},
		{"write from another site", "POST", map[string]string{"X-CSRF-Token": csrf, "Sec-Fetch-Site": "cross-site"}, "", 403, crossSite},
		{"write from this origin", "POST", map[string]string{"X-CSRF-Token": csrf, "Sec-Fetch-Site": "same-origin"}, "", 200, "admin "},
		{"write typed in", "POST", map[string]string{"X-CSRF-Token": csrf, "Sec-Fetch-Site": "none"}, "", 200, "admin "},
		{"write with another Origin", "POST", map[string]string{"X-CSRF-Token": csrf, "Origin": "http://other.localhost"}, "", 403, crossSite},
		{"write with this Origin in capitals", "POST", map[string]string{"X-CSRF-Token": csrf, "Origin": "HTTP://DEMO.LOCALHOST"}, "", 200, "admin "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{}
			for k, v := range tc.header {
				h[k] = v
			}
			if tc.form != "" {
				h["Content-Type"] = "application/x-www-form-urlencoded"
			}
			ans := f.do(req{method: tc.method, path: "/admin/x", header: h, body: tc.form, cookie: tok})
			ans.check(t, tc.name, tc.status, tc.bodyHas)
		})
	}
	t.Run("a Bearer write needs no CSRF token", func(t *testing.T) {
		f.do(req{method: "POST", path: "/admin/x", header: bearer(tok)}).check(t, "bearer write", 200, "admin ")
	})
	t.Run("CheckOrigin alone", func(t *testing.T) {
		f.do(req{method: "POST", path: "/origin"}).check(t, "no headers", 204, "")
		f.do(req{method: "POST", path: "/origin", header: map[string]string{"Origin": "http://demo.localhost"}}).check(t, "own origin", 204, "")
		f.do(req{method: "POST", path: "/origin", header: map[string]string{"Origin": "http://evil.example"}}).check(t, "other origin", 403, crossSite)
		f.do(req{method: "POST", path: "/origin", header: map[string]string{"Sec-Fetch-Site": "same-site"}}).check(t, "sibling", 403, crossSite)
	})
}

// TestOnlyOwnersPassRequireOwner: an editor's valid login gets 403.
func TestOnlyOwnersPassRequireOwner(t *testing.T) {
	f := newFixture(t)
	f.do(req{method: "POST", path: "/admin/owner", header: bearer(f.token(editorEmail, editorPW))}).
		check(t, "editor", 403, "only an owner")
	f.do(req{method: "POST", path: "/admin/owner", header: bearer(f.token(ownerEmail, ownerPW))}).
		check(t, "owner", 200, "admin "+ownerEmail)
	f.do(req{method: "POST", path: "/admin/owner"}).check(t, "nobody", 303, "")
}

// TestEndedSessionsAndForeignSubjectsAreRefused: after logout the token
// is dead; a token whose subject is not the session's admin is refused.
func TestEndedSessionsAndForeignSubjectsAreRefused(t *testing.T) {
	f := newFixture(t)
	tok := f.token(ownerEmail, ownerPW)
	f.do(req{path: "/api/me", header: bearer(tok)}).check(t, "me", 200, `"email":"`+ownerEmail+`"`)
	f.do(req{method: "POST", path: "/api/logout", header: bearer(tok)}).check(t, "logout", 204, "")
	f.do(req{path: "/api/x", header: bearer(tok)}).check(t, "after logout", 401, "log in first")
	f.do(req{method: "POST", path: "/api/logout", header: bearer(tok)}).check(t, "second logout", 401, "")

	// The owner's live session, in a token that names the editor.
	live := f.token(ownerEmail, ownerPW)
	now := f.clock.Now()
	forged, err := f.a.mintToken(f.demo, f.editor, tenantdb.Session{ID: f.sessionOf(live), CreatedAt: now, ExpiresAt: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	f.do(req{path: "/api/x", header: bearer(forged)}).check(t, "another admin's subject", 401, "")
	f.do(req{path: "/api/x", header: bearer(live)}).check(t, "the live token", 200, "admin "+ownerEmail)
}

// TestLoggedInNowOnARouteWithoutLogin: the login form knows whether the
// browser is logged in, without RequireAdmin.
func TestLoggedInNowOnARouteWithoutLogin(t *testing.T) {
	f := newFixture(t)
	tok := f.token(ownerEmail, ownerPW)
	f.do(req{path: "/admin/login", cookie: tok}).check(t, "with the cookie", 200, "logged in")
	if ans := f.do(req{path: "/admin/login"}); ans.body != "not logged in" {
		t.Errorf("without a cookie: %q", ans.body)
	}
	if ans := f.do(req{path: "/admin/login", cookie: "stale"}); ans.body != "not logged in" {
		t.Errorf("with a stale cookie: %q", ans.body)
	}
}

// TestLoginAnswers: the right password gives a token for 12 hours that
// verifies on this tenant; a wrong password, an unknown or empty email
// and an over-long one all get the same 401; bad JSON is 400.
func TestLoginAnswers(t *testing.T) {
	f := newFixture(t)
	ans := f.login("demo.localhost", "192.0.2.1", "  "+ownerEmail+" ", ownerPW)
	var out struct {
		Token     string    `json:"token"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	if ans.status != 200 || json.Unmarshal([]byte(ans.body), &out) != nil {
		t.Fatalf("login: %d %s", ans.status, ans.body)
	}
	if cc := ans.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("login's Cache-Control %q", cc)
	}
	if want := f.clock.Now().Add(12 * time.Hour); !out.ExpiresAt.Equal(want) {
		t.Errorf("expires_at %v, want %v", out.ExpiresAt, want)
	}
	claims, err := f.a.parseToken(f.demo.ID, out.Token)
	if err != nil {
		t.Fatal(err)
	}
	if claims.Subject != "1" || claims.Issuer != tokenIssuer || !claims.ExpiresAt.Time.Equal(out.ExpiresAt) ||
		!claims.IssuedAt.Time.Equal(f.clock.Now()) || len(claims.Audience) != 1 || claims.Audience[0] != f.demo.ID {
		t.Errorf("claims %+v", claims)
	}
	if _, err := f.a.parseToken(f.other.ID, out.Token); err == nil {
		t.Error("demo's token verifies for other")
	}
	for _, tc := range []struct{ name, email, pw string }{
		{"wrong password", ownerEmail, editorPW},
		{"unknown email", "nobody@demo.example", ownerPW},
		{"empty email", "", ownerPW},
		{"over-long email", ownerEmail + strings.Repeat("x", 300), ownerPW},
	} {
		f.login("demo.localhost", "192.0.2.2", tc.email, tc.pw).check(t, tc.name, 401, "wrong email or password")
	}
	f.do(req{method: "POST", path: "/api/login", body: "{", header: map[string]string{"Content-Type": "application/json"}}).
		check(t, "bad JSON", 400, "")
}

// TestLoginThrottleOverHTTP: five wrong passwords from one address
// lock that address out of the account (429, Retry-After a minute), even
// with the right password; the owner at another address logs in.
func TestLoginThrottleOverHTTP(t *testing.T) {
	f := newFixture(t)
	for i := 0; i < 5; i++ {
		f.login("demo.localhost", "203.0.113.9", ownerEmail, "wrong password "+string(rune('a'+i))).check(t, "guess", 401, "")
	}
	ans := f.login("demo.localhost", "203.0.113.9", ownerEmail, ownerPW)
	ans.check(t, "sixth attempt", 429, "too many login attempts")
	if ra := ans.header.Get("Retry-After"); ra != "60" {
		t.Errorf("Retry-After %q, want 60", ra)
	}
	f.login("demo.localhost", "203.0.113.10", ownerEmail, ownerPW).check(t, "the owner elsewhere", 200, "token")
	f.login("other.localhost", "203.0.113.9", ownerEmail, ownerPW).check(t, "the same email on another tenant", 200, "token")
	f.clock.Add(time.Minute)
	f.login("demo.localhost", "203.0.113.9", ownerEmail, ownerPW).check(t, "a minute later", 200, "token")
}

// TestChangePassword: the current password is checked (and guesses of
// it are throttled like logins), the new one must pass the rules, and a
// change ends every session but answers with a fresh token.
func TestChangePassword(t *testing.T) {
	f := newFixture(t)
	tok := f.token(ownerEmail, ownerPW)
	change := func(tok, current, next string) answer {
		body, _ := json.Marshal(map[string]string{"current_password": current, "new_password": next})
		h := bearer(tok)
		h["Content-Type"] = "application/json"
		h["X-Real-IP"] = "198.51.100.7"
		return f.do(req{method: "POST", path: "/api/password", header: h, body: string(body)})
	}
	const next = "a brand new passphrase here"
	change(tok, "not the password", next).check(t, "wrong current", 422, `"field":"current_password"`)
	change(tok, ownerPW, "short").check(t, "weak new", 422, `"field":"new_password"`)
	change(tok, ownerPW, ownerEmail).check(t, "the email as password", 422, `"field":"new_password"`)
	f.do(req{method: "POST", path: "/api/password", header: bearer(tok), body: "{"}).check(t, "bad JSON", 400, "")
	ans := change(tok, ownerPW, next)
	var out struct {
		Token string `json:"token"`
	}
	if ans.status != 200 || json.Unmarshal([]byte(ans.body), &out) != nil || out.Token == "" {
		t.Fatalf("change: %d %s", ans.status, ans.body)
	}
	f.do(req{path: "/api/x", header: bearer(tok)}).check(t, "the old token", 401, "")
	f.do(req{path: "/api/x", header: bearer(out.Token)}).check(t, "the new token", 200, "admin "+ownerEmail)
	f.login("demo.localhost", "192.0.2.30", ownerEmail, ownerPW).check(t, "the old password", 401, "")
	f.login("demo.localhost", "192.0.2.31", ownerEmail, next).check(t, "the new password", 200, "token")

	// Guesses at the current password: four more make five failures
	// from this address (one above), then even the right one waits.
	for i := 0; i < 4; i++ {
		change(out.Token, "guess "+string(rune('a'+i)), ownerPW).check(t, "guess", 422, "current_password")
	}
	change(out.Token, next, ownerPW).check(t, "after five guesses", 429, "too many")
}

// TestCookiesAreHostOnlyAndPrefixedOverTLS: the exact cookies SetCookie
// and ClearCookie send, in plain HTTP and over TLS; Max-Age is rounded up
// to whole seconds.
func TestCookiesAreHostOnlyAndPrefixedOverTLS(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		path string
		tls  bool
		want string
		body string
	}{
		{"/cookie/set?max_age=1500ms", false, "chapterhouse_session=v; Path=/; Max-Age=2; HttpOnly; SameSite=Lax", ""},
		{"/cookie/set?max_age=12h", true, "__Host-chapterhouse_session=v; Path=/; Max-Age=43200; HttpOnly; Secure; SameSite=Lax", ""},
		{"/cookie/clear", false, "chapterhouse_login=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax", "chapterhouse_login"},
		{"/cookie/clear", true, "__Host-chapterhouse_login=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax", "__Host-chapterhouse_login"},
	} {
		h := map[string]string{}
		if tc.tls {
			h["X-Test-TLS"] = "1"
		}
		ans := f.do(req{path: tc.path, header: h})
		if got := ans.header.Get("Set-Cookie"); got != tc.want || ans.body != tc.body {
			t.Errorf("%s (TLS %v): Set-Cookie %q body %q, want %q %q", tc.path, tc.tls, got, ans.body, tc.want, tc.body)
		}
	}
}
