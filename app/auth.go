package main

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
	sessionCookie = "chapterhouse_session"
	loginCookie   = "chapterhouse_login" // double-submit token of the login form
	hostPrefix    = "__Host-"
	authKey       = "auth"
)

// auth is who a request is logged in as, and how.
type auth struct {
	admin     tenantdb.Admin
	session   tenantdb.Session
	viaCookie bool
}

// adminActor names the logged-in admin in the audit log.
func adminActor(c echo.Context) string { return "admin " + adminOf(c).Email }

// adminOf is the admin the request is logged in as; only valid behind
// requireAdmin or requireOwner.
func adminOf(c echo.Context) tenantdb.Admin { return c.Get(authKey).(*auth).admin }

// sessionOf is the session the request is logged in with.
func sessionOf(c echo.Context) tenantdb.Session { return c.Get(authKey).(*auth).session }

func authOf(c echo.Context) (*auth, bool) {
	a, ok := c.Get(authKey).(*auth)
	return a, ok
}

// requireAdmin lets a request through only with a valid login token of
// this tenant (Bearer header, or the dashboard's cookie) whose session row
// still exists. Cookie-authenticated writes must also pass the CSRF check.
// Unauthenticated: 401 JSON under /api/, a redirect to the login form
// elsewhere.
func (s *server) requireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "no-store")
		a, err := s.authenticate(c)
		if errors.Is(err, errBadToken) {
			return s.unauthenticated(c)
		}
		if err != nil {
			return err
		}
		if a.viaCookie && !httpx.SafeMethod(c.Request().Method) {
			if err := s.checkCSRF(c, a.session.ID); err != nil {
				return err
			}
		}
		c.Set(authKey, a)
		return next(c)
	}
}

// requireOwner is requireAdmin for owners only: an editor gets 403.
func (s *server) requireOwner(next echo.HandlerFunc) echo.HandlerFunc {
	return s.requireAdmin(func(c echo.Context) error {
		if adminOf(c).Role != tenantdb.RoleOwner {
			return echo.NewHTTPError(http.StatusForbidden, "only an owner of this site can do this")
		}
		return next(c)
	})
}

// authenticate finds the request's login. Any fault in the token, or a
// session that ended, is errBadToken; a storage failure is itself.
func (s *server) authenticate(c echo.Context) (*auth, error) {
	raw, viaCookie := "", false
	if h := c.Request().Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return nil, errBadToken
		}
		raw = strings.TrimSpace(tok)
	} else if ck, err := c.Cookie(s.cookieName(c, sessionCookie)); err == nil {
		raw, viaCookie = ck.Value, true
	}
	if raw == "" {
		return nil, errBadToken
	}
	t := httpx.Tenant(c)
	claims, err := s.parseToken(t.ID, raw)
	if err != nil {
		return nil, err
	}
	sess, admin, err := httpx.DB(c).Session(c.Request().Context(), claims.SessionID)
	if errors.Is(err, tenantdb.ErrNotFound) {
		return nil, errBadToken
	}
	if err != nil {
		return nil, err
	}
	if strconv.FormatInt(admin.ID, 10) != claims.Subject {
		return nil, errBadToken
	}
	return &auth{admin: admin, session: sess, viaCookie: viaCookie}, nil
}

