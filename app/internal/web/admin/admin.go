// Package admin serves the dashboard of one chapter at /admin on its own
// host: server-rendered forms that work without JavaScript (one small script
// of our own adds an editor to the Markdown fields), a CSRF token in every form.
package admin

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/chapterhouse/chapterhouse/app/internal/ical"
	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/app/internal/render"
	"github.com/chapterhouse/chapterhouse/app/internal/web/auth"
	"github.com/chapterhouse/chapterhouse/app/internal/web/httpx"
	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
)

// The dashboard: server-rendered forms at /admin on every tenant host,
// each working without JavaScript (editor.go). Every change is a POST with the session's CSRF token
// (requireAdmin checks it), followed by a redirect (POST-redirect-GET);
// a refused form is shown again with what was typed and the problem.

// adminPage is what every dashboard page renders from.
type adminPage struct {
	Site    tenantdb.Site
	Admin   tenantdb.Admin
	CSRF    string
	Title   string
	Section string // the menu entry to mark
	Frozen  bool   // the site is read-only for maintenance
	Flash   string
	Error   string // why the form was refused
	Field   string // the field it was refused for
	Data    any
	// Prev and Next link to the pages of a list around this one.
	Prev, Next string
}

// IsOwner is for the layout's menu.
func (p adminPage) IsOwner() bool { return p.Admin.Role == tenantdb.RoleOwner }

// flashes are the messages a redirect can ask for with ?done=: a fixed
// set, so nothing a link carries is shown as is.
var flashes = map[string]string{
	"saved":          "Saved. The public site shows it now.",
	"deleted":        "Deleted.",
	"uploaded":       "Uploaded.",
	"logout":         "You have logged out.",
	"password":       "Your password is changed. Your other sessions have been logged out.",
	"added":          "Added.",
	"unread":         "Marked as unread.",
	"invited":        "Invitation sent. It is valid for 7 days; see it under Outgoing mail.",
	"reset":          "Your password is changed, and every session of your account has ended. Log in with the new password.",
	"joined":         "Your account is ready. Log in with your email and the password you chose.",
	"member-invited": "Invited. The invitation is in the outbox (Outgoing mail); its link works for a week.",
	"approved":       "Approved. The new member is sent a welcome with a login link.",
	"cancelled":      "Cancelled. Whoever waited and now fits is on the list, and told by mail.",
	"restored":       "The site is back as it was at the moment you chose. What it was before the undo is kept by the platform.",
}

// adminHeaders sets the dashboard's security headers: no caching, no
// framing, forms only to this origin, and script only from our own
// /static/editor.js (no inline script, no other origin; it may call
// back only here).
func adminHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self' https:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		return next(c)
	}
}

// page builds the common part of a dashboard page.
func (h *Handler) page(c echo.Context, title, section string, data any) (adminPage, error) {
	p := adminPage{Title: title, Section: section, Data: data, Frozen: httpx.Tenant(c).Status == catalog.StatusFrozen}
	site, err := httpx.DB(c).Site(c.Request().Context())
	if err != nil {
		return p, err
	}
	p.Site = site
	if admin, sess, ok := auth.LoggedIn(c); ok {
		p.Admin = admin
		p.CSRF = h.auth.CSRFToken(httpx.Tenant(c).ID, sess.ID)
	}
	p.Flash = flashes[c.QueryParam("done")]
	return p, nil
}

// render shows dashboard page name with status.
func (h *Handler) render(c echo.Context, status int, name, title, section string, data any) error {
	p, err := h.page(c, title, section, data)
	if err != nil {
		return err
	}
	return c.Render(status, "admin/"+name, p)
}

// renderList shows list page name, whose data holds the items of page p
// of a list; next is the next page's link, "" on the last.
func (h *Handler) renderList(c echo.Context, name, title, section string, p httpx.Paging, next string, data any) error {
	pg, err := h.page(c, title, section, data)
	if err != nil {
		return err
	}
	pg.Prev, pg.Next = p.Prev(), next
	return c.Render(http.StatusOK, "admin/"+name, pg)
}

// renderInvalid shows a form again after err, when err is a validation
// error, with status 422; any other error is returned.
func (h *Handler) renderInvalid(c echo.Context, err error, name, title, section string, data any) error {
	var ve *tenantdb.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	p, perr := h.page(c, title, section, data)
	if perr != nil {
		return perr
	}
	p.Error, p.Field = fieldLabel(ve.Field)+": "+ve.Message, ve.Field
	return c.Render(http.StatusUnprocessableEntity, "admin/"+name, p)
}

