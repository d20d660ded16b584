package main

import (
	"context"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// TestDashboardListsShowTimesInTheChaptersZoneAndRulesInWords fills a
// chapter in Asia/Tokyo with one of everything: every dashboard list shows
// its times in that zone (as the editors do), never UTC; an event's rule
// in words, never the RRULE; counts of one in the singular; and the only
// owner is not offered "Remove" on themselves.
func TestDashboardListsShowTimesInTheChaptersZoneAndRulesInWords(t *testing.T) {
	ts := webtest.NewEmpty(t)
	email, pw := ts.NewTenant(t, "tokyo")
	ctx := context.Background()
	db := ts.DB("tokyo")
	site, err := db.Site(ctx)
	webtest.Must(t, err)
	site.Timezone = "Asia/Tokyo"
	webtest.Must(t, db.UpdateSite(ctx, &site))
	at := time.Date(2026, 1, 10, 15, 0, 0, 0, time.UTC) // Jan 11, 12:00 AM in Tokyo
	webtest.Must(t, db.SavePost(ctx, &tenantdb.Post{Title: "Published", Body: "x", Published: true, PublishedAt: &at}))
	webtest.Must(t, db.SavePost(ctx, &tenantdb.Post{Title: "Draft", Body: "x"}))
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	start := time.Date(2026, 1, 13, 19, 0, 0, 0, tokyo)
	webtest.Must(t, db.SaveEvent(ctx, &tenantdb.Event{Title: "Meeting", StartsAt: start, EndsAt: start.Add(time.Hour),
		Timezone: "Asia/Tokyo", RRule: "FREQ=MONTHLY;BYDAY=2TU"}))
	webtest.Must(t, db.AddMessage(ctx, &tenantdb.Message{Name: "Visitor", Email: "v@example.org", Subject: "Hi", Body: "Hello there"}))

	c := ts.Browser()
	host := webtest.Host("tokyo")
	ts.DashLogin(t, c, host, email, pw)
	page := func(path string) string {
		t.Helper()
		p := ts.Form(t, c, host, path, nil)
		if p.Status != http.StatusOK {
			t.Fatalf("GET %s: %d", path, p.Status)
		}
		return p.Body
	}
	for _, tc := range []struct{ path, want string }{
		{"/admin/posts", "Jan 11, 2026 12:00 AM JST"},
		{"/admin/events", "Jan 13, 2026 7:00 PM JST"},
		{"/admin/events", "The second Tuesday of every month, 7:00 PM"},
		{"/admin/messages", " JST"},
		{"/admin/admins", " JST"},
		{"/admin", " JST"},
	} {
		body := page(tc.path)
		if !strings.Contains(body, tc.want) {
			t.Errorf("%s does not show %q", tc.path, tc.want)
		}
		if strings.Contains(body, " UTC") || strings.Contains(body, "FREQ=") {
			t.Errorf("%s shows UTC or a raw RRULE", tc.path)
		}
	}
	if m := regexp.MustCompile(`>1</span> [a-z ]*s<|\b1 [a-z]+s\b`).FindString(page("/admin")); m != "" {
		t.Errorf("the dashboard says %q of one thing", m)
	}
	removeButtons := regexp.MustCompile(`>Remove</button>`)
	if n := len(removeButtons.FindAllString(page("/admin/admins"), -1)); n != 0 {
		t.Errorf("the only owner is offered Remove %d time(s)", n)
	}
	ts.AddAdmin(t, "tokyo", "second@tokyo.example.org", tenantdb.RoleOwner, "a long enough password 1")
	if n := len(removeButtons.FindAllString(page("/admin/admins"), -1)); n != 2 {
		t.Errorf("with two owners, %d Remove buttons, want 2", n)
	}
}

// TestEveryLayoutsStylesheetsAndIconLoad fetches a page of each layout (a
// chapter's site and dashboard, the platform's landing page and the page
// of an unknown host) and every stylesheet and icon it links, on the same
// host: each answers 200, and the icon is an SVG with a cache lifetime.
func TestEveryLayoutsStylesheetsAndIconLoad(t *testing.T) {
	ts := webtest.New(t)
	links := regexp.MustCompile(`<link rel="(stylesheet|icon)" href="([^"]+)"`)
	for _, tc := range []struct{ name, host, path string }{
		{"site", webtest.Host("demo"), "/"},
		{"dashboard", webtest.Host("demo"), "/admin/login"},
		{"landing", webtest.Base, "/"},
		{"unknown host", webtest.Host("nosuch"), "/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page := ts.Get(tc.host, tc.path)
			icons := 0
			for _, m := range links.FindAllStringSubmatch(page.Body, -1) {
				r := ts.Get(tc.host, m[2])
				if r.Status != http.StatusOK {
					t.Errorf("%s%s links %s %s, which answers %d", tc.host, tc.path, m[1], m[2], r.Status)
				}
				if m[1] == "icon" {
					icons++
					if ct, cc := r.Header.Get("Content-Type"), r.Header.Get("Cache-Control"); ct != "image/svg+xml" || !strings.Contains(cc, "max-age=") {
						t.Errorf("icon %s: Content-Type %q, Cache-Control %q", m[2], ct, cc)
					}
				}
			}
			if icons != 1 {
				t.Errorf("%s%s links %d icons, want 1", tc.host, tc.path, icons)
			}
		})
	}
}

// TestPublicPagesNeverSkipAHeadingLevel walks the demo chapter's public
// pages: each starts at one h1 and never goes down more than one level at
// a time (h1 then h3 is what screen readers and Lighthouse flag).
func TestPublicPagesNeverSkipAHeadingLevel(t *testing.T) {
	ts := webtest.New(t)
	for _, path := range demoPublicPages(t, ts.Client) {
		_, body := ts.Fetch(t, "demo", path)
		prev := 0
		for _, m := range regexp.MustCompile(`<h([1-6])[\s>]`).FindAllStringSubmatch(body, -1) {
			level, _ := strconv.Atoi(m[1])
			if (prev == 0 && level != 1) || level > prev+1 {
				t.Errorf("%s: h%d after h%d", path, level, prev)
			}
			prev = level
		}
		if prev == 0 {
			t.Errorf("%s has no headings", path)
		}
	}
}

// demoPublicPages is a path of each kind of public page of the demo
// chapter: home, news, a post, events, an event, about, contact, a page,
// the membership application, the member login, albums, documents, the
// month grid, past officers and an event's RSVP form.
func demoPublicPages(t testing.TB, cl webtest.Client) []string {
	t.Helper()
	paths := []string{"/", "/news", "/events", "/about", "/contact", "/albums", "/documents", "/join", "/members/login"}
	first := func(page, pattern string) {
		t.Helper()
		_, body := cl.Fetch(t, "demo", page)
		m := regexp.MustCompile(pattern).FindString(body)
		if m == "" {
			t.Fatalf("%s links no %s", page, pattern)
		}
		paths = append(paths, m)
	}
	first("/news", `/news/[a-z0-9-]+`)
	first("/events", `/events/[0-9]+`)
	event := paths[len(paths)-1]
	first("/", `/p/[a-z0-9-]+`)
	first("/albums", `/albums/[a-z0-9-]+`)
	first("/documents", `/documents/[a-z]+`)
	// Issue 15's pages: the month grid, past officers, an RSVP form.
	first("/events", `/events/calendar`)
	first("/about", `/about/past-officers`)
	first(event, `/events/[0-9]+/rsvp\?date=[0-9-]+`)
	return paths
}
