package site

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/chapterhouse/chapterhouse/app/internal/ical"
	"github.com/chapterhouse/chapterhouse/app/internal/web/httpx"
	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/pool"
)

// The Atom feed carries the feedSize latest posts, fewer if their content
// would pass feedBytes: a feed stays a feed even when every post is as
// long as a post may be.
const (
	feedSize  = 20
	feedBytes = 1 << 20
)

type atomFeed struct {
	XMLName xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
	Base    string      `xml:"xml:base,attr"`
	ID      string      `xml:"id"`
	Title   string      `xml:"title"`
	Sub     string      `xml:"subtitle,omitempty"`
	Updated string      `xml:"updated"`
	Links   []atomLink  `xml:"link"`
	Author  atomPerson  `xml:"author"`
	Entries []atomEntry `xml:"entry"`
}

type atomLink struct {
	Rel  string `xml:"rel,attr,omitempty"`
	Type string `xml:"type,attr,omitempty"`
	Href string `xml:"href,attr"`
}

type atomPerson struct {
	Name string `xml:"name"`
}

type atomEntry struct {
	ID        string   `xml:"id"`
	Title     string   `xml:"title"`
	Link      atomLink `xml:"link"`
	Published string   `xml:"published"`
	Updated   string   `xml:"updated"`
	Summary   string   `xml:"summary,omitempty"`
	Content   atomText `xml:"content"`
}

type atomText struct {
	Type string `xml:"type,attr"`
	Body string `xml:",chardata"`
}

// showFeed is an Atom feed of the latest published posts. Links are
// absolute on the request's host; the posts' own relative links (to
// /media/...) resolve through xml:base. It renders nothing more once the
// request's context ends (the client left): the error is not cached.
func (s *Handler) showFeed(c echo.Context) error {
	ctx := c.Request().Context()
	db := httpx.DB(c)
	site, err := db.Site(ctx)
	if err != nil {
		return err
	}
	posts, _, err := db.Posts(ctx, tenantdb.PostQuery{PublishedOnly: true, PublicOnly: true, Limit: feedSize})
	if err != nil {
		return err
	}
	base := httpx.BaseURL(c)
	f := atomFeed{
		Base:  base + "/",
		ID:    base + "/news",
		Title: site.Name,
		Sub:   site.Tagline,
		Links: []atomLink{
			{Rel: "self", Type: "application/atom+xml", Href: base + "/feed.xml"},
			{Rel: "alternate", Type: "text/html", Href: base + "/news"},
		},
		Author: atomPerson{Name: site.Name},
	}
	updated := site.UpdatedAt
	size := 0
	for _, p := range posts {
		content, err := s.md.HTMLContext(ctx, p.Body)
		if err != nil {
			return err
		}
		if size += len(content); size > feedBytes && len(f.Entries) > 0 {
			break
		}
		summary, err := s.md.SummaryContext(ctx, p.Body, 300)
		if err != nil {
			return err
		}
		published := p.CreatedAt
		if p.PublishedAt != nil {
			published = *p.PublishedAt
		}
		if p.UpdatedAt.After(updated) {
			updated = p.UpdatedAt
		}
		f.Entries = append(f.Entries, atomEntry{
			ID:        fmt.Sprintf("%s/news/%s", base, p.Slug),
			Title:     p.Title,
			Link:      atomLink{Rel: "alternate", Type: "text/html", Href: base + "/news/" + p.Slug},
			Published: published.UTC().Format(time.RFC3339),
			Updated:   p.UpdatedAt.UTC().Format(time.RFC3339),
			Summary:   summary,
			Content:   atomText{Type: "html", Body: string(content)},
		})
	}
	if updated.IsZero() {
		updated = time.Unix(0, 0)
	}
	f.Updated = updated.UTC().Format(time.RFC3339)
	return writeXML(c, "application/atom+xml; charset=utf-8", f)
}

type urlSet struct {
	XMLName xml.Name     `xml:"http://www.sitemaps.org/schemas/sitemap/0.9 urlset"`
	URLs    []sitemapURL `xml:"url"`
}

type sitemapURL struct {
	Loc     string `xml:"loc"`
	LastMod string `xml:"lastmod,omitempty"`
}

