package site

import (
	"errors"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/app/internal/ratelimit"
	"github.com/chapterhouse/chapterhouse/app/internal/web/httpx"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// contactData is the contact page: the chapter's details and the form, as
// the visitor filled it in, with a message per bad field.
type contactData struct {
	Form    contactForm
	Errors  map[string]string // field -> what is wrong, for the visitor
	Order   []string          // fields with errors, in form order
	MapURL  string
	TelURL  template.URL
	Limited bool // too many messages from this address: try later
	// InboxFull: the chapter's messages fill their share of its storage.
	InboxFull bool
}

type contactForm struct {
	Name, Email, Subject, Body string
}

// honeypotField is a form field that people never see (hidden by CSS and
// from screen readers) and form-filling bots fill in.
const honeypotField = "website"

var contactLabels = map[string]string{"name": "Your name", "email": "Your email", "subject": "Subject", "body": "Message"}

func (s *Handler) showContact(c echo.Context) error {
	return s.renderContact(c, http.StatusOK, contactForm{}, nil)
}

func (s *Handler) renderContact(c echo.Context, status int, f contactForm, errs []error) error {
	p, err := s.newPage(c, "/contact", "Contact us")
	if err != nil {
		return err
	}
	d := contactData{Form: f, Errors: map[string]string{}, MapURL: mapURL(p.Site.Address), TelURL: telURL(p.Site.Phone)}
	for _, err := range errs {
		var ve *tenantdb.ValidationError
		if errors.As(err, &ve) {
			if _, seen := d.Errors[ve.Field]; !seen {
				d.Order = append(d.Order, ve.Field)
			}
			d.Errors[ve.Field] = fieldMessage(ve)
		}
	}
	d.Limited = status == http.StatusTooManyRequests
	d.InboxFull = status == http.StatusInsufficientStorage
	p.Description = "How to reach " + p.Site.Name + ": address, phone, email and a message form."
	p.Data = d
	return c.Render(status, "site/contact.html", p)
}

// fieldMessage words a validation error for the visitor: "Your name is
// required", "Message must be at most 5000 characters".
func fieldMessage(ve *tenantdb.ValidationError) string {
	label := contactLabels[ve.Field]
	if label == "" {
		label = ve.Field
	}
	msg := ve.Message
	if ve.Field == "email" && strings.HasSuffix(msg, "is not an email address") {
		return "Your email does not look like an email address (like name@example.com)."
	}
	return label + " " + msg + "."
}

// sendContact stores a visitor's message once and redirects to the thank
// you page (POST-redirect-GET: reloading it sends nothing again). A filled
// honeypot gets the same answer and stores nothing.
func (s *Handler) sendContact(c echo.Context) error {
	t := httpx.Tenant(c)
	if ok, wait := s.contactLimit.Take(t.ID+"|"+ratelimit.ClientKey(c.RealIP()), s.now()); !ok {
		httpx.SetRetryAfter(c, &ratelimit.Error{What: "too many messages", Wait: wait})
		return s.renderContact(c, http.StatusTooManyRequests, formOf(c), nil)
	}
	if c.FormValue(honeypotField) != "" {
		return c.Redirect(http.StatusSeeOther, "/contact/thanks")
	}
	f := formOf(c)
	m := &tenantdb.Message{Name: strings.TrimSpace(f.Name), Email: strings.TrimSpace(f.Email),
		Subject: strings.TrimSpace(f.Subject), Body: strings.TrimSpace(f.Body), IP: c.RealIP()}
	if errs := m.Validate(); len(errs) > 0 {
		return s.renderContact(c, http.StatusUnprocessableEntity, f, errs)
	}
	if err := s.p.CheckMessage(c.Request().Context(), httpx.DB(c).DB); err != nil {
		if errors.Is(err, platform.ErrInboxFull) {
			return s.renderContact(c, http.StatusInsufficientStorage, f, nil)
		}
		return err
	}
	ctx, db := c.Request().Context(), httpx.DB(c)
	site, err := db.Site(ctx)
	if err != nil {
		return err
	}
	// The admins who opted in get a mail, queued with the message: both
	// or neither.
	if err := db.ReceiveMessage(ctx, m, platform.ContactNotice(site.Name, httpx.BaseURL(c), m)); err != nil {
		var ve *tenantdb.ValidationError
		if errors.As(err, &ve) {
			return s.renderContact(c, http.StatusUnprocessableEntity, f, []error{err})
		}
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/contact/thanks")
}

func formOf(c echo.Context) contactForm {
	return contactForm{Name: c.FormValue("name"), Email: c.FormValue("email"),
		Subject: c.FormValue("subject"), Body: c.FormValue("body")}
}

func (s *Handler) showContactThanks(c echo.Context) error {
	p, err := s.newPage(c, "/contact", "Thank you")
	if err != nil {
		return err
	}
	return c.Render(http.StatusOK, "site/thanks.html", p)
}

// contactFrozen answers a message sent while the tenant is read-only: the
// form again, with the visitor's text kept, and why it cannot be sent now.
func (s *Handler) contactFrozen(c echo.Context) {
	t := httpx.Tenant(c)
	h, err := s.p.Pool.Acquire(c.Request().Context(), t.ID)
	if err != nil {
		s.siteErrorPage(c, http.StatusServiceUnavailable, httpx.ErrFrozen.Error())
		return
	}
	defer h.Release()
	req := httpx.From(c)
	req.DB = h
	defer func() { req.DB = nil }()
	if err := s.renderContact(c, http.StatusServiceUnavailable, formOf(c), nil); err != nil {
		s.log.Error("render contact page", "err", err)
	}
}

// telURL makes a tel: link of a phone number as people write it. It is
// only digits and a leading +, so html/template may trust it.
func telURL(phone string) template.URL {
	var b strings.Builder
	for i, r := range phone {
		if r >= '0' && r <= '9' || r == '+' && i == 0 {
			b.WriteRune(r)
		}
	}
	if b.Len() < 3 {
		return ""
	}
	return template.URL("tel:" + b.String())
}

// A visitor may send ContactBurst messages at once from one address to one
// chapter; after that one more every ContactEvery.
const (
	ContactBurst = 5
	ContactEvery = 2 * time.Minute
)
