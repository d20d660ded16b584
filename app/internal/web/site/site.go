// Package site serves the public website of one chapter: its pages,
// feeds and calendar, media, the contact form, and a cache of rendered
// pages for anonymous visitors. It runs no script in the browser.
package site

import (
	"context"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/app/internal/ratelimit"
	"github.com/chapterhouse/chapterhouse/app/internal/render"
	"github.com/chapterhouse/chapterhouse/app/internal/web/httpx"
	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
	"github.com/chapterhouse/chapterhouse/tenantdb/pool"
)

// sitePage is what every page of a tenant's site renders from: the site
// settings and menu for the layout, the page's own head tags, and its Data.
type sitePage struct {
	Site        tenantdb.Site
	Nav         []tenantdb.Page
	Title       string
	Description string
	Path        string // for aria-current in the menu: "/", "/news", ...
	BaseURL     string // scheme://host[:port] of the request, no trailing slash
	Canonical   string // absolute URL of this page
	OGType      string // "website" or "article"
	Image       string // absolute URL of the page's image, if any
	Frozen      bool   // the tenant is read-only: forms cannot be sent
	// HasDocuments and HasAlbums add Documents and Photos to the menu.
	HasDocuments, HasAlbums bool
	Data                    any
	hero                    *picture    // from the memo, for the home page
	strip                   *albumStrip // from the memo, for the home page
}

// menuItem is one link of the site's main menu.
type menuItem struct {
	Href, Title string
	Current     bool
}

// Menu is the main menu: the fixed sections with the custom pages shown
// in the menu before Contact, the current one marked.
func (p sitePage) Menu() []menuItem {
	items := make([]menuItem, 0, 7+len(p.Nav))
	add := func(href, title string) {
		items = append(items, menuItem{Href: href, Title: title, Current: href == p.Path})
	}
	add("/", "Home")
	add("/about", "About")
	add("/news", "News")
	add("/events", "Events")
	if p.HasAlbums {
		add("/albums", "Photos")
	}
	if p.HasDocuments {
		add("/documents", "Documents")
	}
	for _, n := range p.Nav {
		add("/p/"+n.Slug, n.Title)
	}
	add("/contact", "Contact")
	return items
}

// postItem is a post as a list shows it.
type postItem struct {
	Slug, Title   string
	Date, ISODate string
	Summary       string
	Image         *picture // the post's picture, shown small
}

// postItems summarises posts for a list, and stops with ctx's error once
// the request's context ends.
func postItems(ctx context.Context, db *pool.Handle, md *render.Markdown, posts []tenantdb.Post) ([]postItem, error) {
	items := make([]postItem, len(posts))
	var ids []string
	for i, p := range posts {
		summary, err := md.SummaryContext(ctx, p.Body, 220)
		if err != nil {
			return nil, err
		}
		items[i] = postItem{Slug: p.Slug, Title: p.Title, Summary: summary}
		if p.PublishedAt != nil {
			items[i].Date = p.PublishedAt.Format("January 2, 2006")
			items[i].ISODate = p.PublishedAt.Format(time.RFC3339)
		}
		if p.ImageID != "" {
			ids = append(ids, p.ImageID)
		}
	}
	if len(ids) > 0 {
		images, err := mediaByID(ctx, db, ids)
		if err != nil {
			return nil, err
		}
		for i, p := range posts {
			if m, ok := images[p.ImageID]; ok {
				pic := newPicture(m, "small")
				items[i].Image = &pic
			}
		}
	}
	return items, nil
}