func fieldLabel(field string) string {
	s := strings.ReplaceAll(field, "_", " ")
	s = strings.TrimSuffix(strings.TrimSuffix(s, " ids"), " id")
	if s == "" {
		return "Form"
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// done redirects after a successful POST to path, with a flash message.
func done(c echo.Context, path, flash string) error {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return c.Redirect(http.StatusSeeOther, path+sep+"done="+flash)
}

// Error shows an error on the dashboard's own page.
func (h *Handler) Error(c echo.Context, err error, status int, msg string) {
	title := http.StatusText(status)
	switch {
	case status == http.StatusNotFound:
		title, msg = "Not found", "There is nothing at this address. It may have been deleted."
	case errors.Is(err, httpx.ErrFrozen):
		title = "Read-only for maintenance"
	case errors.As(err, new(*platform.QuotaError)):
		title = "Storage full"
	}
	p := adminPage{Title: title, Data: msg, Frozen: httpx.Tenant(c).Status == catalog.StatusFrozen,
		Site: tenantdb.Site{Name: httpx.Tenant(c).Name}}
	if httpx.DB(c) != nil {
		if pp, err := h.page(c, title, "", msg); err == nil {
			p = pp
		}
	}
	adminHeaders(func(echo.Context) error { return nil })(c)
	if err := c.Render(status, "admin/error.html", p); err != nil {
		h.log.Error("render admin error page", "err", err)
	}
}

func IsAdminPath(c echo.Context) bool {
	p := c.Request().URL.Path
	return p == "/admin" || strings.HasPrefix(p, "/admin/")
}

// loginForm is what the login page shows.
type loginForm struct {
	Email      string
	Next       string
	LoginToken string
}

// showLogin: GET /admin/login. Already logged in: on to the dashboard.
func (h *Handler) showLogin(c echo.Context) error {
	if h.auth.LoggedInNow(c) {
		return c.Redirect(http.StatusSeeOther, auth.SafeNext(c.QueryParam("next")))
	}
	return h.renderLogin(c, http.StatusOK, loginForm{Next: auth.SafeNext(c.QueryParam("next"))}, "")
}

// renderLogin shows the login form with a fresh double-submit token: the
// same random value in a cookie and in the form, which a page on another
// site can neither read nor set (over TLS the cookie has the __Host-
// prefix), against login CSRF.
func (h *Handler) renderLogin(c echo.Context, status int, f loginForm, problem string) error {
	f.LoginToken = tenantdb.NewSessionID()
	h.auth.SetCookie(c, auth.LoginCookie, f.LoginToken, time.Hour)
	p, err := h.page(c, "Log in", "", f)
	if err != nil {
		return err
	}
	p.Error = problem
	return c.Render(status, "admin/login.html", p)
}

// doLogin: POST /admin/login.
func (h *Handler) doLogin(c echo.Context) error {
	f := loginForm{Email: strings.TrimSpace(c.FormValue("email")), Next: auth.SafeNext(c.FormValue("next"))}
	if err := h.auth.CheckOrigin(c); err != nil {
		return err
	}
	ck, err := c.Cookie(h.auth.CookieName(c, auth.LoginCookie))
	sent := c.FormValue("login_token")
	if err != nil || sent == "" || subtle.ConstantTimeCompare([]byte(ck.Value), []byte(sent)) != 1 {
		return h.renderLogin(c, http.StatusForbidden, f, "The login form expired. Please try again.")
	}
	_, sess, token, err := h.auth.Login(c, f.Email, c.FormValue("password"))
	var he *echo.HTTPError
	if errors.As(err, &he) && (he.Code < 500 || he.Code == http.StatusServiceUnavailable) {
		return h.renderLogin(c, he.Code, f, fmt.Sprint(he.Message))
	}
	if err != nil {
		return err
	}
	h.auth.ClearCookie(c, auth.LoginCookie)
	h.auth.SetCookie(c, auth.SessionCookie, token, sess.ExpiresAt.Sub(h.now()))
	return c.Redirect(http.StatusSeeOther, f.Next)
}

// doLogout: POST /admin/logout.
func (h *Handler) doLogout(c echo.Context) error {
	if err := httpx.DB(c).DeleteSession(c.Request().Context(), auth.SessionOf(c).ID); err != nil && !errors.Is(err, tenantdb.ErrNotFound) {
		return err
	}
	h.auth.ClearCookie(c, auth.SessionCookie)
	return done(c, "/admin/login", "logout")
}

// dashboardHome is the overview.
type dashboardHome struct {
	Posts, Drafts, Events, Officers, Pages, Media, Unread, Messages int
	Latest                                                          []tenantdb.Message
	// Storage is what the site uses of its quota and what takes the room.
	Storage platform.Usage
	// MailOn says whether the server sends mail; Outbox counts the
	// outbox's mails by status.
	MailOn bool
	Outbox map[string]int
}

// showDashboard: GET /admin.
func (h *Handler) showDashboard(c echo.Context) error {
	ctx, db := c.Request().Context(), httpx.DB(c)
	var d dashboardHome
	// Counted in SQL and five messages read: the dashboard's home must
	// not load every message and post of the site to count them.
	n, err := db.Counts(ctx)
	if err != nil {
		return err
	}
	d.Posts, d.Drafts, d.Events, d.Officers, d.Pages, d.Media, d.Messages, d.Unread =
		n.Posts, n.Drafts, n.Events, n.Officers, n.Pages, n.Media, n.Messages, n.Unread
	if d.Latest, err = db.MessagesIn(ctx, tenantdb.Window{Limit: 5}); err != nil {
		return err
	}
	if d.Storage, err = h.p.Usage(ctx, httpx.Tenant(c), db.DB); err != nil {
		return err
	}
	d.MailOn = h.p.MailOn()
	if d.Outbox, err = db.OutboxCounts(ctx); err != nil {
		return err
	}
	return h.render(c, http.StatusOK, "home.html", "Dashboard", "home", d)
}

// Funcs are the dashboard's template functions.
func Funcs() template.FuncMap {
	return template.FuncMap{
		// inputTime formats a time (or *time.Time) for a datetime-local
		// input in time zone tz.
		"inputTime": func(v any, tz string) string {
			var t time.Time
			switch x := v.(type) {
			case time.Time:
				t = x
			case *time.Time:
				if x != nil {
					t = *x
				}
			}
			if t.IsZero() {
				return ""
			}
			return t.In(zone(tz)).Format(localLayout)
		},
		// shortTime formats a time (or *time.Time) in time zone tz, the
		// chapter's, as its editors show it, with the zone's abbreviation:
		// the dashboard shows every time in one zone.
		"shortTime": shortTime,
		// repeats says how an event repeats, in words.
		"repeats": ical.Describe,
		// noun is one after a count of 1, else many: "1 draft", "2 drafts".
		"noun": func(n int, one, many string) string {
			if n == 1 {
				return one
			}
			return many
		},
		"kb": func(n int64) string {
			if n >= 1<<20 {
				return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
			}
			return fmt.Sprintf("%d KB", (n+1023)/1024)
		},
		// pick is the data of the "mediaselect" template.
		"pick": func(media []tenantdb.Media, selected string) any {
			return struct {
				Media    []tenantdb.Media
				Selected string
			}{media, selected}
		},
	}
}

// shortTime is the dashboard's "Jan 2, 2006 3:04 PM CST" for a time.Time
// or a *time.Time (nil: ""), in time zone tz.
func shortTime(v any, tz string) string {
	var t time.Time
	switch x := v.(type) {
	case time.Time:
		t = x
	case *time.Time:
		if x == nil {
			return ""
		}
		t = *x
	}
	if t.IsZero() {
		return ""
	}
	return t.In(zone(tz)).Format("Jan 2, 2006 3:04 PM MST")
}

// Handler serves the dashboard of the request's tenant.
type Handler struct {
	p             *platform.Platform
	auth          *auth.Auth
	md            *render.Markdown
	now           func() time.Time
	log           *slog.Logger
	domainRecheck time.Duration
}

// Deps are what the dashboard needs.
type Deps struct {
	Platform      *platform.Platform
	Auth          *auth.Auth
	Markdown      *render.Markdown // for the preview of posts and pages
	Now           func() time.Time
	Log           *slog.Logger
	DomainRecheck time.Duration // how often the server checks custom domains, for the domains page
}

// Register adds the dashboard's routes to g (a tenant's group).
func Register(g *echo.Group, d Deps) *Handler {
	h := &Handler{p: d.Platform, auth: d.Auth, md: d.Markdown, now: d.Now, log: d.Log, domainRecheck: d.DomainRecheck}
	a := d.Auth
	g.GET("/admin/login", h.showLogin, adminHeaders)
	g.POST("/admin/login", h.doLogin, adminHeaders)
	g.POST("/admin/logout", h.doLogout, adminHeaders, a.RequireAdmin)
	g.GET("/admin", h.showDashboard, adminHeaders, a.RequireAdmin)
	g.GET("/admin/", func(c echo.Context) error { return c.Redirect(http.StatusMovedPermanently, "/admin") })
	g.GET("/admin/site", h.showSiteSettings, adminHeaders, a.RequireAdmin)
	g.POST("/admin/site", h.saveSiteSettings, adminHeaders, a.RequireAdmin, httpx.NeedsRoom(h.p))
	postKind.routes(h, g, adminHeaders, a.RequireAdmin)
	eventKind.routes(h, g, adminHeaders, a.RequireAdmin)
	officerKind.routes(h, g, adminHeaders, a.RequireAdmin)
	g.GET("/admin/events/:id/rsvps", h.showRSVPs, adminHeaders, a.RequireAdmin)
	g.GET("/admin/events/:id/rsvps.csv", h.rsvpsCSV, adminHeaders, a.RequireAdmin)
	g.POST("/admin/events/:id/rsvps/:rsvp/cancel", h.cancelRSVPForm, adminHeaders, a.RequireAdmin)
	g.GET("/admin/stats", h.showStats, adminHeaders, a.RequireAdmin)
	pageKind.routes(h, g, adminHeaders, a.RequireAdmin)
	g.GET("/admin/media", h.showMediaLibrary, adminHeaders, a.RequireAdmin)
	g.POST("/admin/media", h.uploadMediaForm, adminHeaders, httpx.LimitBody(httpx.MaxUploadBody), a.RequireAdmin)
	g.POST("/admin/media/:id", h.updateMediaForm, adminHeaders, a.RequireAdmin, httpx.NeedsRoom(h.p))
	g.POST("/admin/media/:id/delete", h.deleteMediaForm, adminHeaders, a.RequireAdmin)
	h.libraryRoutes(g, adminHeaders, a.RequireAdmin)
	h.editorRoutes(g, adminHeaders, a.RequireAdmin)
	g.GET("/admin/messages", h.showMessages, adminHeaders, a.RequireAdmin)
	g.GET("/admin/messages/:id", h.showMessage, adminHeaders, a.RequireAdmin)
	g.POST("/admin/messages/:id/read", h.openMessage, adminHeaders, a.RequireAdmin)
	g.POST("/admin/messages/:id/unread", h.markMessageUnread, adminHeaders, a.RequireAdmin)
	g.POST("/admin/messages/:id/delete", h.deleteMessageForm, adminHeaders, a.RequireAdmin)
	g.GET("/admin/admins", h.showAdmins, adminHeaders, a.RequireOwner)
	g.POST("/admin/admins", h.addAdminForm, adminHeaders, a.RequireOwner)
	g.POST("/admin/admins/:id/delete", h.deleteAdminForm, adminHeaders, a.RequireOwner)
	g.GET("/admin/domains", h.showDomains, adminHeaders, a.RequireAdmin)
	g.POST("/admin/domains", h.addDomainForm, adminHeaders, a.RequireOwner)
	g.POST("/admin/domains/:host/verify", h.checkDomainForm, adminHeaders, a.RequireAdmin)
	g.POST("/admin/domains/:host/delete", h.removeDomainForm, adminHeaders, a.RequireOwner)
	g.POST("/admin/export", h.export, adminHeaders, a.RequireOwner)
	g.GET("/admin/export", postOnly("The download is the button \"Download a copy of the site\" on the dashboard's home page."), adminHeaders, a.RequireAdmin)
	h.memberRoutes(g, adminHeaders, a.RequireOwner)
	g.GET("/admin/forgot", h.showForgot, adminHeaders)
	g.POST("/admin/forgot", h.requestReset, adminHeaders)
	g.GET("/admin/reset", h.showReset, adminHeaders)
	g.POST("/admin/reset", h.doReset, adminHeaders)
	g.GET("/admin/invite", h.showInvite, adminHeaders)
	g.POST("/admin/invite", h.acceptInvite, adminHeaders)
	g.POST("/admin/admins/invite", h.inviteAdminForm, adminHeaders, a.RequireOwner)
	g.GET("/admin/outbox", h.showOutbox, adminHeaders, a.RequireOwner)
	g.POST("/admin/notify", h.setNotify, adminHeaders, a.RequireAdmin)
	g.GET("/admin/undo", h.showUndo, adminHeaders, a.RequireOwner)
	g.POST("/admin/undo/preview", h.previewUndo, adminHeaders, a.RequireOwner)
	g.POST("/admin/undo", h.doUndo, adminHeaders, a.RequireOwner)
	g.GET("/admin/password", h.showPassword, adminHeaders, a.RequireAdmin)
	g.POST("/admin/password", h.changePasswordForm, adminHeaders, a.RequireAdmin)
	return h
}

// postOnly answers a GET of an address that only takes a POST (an old
// link or bookmark) with 405 and why, doing nothing.
func postOnly(why string) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set("Allow", http.MethodPost)
		return echo.NewHTTPError(http.StatusMethodNotAllowed, why)
	}
}

// export: POST /admin/export (owners), the "Download a copy of the site"
// button. A POST with the CSRF token, not a link: a GET runs for any
// <img src> on a sibling chapter's page (see docs/security.md).
func (h *Handler) export(c echo.Context) error {
	return httpx.ExportDownload(c, h.p, auth.Actor(c))
}
