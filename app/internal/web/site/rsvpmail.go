package site

import (
	"github.com/labstack/echo/v4"

	"github.com/chapterhouse/chapterhouse/app/internal/web/httpx"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// rsvpMail composes the mails about RSVPs to event e, queued in the
// transaction that stores the RSVP.
func (s *Handler) rsvpMail(c echo.Context, e tenantdb.Event) tenantdb.RSVPMail {
	site := tenantdb.Site{Name: httpx.Tenant(c).Name}
	if memo, err := s.memo.get(c.Request().Context(), httpx.Tenant(c).ID, httpx.DB(c)); err == nil {
		site = memo.site
	}
	return s.p.RSVPMail(site.Name, site.Email, httpx.BaseURL(c), e, func(r tenantdb.RSVP) string { return rsvpWhen(e, r.Occurrence) })
}
