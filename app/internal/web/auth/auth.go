// Package auth logs a chapter's admins in, on the chapter's own host: JWT
// login tokens (as a Bearer header for the API, in a host-only cookie for
// the dashboard, with CSRF checks), sessions in the tenant's file, and
// throttles against guessing.
package auth

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/chapterhouse/chapterhouse/app/internal/password"
	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/app/internal/ratelimit"
	"github.com/chapterhouse/chapterhouse/app/internal/web/httpx"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// Tenant admins log in on their own site. The API takes the login token as
// "Authorization: Bearer"; the dashboard keeps it in an HttpOnly,
// SameSite=Lax, host-only cookie (with Secure and the __Host- prefix over
// TLS) and checks a per-session CSRF token, Sec-Fetch-Site and Origin on
// every state-changing request, because sibling tenant subdomains are
// same-site and SameSite alone does not stop them.
const (
	SessionCookie = "chapterhouse_session"
	LoginCookie   = "chapterhouse_login" // double-submit token of the login form
	HostPrefix    = "__Host-"
	authKey       = "auth"
)

// Auth logs tenant admins in and checks every request that needs a login.
type Auth struct {
	p        *platform.Platform
	keys     *Keyring       // server secrets for login tokens
	throttle *loginThrottle // login attempts per client and per account
	now      func() time.Time
}

// New makes the logins of platform p's tenants, signed with keys; now is
// the clock tokens and throttles read.
func New(p *platform.Platform, keys *Keyring, now func() time.Time) *Auth {
	return &Auth{p: p, keys: keys, throttle: newLoginThrottle(), now: now}
}

// Register adds the API's login routes to g (a tenant's group).
func (a *Auth) Register(g *echo.Group) {
	g.POST("/api/login", a.apiLogin)
	g.POST("/api/logout", a.apiLogout, a.RequireAdmin)
	g.GET("/api/me", a.apiMe, a.RequireAdmin)
	g.POST("/api/password", a.apiChangePassword, a.RequireAdmin)
}

// signedIn is who a request is logged in as, and how.
type signedIn struct {
	admin     tenantdb.Admin
	session   tenantdb.Session
	viaCookie bool
}

// Actor names the logged-in admin in the audit log.
func Actor(c echo.Context) string { return "admin " + AdminOf(c).Email }

// AdminOf is the admin the request is logged in as; only valid behind
// RequireAdmin or requireOwner.
func AdminOf(c echo.Context) tenantdb.Admin { return c.Get(authKey).(*signedIn).admin }

// SessionOf is the session the request is logged in with.
func SessionOf(c echo.Context) tenantdb.Session { return c.Get(authKey).(*signedIn).session }

// LoggedIn is who the request is logged in as, if it passed requireAdmin.
func LoggedIn(c echo.Context) (tenantdb.Admin, tenantdb.Session, bool) {
	a, ok := authOf(c)
	if !ok {
		return tenantdb.Admin{}, tenantdb.Session{}, false
	}
	return a.admin, a.session, true
}

func authOf(c echo.Context) (*signedIn, bool) {
	a, ok := c.Get(authKey).(*signedIn)
	return a, ok
}

// RequireAdmin lets a request through only with a valid login token of
// this tenant (Bearer header, or the dashboard's cookie) whose session row
// still exists. Cookie-authenticated writes must also pass the CSRF check,
// and cookie-authenticated reads must not be embedded by another page.
// Unauthenticated: 401 JSON under /api/, a redirect to the login form
// elsewhere.
func (a *Auth) RequireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "no-store")
		who, err := a.authenticate(c)
		if errors.Is(err, errBadToken) {
			return a.unauthenticated(c)
		}
		if err != nil {
			return err
		}
		if who.viaCookie {
			// A write needs the CSRF token; a read must be a page the
			// admin opened, not something another page embedded.
			check := checkNotEmbedded
			if !httpx.SafeMethod(c.Request().Method) {
				check = func(c echo.Context) error { return a.checkCSRF(c, who.session.ID) }
			}
			if err := check(c); err != nil {
				return err
			}
		}
		c.Set(authKey, who)
		return next(c)
	}
}

