package site

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/chapterhouse/chapterhouse/app/internal/ratelimit"
	"github.com/chapterhouse/chapterhouse/app/internal/web/httpx"
	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
)

// Members log in on their chapter's own host with a magic link, and stay
// logged in with a cookie of their own, distinct from the dashboard's:
// host-only (no Domain), HttpOnly, SameSite=Lax, with the __Host- prefix
// over TLS, holding a random secret whose sha256 is the session row in
// this chapter's file. Another chapter's file has no such row, so a
// member of one chapter is a stranger on every other.
const (
	MemberCookie = "chapterhouse_member"
	hostPrefix   = "__Host-"
	memberCtxKey = "site-member"
)

// memberCookieName is the member cookie's name on this request.
func memberCookieName(c echo.Context) string {
	if httpx.Secure(c) {
		return hostPrefix + MemberCookie
	}
	return MemberCookie
}

func setMemberCookie(c echo.Context, value string, maxAge int) {
	c.SetCookie(&http.Cookie{Name: memberCookieName(c), Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: httpx.Secure(c), SameSite: http.SameSiteLaxMode})
}

// member is the member of this chapter the request is logged in as, or
// nil. A logged-in member's answers must never be shared: they are
// marked private and no-store (the page cache already passes every
// request with a cookie by; see cachedPage).
func (s *Handler) member(c echo.Context) (*tenantdb.Member, error) {
	if m, ok := c.Get(memberCtxKey).(*tenantdb.Member); ok {
		return m, nil
	}
	ck, err := c.Cookie(memberCookieName(c))
	if err != nil || ck.Value == "" {
		return nil, nil
	}
	m, err := httpx.DB(c).MemberBySession(c.Request().Context(), ck.Value)
	if errors.Is(err, tenantdb.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	c.Set(memberCtxKey, &m)
	res := c.Response()
	res.Before(func() {
		res.Header().Set("Cache-Control", "private, no-store")
		res.Header().Del("ETag")
	})
	return &m, nil
}

// isMember reports whether the request is a logged-in member's of this
// chapter, who may see members-only items.
func (s *Handler) isMember(c echo.Context) (bool, error) {
	m, err := s.member(c)
	return m != nil, err
}

// visibleEvents are the events the visitor may see.
func visibleEvents(events []tenantdb.Event, member bool) []tenantdb.Event {
	out := events[:0:0]
	for _, e := range events {
		if e.Visibility.VisibleTo(member) {
			out = append(out, e)
		}
	}
	return out
}

// visiblePages are the pages the visitor may see.
func visiblePages(pages []tenantdb.Page, member bool) []tenantdb.Page {
	out := pages[:0:0]
	for _, p := range pages {
		if p.Visibility.VisibleTo(member) {
			out = append(out, p)
		}
	}
	return out
}

// memberCSRF is the CSRF token of a member's forms: derived from the
// session's secret, which only the member's browser holds, so a page of
// another site (a sibling chapter is same-site) cannot know it.
func memberCSRF(c echo.Context) string {
	ck, err := c.Cookie(memberCookieName(c))
	if err != nil {
		return ""
	}
	sum := sha256.Sum256([]byte("chapterhouse member csrf\x00" + ck.Value))
	return hex.EncodeToString(sum[:16])
}

var errCrossSite = echo.NewHTTPError(http.StatusForbidden,
	"This form came from another site and was refused. Open this site's own page and try again.")

// checkOrigin refuses a form post a browser says comes from another
// origin (sibling chapters are same-site, so same-site is refused too).
func checkOrigin(c echo.Context) error {
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

// requireMember runs next for a logged-in member whose forms carry their
// CSRF token; anyone else is sent to the login form (a GET) or refused
// (a POST).
func (s *Handler) requireMember(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "no-store")
		m, err := s.member(c)
		if err != nil {
			return err
		}
		if m == nil {
			if httpx.SafeMethod(c.Request().Method) {
				return c.Redirect(http.StatusSeeOther, "/members/login")
			}
			return echo.NewHTTPError(http.StatusForbidden, "Your member login has ended. Log in again and resend the form.")
		}
		if !httpx.SafeMethod(c.Request().Method) {
			if err := checkOrigin(c); err != nil {
				return err
			}
			got, want := c.FormValue("csrf_token"), memberCSRF(c)
			if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
				return echo.NewHTTPError(http.StatusForbidden, "This form has expired. Go back, reload the page and try again.")
			}
		}
		return next(c)
	}
}

// memberHome is /members: who is logged in, and the members' pages.
type memberHome struct {
	Member tenantdb.Member
	CSRF   string
	Saved  bool
}

func (s *Handler) showMembers(c echo.Context) error {
	p, err := s.newPage(c, "/members", "Members")
	if err != nil {
		return err
	}
	m, _ := s.member(c)
	p.Data = memberHome{Member: *m, CSRF: memberCSRF(c), Saved: c.QueryParam("done") == "saved"}
	return c.Render(http.StatusOK, "site/members.html", p)
}

// saveProfile: POST /members/profile, the member's directory choices.
func (s *Handler) saveProfile(c echo.Context) error {
	m, _ := s.member(c)
	on := func(name string) bool { return c.FormValue(name) != "" }
	prefs := tenantdb.DirectoryPrefs{Listed: on("listed"), Email: on("show_email"), Phone: on("show_phone"), Address: on("show_address")}
	if err := httpx.DB(c).SetDirectoryPrefs(c.Request().Context(), m.ID, prefs); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/members?done=saved")
}

