package site

import (
	"net/http"

	"github.com/chapterhouse/chapterhouse/app/internal/web/httpx"
	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
	"github.com/labstack/echo/v4"
)

func (s *Handler) Suspended(c echo.Context, t catalog.Tenant) error {
	c.Response().Header().Set("Retry-After", "3600")
	setPageHeaders(c.Response().Header())
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.Render(http.StatusServiceUnavailable, "site/error.html", sitePage{
		Site:  tenantdb.Site{Name: t.Name, AccentColor: tenantdb.DefaultAccent},
		Title: "Temporarily unavailable",
		Data:  errorData{Message: "This chapter's website is temporarily unavailable. Please check back later."},
	})
}

// errorData is what the error page says: the message, and whether links
// into the site would help (not while the whole site is unavailable).
type errorData struct {
	Message string
	Links   bool
}

// siteErrorPage renders the tenant's themed error page: its name, colours
// and menu when its database is open, the bare name from the catalog
// otherwise.
func (s *Handler) siteErrorPage(c echo.Context, status int, msg string) {
	page := sitePage{Site: tenantdb.Site{Name: httpx.Tenant(c).Name, AccentColor: tenantdb.DefaultAccent}}
	if h := httpx.DB(c); h != nil {
		ctx := c.Request().Context()
		if site, err := h.Site(ctx); err == nil {
			page.Site = site
		}
		nav, _ := h.NavPages(ctx)
		member, _ := s.member(c)
		page.Nav, page.Member = visiblePages(nav, member != nil), member
	}
	page.Title = http.StatusText(status)
	switch status {
	case http.StatusNotFound:
		page.Title = "Page not found"
		msg = "Sorry, there is no page at this address. It may have moved, or the link may be mistyped."
	case http.StatusServiceUnavailable:
		page.Title = "Temporarily unavailable"
	}
	page.Data = errorData{Message: msg, Links: status < 500}
	h := c.Response().Header()
	setPageHeaders(h)
	h.Del("ETag")
	h.Set("Cache-Control", "no-store")
	if c.Request().Method == http.MethodHead {
		c.NoContent(status)
		return
	}
	if err := c.Render(status, "site/error.html", page); err != nil {
		s.log.Error("render error page", "err", err)
	}
}
