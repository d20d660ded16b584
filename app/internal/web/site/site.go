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
	"sync"
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
	Banner      string // the site's announcement, while it is on
	// HasDocuments and HasAlbums add Documents and Photos to the menu.
	HasDocuments, HasAlbums bool
	// Member is the logged-in member of this chapter, nil for anyone else;
	// CSRF the token of their forms (the layout's logout button).
	Member *tenantdb.Member
	CSRF   string
	Data   any
	// Chrome is the page's header and footer, rendered once per database
	// generation (see chromeFor); empty, the layout renders them itself.
	Chrome chrome
	// hero and strip are the home page's photo and album strip, made
	// once in the memo.
	hero, strip template.HTML
}

// menuItem is one link of the site's main menu.
type menuItem struct {
	Href, Title string
	Current     bool
}

// Menu is the main menu: the fixed sections with the custom pages shown
// in the menu (and Members, for a logged-in member) before Contact, the
// current one marked.
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
	if p.Member != nil {
		add("/members", "Members")
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
// settings, the menu (without the members-only pages unless a member of
// this chapter is logged in), the request's base URL and canonical address.
func (s *Handler) newPage(c echo.Context, path, title string) (sitePage, error) {
	ctx := c.Request().Context()
	memo, err := s.memo.get(ctx, httpx.Tenant(c).ID, httpx.DB(c))
	if err != nil {
		return sitePage{}, err
	}
	site, nav := memo.site, memo.nav
	member, err := s.member(c)
	if err != nil {
		return sitePage{}, err
	}
	base := httpx.BaseURL(c)
	p := sitePage{
		Site:         site,
		Nav:          visiblePages(nav, member != nil),
		Member:       member,
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
	if member != nil {
		p.CSRF = memberCSRF(c)
	}
	if site.BannerShown(s.now()) {
		p.Banner = site.Banner
		if site.BannerUntil != nil {
			s.expireAt(c, *site.BannerUntil)
		}
	}
	if s.views != nil {
		if p.Chrome, err = s.chromeFor(httpx.Tenant(c).ID, memo.gen, p); err != nil {
			return sitePage{}, err
		}
	}
	return p, nil
}

// chrome is a page's header (brand, menu, banner) and footer as HTML.
type chrome struct {
	Header, Footer template.HTML
}

// chromeSet is one generation's chrome of a tenant: the footer, and a
// header per menu path and banner state (a few dozen at most: the paths
// are the site's sections and its menu pages).
type chromeSet struct {
	mu      sync.Mutex
	footer  template.HTML
	headers map[string]template.HTML
}

// chromeFor returns p's header and footer from the memo of the tenant's
// generation gen. They depend only on what that generation holds
// (settings, menu pages, shelves), the menu's path, whether the banner is
// shown and whether the visitor is a member (the menu then has the
// members-only pages), so they are rendered once, not at every request:
// html/template's execution was half of an uncached page's CPU. A member's
// footer holds the session's CSRF token: it is left to the layout.
func (s *Handler) chromeFor(id string, gen uint64, p sitePage) (chrome, error) {
	set, err := s.chromeMemo.get(id, gen, func() (*chromeSet, error) {
		anon := p // the footer of every visitor but a member, whoever comes first
		anon.Member, anon.CSRF = nil, ""
		footer, err := s.views.Fragment("site/home.html", "sitefooter", anon)
		if err != nil {
			return nil, err
		}
		return &chromeSet{footer: footer, headers: make(map[string]template.HTML)}, nil
	})
	if err != nil {
		return chrome{}, err
	}
	key := p.Path
	if p.Banner != "" {
		key += "\x00banner"
	}
	if p.Member != nil {
		key += "\x00member"
	}
	set.mu.Lock()
	header, ok := set.headers[key]
	set.mu.Unlock()
	if !ok {
		if header, err = s.views.Fragment("site/home.html", "siteheader", p); err != nil {
			return chrome{}, err
		}
		set.mu.Lock()
		set.headers[key] = header
		set.mu.Unlock()
	}
	if p.Member != nil {
		return chrome{Header: header}, nil
	}
	return chrome{Header: header, Footer: set.footer}, nil
}

func (s *Handler) showHome(c echo.Context) error {
	ctx := c.Request().Context()
	db := httpx.DB(c)
	p, err := s.newPage(c, "/", "")
	if err != nil {
		return err
	}
	member := p.Member != nil
	home, err := s.homeMemo.get(httpx.Tenant(c).ID, db.Generation(), func() (homeParts, error) {
		return s.loadHome(ctx, db)
	})
	if err != nil {
		return err
	}
	events, items, itemsHTML := home.events, home.posts, home.postsHTML
	if !home.kept {
		if events, err = db.Events(ctx); err != nil {
			return err
		}
	}
	events = visibleEvents(events, member)
	if member {
		posts, err := db.LatestPosts(ctx, homePosts, false)
		if err != nil {
			return err
		}
		if items, err = postItems(ctx, db, s.md, posts); err != nil {
			return err
		}
		itemsHTML = ""
	}
	now := s.now()
	upcoming := upcomingOccurrences(events, now, 5)
	nextMeeting := upcomingOccurrences(meetings(events), now, 1)
	s.expireAt(c, changesAt(now, upcoming, nextMeeting))
	var next *occurrence
	if len(nextMeeting) > 0 {
		next = &nextMeeting[0]
	}
	p.Data = homeData{Upcoming: upcoming, NextMeeting: next, Posts: items, PostsHTML: itemsHTML, Hero: p.hero, Strip: p.strip}
	return c.Render(http.StatusOK, "site/home.html", p)
}

// homePosts is how many of the latest posts the home page shows.
const homePosts = 3

// homeParts is what the home page reads that only a write changes: every
// event (the page picks the upcoming ones at each request, and a member's
// view keeps the members-only ones) and the latest public posts as the
// list shows them.
type homeParts struct {
	events    []tenantdb.Event
	kept      bool // events holds every event: a chapter with more reads them per request
	posts     []postItem
	postsHTML template.HTML // posts as the home page lists them
}

// homeEventsKept bounds the events a tenant's home memo holds (a few
// hundred bytes each), so that the memo of 1,024 tenants stays small.
const homeEventsKept = 200

func (s *Handler) loadHome(ctx context.Context, db *pool.Handle) (homeParts, error) {
	events, err := db.Events(ctx)
	if err != nil {
		return homeParts{}, err
	}
	posts, err := db.LatestPosts(ctx, homePosts, true)
	if err != nil {
		return homeParts{}, err
	}
	items, err := postItems(ctx, db, s.md, posts)
	if err != nil {
		return homeParts{}, err
	}
	home := homeParts{posts: items}
	if s.views != nil && len(items) > 0 {
		if home.postsHTML, err = s.views.Fragment("site/home.html", "postlist", items); err != nil {
			return homeParts{}, err
		}
	}
	if len(events) <= homeEventsKept {
		home.events, home.kept = events, true
	}
	return home, nil
}

type homeData struct {
	Upcoming    []occurrence
	NextMeeting *occurrence
	Posts       []postItem
	PostsHTML   template.HTML // Posts rendered, for anonymous visitors: once per generation
	Hero        template.HTML // the site's wide photo's <img>, if it has one
	Strip       template.HTML // the section of the newest album's first photos, if any
}

// aboutData is the about page's officers: those in office today, those
// taking office later, and when the next changeover is.
type aboutData struct {
	Officers, Incoming []tenantdb.Officer
	IncomingFrom       string // "July 1, 2027": the first incoming term's start
	Changeover         string // "July 1, 2027": the site's next changeover day
	HasPast            bool
}

// officerDay is today in the chapter's time zone, and when it ends.
func (s *Handler) officerDay(site tenantdb.Site) (day string, ends time.Time) {
	now := s.now().In(zone(site.Timezone))
	return now.Format(tenantdb.DateLayout), time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, now.Location())
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
	day, ends := s.officerDay(p.Site)
	var d aboutData
	var past []tenantdb.Officer
	d.Officers, d.Incoming, past = tenantdb.OfficerTerms(officers, day)
	d.HasPast = len(past) > 0
	if len(d.Incoming) > 0 {
		from := d.Incoming[0].TermFrom
		for _, o := range d.Incoming {
			from = min(from, o.TermFrom)
		}
		if t, err := time.Parse(tenantdb.DateLayout, from); err == nil {
			d.IncomingFrom = t.Format("January 2, 2006")
		}
	}
	if t, ok := p.Site.NextChangeover(day); ok {
		d.Changeover = t.Format("January 2, 2006")
	}
	// Terms begin and end with the day: the page changes at midnight.
	s.expireAt(c, ends)
	p.Data = d
	return c.Render(http.StatusOK, "site/about.html", p)
}

// pastTerm is a past officer with the term in words.
type pastTerm struct {
	tenantdb.Officer
	Term string // "July 2025 – June 2026"
}

func (s *Handler) showPastOfficers(c echo.Context) error {
	p, err := s.newPage(c, "/about", "Past officers")
	if err != nil {
		return err
	}
	officers, err := httpx.DB(c).Officers(c.Request().Context())
	if err != nil {
		return err
	}
	day, ends := s.officerDay(p.Site)
	_, _, past := tenantdb.OfficerTerms(officers, day)
	terms := make([]pastTerm, len(past))
	for i, o := range past {
		terms[i] = pastTerm{Officer: o, Term: termWords(o.TermFrom, o.TermTo)}
	}
	s.expireAt(c, ends)
	p.Description = "The past officers of " + p.Site.Name + " and their terms."
	p.Data = terms
	return c.Render(http.StatusOK, "site/past_officers.html", p)
}

// termWords is a term in words: "July 2025 – June 2026", "until June 2026".
func termWords(from, to string) string {
	month := func(d string) string {
		t, err := time.Parse(tenantdb.DateLayout, d)
		if err != nil {
			return ""
		}
		return t.Format("January 2006")
	}
	switch {
	case from != "" && to != "":
		return month(from) + " – " + month(to)
	case to != "":
		return "until " + month(to)
	}
	return ""
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
	if !page.Visibility.VisibleTo(p.Member != nil) {
		return echo.ErrNotFound
	}
	if text := s.md.Summary(page.Body, 160); text != "" {
		p.Description = text
	}
	p.Data = page
	return c.Render(http.StatusOK, "site/page.html", p)
}

// expireAt tells the page cache that what this request rendered stops
// being true at t (an event starts or ends, the banner ends), even without
// a write. Of several such times the earliest counts.
func (s *Handler) expireAt(c echo.Context, t time.Time) {
	if t.IsZero() {
		return
	}
	if prev, ok := c.Get(expiresKey).(time.Time); ok && prev.Before(t) {
		return
	}
	c.Set(expiresKey, t)
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
	homeMemo     genMemo[homeParts]
	chromeMemo   genMemo[*chromeSet]
	views        *render.Renderer // for the chrome; nil renders it in every page
	visits       visitCounter     // the salt of the day of the visit statistics
}

// Deps are what the public site needs.
type Deps struct {
	Platform       *platform.Platform
	Markdown       *render.Markdown
	Now            func() time.Time
	Log            *slog.Logger
	PageCacheBytes int64 // memory for rendered pages; 0: no cache
	// Views renders the pages' header and footer once per generation.
	Views *render.Renderer
}

// Register adds the public site's routes to g (a tenant's group).
func Register(g *echo.Group, d Deps) *Handler {
	h := &Handler{p: d.Platform, md: d.Markdown, now: d.Now, log: d.Log, views: d.Views,
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
	// A page people read is counted in the visit statistics, cached or not.
	counted := func(path string, handle echo.HandlerFunc, params ...string) {
		g.Match(read, path, handle, publicHeaders, h.countVisit, h.cachePage(params...))
	}
	counted("/", h.showHome)
	counted("/about", h.showAbout)
	counted("/about/past-officers", h.showPastOfficers)
	counted("/news", h.showNews, "page")
	counted("/news/:slug", h.showPost)
	counted("/events", h.showEvents)
	counted("/events/calendar", h.showMonth, "month")
	counted("/events/:id", h.showEvent)
	counted("/contact", h.showContact)
	page("/contact/thanks", h.showContactThanks)
	counted("/p/:slug", h.showPage)
	// The RSVP form and a visitor's own RSVP are never cached.
	g.Match(read, "/events/:id/rsvp", h.showRSVPForm, publicHeaders)
	g.POST("/events/:id/rsvp", h.sendRSVP, publicHeaders, httpx.NeedsRoom(h.p))
	g.Match(read, "/rsvp/:token", h.showRSVP, publicHeaders)
	g.POST("/rsvp/:token/cancel", h.cancelRSVP, publicHeaders)
	page("/theme.css", h.showTheme, "v")
	page("/feed.xml", h.showFeed)
	page("/events.ics", h.showCalendar)
	page("/sitemap.xml", h.showSitemap)
	page("/robots.txt", h.showRobots)
	g.POST("/contact", h.sendContact, publicHeaders)
	// Membership: the application form (cached like any public page),
	// and the members' own pages and login, never cached.
	page("/join", h.showJoin)
	page("/join/thanks", h.showJoinThanks)
	g.POST("/join", h.sendJoin, publicHeaders)
	g.Match(read, "/members/login", h.showMemberLogin, publicHeaders)
	g.POST("/members/login", h.sendMemberLink, publicHeaders)
	g.Match(read, "/members/login/:token", h.showMemberLink, publicHeaders)
	g.POST("/members/login/:token", h.useMemberLink, publicHeaders)
	g.POST("/members/logout", h.memberLogout, publicHeaders, h.requireMember)
	g.Match(read, "/members", h.showMembers, publicHeaders, h.requireMember)
	g.POST("/members/profile", h.saveProfile, publicHeaders, h.requireMember)
	g.Match(read, "/members/directory", h.showDirectory, publicHeaders, h.requireMember)
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