func (s *Handler) showDirectory(c echo.Context) error {
	p, err := s.newPage(c, "/members", "Member directory")
	if err != nil {
		return err
	}
	dir, err := httpx.DB(c).Directory(c.Request().Context())
	if err != nil {
		return err
	}
	p.Data = dir
	return c.Render(http.StatusOK, "site/directory.html", p)
}

// loginData is the member login page: the form, or that a link was sent.
type loginData struct {
	Email   string
	Sent    bool
	Error   string
	Limited bool
	MailOff bool // the server sends no mail: links wait in the outbox
}

func (s *Handler) showMemberLogin(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	if m, err := s.member(c); err != nil || m != nil {
		if err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, "/members")
	}
	return s.renderMemberLogin(c, http.StatusOK, loginData{})
}

func (s *Handler) renderMemberLogin(c echo.Context, status int, d loginData) error {
	p, err := s.newPage(c, "/members", "Member login")
	if err != nil {
		return err
	}
	d.MailOff = !s.p.MailOn()
	p.Data = d
	return c.Render(status, "site/member_login.html", p)
}

// sendMemberLink: POST /members/login mails a login link to the address
// if it is a member's who may log in. The answer is the same whether it
// is or not: the form does not tell who is a member. Throttled per client
// like the contact form; the store limits the open links per member.
func (s *Handler) sendMemberLink(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	if err := checkOrigin(c); err != nil {
		return err
	}
	t := httpx.Tenant(c)
	email := strings.TrimSpace(c.FormValue("email"))
	if ok, wait := s.contactLimit.Take(t.ID+"|login|"+ratelimit.ClientKey(c.RealIP()), s.now()); !ok {
		httpx.SetRetryAfter(c, &ratelimit.Error{What: "too many login requests", Wait: wait})
		return s.renderMemberLogin(c, http.StatusTooManyRequests, loginData{Email: email, Limited: true})
	}
	if c.FormValue(honeypotField) != "" {
		return s.renderMemberLogin(c, http.StatusOK, loginData{Sent: true})
	}
	if err := tenantdb.ValidateEmail("email", email); err != nil || email == "" {
		return s.renderMemberLogin(c, http.StatusUnprocessableEntity, loginData{Email: email,
			Error: "That does not look like an email address (like name@example.com)."})
	}
	s.sendLinkLater(httpx.Tenant(c), email, httpx.BaseURL(c))
	return s.renderMemberLogin(c, http.StatusOK, loginData{Sent: true})
}

// linkJobs bounds the login links being looked up and queued at once.
var linkJobs = make(chan struct{}, 8)

// sendLinkLater looks email up and queues its login link after the
// answer has gone, on a handle of its own: neither the words nor the time
// of the answer tell whether the address is a member's. Beyond linkJobs
// at once, a request is dropped (and logged): the throttle per client
// already bounds what one sender gets.
func (s *Handler) sendLinkLater(t catalog.Tenant, email, base string) {
	select {
	case linkJobs <- struct{}{}:
	default:
		s.log.Warn("member login link: too many requests at once; one dropped", "tenant", t.Slug)
		return
	}
	go func() {
		defer func() { <-linkJobs }()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		h, err := s.p.Pool.Acquire(ctx, t.ID)
		if err == nil {
			err = h.SendMemberLogin(ctx, email, base)
			h.Release()
		}
		if err != nil {
			s.log.Warn("member login link", "tenant", t.Slug, "err", err)
		}
	}()
}

// showMemberLink: GET /members/login/:token asks for a click before the
// link is spent: mail scanners that open every link in a message must
// not use up a single-use link.
func (s *Handler) showMemberLink(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	c.Response().Header().Set("Referrer-Policy", "no-referrer")
	p, err := s.newPage(c, "/members", "Log in")
	if err != nil {
		return err
	}
	p.Data = c.Param("token")
	return c.Render(http.StatusOK, "site/member_link.html", p)
}

// useMemberLink: POST /members/login/:token spends the link and logs the
// member in on this chapter's host.
func (s *Handler) useMemberLink(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	if err := checkOrigin(c); err != nil {
		return err
	}
	_, sess, err := httpx.DB(c).UseMemberLink(c.Request().Context(), c.Param("token"))
	if errors.Is(err, tenantdb.ErrLinkInvalid) {
		return s.renderMemberLogin(c, http.StatusGone, loginData{
			Error: "This login link cannot be used: it was used already, has expired, or was copied incompletely. Ask for a new one below."})
	}
	if err != nil {
		return err
	}
	setMemberCookie(c, sess.Secret, int(math.Ceil(sess.ExpiresAt.Sub(s.now()).Seconds())))
	return c.Redirect(http.StatusSeeOther, "/members")
}

// memberLogout: POST /members/logout ends the session.
func (s *Handler) memberLogout(c echo.Context) error {
	if ck, err := c.Cookie(memberCookieName(c)); err == nil {
		if err := httpx.DB(c).EndMemberSession(c.Request().Context(), ck.Value); err != nil && !errors.Is(err, tenantdb.ErrNotFound) {
			return err
		}
	}
	setMemberCookie(c, "", -1)
	return c.Redirect(http.StatusSeeOther, "/")
}
