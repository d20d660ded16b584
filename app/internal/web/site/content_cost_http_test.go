package site_test

import (
	"context"
	"database/sql"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/web"
	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// hostileBody is 100,000 characters of list markers on one line, each a
// list in the one before: what took goldmark seconds to render.
var hostileBody = strings.Repeat("+ ", tenantdb.MaxMarkdownChars/2)

// TestHostileBodyRefusedAtSave refuses a post body shaped to cost far more
// to render than its length, through the API and the dashboard, with a 422
// naming the field and the limit, and saves nothing.
func TestHostileBodyRefusedAtSave(t *testing.T) {
	ts := webtest.NewEmpty(t)
	email, pw := ts.NewTenant(t, "lodge")
	host := webtest.Host("lodge")

	token := ts.Login(t, "lodge", email, pw)
	r := ts.Call(t, ts.Browser(), "POST", ts.SiteURL("lodge", "/api/posts"),
		map[string]any{"title": "Lists", "body": hostileBody, "published": true}, webtest.Bearer(token)...)
	msg, field := r.ErrField(t)
	if r.Status != http.StatusUnprocessableEntity || field != "body" || !strings.Contains(msg, "at most 20 levels") {
		t.Errorf("API save of a hostile body: %d %q on %q, want 422 on body naming the limit", r.Status, msg, field)
	}
	r = ts.Call(t, ts.Browser(), "POST", ts.SiteURL("lodge", "/api/pages"),
		map[string]any{"title": "Table", "body": "|a|\n|-|\n" + strings.Repeat("|\n", 20000)}, webtest.Bearer(token)...)
	if msg, field := r.ErrField(t); r.Status != http.StatusUnprocessableEntity || field != "body" || !strings.Contains(msg, "10000 cells") {
		t.Errorf("API save of a huge table: %d %q on %q, want 422 on body naming the limit", r.Status, msg, field)
	}

	c := ts.Browser()
	csrf := ts.DashLogin(t, c, host, email, pw)
	p := ts.Form(t, c, host, "/admin/posts/new", url.Values{"csrf_token": {csrf}, "title": {"Lists"},
		"body": {hostileBody}, "published": {"on"}, "action": {"save"}})
	if p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Body, "at most 20 levels are allowed") {
		t.Errorf("dashboard save of a hostile body: %d, want 422 naming the limit", p.Status)
	}
	if _, total, err := ts.DB("lodge").Posts(context.Background(), tenantdb.PostQuery{}); err != nil || total != 0 {
		t.Errorf("after refusals: %d posts (%v), want none", total, err)
	}
}