func (s *server) unauthenticated(c echo.Context) error {
	if httpx.IsAPI(c) {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="chapterhouse"`)
		return echo.NewHTTPError(http.StatusUnauthorized, "log in first: send Authorization: Bearer <token> from POST /api/login")
	}
	if ck, err := c.Cookie(s.cookieName(c, sessionCookie)); err == nil && ck.Value != "" {
		s.clearCookie(c, sessionCookie)
	}
	next := "/admin"
	if httpx.SafeMethod(c.Request().Method) {
		next = c.Request().URL.RequestURI()
	}
	return c.Redirect(http.StatusSeeOther, "/admin/login?next="+urlQueryEscape(safeNext(next)))
}

// cookieName is name, with the __Host- prefix over TLS: such a cookie is
// only accepted by browsers when Secure, host-only and for path /, so a
// sibling subdomain cannot plant one.
func (s *server) cookieName(c echo.Context, name string) string {
	if httpx.Secure(c) {
		return hostPrefix + name
	}
	return name
}

func (s *server) setCookie(c echo.Context, name, value string, maxAge time.Duration) {
	c.SetCookie(&http.Cookie{
		Name:     s.cookieName(c, name),
		Value:    value,
		Path:     "/",
		MaxAge:   int(math.Ceil(maxAge.Seconds())),
		HttpOnly: true,
		Secure:   httpx.Secure(c),
		SameSite: http.SameSiteLaxMode,
	})
}

func (s *server) clearCookie(c echo.Context, name string) {
	c.SetCookie(&http.Cookie{
		Name:     s.cookieName(c, name),
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

// checkOrigin refuses a request that a browser says comes from another
// site or another origin. Sibling tenants (riverside42.<base> and
// lodge7.<base>) are same-site, so "same-site" is refused too.
func (s *server) checkOrigin(c echo.Context) error {
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

// checkCSRF guards a cookie-authenticated write: the browser's own
// statement of where it comes from, and the session's CSRF token in the
// form field csrf_token or the X-CSRF-Token header.
func (s *server) checkCSRF(c echo.Context, sessionID string) error {
	if err := s.checkOrigin(c); err != nil {
		return err
	}
	got := c.Request().Header.Get("X-CSRF-Token")
	if got == "" {
		got = c.FormValue("csrf_token")
	}
	want := s.csrfToken(httpx.Tenant(c).ID, sessionID)
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return errBadCSRF
	}
	return nil
}

// errLoginFailed is the one answer to a wrong email or a wrong password.
var errLoginFailed = echo.NewHTTPError(http.StatusUnauthorized, "wrong email or password")

// login checks email and password against this tenant's admins, with the
// throttles, and starts a session. It answers 429 with Retry-After when a
// throttle is empty and 503 when no hashing slot frees in time.
func (s *server) login(c echo.Context, email, pw string) (tenantdb.Admin, tenantdb.Session, string, error) {
	var none tenantdb.Admin
	var noSession tenantdb.Session
	ctx := c.Request().Context()
	now := s.now()
	email = strings.TrimSpace(email)
	if len(email) > 254 {
		email = email[:254]
	}
	account := httpx.Tenant(c).ID + "\x00" + strings.ToLower(email)
	if wait := s.throttle.perAccount.Wait(account, now); wait > 0 {
		return none, noSession, "", &ratelimit.Error{What: "too many login attempts", Wait: wait}
	}
	if ok, wait := s.throttle.perIP.Take(ratelimit.ClientKey(c.RealIP()), now); !ok {
		return none, noSession, "", &ratelimit.Error{What: "too many login attempts", Wait: wait}
	}
	db := httpx.DB(c)
	admin, err := db.AdminByEmail(ctx, email)
	if err != nil && !errors.Is(err, tenantdb.ErrNotFound) {
		return none, noSession, "", err
	}
	if email == "" {
		admin = tenantdb.Admin{}
	}
	ok, err := s.p.Passwords.Verify(ctx, admin.PasswordHash, pw)
	if err != nil {
		return none, noSession, "", fmt.Errorf("admin %d: %w", admin.ID, err)
	}
	if !ok {
		s.throttle.perAccount.Take(account, now)
		return none, noSession, "", errLoginFailed
	}
	sess, token, err := s.startSession(c, admin)
	return admin, sess, token, err
}

// startSession creates a session row for admin and its token.
func (s *server) startSession(c echo.Context, admin tenantdb.Admin) (tenantdb.Session, string, error) {
	now := s.now().UTC().Truncate(time.Second)
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
	token, err := s.mintToken(httpx.Tenant(c), admin, sess)
	return sess, token, err
}

// apiLogin: POST /api/login {"email", "password"} -> {"token", "expires_at"}.
func (s *server) apiLogin(c echo.Context) error {
	var in struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if err := httpx.BindJSON(c, &in); err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	_, sess, token, err := s.login(c, in.Email, in.Password)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"token": token, "expires_at": sess.ExpiresAt})
}

// apiLogout: POST /api/logout ends the session of the token.
func (s *server) apiLogout(c echo.Context) error {
	if err := httpx.DB(c).DeleteSession(c.Request().Context(), sessionOf(c).ID); err != nil && !errors.Is(err, tenantdb.ErrNotFound) {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// apiMe: GET /api/me is the logged-in admin.
func (s *server) apiMe(c echo.Context) error {
	return c.JSON(http.StatusOK, adminOf(c))
}

// apiChangePassword: POST /api/password {"current_password", "new_password"}
// sets the admin's password, ends all their sessions, and answers with a
// new token for this client.
func (s *server) apiChangePassword(c echo.Context) error {
	var in struct {
		Current string `json:"current_password"`
		New     string `json:"new_password"`
	}
	if err := httpx.BindJSON(c, &in); err != nil {
		return err
	}
	sess, token, err := s.changePassword(c, in.Current, in.New)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"token": token, "expires_at": sess.ExpiresAt})
}

// changePassword checks the admin's current password, sets the new one
// (which ends every session of theirs, this one included) and starts a
// fresh session for the caller.
func (s *server) changePassword(c echo.Context, current, next string) (tenantdb.Session, string, error) {
	ctx := c.Request().Context()
	admin := adminOf(c)
	// Guesses of the current password (from a stolen session) count
	// against the account like failed logins.
	account := httpx.Tenant(c).ID + "\x00" + strings.ToLower(admin.Email)
	if wait := s.throttle.perAccount.Wait(account, s.now()); wait > 0 {
		return tenantdb.Session{}, "", &ratelimit.Error{What: "too many login attempts", Wait: wait}
	}
	ok, err := s.p.Passwords.Verify(ctx, admin.PasswordHash, current)
	if err != nil {
		return tenantdb.Session{}, "", err
	}
	if !ok {
		s.throttle.perAccount.Take(account, s.now())
		return tenantdb.Session{}, "", &tenantdb.ValidationError{Field: "current_password", Message: "is not your current password"}
	}
	if err := password.CheckRules(next, admin.Email); err != nil {
		return tenantdb.Session{}, "", withField(err, "new_password")
	}
	hash, err := s.p.Passwords.Hash(ctx, next)
	if err != nil {
		return tenantdb.Session{}, "", err
	}
	if err := httpx.DB(c).SetPassword(ctx, admin.ID, hash); err != nil {
		return tenantdb.Session{}, "", err
	}
	admin.PasswordHash = hash
	return s.startSession(c, admin)
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

// safeNext is where to go after logging in: a path of the dashboard on
// this host, else /admin. Absolute URLs, scheme-relative ones (//evil),
// backslashes (/\evil, which browsers read as //evil) and control
// characters all give /admin.
func safeNext(raw string) string {
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

// loginThrottle limits login attempts per client address (every attempt
// counts, as each costs a password hash) and per account (failures
// count, so that a guesser spreading over many addresses still slows to a
// crawl on one account, while its owner's successful logins cost nothing).
type loginThrottle struct {
	perIP      *ratelimit.Limiter
	perAccount *ratelimit.Limiter
}

func newLoginThrottle() *loginThrottle {
	return &loginThrottle{
		perIP:      ratelimit.New(20, 6*time.Second, 50_000),  // 20 at once, then 10 a minute
		perAccount: ratelimit.New(10, 30*time.Second, 50_000), // 10 failures, then 2 a minute
	}
}
