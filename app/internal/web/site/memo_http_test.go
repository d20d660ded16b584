package site_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/web"
	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// TestUncachedPagesFollowWrites serves pages with the page cache off, so
// that each is rendered from the generation memos (the header and footer,
// the home page's events and latest news): every write shows on the next
// page, in the header, the footer and the home page's lists, and a
// member's header and footer never reach an anonymous visitor.
func TestUncachedPagesFollowWrites(t *testing.T) {
	clock := webtest.NewClock(time.Now())
	f := newMembersFixture(t, func(c *web.Config) { c.PageCacheMB = 0; c.Now = clock.Now })
	ctx := context.Background()
	db := f.ts.DB("lodge")
	get := func(path string, cookie ...string) string {
		t.Helper()
		var hdr []string
		if len(cookie) > 0 {
			hdr = []string{"Cookie: " + cookie[0]}
		}
		r := f.ts.Get(f.lodge, path, hdr...)
		if r.Status != 200 {
			t.Fatalf("GET %s: %d", path, r.Status)
		}
		return r.Body
	}
	for i := range 3 {
		get("/")
		get("/about")
		site, err := db.Site(ctx)
		webtest.Must(t, err)
		site.Name = fmt.Sprintf("Lodge renamed %d", i)
		webtest.Must(t, db.UpdateSite(ctx, &site))
		for _, path := range []string{"/", "/about", "/news"} {
			body := get(path)
			if !strings.Contains(body, "<span>"+site.Name+"</span>") || !strings.Contains(body, `<p class="footer-name">`+site.Name+"</p>") {
				t.Fatalf("rename %d: %s lacks the new name in its header or footer", i, path)
			}
		}
		page := &tenantdb.Page{Title: fmt.Sprintf("Menu page %d", i), Body: "x", Published: true, ShowInNav: true}
		webtest.Must(t, db.SavePage(ctx, page))
		if body := get("/about"); !strings.Contains(body, `<a href="/p/`+page.Slug+`">`+page.Title+"</a>") ||
			!strings.Contains(body, `<a href="/about" aria-current="page">`) {
			t.Fatalf("page %d: /about's menu lacks the new page or marks the wrong section", i)
		}
		if body := get("/p/" + page.Slug); !strings.Contains(body, `<a href="/p/`+page.Slug+`" aria-current="page">`) {
			t.Fatalf("page %d: its own menu link is not marked current", i)
		}
		now := time.Now().UTC()
		post := &tenantdb.Post{Title: fmt.Sprintf("Fresh news %d", i), Body: "body", Published: true, PublishedAt: &now}
		webtest.Must(t, db.SavePost(ctx, post))
		start := now.Add(time.Duration(i+1) * time.Hour).Truncate(time.Minute)
		ev := &tenantdb.Event{Title: fmt.Sprintf("Fresh event %d", i), StartsAt: start, EndsAt: start.Add(time.Hour), Timezone: "UTC"}
		webtest.Must(t, db.SaveEvent(ctx, ev))
		if body := get("/"); !strings.Contains(body, post.Title) || !strings.Contains(body, ev.Title) {
			t.Fatalf("write %d: / lacks the new post or event", i)
		}
		webtest.Must(t, db.DeletePost(ctx, post.ID))
		if body := get("/"); strings.Contains(body, post.Title) {
			t.Fatalf("write %d: / still shows a deleted post", i)
		}
	}
	// The banner is part of the header: on, then off again by a write,
	// and on until a time that passes with no write.
	site, err := db.Site(ctx)
	webtest.Must(t, err)
	site.Banner = "Hall closed for repairs"
	webtest.Must(t, db.UpdateSite(ctx, &site))
	if body := get("/news"); !strings.Contains(body, site.Banner) {
		t.Fatal("the banner does not show after it was set")
	}
	site.Banner = ""
	webtest.Must(t, db.UpdateSite(ctx, &site))
	if body := get("/news"); strings.Contains(body, "Hall closed") {
		t.Fatal("the banner still shows after it was cleared")
	}
	until := clock.Now().Add(time.Hour)
	site.Banner, site.BannerUntil = "Picnic on Sunday", &until
	webtest.Must(t, db.UpdateSite(ctx, &site))
	if body := get("/news"); !strings.Contains(body, site.Banner) {
		t.Fatal("the banner with an end does not show before its end")
	}
	clock.Advance(2 * time.Hour)
	if body := get("/news"); strings.Contains(body, "Picnic on Sunday") {
		t.Fatal("the banner still shows after its end")
	}
	// A member's pages first, at a new generation, then an anonymous
	// visitor's: the member's menu and log-out form stay the member's.
	site.Tagline = "After a write"
	webtest.Must(t, db.UpdateSite(ctx, &site))
	for _, path := range []string{"/", "/about", "/news", "/events"} {
		if body := get(path, f.memberA); !strings.Contains(body, "Log out") || !strings.Contains(body, marker) {
			t.Fatalf("member's %s: no log-out form or members-only menu page", path)
		}
		if body := get(path); strings.Contains(body, "Log out") || strings.Contains(body, marker) || strings.Contains(body, `href="/members">Members`) {
			t.Fatalf("anonymous %s after a member's: shows the member's header or footer", path)
		}
	}
}
