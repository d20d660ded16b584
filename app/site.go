package main

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// sitePage is what every page of a tenant's site renders from: the site
// settings for the layout, and the page's own Data.
type sitePage struct {
	Site        tenantdb.Site
	Nav         []tenantdb.Page
	Title       string
	Description string
	Path        string
	Data        any
}

// platformPage is what the platform's own pages render from.
type platformPage struct {
	Title string
	Data  any
}

func (s *server) showLanding(c echo.Context) error {
	return c.Render(http.StatusOK, "platform/landing.html", platformPage{})
}

func (s *server) showHome(c echo.Context) error {
	db := tenantDB(c)
	site, err := db.Site(c.Request().Context())
	if err != nil {
		return err
	}
	return c.Render(http.StatusOK, "site/home.html", sitePage{
		Site:        site,
		Description: site.Tagline,
		Path:        "/",
	})
}
