package site_test

import (
	"context"
	"fmt"
	"image/color"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/app/internal/web"
	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
	"github.com/chapterhouse/chapterhouse/tenantdb/pool"
)

// headNow is the clock of the page head tests.
var headNow = time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC)

// headSite is a tenant whose pages each say something of their own in
// the head, and one whose pages have nothing to say but the tagline.
func headSite(t *testing.T) (ts *webtest.Server, ids map[string]int64, logo string) {
	t.Helper()
	clock := webtest.NewClock(headNow)
	ts = webtest.NewEmpty(t, func(c *web.Config) { c.Now = clock.Now })
	ids = map[string]int64{}
	ctx := context.Background()
	add := func(db *tenantdb.DB, key string, e tenantdb.Event) {
		webtest.Must(t, db.SaveEvent(ctx, &e))
		ids[key] = e.ID
	}
	ts.AddTenant("full", "Full Club", func(db *tenantdb.DB) {
		m := tenantdb.Media{Name: "logo.png", Alt: "logo", ContentType: "image/png", Width: 8, Height: 8}
		webtest.Must(t, db.AddMedia(ctx, &m, platform.StarPNG(8, color.RGBA{0, 0, 0, 255})))
		logo = m.ID
		s, err := db.Site(ctx)
		webtest.Must(t, err)
		s.Tagline, s.About, s.LogoID, s.Timezone = "Tagline of the club", "We **meet** in the old hall.", m.ID, "America/Chicago"
		webtest.Must(t, db.UpdateSite(ctx, &s))
		at := headNow.Add(-time.Hour)
		webtest.Must(t, db.SavePost(ctx, &tenantdb.Post{Title: "With image", Slug: "with-image", Body: "The *post* body.", Published: true, PublishedAt: &at, ImageID: m.ID}))
		webtest.Must(t, db.SavePost(ctx, &tenantdb.Post{Title: "No image", Slug: "no-image", Published: true, PublishedAt: &at}))
		webtest.Must(t, db.SavePage(ctx, &tenantdb.Page{Title: "Hall", Slug: "hall", Body: "The hall seats 150.", Published: true}))
		webtest.Must(t, db.SavePage(ctx, &tenantdb.Page{Title: "Empty", Slug: "empty", Published: true}))
		chi, _ := time.LoadLocation("America/Chicago")
		day := time.Date(2026, 7, 4, 10, 0, 0, 0, chi)
		add(db, "one-day", tenantdb.Event{Title: "Parade", StartsAt: day, EndsAt: day.Add(2 * time.Hour), Timezone: "America/Chicago", Description: "Bring *flags*."})
		add(db, "multi-day", tenantdb.Event{Title: "Campout", StartsAt: day, EndsAt: day.Add(26 * time.Hour), Timezone: "America/Chicago"})
		ny, _ := time.LoadLocation("America/New_York")
		east := time.Date(2026, 7, 5, 10, 0, 0, 0, ny)
		add(db, "other-zone", tenantdb.Event{Title: "Trip east", StartsAt: east, EndsAt: east.Add(time.Hour), Timezone: "America/New_York"})
		old := time.Date(2026, 5, 1, 10, 0, 0, 0, chi)
		add(db, "past", tenantdb.Event{Title: "Old fair", StartsAt: old, EndsAt: old.Add(time.Hour), Timezone: "America/Chicago"})
	})
	return ts, ids, logo
}

func metaContent(body, prop string) (string, bool) {
	for _, attr := range []string{`property="` + prop + `"`, `name="` + prop + `"`} {
		i := strings.Index(body, "<meta "+attr+` content="`)
		if i < 0 {
			continue
		}
		rest := body[i+len("<meta "+attr+` content="`):]
		return rest[:strings.Index(rest, `"`)], true
	}
	return "", false
}