// RequireOwner is requireAdmin for owners only: an editor gets 403.
func (a *Auth) RequireOwner(next echo.HandlerFunc) echo.HandlerFunc {
	return a.RequireAdmin(func(c echo.Context) error {
		if AdminOf(c).Role != tenantdb.RoleOwner {
			return echo.NewHTTPError(http.StatusForbidden, "only an owner of this site can do this")
		}
		return next(c)
	})
}

// authenticate finds the request's login. Any fault in the token, or a
// session that ended, is errBadToken; a storage failure is itself.
func (a *Auth) authenticate(c echo.Context) (*signedIn, error) {
	raw, viaCookie := "", false
	if h := c.Request().Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return nil, errBadToken
		}
		raw = strings.TrimSpace(tok)
	} else if ck, err := c.Cookie(a.CookieName(c, SessionCookie)); err == nil {
		raw, viaCookie = ck.Value, true
	}
	if raw == "" {
		return nil, errBadToken
	}
	t := httpx.Tenant(c)
	claims, err := a.parseToken(t.ID, raw)
	if err != nil {
		return nil, err
	}
	sess, admin, err := httpx.DB(c).SessionAt(c.Request().Context(), claims.SessionID, a.now())
	if errors.Is(err, tenantdb.ErrNotFound) {
		return nil, errBadToken
	}
	if err != nil {
		return nil, err
	}
	if strconv.FormatInt(admin.ID, 10) != claims.Subject {
		return nil, errBadToken
	}
	return &signedIn{admin: admin, session: sess, viaCookie: viaCookie}, nil
}

// LoggedInNow reports whether the request carries a valid login, on a
// route that does not require one (the login form).
func (a *Auth) LoggedInNow(c echo.Context) bool {
	_, err := a.authenticate(c)
	return err == nil
}