// showSitemap lists every public page of the tenant, with absolute URLs.
// Like the feeds, it is the same for everyone and has no members-only
// item: it is read by crawlers and feed readers, which log in to nothing.
func (s *Handler) showSitemap(c echo.Context) error {
	ctx := c.Request().Context()
	db := httpx.DB(c)
	base := httpx.BaseURL(c)
	site, err := db.Site(ctx)
	if err != nil {
		return err
	}
	posts, total, err := db.Posts(ctx, tenantdb.PostQuery{PublishedOnly: true, PublicOnly: true, Limit: 50000, WithoutBody: true})
	if err != nil {
		return err
	}
	pages, err := db.Pages(ctx, true)
	if err != nil {
		return err
	}
	pages = visiblePages(pages, false)
	events, err := db.Events(ctx)
	if err != nil {
		return err
	}
	events = visibleEvents(events, false)
	day := func(t time.Time) string { return t.UTC().Format("2006-01-02") }
	set := urlSet{URLs: []sitemapURL{
		{Loc: base + "/", LastMod: day(site.UpdatedAt)},
		{Loc: base + "/about", LastMod: day(site.UpdatedAt)},
		{Loc: base + "/news"},
	}}
	officers, err := db.Officers(ctx)
	if err != nil {
		return err
	}
	if _, _, past := tenantdb.OfficerTerms(officers, s.now().In(zone(site.Timezone)).Format(tenantdb.DateLayout)); len(past) > 0 {
		set.URLs = append(set.URLs, sitemapURL{Loc: base + "/about/past-officers"})
	}
	for n := 2; (n-1)*newsPerPage < total; n++ {
		set.URLs = append(set.URLs, sitemapURL{Loc: fmt.Sprintf("%s/news?page=%d", base, n)})
	}
	for _, p := range posts {
		set.URLs = append(set.URLs, sitemapURL{Loc: base + "/news/" + p.Slug, LastMod: day(p.UpdatedAt)})
	}
	set.URLs = append(set.URLs, sitemapURL{Loc: base + "/events"}, sitemapURL{Loc: base + "/events/calendar"})
	for _, e := range events {
		set.URLs = append(set.URLs, sitemapURL{Loc: fmt.Sprintf("%s/events/%d", base, e.ID), LastMod: day(e.UpdatedAt)})
	}
	for _, p := range pages {
		set.URLs = append(set.URLs, sitemapURL{Loc: base + "/p/" + p.Slug, LastMod: day(p.UpdatedAt)})
	}
	library, err := publicLibrary(ctx, db, base, day)
	if err != nil {
		return err
	}
	set.URLs = append(set.URLs, library...)
	set.URLs = append(set.URLs, sitemapURL{Loc: base + "/contact"})
	return writeXML(c, "application/xml; charset=utf-8", set)
}

// publicLibrary is the sitemap's part of the library: the documents page
// and each category with a public document, the albums page and each
// published public album. Members-only documents and albums are never
// listed, nor is a category holding only those. The files themselves
// (/files/:id) are not listed: they are downloads, linked from their
// category's page.
func publicLibrary(ctx context.Context, db *pool.Handle, base string, day func(time.Time) string) ([]sitemapURL, error) {
	var urls []sitemapURL
	counts, err := db.DocumentCounts(ctx, false)
	if err != nil {
		return nil, err
	}
	for _, cat := range tenantdb.DocumentCategories {
		if counts[cat.Name] == 0 {
			continue
		}
		if len(urls) == 0 {
			urls = append(urls, sitemapURL{Loc: base + "/documents"})
		}
		urls = append(urls, sitemapURL{Loc: base + "/documents/" + cat.Name})
	}
	albums, err := db.Albums(ctx, true, false, tenantdb.Window{Limit: 50000})
	if err != nil {
		return nil, err
	}
	if len(albums) > 0 {
		urls = append(urls, sitemapURL{Loc: base + "/albums"})
	}
	for _, a := range albums {
		urls = append(urls, sitemapURL{Loc: base + "/albums/" + a.Slug, LastMod: day(a.UpdatedAt)})
	}
	return urls, nil
}

// showRobots lets crawlers read the public site, keeps them out of the
// admin and the API, and points them at the sitemap.
func (s *Handler) showRobots(c echo.Context) error {
	body := "User-agent: *\nAllow: /\nDisallow: /admin\nDisallow: /api/\nDisallow: /contact/thanks\nDisallow: /members\nDisallow: /join/thanks\n\nSitemap: " +
		httpx.BaseURL(c) + "/sitemap.xml\n"
	c.Response().Header().Set("Cache-Control", "no-cache")
	return c.Blob(http.StatusOK, "text/plain; charset=utf-8", []byte(body))
}

func writeXML(c echo.Context, contentType string, v any) error {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", " ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	b.WriteByte('\n')
	c.Response().Header().Set("Cache-Control", "no-cache")
	c.Response().Header().Set("X-Content-Type-Options", "nosniff")
	return c.Blob(http.StatusOK, contentType, b.Bytes())
}

// showCalendar serves every public event of the tenant as one iCalendar file.
// Timed events carry their TZID (recurring ones repeat at the same wall
// clock time there, as on the site) with a VTIMEZONE for each zone used.
func (s *Handler) showCalendar(c echo.Context) error {
	ctx := c.Request().Context()
	db := httpx.DB(c)
	site, err := db.Site(ctx)
	if err != nil {
		return err
	}
	events, err := db.Events(ctx)
	if err != nil {
		return err
	}
	events = visibleEvents(events, false)
	cal := ical.Write(ical.Calendar{
		Name:     site.Name,
		Timezone: site.Timezone,
		BaseURL:  httpx.BaseURL(c),
		Events:   events,
		Now:      s.now(),
	})
	h := c.Response().Header()
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Disposition", `inline; filename="events.ics"`)
	return c.Blob(http.StatusOK, "text/calendar; charset=utf-8", cal)
}
