package admin

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/chapterhouse/chapterhouse/app/internal/password"
	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/app/internal/ratelimit"
	"github.com/chapterhouse/chapterhouse/app/internal/web/auth"
	"github.com/chapterhouse/chapterhouse/app/internal/web/httpx"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// Mail in the dashboard: the self-service password reset, invitations of
// admins, the outbox and the contact-message opt-in (docs/email.md).

// forgotLimit bounds the reset requests of one client address: a form
// that sends mail must not become a way to flood mailboxes.
var forgotLimit = ratelimit.New(5, 10*time.Minute, 100_000)

// resetJobs bounds the reset requests worked on at once, in the
// background.
var resetJobs = make(chan struct{}, 8)

// forgotData is the forgot-password page's data.
type forgotData struct {
	MailOn bool
	Sent   bool
	Email  string
}

// showForgot: GET /admin/forgot.
func (h *Handler) showForgot(c echo.Context) error {
	return h.render(c, http.StatusOK, "forgot.html", "Forgot your password?", "", forgotData{MailOn: h.p.MailOn()})
}

// requestReset: POST /admin/forgot. The answer is the same page, at once,
// whether or not the address is an admin's, and whatever the outbox does:
// the lookup and the mail are done after the answer, so neither the words
// nor the time of the answer tell whether an account exists.
func (h *Handler) requestReset(c echo.Context) error {
	if err := h.auth.CheckOrigin(c); err != nil {
		return err
	}
	d := forgotData{MailOn: h.p.MailOn(), Email: strings.TrimSpace(c.FormValue("email"))}
	if !d.MailOn {
		return h.render(c, http.StatusOK, "forgot.html", "Forgot your password?", "", d)
	}
	if err := tenantdb.ValidateEmail("email", d.Email); err != nil {
		return h.renderInvalid(c, err, "forgot.html", "Forgot your password?", "", d)
	}
	if ok, wait := forgotLimit.Take(ratelimit.ClientKey(c.RealIP()), h.now()); !ok {
		return &ratelimit.Error{What: "too many password reset requests from your address", Wait: wait}
	}
	tenant, base := httpx.Tenant(c), httpx.BaseURL(c)
	select {
	case resetJobs <- struct{}{}:
		go func() {
			defer func() { <-resetJobs }()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			hd, err := h.p.Pool.Acquire(ctx, tenant.ID)
			if err != nil {
				h.log.Warn("password reset: opening the tenant", "tenant", tenant.Slug, "err", err)
				return
			}
			defer hd.Release()
			site, err := hd.Site(ctx)
			if err == nil {
				_, err = hd.RequestPasswordReset(ctx, d.Email, platform.ResetMail(site.Name, base))
			}
			if err != nil {
				h.log.Warn("password reset: queueing the mail", "tenant", tenant.Slug, "err", err)
			}
		}()
	default:
		h.log.Warn("password reset: too many requests at once; one dropped", "tenant", tenant.Slug)
	}
	d.Sent = true
	return h.render(c, http.StatusOK, "forgot.html", "Check your mail", "", d)
}

// tokenForm is the data of the pages a mailed link opens.
type tokenForm struct {
	Token string
	Email string
	Role  string
	Bad   bool // the link is used, expired or unknown
}

// showReset: GET /admin/reset?token=.
func (h *Handler) showReset(c echo.Context) error {
	return h.showTokenPage(c, tenantdb.TokenPasswordReset, "reset.html", "Choose a new password")
}

// showInvite: GET /admin/invite?token=.
func (h *Handler) showInvite(c echo.Context) error {
	return h.showTokenPage(c, tenantdb.TokenAdminInvite, "invite.html", "Accept the invitation")
}

func (h *Handler) showTokenPage(c echo.Context, purpose, page, title string) error {
	token := c.QueryParam("token")
	t, err := httpx.DB(c).CheckToken(c.Request().Context(), purpose, token)
	if errors.Is(err, tenantdb.ErrBadToken) {
		return h.renderBadToken(c, page, title)
	}
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, page, title, "", tokenForm{Token: token, Email: t.Email, Role: t.Role})
}

// renderBadToken answers a link that is used, expired or unknown: 404,
// with what to do.
func (h *Handler) renderBadToken(c echo.Context, page, title string) error {
	p, err := h.page(c, title, "", tokenForm{Bad: true})
	if err != nil {
		return err
	}
	p.Error = "This link is not valid: it was used already, has expired or was mistyped."
	return c.Render(http.StatusNotFound, "admin/"+page, p)
}

// newPassword reads and checks the two password fields of a link's form,
// for the account email.
func newPassword(c echo.Context, email string) (string, error) {
	next := c.FormValue("new_password")
	if next != c.FormValue("confirm_password") {
		return "", &tenantdb.ValidationError{Field: "confirm_password", Message: "the two passwords differ"}
	}
	if err := password.CheckRules(next, email); err != nil {
		var ve *tenantdb.ValidationError
		if errors.As(err, &ve) {
			return "", &tenantdb.ValidationError{Field: "new_password", Message: ve.Message}
		}
		return "", err
	}
	return next, nil
}