// mediaByID reads the images ids that exist: a list page's few by their
// prepared point query (cheaper than one query over a set for the home
// page's handful), a longer list in one query.
func mediaByID(ctx context.Context, db *pool.Handle, ids []string) (map[string]tenantdb.Media, error) {
	if len(ids) > 10 {
		return db.MediaByID(ctx, ids)
	}
	out := make(map[string]tenantdb.Media, len(ids))
	for _, id := range ids {
		m, err := db.Media(ctx, id)
		if errors.Is(err, tenantdb.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[id] = m
	}
	return out, nil
}

// newPage starts the page at path with what the layout needs: the site
// settings, the menu, the request's base URL and canonical address.
func (s *Handler) newPage(c echo.Context, path, title string) (sitePage, error) {
	ctx := c.Request().Context()
	memo, err := s.memo.get(ctx, httpx.Tenant(c).ID, httpx.DB(c))
	if err != nil {
		return sitePage{}, err
	}
	site, nav := memo.site, memo.nav
	base := httpx.BaseURL(c)
	p := sitePage{
		Site:         site,
		Nav:          nav,
		Title:        title,
		Description:  site.Tagline,
		Path:         path,
		BaseURL:      base,
		Canonical:    base + c.Request().URL.Path,
		OGType:       "website",
		Frozen:       httpx.Tenant(c).Status == catalog.StatusFrozen,
		HasDocuments: memo.docs,
		HasAlbums:    memo.albums,
		hero:         memo.hero,
		strip:        memo.strip,
	}
	if site.LogoID != "" {
		p.Image = base + "/media/" + site.LogoID
	}
	return p, nil
}

func (s *Handler) showHome(c echo.Context) error {
	ctx := c.Request().Context()
	db := httpx.DB(c)
	p, err := s.newPage(c, "/", "")
	if err != nil {
		return err
	}
	events, err := db.Events(ctx)
	if err != nil {
		return err
	}
	posts, err := db.LatestPosts(ctx, 3)
	if err != nil {
		return err
	}
	now := s.now()
	upcoming := upcomingOccurrences(events, now, 5)
	nextMeeting := upcomingOccurrences(meetings(events), now, 1)
	s.expireAt(c, changesAt(now, upcoming, nextMeeting))
	var next *occurrence
	if len(nextMeeting) > 0 {
		next = &nextMeeting[0]
	}
	items, err := postItems(ctx, db, s.md, posts)
	if err != nil {
		return err
	}
	p.Data = homeData{Upcoming: upcoming, NextMeeting: next, Posts: items, Hero: p.hero, Strip: p.strip}
	return c.Render(http.StatusOK, "site/home.html", p)
}

type homeData struct {
	Upcoming    []occurrence
	NextMeeting *occurrence
	Posts       []postItem
	Hero        *picture    // the site's wide photo, if it has one
	Strip       *albumStrip // the newest album's first photos
}

func (s *Handler) showAbout(c echo.Context) error {
	p, err := s.newPage(c, "/about", "About us")
	if err != nil {
		return err
	}
	officers, err := httpx.DB(c).Officers(c.Request().Context())
	if err != nil {
		return err
	}
	if text := s.md.Summary(p.Site.About, 160); text != "" {
		p.Description = text
	}
	p.Data = officers
	return c.Render(http.StatusOK, "site/about.html", p)
}

func (s *Handler) showPage(c echo.Context) error {
	page, err := httpx.DB(c).PublishedPage(c.Request().Context(), c.Param("slug"))
	if err != nil {
		return err
	}
	p, err := s.newPage(c, "/p/"+page.Slug, page.Title)
	if err != nil {
		return err
	}
	if text := s.md.Summary(page.Body, 160); text != "" {
		p.Description = text
	}
	p.Data = page
	return c.Render(http.StatusOK, "site/page.html", p)
}

// expireAt tells the page cache that what this request rendered stops
// being true at t (an event starts or ends), even without a write.
func (s *Handler) expireAt(c echo.Context, t time.Time) {
	if !t.IsZero() {
		c.Set(expiresKey, t)
	}
}

const expiresKey = "page-expires"

// initials are the first letters of the first and last word of a name,
// shown where an officer has no photo.
func initials(name string) string {
	words := strings.Fields(name)
	var out []rune
	for i, w := range words {
		if i == 0 || i == len(words)-1 {
			r, _ := utf8.DecodeRuneInString(w)
			out = append(out, r)
		}
	}
	return strings.ToUpper(string(out))
}

// Funcs are the public site's template functions.
func Funcs() template.FuncMap {
	return template.FuncMap{
		"themeVersion": func(accent string) string { return strings.TrimPrefix(render.SafeColor(accent), "#") },
		"tel":          telURL,
		"mapurl":       mapURL,
		"initials":     initials,
	}
}

// Handler serves the public site of the request's tenant.
type Handler struct {
	p   *platform.Platform
	md  *render.Markdown
	now func() time.Time
	log *slog.Logger
	// cache holds rendered public pages (nil: off); contactLimit
	// throttles contact messages per tenant and client address.
	cache        *pageCache
	contactLimit *ratelimit.Limiter
	memo         siteMemo // every page's settings and menu, by generation
}

// Deps are what the public site needs.
type Deps struct {
	Platform       *platform.Platform
	Markdown       *render.Markdown
	Now            func() time.Time
	Log            *slog.Logger
	PageCacheBytes int64 // memory for rendered pages; 0: no cache
}

// Register adds the public site's routes to g (a tenant's group).
func Register(g *echo.Group, d Deps) *Handler {
	h := &Handler{p: d.Platform, md: d.Markdown, now: d.Now, log: d.Log,
		cache:        newPageCache(d.PageCacheBytes),
		contactLimit: ratelimit.New(ContactBurst, ContactEvery, 100_000),
	}
	if h.cache != nil {
		d.Platform.Metrics.WatchPageCache(h.cache)
	}
	// The public site: security headers on everything, and the page
	// cache on what an anonymous visitor reads.
	read := []string{http.MethodGet, http.MethodHead}
	// params are the query parameters a page reads: the page cache keys
	// on those only.
	page := func(path string, handle echo.HandlerFunc, params ...string) {
		g.Match(read, path, handle, publicHeaders, h.cachePage(params...))
	}
	page("/", h.showHome)
	page("/about", h.showAbout)
	page("/news", h.showNews, "page")
	page("/news/:slug", h.showPost)
	page("/events", h.showEvents)
	page("/events/:id", h.showEvent)
	page("/contact", h.showContact)
	page("/contact/thanks", h.showContactThanks)
	page("/p/:slug", h.showPage)
	page("/theme.css", h.showTheme, "v")
	page("/feed.xml", h.showFeed)
	page("/events.ics", h.showCalendar)
	page("/sitemap.xml", h.showSitemap)
	page("/robots.txt", h.showRobots)
	g.POST("/contact", h.sendContact, publicHeaders)
	g.Match(read, "/media/:id", h.showMedia)
	g.Match(read, "/media/:id/:size", h.showMediaSize)
	page("/documents", h.showDocuments)
	page("/documents/:category", h.showDocumentCategory)
	g.Match(read, "/files/:id", h.showDocumentFile)
	page("/albums", h.showAlbums, "page")
	page("/albums/:slug", h.showAlbum)
	return h
}

// Error renders err on the public site: the contact form again, with the
// visitor's text, when a message could not be sent during a freeze; the
// tenant's themed error page otherwise.
func (s *Handler) Error(c echo.Context, err error, status int) {
	if errors.Is(err, httpx.ErrFrozen) && c.Path() == "/contact" {
		s.contactFrozen(c)
		return
	}
	s.siteErrorPage(c, status, httpx.Message(err, status))
}