func (a *Auth) unauthenticated(c echo.Context) error {
	if httpx.IsAPI(c) {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="chapterhouse"`)
		return echo.NewHTTPError(http.StatusUnauthorized, "log in first: send Authorization: Bearer <token> from POST /api/login")
	}
	if ck, err := c.Cookie(a.CookieName(c, SessionCookie)); err == nil && ck.Value != "" {
		a.ClearCookie(c, SessionCookie)
	}
	next := "/admin"
	if httpx.SafeMethod(c.Request().Method) {
		next = c.Request().URL.RequestURI()
	}
	return c.Redirect(http.StatusSeeOther, "/admin/login?next="+urlQueryEscape(SafeNext(next)))
}

// CookieName is name, with the __Host- prefix over TLS: such a cookie is
// only accepted by browsers when Secure, host-only and for path /, so a
// sibling subdomain cannot plant one.
func (a *Auth) CookieName(c echo.Context, name string) string {
	if httpx.Secure(c) {
		return HostPrefix + name
	}
	return name
}

func (a *Auth) SetCookie(c echo.Context, name, value string, maxAge time.Duration) {
	c.SetCookie(&http.Cookie{
		Name:     a.CookieName(c, name),
		Value:    value,
		Path:     "/",
		MaxAge:   int(math.Ceil(maxAge.Seconds())),
		HttpOnly: true,
		Secure:   httpx.Secure(c),
		SameSite: http.SameSiteLaxMode,
	})
}

func (a *Auth) ClearCookie(c echo.Context, name string) {
	c.SetCookie(&http.Cookie{
		Name:     a.CookieName(c, name),
		Value:    "",
		Path:     "/",
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   httpx.Secure(c),
		SameSite: http.SameSiteLaxMode,
	})
}

var errCrossSite = echo.NewHTTPError(http.StatusForbidden,
	"This request came from another site and was refused. Open the dashboard from its own address and try again.")

var errBadCSRF = echo.NewHTTPError(http.StatusForbidden,
	"This form has expired or did not come from your dashboard. Go back, reload the page and try again.")

// CheckOrigin refuses a request that a browser says comes from another
// site or another origin. Sibling tenants (riverside42.<base> and
// lodge7.<base>) are same-site, so "same-site" is refused too.
func (a *Auth) CheckOrigin(c echo.Context) error {
	r := c.Request()
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return errCrossSite
	}
	if origin := r.Header.Get("Origin"); origin != "" && !strings.EqualFold(origin, httpx.BaseURL(c)) {
		return errCrossSite
	}
	return nil
}

var errEmbedded = echo.NewHTTPError(http.StatusForbidden,
	"This dashboard address was loaded from inside another page and was refused. Open it from the dashboard itself.")

// checkNotEmbedded refuses a cookie-authenticated read that the browser
// says is not a page the admin opened: a subresource (Sec-Fetch-Dest
// image, script, style, iframe, ...) from any site, or a fetch or XHR
// ("empty") from another site, sibling chapters included. No GET changes
// anything (see docs/security.md, "No state change on GET"); this keeps
// another page from even reading the dashboard's answers with the admin's
// cookie. A top-level navigation ("document") is allowed from anywhere,
// as are requests without the header (older browsers, curl).
func checkNotEmbedded(c echo.Context) error {
	r := c.Request()
	switch r.Header.Get("Sec-Fetch-Dest") {
	case "", "document":
		return nil
	case "empty":
		switch r.Header.Get("Sec-Fetch-Site") {
		case "", "same-origin", "none":
			return nil
		}
	}
	return errEmbedded
}

// checkCSRF guards a cookie-authenticated write: the browser's own
// statement of where it comes from, and the session's CSRF token in the
// form field csrf_token or the X-CSRF-Token header.
func (a *Auth) checkCSRF(c echo.Context, sessionID string) error {
	if err := a.CheckOrigin(c); err != nil {
		return err
	}
	got := c.Request().Header.Get("X-CSRF-Token")
	if got == "" {
		got = c.FormValue("csrf_token")
	}
	want := a.CSRFToken(httpx.Tenant(c).ID, sessionID)
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return errBadCSRF
	}
	return nil
}

// errLoginFailed is the one answer to a wrong email or a wrong password.
var errLoginFailed = echo.NewHTTPError(http.StatusUnauthorized, "wrong email or password")

// Login checks email and password against this tenant's admins, with the
// throttles, and starts a session. It answers 429 with Retry-After when a
// throttle is empty and 503 when no hashing slot frees in time.
func (a *Auth) Login(c echo.Context, email, pw string) (tenantdb.Admin, tenantdb.Session, string, error) {
	var none tenantdb.Admin
	var noSession tenantdb.Session
	ctx := c.Request().Context()
	now := a.now()
	email = strings.TrimSpace(email)
	if len(email) > 254 {
		email = email[:254]
	}
	account, client := accountKey(httpx.Tenant(c).ID, email), ratelimit.ClientKey(c.RealIP())
	if err := a.throttle.allow(account, client, now); err != nil {
		return none, noSession, "", err
	}
	db := httpx.DB(c)
	admin, err := db.AdminByEmail(ctx, email)
	if err != nil && !errors.Is(err, tenantdb.ErrNotFound) {
		return none, noSession, "", err
	}
	if email == "" {
		admin = tenantdb.Admin{}
	}
	ok, err := a.p.Passwords.Verify(ctx, admin.PasswordHash, pw)
	if err != nil {
		return none, noSession, "", fmt.Errorf("admin %d: %w", admin.ID, err)
	}
	if !ok {
		a.throttle.failed(account, client, now)
		return none, noSession, "", errLoginFailed
	}
	sess, token, err := a.startSession(c, admin)
	return admin, sess, token, err
}

// startSession creates a session row for admin and its token.
func (a *Auth) startSession(c echo.Context, admin tenantdb.Admin) (tenantdb.Session, string, error) {
	now := a.now().UTC().Truncate(time.Second)
	sess := tenantdb.Session{
		ID:        tenantdb.NewSessionID(),
		AdminID:   admin.ID,
		CreatedAt: now,
		ExpiresAt: now.Add(tokenTTL),
		IP:        c.RealIP(),
		UserAgent: c.Request().UserAgent(),
	}
	if err := httpx.DB(c).CreateSession(c.Request().Context(), sess); err != nil {
		return sess, "", err
	}
	token, err := a.mintToken(httpx.Tenant(c), admin, sess)
	return sess, token, err
}

// apiLogin: POST /api/login {"email", "password"} -> {"token", "expires_at"}.
func (a *Auth) apiLogin(c echo.Context) error {
	var in struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if err := httpx.BindJSON(c, &in); err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	_, sess, token, err := a.Login(c, in.Email, in.Password)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"token": token, "expires_at": sess.ExpiresAt})
}

// apiLogout: POST /api/logout ends the session of the token.
func (a *Auth) apiLogout(c echo.Context) error {
	if err := httpx.DB(c).DeleteSession(c.Request().Context(), SessionOf(c).ID); err != nil && !errors.Is(err, tenantdb.ErrNotFound) {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// apiMe: GET /api/me is the logged-in admin.
func (a *Auth) apiMe(c echo.Context) error {
	return c.JSON(http.StatusOK, AdminOf(c))
}

// apiChangePassword: POST /api/password {"current_password", "new_password"}
// sets the admin's password, ends all their sessions, and answers with a
// new token for this client.
func (a *Auth) apiChangePassword(c echo.Context) error {
	var in struct {
		Current string `json:"current_password"`
		New     string `json:"new_password"`
	}
	if err := httpx.BindJSON(c, &in); err != nil {
		return err
	}
	sess, token, err := a.ChangePassword(c, in.Current, in.New)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"token": token, "expires_at": sess.ExpiresAt})
}

// ChangePassword checks the admin's Current password, sets the new one
// (which ends every session of theirs, this one included) and starts a
// fresh session for the caller.
func (a *Auth) ChangePassword(c echo.Context, Current, next string) (tenantdb.Session, string, error) {
	ctx := c.Request().Context()
	admin := AdminOf(c)
	// Guesses of the Current password (from a stolen session) count
	// against the account like failed logins.
	account, client := accountKey(httpx.Tenant(c).ID, admin.Email), ratelimit.ClientKey(c.RealIP())
	if err := a.throttle.allow(account, client, a.now()); err != nil {
		return tenantdb.Session{}, "", err
	}
	ok, err := a.p.Passwords.Verify(ctx, admin.PasswordHash, Current)
	if err != nil {
		return tenantdb.Session{}, "", err
	}
	if !ok {
		a.throttle.failed(account, client, a.now())
		return tenantdb.Session{}, "", &tenantdb.ValidationError{Field: "current_password", Message: "is not your Current password"}
	}
	if err := password.CheckRules(next, admin.Email); err != nil {
		return tenantdb.Session{}, "", withField(err, "new_password")
	}
	hash, err := a.p.Passwords.Hash(ctx, next)
	if err != nil {
		return tenantdb.Session{}, "", err
	}
	if err := httpx.DB(c).SetPassword(ctx, admin.ID, hash); err != nil {
		return tenantdb.Session{}, "", err
	}
	admin.PasswordHash = hash
	return a.startSession(c, admin)
}

// withField renames the field of a validation error.
func withField(err error, field string) error {
	var ve *tenantdb.ValidationError
	if errors.As(err, &ve) {
		return &tenantdb.ValidationError{Field: field, Message: ve.Message}
	}
	return err
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// SafeNext is where to go after logging in: a path of the dashboard on
// this host, else /admin. Absolute URLs, scheme-relative ones (//evil),
// backslashes (/\evil, which browsers read as //evil) and control
// characters all give /admin.
func SafeNext(raw string) string {
	const home = "/admin"
	if raw == "" || len(raw) > 2000 || !strings.HasPrefix(raw, home) {
		return home
	}
	for _, r := range raw {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return home
		}
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return home
	}
	if u.Path != home && !strings.HasPrefix(u.Path, home+"/") {
		return home
	}
	return raw
}
