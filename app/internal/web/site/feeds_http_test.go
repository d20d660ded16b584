package site_test

import (
	"context"
	"encoding/xml"
	"html"
	"strings"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/ical"
	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

func TestAtomFeed(t *testing.T) {
	ts := webtest.New(t)
	r := ts.Get(webtest.Host("demo"), "/feed.xml")
	if r.Status != 200 || r.Header.Get("Content-Type") != "application/atom+xml; charset=utf-8" {
		t.Fatalf("status %d, type %q", r.Status, r.Header.Get("Content-Type"))
	}
	var feed struct {
		XMLName xml.Name `xml:"http://www.w3.org/2005/Atom feed"`
		ID      string   `xml:"id"`
		Title   string   `xml:"title"`
		Updated string   `xml:"updated"`
		Links   []struct {
			Rel  string `xml:"rel,attr"`
			Href string `xml:"href,attr"`
		} `xml:"link"`
		Entries []struct {
			ID      string `xml:"id"`
			Title   string `xml:"title"`
			Updated string `xml:"updated"`
			Link    struct {
				Href string `xml:"href,attr"`
			} `xml:"link"`
			Content struct {
				Type string `xml:"type,attr"`
				Body string `xml:",chardata"`
			} `xml:"content"`
		} `xml:"entry"`
	}
	if err := xml.Unmarshal([]byte(r.Body), &feed); err != nil {
		t.Fatalf("feed is not well-formed Atom: %v\n%s", err, r.Body)
	}
	base := "http://" + webtest.Host("demo")
	if feed.Title != "Riverside Veterans Post 42" || feed.ID != base+"/news" {
		t.Errorf("feed title %q id %q", feed.Title, feed.ID)
	}
	if _, err := time.Parse(time.RFC3339, feed.Updated); err != nil {
		t.Errorf("updated %q: %v", feed.Updated, err)
	}
	self := false
	for _, l := range feed.Links {
		self = self || l.Rel == "self" && l.Href == base+"/feed.xml"
	}
	if !self {
		t.Errorf("no rel=self link to %s/feed.xml: %+v", base, feed.Links)
	}
	var titles []string
	for _, e := range feed.Entries {
		titles = append(titles, e.Title)
		if !strings.HasPrefix(e.Link.Href, base+"/news/") || e.ID != e.Link.Href {
			t.Errorf("entry %q: link %q id %q, want absolute %s/news/...", e.Title, e.Link.Href, e.ID, base)
		}
		if e.Content.Type != "html" || !strings.Contains(e.Content.Body, "<p>") {
			t.Errorf("entry %q: content type %q %q", e.Title, e.Content.Type, e.Content.Body)
		}
		if _, err := time.Parse(time.RFC3339, e.Updated); err != nil {
			t.Errorf("entry %q: updated %q", e.Title, e.Updated)
		}
	}
	_, past := platform.DemoSeasons(time.Now())
	want := []string{past.Ceremony + ": thank you, Riverside", "Pancake breakfast raises $4,200 for the veterans' home",
		"Scholarship applications now open", "Welcome to our new website"}
	if strings.Join(titles, "|") != strings.Join(want, "|") {
		t.Errorf("entries %q, want the published posts newest first %q", titles, want)
	}
	// Every entry links to its post's page, which shows that post.
	for _, e := range feed.Entries {
		p := ts.Get(webtest.Host("demo"), strings.TrimPrefix(e.Link.Href, base))
		if p.Status != 200 || !strings.Contains(html.UnescapeString(p.Body), e.Title) {
			t.Errorf("entry %q links to %s: %d, not its post", e.Title, e.Link.Href, p.Status)
		}
	}
}

// TestAtomFeedEscapesAndStaysOnItsTenant: a post whose title and body
// hold XML's special characters leaves the feed well-formed, its title
// exactly as written and its body's raw HTML dropped; a tenant's feed
// carries its own posts only.
func TestAtomFeedEscapesAndStaysOnItsTenant(t *testing.T) {
	ts := webtest.New(t)
	const title = `Fish & chips <night> at "the hall" ]]> 'late'`
	ts.AddTenant("other", "Other Post 7", func(db *tenantdb.DB) {
		webtest.Must(t, db.SavePost(context.Background(), &tenantdb.Post{Title: title, Body: "Bring <b>friends</b> & family", Published: true}))
	})
	r := ts.Get(webtest.Host("other"), "/feed.xml")
	if r.Status != 200 {
		t.Fatalf("status %d", r.Status)
	}
	var feed struct {
		Title   string `xml:"title"`
		Entries []struct {
			Title   string `xml:"title"`
			Content string `xml:"content"`
		} `xml:"entry"`
	}
	if err := xml.Unmarshal([]byte(r.Body), &feed); err != nil {
		t.Fatalf("feed is not well-formed: %v\n%s", err, r.Body)
	}
	if feed.Title != "Other Post 7" || len(feed.Entries) != 1 || feed.Entries[0].Title != title {
		t.Fatalf("feed %q with entries %+v, want only %q", feed.Title, feed.Entries, title)
	}
	if c := feed.Entries[0].Content; strings.Contains(c, "<b>") || !strings.Contains(c, "friends &amp; family") {
		t.Errorf("entry content %q: the body's raw HTML must not pass through, its text must", c)
	}
	if strings.Contains(r.Body, "thank you, Riverside") {
		t.Error("another tenant's post is in the feed")
	}
}

func TestSitemapAndRobots(t *testing.T) {
	ts := webtest.New(t)
	r := ts.Get(webtest.Host("demo"), "/sitemap.xml")
	if r.Status != 200 {
		t.Fatalf("status %d", r.Status)
	}
	var set struct {
		XMLName xml.Name `xml:"http://www.sitemaps.org/schemas/sitemap/0.9 urlset"`
		URLs    []struct {
			Loc     string `xml:"loc"`
			LastMod string `xml:"lastmod"`
		} `xml:"url"`
	}
	if err := xml.Unmarshal([]byte(r.Body), &set); err != nil {
		t.Fatalf("sitemap is not well-formed: %v", err)
	}
	base := "http://" + webtest.Host("demo")
	locs := map[string]bool{}
	for _, u := range set.URLs {
		locs[u.Loc] = true
		if !strings.HasPrefix(u.Loc, base+"/") {
			t.Errorf("loc %q is not absolute on %s", u.Loc, base)
		}
		if u.LastMod != "" {
			if _, err := time.Parse("2006-01-02", u.LastMod); err != nil {
				t.Errorf("lastmod %q", u.LastMod)
			}
		}
		// Every listed URL is a page that exists.
		if got := ts.Get(webtest.Host("demo"), strings.TrimPrefix(u.Loc, base)); got.Status != 200 {
			t.Errorf("sitemap lists %s, which is %d", u.Loc, got.Status)
		}
	}
	for _, want := range []string{"/", "/about", "/news", "/events", "/contact", "/p/hall-rental", "/news/welcome-to-our-new-website", "/events/1"} {
		if !locs[base+want] {
			t.Errorf("sitemap lacks %s", want)
		}
	}
	if locs[base+"/news/"+draftSlug(t, ts.DB("demo"))] {
		t.Errorf("sitemap lists the draft post")
	}
	robots := ts.Get(webtest.Host("demo"), "/robots.txt")
	if robots.Status != 200 || !strings.Contains(robots.Body, "Sitemap: "+base+"/sitemap.xml\n") ||
		!strings.HasPrefix(robots.Header.Get("Content-Type"), "text/plain") {
		t.Errorf("robots.txt: %d %q", robots.Status, robots.Body)
	}
}

// TestCalendarRoute checks that /events.ics serves the tenant's events as
// an iCalendar file: one VEVENT per stored event, with its UID, its title
// as SUMMARY and a start. The rest of the content is checked by package
// ical's tests.
func TestCalendarRoute(t *testing.T) {
	ts := webtest.New(t)
	events, err := ts.DB("demo").Events(context.Background())
	webtest.Must(t, err)
	r := ts.Get(webtest.Host("demo"), "/events.ics")
	if r.Status != 200 || r.Header.Get("Content-Type") != "text/calendar; charset=utf-8" {
		t.Fatalf("status %d, type %q", r.Status, r.Header.Get("Content-Type"))
	}
	if !strings.HasPrefix(r.Body, "BEGIN:VCALENDAR\r\n") || !strings.HasSuffix(r.Body, "END:VCALENDAR\r\n") {
		t.Fatalf("not one VCALENDAR: %.200q", r.Body)
	}
	// Unfold the lines and read each VEVENT's properties.
	body := strings.ReplaceAll(r.Body, "\r\n ", "")
	var vevents []map[string]string
	var cur map[string]string
	for _, line := range strings.Split(body, "\r\n") {
		switch {
		case line == "BEGIN:VEVENT":
			cur = map[string]string{}
		case line == "END:VEVENT":
			vevents = append(vevents, cur)
			cur = nil
		case cur != nil:
			name, value, _ := strings.Cut(line, ":")
			name, _, _ = strings.Cut(name, ";") // DTSTART;TZID=...
			cur[name] = value
		}
	}
	if len(vevents) != len(events) || len(vevents) == 0 {
		t.Fatalf("%d VEVENTs for %d events", len(vevents), len(events))
	}
	unescape := strings.NewReplacer(`\\`, `\`, `\,`, ",", `\;`, ";", `\n`, "\n", `\N`, "\n")
	byUID := map[string]map[string]string{}
	for _, v := range vevents {
		byUID[v["UID"]] = v
	}
	for _, e := range events {
		v, ok := byUID[ical.UID(e)]
		if !ok {
			t.Errorf("no VEVENT for event %d", e.ID)
			continue
		}
		if got := unescape.Replace(v["SUMMARY"]); got != e.Title {
			t.Errorf("event %d: SUMMARY %q, want its title %q", e.ID, got, e.Title)
		}
		if v["DTSTART"] == "" || v["DTSTAMP"] == "" {
			t.Errorf("event %d: DTSTART %q DTSTAMP %q", e.ID, v["DTSTART"], v["DTSTAMP"])
		}
	}
}
