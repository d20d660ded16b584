package site

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/chapterhouse/chapterhouse/app/internal/ratelimit"
	"github.com/chapterhouse/chapterhouse/app/internal/web/httpx"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// joinData is the membership application form, as the visitor filled it
// in, with a message per bad field.
type joinData struct {
	Form    tenantdb.Application
	Errors  map[string]string
	Order   []string
	Limited bool
}

var joinLabels = map[string]string{"name": "Your name", "email": "Your email", "phone": "Phone",
	"address": "Address", "qualification": "How you qualify"}

func (s *Handler) showJoin(c echo.Context) error {
	return s.renderJoin(c, http.StatusOK, tenantdb.Application{}, nil)
}

func (s *Handler) renderJoin(c echo.Context, status int, a tenantdb.Application, errs []error) error {
	p, err := s.newPage(c, "/join", "Join us")
	if err != nil {
		return err
	}
	d := joinData{Form: a, Errors: map[string]string{}, Limited: status == http.StatusTooManyRequests}
	for _, err := range errs {
		if ve, ok := errors.AsType[*tenantdb.ValidationError](err); ok {
			if _, seen := d.Errors[ve.Field]; !seen {
				d.Order = append(d.Order, ve.Field)
			}
			label := joinLabels[ve.Field]
			if label == "" {
				label = ve.Field
			}
			d.Errors[ve.Field] = label + " " + ve.Message + "."
		}
	}
	p.Description = "Apply to join " + p.Site.Name + "."
	p.Data = d
	return c.Render(status, "site/join.html", p)
}

// sendJoin: POST /join stores an application for the chapter's admins to
// approve, then redirects to a thank-you page. Spam is kept out as on the
// contact form: a throttle per client and chapter, and a honeypot field
// that gets the same answer and stores nothing.
func (s *Handler) sendJoin(c echo.Context) error {
	a := tenantdb.Application{Name: c.FormValue("name"), Email: c.FormValue("email"), Phone: c.FormValue("phone"),
		Address: c.FormValue("address"), Qualification: c.FormValue("qualification"), IP: c.RealIP()}
	t := httpx.Tenant(c)
	if ok, wait := s.contactLimit.Take(t.ID+"|join|"+ratelimit.ClientKey(c.RealIP()), s.now()); !ok {
		httpx.SetRetryAfter(c, &ratelimit.Error{What: "too many applications", Wait: wait})
		return s.renderJoin(c, http.StatusTooManyRequests, a, nil)
	}
	if c.FormValue(honeypotField) != "" {
		return c.Redirect(http.StatusSeeOther, "/join/thanks")
	}
	if errs := a.Validate(); len(errs) > 0 {
		return s.renderJoin(c, http.StatusUnprocessableEntity, a, errs)
	}
	if err := s.p.CheckMessage(c.Request().Context(), httpx.DB(c).DB); err != nil {
		return err
	}
	if err := httpx.DB(c).ReceiveApplication(c.Request().Context(), &a, httpx.BaseURL(c)); err != nil {
		if _, ok := errors.AsType[*tenantdb.ValidationError](err); ok {
			return s.renderJoin(c, http.StatusUnprocessableEntity, a, []error{err})
		}
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/join/thanks")
}

func (s *Handler) showJoinThanks(c echo.Context) error {
	p, err := s.newPage(c, "/join", "Thank you")
	if err != nil {
		return err
	}
	return c.Render(http.StatusOK, "site/join_thanks.html", p)
}
