package site_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html"
	"image/color"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
	"github.com/chapterhouse/chapterhouse/tenantdb/pool"

	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// TestSiteRoutesRender opens every public route of the demo tenant and
// checks the status and the content that must be on it.
func TestSiteRoutesRender(t *testing.T) {
	ts := webtest.New(t)
	db := ts.DB("demo")
	ctx := context.Background()
	site, err := db.Site(ctx)
	if err != nil {
		t.Fatal(err)
	}
	posts, _, err := db.Posts(ctx, tenantdb.PostQuery{PublishedOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	events, err := db.Events(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h := webtest.Host("demo")
	next, past := platform.DemoSeasons(time.Now())
	esc := html.EscapeString
	thanks := esc(past.Ceremony + ": thank you, Riverside")
	next.Social, next.Ceremony, next.Holiday, past.Ceremony = esc(next.Social), esc(next.Ceremony), esc(next.Holiday), esc(past.Ceremony)
	tests := []struct {
		name, path string
		status     int
		want       []string
	}{
		{"home", "/", 200, []string{"<h1 id=\"hero-title\">Riverside Veterans Post 42</h1>", "Serving veterans, their families",
			"second Tuesday of every month", "Next meeting:", "Monthly membership meeting", next.Social,
			thanks, `href="/p/hall-rental"`, "1200 River Road"}},
		{"about", "/about", 200, []string{"About Riverside Veterans Post 42", "Our mission:", "Membership", "DD-214",
			"Maria Delgado", "Commander", `alt="Photo of Maria Delgado"`, "Angela Brooks", "Service Officer", "adjutant@riversidepost42.example"}},
		{"news", "/news", 200, []string{thanks, "Pancake breakfast raises $4,200",
			"Scholarship applications now open", "Welcome to our new website"}},
		{"post", "/news/" + posts[0].Slug, 200, []string{"<h1>" + thanks + "</h1>",
			"Troop 17", `alt="The Post 42 hall on River Road at sunset"`, `<meta property="og:type" content="article">`}},
		{"events", "/events", 200, []string{"Upcoming", "Monthly membership meeting", next.Ceremony,
			next.Holiday, "Past events", past.Ceremony}},
		{"event", fmt.Sprintf("/events/%d", events[0].ID), 200, []string{"Monthly membership meeting",
			"The second Tuesday of every month, 7:00 PM", "Next dates", "openstreetmap.org/search?query="}},
		{"contact", "/contact", 200, []string{"Contact us", "1200 River Road, Riverside, IL 60546",
			"https://www.openstreetmap.org/search?query=1200%20River%20Road%2C%20Riverside%2C%20IL%2060546", `href="tel:7085550142"`,
			"mailto:info@riversidepost42.example", "https://www.facebook.com/riversidepost42.example",
			`<form class="stack" method="post" action="/contact"`, `name="website"`}},
		{"thanks", "/contact/thanks", 200, []string{"Thank you", "Your message has been sent"}},
		{"page", "/p/hall-rental", 200, []string{"<h1>Hall Rental</h1>", "150 guests", "<table>"}},
		{"theme", "/theme.css?v=1f4e79", 200, []string{"--accent: #1f4e79", "--on-accent: #ffffff"}},
		{"draft post", "/news/" + draftSlug(t, db), 404, []string{"Page not found", "Riverside Veterans Post 42", `href="/p/hall-rental"`}},
		{"unknown page", "/p/nope", 404, []string{"Page not found"}},
		{"unknown path", "/no/such/thing", 404, []string{"Page not found", "<nav class=\"main\""}},
		{"unknown event", "/events/999", 404, []string{"Page not found"}},
		{"bad event id", "/events/01", 404, []string{"Page not found"}},
		{"news page 0", "/news?page=0", 404, nil},
		{"news page 1 spelled out", "/news?page=1", 404, nil},
		{"news page x", "/news?page=x", 404, nil},
		{"news past the end", "/news?page=2", 404, nil},
		{"media", "/media/" + site.LogoID, 200, []string{"\x89PNG"}},
		{"unknown media", "/media/nope", 404, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.Get(h, tc.path)
			if r.Status != tc.status {
				t.Fatalf("GET %s: status %d, want %d\n%s", tc.path, r.Status, tc.status, r.Body)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.Body, w) {
					t.Errorf("GET %s: body lacks %q", tc.path, w)
				}
			}
			if ct := r.Header.Get("Content-Type"); strings.HasPrefix(ct, "text/html") {
				checkPageHeaders(t, tc.path, r)
				if tc.status == 200 {
					checkHead(t, tc.path, r.Body, h)
				}
			}
		})
	}
}

func draftSlug(t *testing.T, db *pool.Handle) string {
	t.Helper()
	all, _, err := db.Posts(context.Background(), tenantdb.PostQuery{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range all {
		if !p.Published {
			return p.Slug
		}
	}
	t.Fatal("the demo has no draft post")
	return ""
}

// checkPageHeaders checks the security headers every HTML page carries.
func checkPageHeaders(t *testing.T, path string, r webtest.Response) {
	t.Helper()
	csp := r.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "style-src 'self'", "frame-ancestors 'none'", "form-action 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("GET %s: CSP %q lacks %q", path, csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "script-src") {
		t.Errorf("GET %s: CSP %q allows scripts or inline code", path, csp)
	}
	if strings.Contains(r.Body, "<style") || strings.Contains(r.Body, "<script") || strings.Contains(r.Body, " style=") {
		t.Errorf("GET %s: inline style or script, which the CSP blocks", path)
	}
	for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
		"Referrer-Policy": "strict-origin-when-cross-origin"} {
		if got := r.Header.Get(k); got != v {
			t.Errorf("GET %s: %s = %q, want %q", path, k, got, v)
		}
	}
}

var canonicalRe = regexp.MustCompile(`<link rel="canonical" href="([^"]+)">`)

// checkHead checks a page's title, description, Open Graph tags and an
// absolute canonical URL on the request's host.
func checkHead(t *testing.T, path, body, host string) {
	t.Helper()
	for _, want := range []string{"<title>", `<meta name="description" content="`, `<meta property="og:title"`,
		`<meta property="og:description"`, `<meta property="og:url"`, `<html lang="en">`, `<main id="content"`} {
		if !strings.Contains(body, want) {
			t.Errorf("GET %s: head lacks %q", path, want)
		}
	}
	m := canonicalRe.FindStringSubmatch(body)
	if m == nil {
		t.Errorf("GET %s: no canonical link", path)
		return
	}
	if !strings.HasPrefix(m[1], "http://"+host+"/") {
		t.Errorf("GET %s: canonical %q is not on http://%s/", path, m[1], host)
	}
}

// TestNewsPagination pages through 25 posts, 10 to a page.
func TestNewsPagination(t *testing.T) {
	ts := webtest.New(t)
	ts.AddTenant("many", "Many Posts Club", func(db *tenantdb.DB) {
		base := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
		for i := 1; i <= 25; i++ {
			at := base.Add(time.Duration(i) * time.Hour)
			p := &tenantdb.Post{Title: fmt.Sprintf("Post number %02d", i), Published: true, PublishedAt: &at}
			if err := db.SavePost(context.Background(), p); err != nil {
				t.Fatal(err)
			}
		}
	})
	h := webtest.Host("many")
	pages := []struct {
		path        string
		first, last string
		prev, next  string
	}{
		{"/news", "Post number 25", "Post number 16", "", `href="/news?page=2"`},
		{"/news?page=2", "Post number 15", "Post number 06", `href="/news"`, `href="/news?page=3"`},
		{"/news?page=3", "Post number 05", "Post number 01", `href="/news?page=2"`, ""},
	}
	for _, pg := range pages {
		r := ts.Get(h, pg.path)
		if r.Status != 200 {
			t.Fatalf("GET %s: %d", pg.path, r.Status)
		}
		if !strings.Contains(r.Body, pg.first) || !strings.Contains(r.Body, pg.last) {
			t.Errorf("GET %s: lacks %q..%q", pg.path, pg.first, pg.last)
		}
		if n := strings.Count(r.Body, `<h2><a href="/news/`); n != 10 && pg.path != "/news?page=3" || pg.path == "/news?page=3" && n != 5 {
			t.Errorf("GET %s: %d posts", pg.path, n)
		}
		if pg.prev != "" && !strings.Contains(r.Body, `rel="prev" `+pg.prev) {
			t.Errorf("GET %s: no prev link %s", pg.path, pg.prev)
		}
		if pg.next != "" && !strings.Contains(r.Body, `rel="next" `+pg.next) {
			t.Errorf("GET %s: no next link %s", pg.path, pg.next)
		}
		if pg.next == "" && strings.Contains(r.Body, `rel="next"`) {
			t.Errorf("GET %s: a next link on the last page", pg.path)
		}
	}
	if r := ts.Get(h, "/news?page=4"); r.Status != 404 {
		t.Errorf("GET /news?page=4: %d, want 404", r.Status)
	}
}

// TestTenantIsolation gives a second tenant marked content and checks that
// none of it shows on the demo's host, and that its media is not served
// there.
func TestSiteIsolation(t *testing.T) {
	ts := webtest.New(t)
	const marker = "Zanzibar7731"
	var media tenantdb.Media
	ts.AddTenant("lakeside", "Lakeside Lodge "+marker, func(db *tenantdb.DB) {
		ctx := context.Background()
		media = tenantdb.Media{Name: "b.png", Alt: "alt " + marker, ContentType: "image/png", Width: 8, Height: 8}
		if err := db.AddMedia(ctx, &media, platform.StarPNG(8, color.RGBA{0, 0, 0, 255})); err != nil {
			t.Fatal(err)
		}
		site, _ := db.Site(ctx)
		site.Tagline, site.MeetingInfo, site.LogoID = "tagline "+marker, "meets "+marker, media.ID
		webtest.Must(t, db.UpdateSite(ctx, &site))
		now := time.Now().UTC()
		webtest.Must(t, db.SavePost(ctx, &tenantdb.Post{Title: "Post " + marker, Slug: "memorial-day-ceremony-thank-you-riverside", Body: marker, Published: true, PublishedAt: &now, ImageID: media.ID}))
		webtest.Must(t, db.SavePage(ctx, &tenantdb.Page{Title: "Page " + marker, Slug: "hall-rental", Body: marker, Published: true, ShowInNav: true}))
		start := now.Add(48 * time.Hour)
		webtest.Must(t, db.SaveEvent(ctx, &tenantdb.Event{Title: "Event " + marker, StartsAt: start, EndsAt: start.Add(time.Hour), Timezone: "UTC", Location: marker}))
		webtest.Must(t, db.SaveOfficer(ctx, &tenantdb.Officer{Name: "Officer " + marker, Role: "Grand " + marker, PhotoID: media.ID}))
	})
	// The marker is on B's own pages...
	for _, path := range []string{"/", "/about", "/news", "/events", "/p/hall-rental", "/news/memorial-day-ceremony-thank-you-riverside"} {
		if r := ts.Get(webtest.Host("lakeside"), path); r.Status != 200 || !strings.Contains(r.Body, marker) {
			t.Fatalf("GET lakeside%s: %d, marker missing: the test would prove nothing", path, r.Status)
		}
	}
	if r := ts.Get(webtest.Host("lakeside"), "/media/"+media.ID); r.Status != 200 {
		t.Fatalf("GET lakeside/media/%s: %d", media.ID, r.Status)
	}
	// ... and on none of A's, not even under the same slugs.
	paths := []string{"/", "/about", "/news", "/events", "/contact", "/p/hall-rental", "/events/1",
		"/news/memorial-day-ceremony-thank-you-riverside", "/feed.xml", "/events.ics", "/sitemap.xml", "/robots.txt", "/nope"}
	for _, path := range paths {
		r := ts.Get(webtest.Host("demo"), path)
		if strings.Contains(r.Body, marker) || strings.Contains(r.Body, media.ID) {
			t.Errorf("GET demo%s shows tenant B's content", path)
		}
	}
	if r := ts.Get(webtest.Host("demo"), "/media/"+media.ID); r.Status != 404 {
		t.Errorf("GET demo/media/<B's id>: %d, want 404", r.Status)
	}
}

// TestHostileMarkdownIsInert publishes a post full of script and checks
// that nothing of it can run.
func TestHostileMarkdownIsInert(t *testing.T) {
	ts := webtest.New(t)
	db := ts.DB("demo")
	now := time.Now().UTC()
	body := strings.Join([]string{
		"Hello <script>alert('x')</script> world",
		"<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
		"[click](javascript:alert(1))",
		"[encoded](jav&#x61;script:alert(2))",
		"[entity](&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(3))",
		`<a href="  javascript:alert(4)">spaced</a>`,
		`<a href="jav	ascript:alert(5)">tabbed</a>`,
		`<img src="x" onerror="alert(6)">`,
		`<img src=x onerror=alert(7)//>`,
		`<div onmouseover="alert(8)">hover</div>`,
		`[data](data:text/html;base64,PHNjcmlwdD5hbGVydCg5KTwvc2NyaXB0Pg==)`,
		`<a href="data:text/html,<script>alert(10)</script>">data link</a>`,
		`<iframe src="https://evil.example"></iframe>`,
		`<svg onload="alert(11)"><circle/></svg>`,
		`<a href="vbscript:msgbox(12)">vb</a>`,
		`<style>body{display:none}</style>`,
		`<form action="https://evil.example"><input name=x></form>`,
		`<p style="background:url(javascript:alert(13))">styled</p>`,
		"![img](javascript:alert(14))",
		"[ok link](https://example.org/safe)",
	}, "\n\n")
	p := &tenantdb.Post{Title: "Hostile", Slug: "hostile", Body: body, Published: true, PublishedAt: &now}
	webtest.Must(t, db.SavePost(context.Background(), p))
	r := ts.Get(webtest.Host("demo"), "/news/hostile")
	if r.Status != 200 {
		t.Fatalf("status %d", r.Status)
	}
	article := r.Body[strings.Index(r.Body, "<article"):strings.Index(r.Body, "</article>")]
	lower := strings.ToLower(article)
	for _, bad := range []string{"<script", "javascript:", "vbscript:", "data:text", "onerror", "onload", "onmouseover",
		"<iframe", "<svg", "<style", "<form", "style=", "evil.example"} {
		if strings.Contains(lower, bad) {
			t.Errorf("rendered post contains %q:\n%s", bad, article)
		}
	}
	// No link or image may point anywhere but http(s), mailto, tel or the site.
	for _, m := range regexp.MustCompile(`(?i)(?:href|src)\s*=\s*"([^"]*)"`).FindAllStringSubmatch(article, -1) {
		u := strings.ToLower(strings.TrimSpace(m[1]))
		if !(strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "/") ||
			strings.HasPrefix(u, "mailto:") || strings.HasPrefix(u, "tel:") || u == "x") {
			t.Errorf("link or image to %q survived", m[1])
		}
	}
	if !strings.Contains(article, `href="https://example.org/safe"`) {
		t.Errorf("a safe link was removed:\n%s", article)
	}
	// The feed carries the same sanitised HTML (escaped inside the XML).
	feed := ts.Get(webtest.Host("demo"), "/feed.xml").Body
	for _, bad := range []string{"&lt;script", "javascript:", "onerror"} {
		if strings.Contains(strings.ToLower(feed), bad) {
			t.Errorf("feed contains %q", bad)
		}
	}
}