// storeRaw writes rows into tenant slug's file with SQL, outside every
// check of Chapterhouse's (as a file from before the limits, or one
// written by other means, would have them): the tenant is drained, the
// file changed, and it reopens on the next request.
func storeRaw(t *testing.T, ts *webtest.Server, slug string, stmt string, args ...any) {
	t.Helper()
	tn, ok := ts.Platform.Catalog.TenantBySlug(slug)
	if !ok {
		t.Fatalf("no tenant %q", slug)
	}
	err := ts.Platform.Pool.Drain(context.Background(), tn.ID, func() error {
		raw, err := sql.Open("sqlite", "file:"+tenantdb.TenantPath(ts.Dir, tn.ID))
		if err != nil {
			return err
		}
		defer raw.Close()
		_, err = raw.Exec(stmt, args...)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestStoredHostileBodyRendersAsPlainText shows a hostile body that is
// already in the file as escaped plain text, on the post's page, in the
// news list and in the feed, instead of parsing it.
func TestStoredHostileBodyRendersAsPlainText(t *testing.T) {
	ts := webtest.NewEmpty(t)
	ts.AddTenant("old", "Old Lodge", nil)
	deep := strings.Repeat("+ ", 40000) + "a"
	body := "<script>alert(1)</script> **not bold**\n\n" + deep
	storeRaw(t, ts, "old", `INSERT INTO posts (title, slug, body, published, published_at, created_at, updated_at)
		VALUES ('Old', 'old', ?, 1, '2026-01-02T03:04:05Z', '2026-01-02T03:04:05Z', '2026-01-02T03:04:05Z')`, body)

	r := ts.Get(webtest.Host("old"), "/news/old")
	if r.Status != 200 {
		t.Fatalf("post: status %d", r.Status)
	}
	article := r.Body[strings.Index(r.Body, "<article"):strings.Index(r.Body, "</article>")]
	want := "<p>&lt;script&gt;alert(1)&lt;/script&gt; **not bold**</p>\n<p>" + deep + "</p>"
	if !strings.Contains(article, want) || strings.Contains(article, "<ul>") || strings.Contains(article, "<strong>") {
		t.Errorf("the stored hostile body is not shown as plain text:\n%.600s", article)
	}
	if r := ts.Get(webtest.Host("old"), "/news"); r.Status != 200 || !strings.Contains(r.Body, "&lt;script&gt;alert(1)&lt;/script&gt; **not bold** &#43; &#43;") {
		t.Errorf("news list: %d, want the summary as text", r.Status)
	}
	if r := ts.Get(webtest.Host("old"), "/feed.xml"); r.Status != 200 || !strings.Contains(r.Body, "&lt;p&gt;&amp;lt;script&amp;gt;alert(1)") {
		t.Errorf("feed: %d, want the plain-text content", r.Status)
	}
}

// renderCounter counts the markdown conversions of ts's server.
func renderCounter(ts *webtest.Server, then func(ctx context.Context, n int64)) *atomic.Int64 {
	var n atomic.Int64
	ts.Web.Markdown().Observe(func(ctx context.Context) {
		v := n.Add(1)
		if then != nil {
			then(ctx, v)
		}
	})
	return &n
}

// TestPostRenderedOnce converts a post's markdown on the first request
// and not on the second, with the page cache off, even when its HTML is
// half a megabyte (50,000 empty list items: within the limits).
func TestPostRenderedOnce(t *testing.T) {
	ts := webtest.NewEmpty(t, func(c *web.Config) { c.PageCacheMB = 0 })
	ts.AddTenant("big", "Big Lodge", func(db *tenantdb.DB) {
		now := time.Now().UTC()
		p := &tenantdb.Post{Title: "Big", Body: "Many items:\n\n" + strings.Repeat("-\n", 49000), Published: true, PublishedAt: &now}
		webtest.Must(t, db.SavePost(context.Background(), p))
	})
	conversions := renderCounter(ts, nil)
	for i := range 2 {
		if r := ts.Get(webtest.Host("big"), "/news/big"); r.Status != 200 || strings.Count(r.Body, "<li>") < 49000 {
			t.Fatalf("request %d: status %d", i+1, r.Status)
		}
		if i == 0 && conversions.Load() == 0 {
			t.Fatal("the first request converted nothing")
		}
	}
	first := conversions.Load()
	ts.Get(webtest.Host("big"), "/news/big")
	if n := conversions.Load(); n != first {
		t.Errorf("a later request converted %d texts again, want none", n-first)
	}
}

// TestFeedStopsWhenClientLeaves stops rendering the feed's posts once the
// client has gone: its request's context ends, and the handler returns
// before converting the next post.
func TestFeedStopsWhenClientLeaves(t *testing.T) {
	ts := webtest.NewEmpty(t, func(c *web.Config) { c.PageCacheMB = 0 })
	ts.AddTenant("feedy", "Feedy Lodge", func(db *tenantdb.DB) {
		for i := range 7 {
			at := time.Date(2026, 1, 1+i, 0, 0, 0, 0, time.UTC)
			p := &tenantdb.Post{Title: fmt.Sprintf("Post %d", i), Body: fmt.Sprintf("Post number *%d*.", i), Published: true, PublishedAt: &at}
			webtest.Must(t, db.SavePost(context.Background(), p))
		}
	})
	clientCtx, leave := context.WithCancel(context.Background())
	defer leave()
	// The first conversion makes the client leave and waits until the
	// server has seen it go (or, should the context not be the request's,
	// a while, so that the test fails instead of hanging).
	conversions := renderCounter(ts, func(ctx context.Context, n int64) {
		if n == 1 {
			leave()
			select {
			case <-ctx.Done():
			case <-time.After(10 * time.Second):
			}
		}
	})
	req, err := http.NewRequestWithContext(clientCtx, "GET", ts.SiteURL("feedy", "/feed.xml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Browser().Do(req); !errors.Is(err, context.Canceled) {
		t.Fatalf("request: %v, want it cancelled", err)
	}
	// The request is counted once its handler has returned.
	for deadline := time.Now().Add(30 * time.Second); !feedCounted(ts); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the feed's handler never returned")
		}
	}
	if n := conversions.Load(); n != 1 {
		t.Errorf("%d posts converted for a client that left after the first, want 1", n)
	}

	// A client that stays gets all seven.
	var feed struct {
		Entries []struct{} `xml:"entry"`
	}
	r := ts.Get(webtest.Host("feedy"), "/feed.xml")
	if err := xml.Unmarshal([]byte(r.Body), &feed); err != nil || len(feed.Entries) != 7 {
		t.Errorf("feed: %d entries (%v), want 7", len(feed.Entries), err)
	}
}

// feedCounted says whether the server has counted a request for
// /feed.xml in its metrics, which it does once the handler has returned.
func feedCounted(ts *webtest.Server) bool {
	rec := httptest.NewRecorder()
	ts.Platform.Metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if strings.HasPrefix(line, "chapterhouse_http_requests_total{") && strings.Contains(line, `route="/feed.xml"`) {
			return true
		}
	}
	return false
}

// TestFeedSizeIsBounded keeps the feed under about a megabyte of content
// even when every post is as long as a post may be.
func TestFeedSizeIsBounded(t *testing.T) {
	ts := webtest.NewEmpty(t)
	ts.AddTenant("long", "Long Lodge", func(db *tenantdb.DB) {
		for i := range 20 {
			at := time.Date(2026, 1, 1+i, 0, 0, 0, 0, time.UTC)
			body := fmt.Sprintf("%d %s", i, strings.Repeat("word ", tenantdb.MaxMarkdownChars/5-2))
			p := &tenantdb.Post{Title: fmt.Sprintf("Post %d", i), Body: body, Published: true, PublishedAt: &at}
			webtest.Must(t, db.SavePost(context.Background(), p))
		}
	})
	r := ts.Get(webtest.Host("long"), "/feed.xml")
	var feed struct {
		Entries []struct {
			Title string `xml:"title"`
		} `xml:"entry"`
	}
	if err := xml.Unmarshal([]byte(r.Body), &feed); err != nil {
		t.Fatal(err)
	}
	if len(r.Body) > 1<<20+64<<10 || len(feed.Entries) != 10 || feed.Entries[0].Title != "Post 19" {
		t.Errorf("feed of 20 long posts: %d bytes, %d entries, want about 1 MiB with the 10 newest", len(r.Body), len(feed.Entries))
	}
}