// doReset: POST /admin/reset. The token is spent, the password set and
// every session of the admin ended in one transaction; the browser is
// sent to log in with the new password.
func (h *Handler) doReset(c echo.Context) error {
	return h.useToken(c, tenantdb.TokenPasswordReset, "reset.html", "Choose a new password",
		func(ctx context.Context, db *tenantdb.DB, token, hash string) error {
			_, err := db.ResetPassword(ctx, token, hash)
			return err
		}, "reset")
}

// acceptInvite: POST /admin/invite. The admin is created with the
// password they chose; the invitation is spent.
func (h *Handler) acceptInvite(c echo.Context) error {
	return h.useToken(c, tenantdb.TokenAdminInvite, "invite.html", "Accept the invitation",
		func(ctx context.Context, db *tenantdb.DB, token, hash string) error {
			_, err := db.AcceptInvite(ctx, token, hash)
			return err
		}, "joined")
}

func (h *Handler) useToken(c echo.Context, purpose, page, title string,
	use func(ctx context.Context, db *tenantdb.DB, token, hash string) error, flash string) error {
	if err := h.auth.CheckOrigin(c); err != nil {
		return err
	}
	ctx, db := c.Request().Context(), httpx.DB(c)
	token := c.FormValue("token")
	t, err := db.CheckToken(ctx, purpose, token)
	if errors.Is(err, tenantdb.ErrBadToken) {
		return h.renderBadToken(c, page, title)
	}
	if err != nil {
		return err
	}
	f := tokenForm{Token: token, Email: t.Email, Role: t.Role}
	next, err := newPassword(c, t.Email)
	if err != nil {
		return h.renderInvalid(c, err, page, title, "", f)
	}
	hash, err := h.p.Passwords.Hash(ctx, next)
	if err != nil {
		return err
	}
	if err := use(ctx, db.DB, token, hash); errors.Is(err, tenantdb.ErrBadToken) {
		return h.renderBadToken(c, page, title)
	} else if errors.Is(err, tenantdb.ErrConflict) {
		return h.renderInvalid(c, &tenantdb.ValidationError{Field: "email", Message: "there is already an admin with this email: log in, or reset its password"}, page, title, "", f)
	} else if err != nil {
		return err
	}
	h.auth.ClearCookie(c, auth.SessionCookie)
	return done(c, "/admin/login", flash)
}

// inviteAdminForm: POST /admin/admins/invite (owners). With mail off,
// the link is shown once on the answer page for the owner to pass on.
func (h *Handler) inviteAdminForm(c echo.Context) error {
	ctx, db := c.Request().Context(), httpx.DB(c)
	d := adminsData{Email: strings.TrimSpace(c.FormValue("email")), Role: c.FormValue("role")}
	site, err := db.Site(ctx)
	if err != nil {
		return err
	}
	compose := platform.InviteMail(site.Name, httpx.BaseURL(c), auth.AdminOf(c).Email, d.Role)
	var link string
	err = db.InviteAdmin(ctx, d.Email, d.Role, func(to, token string) tenantdb.OutMail {
		m := compose(to, token)
		link = httpx.BaseURL(c) + "/admin/invite?token=" + token
		return m
	})
	if err != nil {
		return h.renderAdmins(c, http.StatusUnprocessableEntity, d, err)
	}
	if h.p.MailOn() {
		return done(c, "/admin/admins", "invited")
	}
	return h.renderAdmins(c, http.StatusOK, adminsData{Role: tenantdb.RoleEditor, InviteLink: link, NewEmail: d.Email}, nil)
}

// outboxData is the outbox page's data.
type outboxData struct {
	MailOn bool
	Via    string
	Counts map[string]int
	Mails  []tenantdb.Outgoing
}

// showOutbox: GET /admin/outbox (owners): what went out, what waits and
// what failed, with the server's last answer.
func (h *Handler) showOutbox(c echo.Context) error {
	p, err := httpx.ParsePaging(c)
	if err != nil {
		return err
	}
	ctx, db := c.Request().Context(), httpx.DB(c)
	d := outboxData{MailOn: h.p.MailOn()}
	if d.MailOn {
		d.Via = h.p.Mail.Sender.String()
	}
	if d.Counts, err = db.OutboxCounts(ctx); err != nil {
		return err
	}
	mails, err := db.Outbox(ctx, p.Window())
	if err != nil {
		return err
	}
	var next string
	d.Mails, next = httpx.Cut(p, mails)
	return h.renderList(c, "outbox.html", "Outgoing mail", "outbox", p, next, d)
}

// setNotify: POST /admin/notify: the logged-in admin's choice of a mail
// for each new contact message.
func (h *Handler) setNotify(c echo.Context) error {
	on := c.FormValue("notify") == "on"
	if err := httpx.DB(c).SetNotifyMessages(c.Request().Context(), auth.AdminOf(c).ID, on); err != nil {
		return err
	}
	return done(c, "/admin/messages", "saved")
}