// TestMediaHeaders checks the caching and policy headers of an image and
// the conditional request.
func TestMediaHeaders(t *testing.T) {
	ts := webtest.New(t)
	db := ts.DB("demo")
	site, _ := db.Site(context.Background())
	_, data, err := db.MediaData(context.Background(), site.LogoID)
	webtest.Must(t, err)
	sum := sha256.Sum256(data)
	etag := `"` + hex.EncodeToString(sum[:]) + `"`
	r := ts.Get(webtest.Host("demo"), "/media/"+site.LogoID)
	if r.Status != 200 || r.Body != string(data) {
		t.Fatalf("status %d, %d bytes; want 200 and the stored %d bytes", r.Status, len(r.Body), len(data))
	}
	for k, v := range map[string]string{"Content-Type": "image/png", "ETag": etag, "X-Content-Type-Options": "nosniff",
		"Cache-Control": "public, max-age=3600", "Content-Security-Policy": "default-src 'none'; sandbox"} {
		if got := r.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
		r := ts.Get(webtest.Host("demo"), "/media/"+site.LogoID, "If-None-Match: "+inm)
		if r.Status != http.StatusNotModified || r.Body != "" {
			t.Errorf("If-None-Match %s: %d with %d bytes, want 304 and none", inm, r.Status, len(r.Body))
		}
	}
	if r := ts.Get(webtest.Host("demo"), "/media/"+site.LogoID, `If-None-Match: "stale"`); r.Status != 200 {
		t.Errorf("stale If-None-Match: %d, want 200", r.Status)
	}
}

func TestSuspendedTenantGets503(t *testing.T) {
	ts := webtest.New(t)
	_, err := ts.Platform.Catalog.SetStatus(context.Background(), "demo", catalog.StatusSuspended)
	webtest.Must(t, err)
	for _, path := range []string{"/", "/news", "/contact", "/feed.xml"} {
		r := ts.Get(webtest.Host("demo"), path)
		if r.Status != 503 || !strings.Contains(r.Body, "temporarily unavailable") || r.Header.Get("Retry-After") == "" {
			t.Errorf("GET %s on a suspended tenant: %d, want the 503 page with Retry-After", path, r.Status)
		}
		if strings.Contains(r.Body, "thank you, Riverside") {
			t.Errorf("GET %s on a suspended tenant shows its content", path)
		}
	}
}
