package site_test

import (
	"context"
	"encoding/xml"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

type datedFeed struct {
	Updated string `xml:"updated"`
	Entries []struct {
		Title     string `xml:"title"`
		Published string `xml:"published"`
		Updated   string `xml:"updated"`
	} `xml:"entry"`
}

func readFeed(t *testing.T, ts *webtest.Server, slug string) datedFeed {
	t.Helper()
	r := ts.Get(webtest.Host(slug), "/feed.xml")
	if r.Status != 200 {
		t.Fatalf("GET %s/feed.xml: %d", slug, r.Status)
	}
	var f datedFeed
	if err := xml.Unmarshal([]byte(r.Body), &f); err != nil {
		t.Fatalf("feed: %v\n%s", err, r.Body)
	}
	return f
}

// TestFeedDates checks the feed's dates: the feed was updated when its
// latest change was (a post's edit or the site's settings, whichever is
// later), each entry carries its post's own publication and edit times,
// and a post published without a publication time counts from its
// creation. The feed holds the 20 newest of 21 posts.
func TestFeedDates(t *testing.T) {
	ts := webtest.NewEmpty(t)
	addPosts(t, ts, "dated", 21)
	storeRaw(t, ts, "dated", `UPDATE site SET updated_at = '2026-03-01T00:00:00Z'`)
	storeRaw(t, ts, "dated", `UPDATE posts SET updated_at = '2026-02-01T00:00:00Z', created_at = '2025-12-01T00:00:00Z'`)
	storeRaw(t, ts, "dated", `UPDATE posts SET updated_at = '2026-04-05T06:07:08Z' WHERE title = 'Post 10'`)
	storeRaw(t, ts, "dated", `UPDATE posts SET published_at = NULL WHERE title = 'Post 21'`)

	f := readFeed(t, ts, "dated")
	if len(f.Entries) != 20 {
		t.Fatalf("the feed of 21 posts has %d entries, want 20", len(f.Entries))
	}
	if f.Updated != "2026-04-05T06:07:08Z" {
		t.Errorf("feed updated %s, want the latest post edit 2026-04-05T06:07:08Z", f.Updated)
	}
	byTitle := map[string]int{}
	for i, e := range f.Entries {
		byTitle[e.Title] = i
	}
	if _, ok := byTitle["Post 01"]; ok {
		t.Errorf("the oldest of 21 posts is in a feed of 20")
	}
	p10 := f.Entries[byTitle["Post 10"]]
	if p10.Published != "2026-01-01T22:00:00Z" || p10.Updated != "2026-04-05T06:07:08Z" {
		t.Errorf("Post 10: published %s updated %s", p10.Published, p10.Updated)
	}
	if i, ok := byTitle["Post 21"]; !ok || f.Entries[i].Published != "2025-12-01T00:00:00Z" {
		t.Errorf("a post without a publication time: published %+v, want its creation 2025-12-01T00:00:00Z", f.Entries)
	}

	// When the settings changed last, they date the feed.
	storeRaw(t, ts, "dated", `UPDATE site SET updated_at = '2026-05-01T00:00:00Z'`)
	if f := readFeed(t, ts, "dated"); f.Updated != "2026-05-01T00:00:00Z" {
		t.Errorf("feed updated %s, want the settings' 2026-05-01T00:00:00Z", f.Updated)
	}

	// A file without settings or posts (the defaults serve) still gives a
	// valid date: the epoch, not Go's zero time in year 1.
	ts.AddTenant("blank", "Blank Club", nil)
	storeRaw(t, ts, "blank", `DELETE FROM site`)
	if f := readFeed(t, ts, "blank"); f.Updated != "1970-01-01T00:00:00Z" || len(f.Entries) != 0 {
		t.Errorf("feed of a blank file: updated %s with %d entries, want the epoch and none", f.Updated, len(f.Entries))
	}
}

// TestSitemapLastModified checks that each sitemap entry is dated by what
// it shows: the home and about pages by the settings, a post, an event,
// a page and an album by their own edits; lists carry no date. The
// library lists only public documents' categories and published public
// albums: never a members-only one, nor a category of only those.
func TestSitemapLastModified(t *testing.T) {
	ts := webtest.NewEmpty(t)
	ts.AddTenant("map", "Map Club", func(db *tenantdb.DB) {
		ctx := context.Background()
		at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		webtest.Must(t, db.SavePost(ctx, &tenantdb.Post{Title: "P", Slug: "p", Published: true, PublishedAt: &at}))
		webtest.Must(t, db.SavePost(ctx, &tenantdb.Post{Title: "Draft", Slug: "draft"}))
		webtest.Must(t, db.SavePage(ctx, &tenantdb.Page{Title: "G", Slug: "g", Published: true}))
		webtest.Must(t, db.SavePage(ctx, &tenantdb.Page{Title: "Hidden", Slug: "hidden"}))
		webtest.Must(t, db.SaveEvent(ctx, &tenantdb.Event{Title: "E", StartsAt: at, EndsAt: at.Add(time.Hour), Timezone: "UTC"}))
		// The library: only what an anonymous visitor may open is listed.
		pdf := []byte("%PDF-1.4\n%%EOF\n")
		webtest.Must(t, db.AddDocument(ctx, &tenantdb.Document{Title: "May minutes", Category: "minutes", Dated: "2026-05-12",
			Filename: "may.pdf", Visibility: tenantdb.Public}, pdf))
		webtest.Must(t, db.AddDocument(ctx, &tenantdb.Document{Title: "Bylaws", Category: "bylaws", Dated: "2026-05-12",
			Filename: "bylaws.pdf", Visibility: tenantdb.Members}, pdf))
		for _, a := range []tenantdb.Album{
			{Title: "Picnic", Slug: "picnic", Dated: "2026-05-01", Published: true, Visibility: tenantdb.Public},
			{Title: "Lodge dinner", Slug: "lodge-dinner", Dated: "2026-05-02", Published: true, Visibility: tenantdb.Members},
			{Title: "Unsorted", Slug: "unsorted", Dated: "2026-05-03", Visibility: tenantdb.Public},
		} {
			webtest.Must(t, db.SaveAlbum(ctx, &a))
		}
	})
	storeRaw(t, ts, "map", `UPDATE site SET updated_at = '2026-02-02T10:00:00Z'`)
	storeRaw(t, ts, "map", `UPDATE posts SET updated_at = '2026-03-03T23:30:00Z'`)
	storeRaw(t, ts, "map", `UPDATE pages SET updated_at = '2026-04-04T00:00:00Z'`)
	storeRaw(t, ts, "map", `UPDATE events SET updated_at = '2026-05-05T00:00:00Z'`)
	storeRaw(t, ts, "map", `UPDATE albums SET updated_at = '2026-06-06T00:00:00Z'`)
	r := ts.Get(webtest.Host("map"), "/sitemap.xml")
	var set struct {
		URLs []struct {
			Loc     string `xml:"loc"`
			LastMod string `xml:"lastmod"`
		} `xml:"url"`
	}
	if err := xml.Unmarshal([]byte(r.Body), &set); err != nil {
		t.Fatal(err)
	}
	base := "http://" + webtest.Host("map")
	var got []string
	for _, u := range set.URLs {
		got = append(got, strings.TrimPrefix(u.Loc, base)+" "+u.LastMod)
	}
	want := []string{"/ 2026-02-02", "/about 2026-02-02", "/news ", "/news/p 2026-03-03", "/events ", "/events/calendar ",
		"/events/1 2026-05-05", "/p/g 2026-04-04", "/documents ", "/documents/minutes ", "/albums ", "/albums/picnic 2026-06-06", "/contact "}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("sitemap =\n%q\nwant\n%q", got, want)
	}
}