// TestPageHeadsSayWhatEachPageIs checks each public page's title,
// description, canonical URL, Open Graph type and image: a page's own
// summary where it has text, the tagline where it has none.
func TestPageHeadsSayWhatEachPageIs(t *testing.T) {
	ts, ids, logo := headSite(t)
	h := webtest.Host("full")
	base := "http://" + h
	for _, tc := range []struct {
		path, title, desc, ogType, image string
	}{
		{"/", "Full Club", "Tagline of the club", "website", base + "/media/" + logo},
		{"/about", "About us · Full Club", "We meet in the old hall.", "website", base + "/media/" + logo},
		{"/news", "News · Full Club", "News from Full Club.", "website", base + "/media/" + logo},
		{"/news/with-image", "With image · Full Club", "The post body.", "article", base + "/media/" + logo},
		{"/news/no-image", "No image · Full Club", "Tagline of the club", "article", base + "/media/" + logo},
		{"/p/hall", "Hall · Full Club", "The hall seats 150.", "website", base + "/media/" + logo},
		{"/p/empty", "Empty · Full Club", "Tagline of the club", "website", base + "/media/" + logo},
		{"/events", "Events · Full Club", "Meetings, ceremonies, fundraisers and socials of Full Club.", "website", base + "/media/" + logo},
		{fmt.Sprint("/events/", ids["one-day"]), "Parade · Full Club", "Bring flags.", "article", base + "/media/" + logo},
		{fmt.Sprint("/events/", ids["multi-day"]), "Campout · Full Club", "Campout, July 4, 2026", "article", base + "/media/" + logo},
		{"/contact", "Contact us · Full Club", "How to reach Full Club: address, phone, email and a message form.", "website", base + "/media/" + logo},
		{"/contact/thanks", "Thank you · Full Club", "Tagline of the club", "website", base + "/media/" + logo},
	} {
		r := ts.Get(h, tc.path)
		if r.Status != 200 {
			t.Errorf("GET %s: %d", tc.path, r.Status)
			continue
		}
		if !strings.Contains(r.Body, "<title>"+tc.title+"</title>") {
			t.Errorf("GET %s: title is not %q", tc.path, tc.title)
		}
		if got, _ := metaContent(r.Body, "description"); got != tc.desc {
			t.Errorf("GET %s: description %q, want %q", tc.path, got, tc.desc)
		}
		if got, _ := metaContent(r.Body, "og:type"); got != tc.ogType {
			t.Errorf("GET %s: og:type %q, want %q", tc.path, got, tc.ogType)
		}
		if got, _ := metaContent(r.Body, "og:image"); got != tc.image {
			t.Errorf("GET %s: og:image %q, want %q", tc.path, got, tc.image)
		}
		if got, _ := metaContent(r.Body, "og:url"); got != base+strings.Split(tc.path, "?")[0] {
			t.Errorf("GET %s: og:url %q", tc.path, got)
		}
	}
	// A site without a logo has no og:image.
	ts.AddTenant("bare", "Bare Club", nil)
	if r := ts.Get(webtest.Host("bare"), "/"); strings.Contains(r.Body, `og:image`) {
		t.Errorf("GET / of a site without a logo: an og:image")
	}
}

// TestEventPageSaysWhenAndWhere checks an event page: a one-day timed
// event shows its end as a time, a multi-day one as a date; an event in
// another zone than the site's names the zone; one that ended says so;
// ids that are not the canonical positive number are 404.
func TestEventPageSaysWhenAndWhere(t *testing.T) {
	ts, ids, _ := headSite(t)
	h := webtest.Host("full")
	get := func(key string) string {
		t.Helper()
		r := ts.Get(h, fmt.Sprint("/events/", ids[key]))
		if r.Status != 200 {
			t.Fatalf("GET event %s: %d", key, r.Status)
		}
		return r.Body
	}
	one := get("one-day")
	if !strings.Contains(one, `Saturday, July 4, 2026, 10:00 AM</time> to <time datetime="2026-07-04T12:00:00-05:00">12:00 PM</time>`) ||
		strings.Contains(one, "(CDT)") || strings.Contains(one, "has ended") {
		t.Errorf("one-day event: when is wrong:\n%s", section(one, "When"))
	}
	multi := get("multi-day")
	if !strings.Contains(multi, `to <time datetime="2026-07-05T12:00:00-05:00">Sunday, July 5, 2026, 12:00 PM</time>`) {
		t.Errorf("multi-day event: the end is not a date and time:\n%s", section(multi, "When"))
	}
	if other := get("other-zone"); !strings.Contains(other, "11:00 AM</time> (EDT)") {
		t.Errorf("an event in another zone does not name it:\n%s", section(other, "When"))
	}
	if past := get("past"); !strings.Contains(past, "(this event has ended)") {
		t.Errorf("a past event does not say it ended:\n%s", section(past, "When"))
	}
	for _, bad := range []string{"0", "-1", "+1", fmt.Sprint("0", ids["past"]), "1e3", "x"} {
		if r := ts.Get(h, "/events/"+bad); r.Status != http.StatusNotFound {
			t.Errorf("GET /events/%s: %d, want 404", bad, r.Status)
		}
	}
}

func section(body, dt string) string {
	i := strings.Index(body, "<dt>"+dt+"</dt>")
	if i < 0 {
		return "(no " + dt + ")"
	}
	return body[i:min(len(body), i+400)]
}

// TestErrorPagesAreThemedAndUncached checks the error pages: a 404 is the
// tenant's own page, with its menu and links into the site, never cached
// or tagged; a HEAD gets the status without a body; a server error and a
// suspended tenant's 503 offer no links into a site that is not there.
func TestErrorPagesAreThemedAndUncached(t *testing.T) {
	ts, _, _ := headSite(t)
	h := webtest.Host("full")
	// The page is the site's, by its settings' name (not the catalog's).
	// (Released at once: the drain below waits for every holder.)
	err := ts.Platform.WithTenant(context.Background(), "full", func(_ catalog.Tenant, db *pool.Handle) error {
		s, err := db.Site(context.Background())
		if err != nil {
			return err
		}
		s.Name = "Full Club Online"
		return db.UpdateSite(context.Background(), &s)
	})
	webtest.Must(t, err)
	r := ts.Get(h, "/no/such/page")
	if r.Status != 404 || !strings.Contains(r.Body, "<title>Page not found · Full Club Online</title>") ||
		!strings.Contains(r.Body, `<a href="/events">Events</a></li>`) || !strings.Contains(r.Body, "You might find") {
		t.Errorf("404: %d, want the themed page with links:\n%.600s", r.Status, r.Body)
	}
	if r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("ETag") != "" {
		t.Errorf("404: Cache-Control %q, ETag %q; want no-store and none", r.Header.Get("Cache-Control"), r.Header.Get("ETag"))
	}
	if r := ts.Do(http.MethodHead, h, "/no/such/page", nil); r.Status != 404 || r.Body != "" {
		t.Errorf("HEAD of a missing page: %d with %d bytes, want 404 and none", r.Status, len(r.Body))
	}
	// A server error (a table gone from the file) is themed too, but
	// offers no links into a site that fails.
	storeRaw(t, ts, "full", "DROP TABLE officers")
	r = ts.Get(h, "/about")
	if r.Status != 500 || strings.Contains(r.Body, "You might find") || !strings.Contains(r.Body, "<title>Internal Server Error · Full Club Online</title>") {
		t.Errorf("GET /about without its table: %d, want the themed 500 without links:\n%.600s", r.Status, r.Body)
	}
	_, err = ts.Platform.Catalog.SetStatus(context.Background(), "full", catalog.StatusSuspended)
	webtest.Must(t, err)
	r = ts.Get(h, "/")
	if r.Status != 503 || strings.Contains(r.Body, "You might find") || r.Header.Get("Retry-After") != "3600" ||
		r.Header.Get("Cache-Control") != "no-store" || !strings.Contains(r.Body, "<title>Temporarily unavailable · Full Club</title>") {
		t.Errorf("suspended: %d, Retry-After %q, Cache-Control %q, want 503 without links:\n%.600s", r.Status,
			r.Header.Get("Retry-After"), r.Header.Get("Cache-Control"), r.Body)
	}
}

// TestThemeCSSIsImmutableOnlyAtItsVersion: /theme.css at the version the
// pages link (the accent) may be kept for a year; any other version,
// or none, must be checked again.
func TestThemeCSSIsImmutableOnlyAtItsVersion(t *testing.T) {
	ts, _, _ := headSite(t)
	h := webtest.Host("full")
	for _, tc := range []struct{ path, want string }{
		{"/theme.css?v=" + strings.TrimPrefix(tenantdb.DefaultAccent, "#"), "public, max-age=31536000, immutable"},
		{"/theme.css?v=000000", "no-cache"},
		{"/theme.css", "no-cache"},
	} {
		r := ts.Get(h, tc.path)
		if r.Status != 200 || r.Header.Get("Cache-Control") != tc.want || !strings.Contains(r.Body, "--accent: "+tenantdb.DefaultAccent) {
			t.Errorf("GET %s: %d, Cache-Control %q, want %q", tc.path, r.Status, r.Header.Get("Cache-Control"), tc.want)
		}
	}
}
