package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
	"github.com/chapterhouse/chapterhouse/tenantdb/pool"
)

// sameSiteFixture is a tenant with one of every kind of thing the
// dashboard and the API show, its owner logged in twice (a browser with
// the dashboard's cookie, and an API token), and the ids to fill the
// routes' parameters with.
type sameSiteFixture struct {
	ts      *webtest.Server
	tenant  catalog.Tenant
	host    string
	browser *http.Client
	csrf    string
	token   string
	ids     map[string]string // "posts" -> id of a post, "domains" -> a host, ...
}

func newSameSiteFixture(t *testing.T) *sameSiteFixture {
	t.Helper()
	ts := webtest.NewEmpty(t)
	email, pw := ts.NewTenant(t, "alpha")
	f := &sameSiteFixture{ts: ts, host: webtest.Host("alpha"), browser: ts.Browser(), ids: map[string]string{}}
	f.tenant, _ = ts.Platform.Catalog.TenantBySlug("alpha")
	f.token = ts.Login(t, "alpha", email, pw)
	f.csrf = ts.DashLogin(t, f.browser, f.host, email, pw)
	api := ts.Browser()
	create := func(kind string, body any) {
		r := ts.Call(t, api, "POST", ts.SiteURL("alpha", "/api/"+kind), body, webtest.Bearer(f.token)...)
		var out struct {
			ID   any    `json:"id"`
			Host string `json:"host"`
		}
		r.JSON(t, &out)
		if r.Status != http.StatusCreated {
			t.Fatalf("create %s: %d %s", kind, r.Status, r.Body)
		}
		f.ids[kind] = fmt.Sprint(out.ID)
		if out.Host != "" {
			f.ids[kind] = out.Host
		}
	}
	create("posts", map[string]any{"title": "Fish fry", "body": "All welcome", "published": true})
	create("events", map[string]any{"title": "Meeting", "starts_at": "2030-01-07T19:00:00Z", "ends_at": "2030-01-07T21:00:00Z"})
	create("officers", map[string]any{"name": "Pat", "role": "Commander"})
	create("pages", map[string]any{"title": "History", "body": "Since 1919", "published": true})
	create("domains", map[string]any{"host": "www.alpha-post.example"})
	create("admins", map[string]any{"email": "ed@alpha.example.org", "role": "editor"})
	// Albums and documents have no API: made in the store.
	db := ts.DB("alpha")
	album := &tenantdb.Album{Title: "Picnic", Dated: "2026-07-04", Published: true}
	webtest.Must(t, db.SaveAlbum(context.Background(), album))
	f.ids["albums"] = fmt.Sprint(album.ID)
	doc := &tenantdb.Document{Title: "Bylaws", Category: "bylaws", Dated: "2020-01-01"}
	webtest.Must(t, db.AddDocument(context.Background(), doc, []byte("%PDF-1.4\n%%EOF\n")))
	f.ids["documents"] = doc.ID
	member := &tenantdb.Member{Email: "sam@alpha.example.org", Name: "Sam"}
	webtest.Must(t, ts.Platform.WithTenant(context.Background(), "alpha", func(_ catalog.Tenant, h *pool.Handle) error {
		return h.SaveMember(context.Background(), member)
	}))
	f.ids["members"] = fmt.Sprint(member.ID)
	// A mail in the outbox (the editor's invitation queued one already).
	out, err := db.Outbox(context.Background(), tenantdb.Window{Limit: 1})
	webtest.Must(t, err)
	if len(out) == 0 {
		webtest.Must(t, db.QueueMail(context.Background(), tenantdb.OutMail{Kind: "test", To: "sam@alpha.example.org", Subject: "Hello", Text: "Hello"}))
		out, err = db.Outbox(context.Background(), tenantdb.Window{Limit: 1})
		webtest.Must(t, err)
	}
	if len(out) == 0 {
		t.Fatal("no mail in the outbox")
	}
	f.ids["outbox"] = fmt.Sprint(out[0].ID)
	up := ts.Upload(t, api, "alpha", "/api/media", "hall.png", webtest.PNG(8, 8), map[string]string{"alt": "the hall"}, webtest.Bearer(f.token)...)
	var m struct{ ID any }
	up.JSON(t, &m)
	f.ids["media"] = fmt.Sprint(m.ID)
	resp, err := ts.Browser().PostForm(ts.SiteURL("alpha", "/contact"),
		url.Values{"name": {"Karen"}, "email": {"karen@example.com"}, "subject": {"Hall"}, "body": {"Is it free?"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	r := ts.Call(t, api, "GET", ts.SiteURL("alpha", "/api/messages"), nil, webtest.Bearer(f.token)...)
	if m := regexp.MustCompile(`"id":\s*(\d+)`).FindStringSubmatch(string(r.Body)); m != nil {
		f.ids["messages"] = m[1]
	} else {
		t.Fatalf("no message in %s", r.Body)
	}
	return f
}

// state is what a request could change: the tenant's rows (its digest)
// and the catalog's audit log (an export is recorded there) and domains.
func (f *sameSiteFixture) state(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	d, err := f.ts.Platform.Digest(ctx, f.tenant)
	if err != nil {
		t.Fatal(err)
	}
	audit, err := f.ts.Platform.Catalog.AuditLog(ctx, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := f.ts.Platform.Catalog.Domains(ctx, f.tenant.ID)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%s audit=%d domains=%+v", d.Sum(), len(audit), ds)
}

var routeParam = regexp.MustCompile(`/:[a-z]+`)

// fill replaces the parameters of route path with the fixture's ids.
func (f *sameSiteFixture) fill(t *testing.T, path string) string {
	t.Helper()
	return routeParam.ReplaceAllStringFunc(path, func(param string) string {
		kind := path[:strings.Index(path, param)]
		kind = kind[strings.LastIndex(kind, "/")+1:]
		id, ok := f.ids[kind]
		if !ok {
			t.Fatalf("route %s: no %s in the fixture to fill %s with", path, kind, param)
		}
		return "/" + id
	})
}

// TestNoGetChangesState walks every GET route of the dashboard, the API
// and the logins (echo's own route list, so a route added later is
// walked too) as the tenant's owner, by cookie and by token, and checks
// that none changed the tenant's rows, the audit log or its domains.
func TestNoGetChangesState(t *testing.T) {
	f := newSameSiteFixture(t)
	before := f.state(t)
	walked := 0
	for _, r := range f.ts.Web.TenantRoutes() {
		if r.Method != http.MethodGet || !(strings.HasPrefix(r.Path, "/admin") || strings.HasPrefix(r.Path, "/api/")) {
			continue
		}
		path := f.fill(t, r.Path)
		walked++
		t.Logf("GET %s", r.Path)
		cookie := f.ts.Form(t, f.browser, f.host, path, nil)
		bearer := f.ts.Call(t, f.ts.Browser(), "GET", f.ts.SiteURL("alpha", path), nil, webtest.Bearer(f.token)...)
		// 405: an old address of a POST, answered without a login.
		moved := cookie.Status == http.StatusMethodNotAllowed && bearer.Status == http.StatusMethodNotAllowed
		// The pages of mailed links are 404 without their token.
		link := (r.Path == "/admin/reset" || r.Path == "/admin/invite") && cookie.Status == http.StatusNotFound
		if !moved && !link && (cookie.Status >= 400 || bearer.Status >= 400) {
			t.Errorf("GET %s: %d by cookie, %d by token; want it to answer", path, cookie.Status, bearer.Status)
		}
		if now := f.state(t); now != before {
			t.Fatalf("GET %s changed the tenant:\nbefore %s\nafter  %s", path, before, now)
		}
	}
	if walked < 30 {
		t.Errorf("walked only %d GET routes", walked)
	}
}

// TestSameSiteEmbedsChangeNothing: what a sibling chapter's page can make
// the owner's browser request with the dashboard's cookie (an <img> of
// the old export and mark-read URLs, a same-site fetch) changes nothing,
// and the export and mark-read work only as POSTs with the CSRF token.
func TestSameSiteEmbedsChangeNothing(t *testing.T) {
	f := newSameSiteFixture(t)
	msg := "/admin/messages/" + f.ids["messages"]
	unread := func() bool {
		t.Helper()
		r := f.ts.Call(t, f.ts.Browser(), "GET", f.ts.SiteURL("alpha", "/api/messages/"+f.ids["messages"]), nil, webtest.Bearer(f.token)...)
		var m struct{ Read bool }
		r.JSON(t, &m)
		return !m.Read
	}
	exports := func() int {
		t.Helper()
		es, err := f.ts.Platform.Catalog.AuditLog(context.Background(), 10_000)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range es {
			if strings.HasPrefix(e.Action, "tenant.export") {
				n++
			}
		}
		return n
	}
	img := []string{"Sec-Fetch-Dest", "image", "Sec-Fetch-Site", "same-site", "Sec-Fetch-Mode", "no-cors"}

	before := f.state(t)
	for _, path := range []string{"/admin/export", "/api/export", msg} {
		if p := f.ts.Form(t, f.browser, f.host, path, nil, img...); p.Status < 400 {
			t.Errorf("<img src=%s> from a sibling: %d, want it refused", path, p.Status)
		}
	}
	for _, path := range []string{"/admin/export", "/api/export"} {
		if p := f.ts.Form(t, f.browser, f.host, path, nil); p.Status != http.StatusMethodNotAllowed {
			t.Errorf("GET %s: %d, want 405", path, p.Status)
		}
	}
	if p := f.ts.Form(t, f.browser, f.host, msg, nil, "Sec-Fetch-Dest", "empty", "Sec-Fetch-Site", "same-site"); p.Status != http.StatusForbidden {
		t.Errorf("a sibling's fetch of %s: %d, want 403", msg, p.Status)
	}
	if p := f.ts.Form(t, f.browser, f.host, msg, nil, "Sec-Fetch-Dest", "document", "Sec-Fetch-Site", "same-site"); p.Status != http.StatusOK || !strings.Contains(p.Body, "Is it free?") {
		t.Errorf("following a link from a sibling to %s: %d, want the page", msg, p.Status)
	}
	if !unread() || exports() != 0 || f.state(t) != before {
		t.Fatalf("GETs changed something: unread %v, exports %d", unread(), exports())
	}

	// Without the CSRF token the POSTs are refused and change nothing.
	for _, path := range []string{"/admin/export", "/api/export", msg + "/read"} {
		if p := f.ts.Form(t, f.browser, f.host, path, url.Values{}); p.Status != http.StatusForbidden {
			t.Errorf("POST %s without the CSRF token: %d, want 403", path, p.Status)
		}
	}
	if !unread() || exports() != 0 {
		t.Fatalf("refused POSTs changed something: unread %v, exports %d", unread(), exports())
	}

	// With it they work.
	if p := f.ts.Form(t, f.browser, f.host, msg+"/read", url.Values{"csrf_token": {f.csrf}}); p.Status != http.StatusSeeOther || p.Location != msg {
		t.Errorf("open the message: %d %q, want 303 to it", p.Status, p.Location)
	}
	if unread() {
		t.Error("opening the message by its form did not mark it read")
	}
	p := f.ts.Form(t, f.browser, f.host, "/admin/export", url.Values{"csrf_token": {f.csrf}})
	if p.Status != http.StatusOK || !strings.HasPrefix(p.Body, "SQLite format 3\x00") || exports() != 1 {
		t.Errorf("POST /admin/export with the CSRF token: %d, %d exports recorded", p.Status, exports())
	}
	// The server lets go of the first export's place (one per site at a
	// time) just after its last byte reached the client.
	for start := time.Now(); f.ts.Metric("chapterhouse_export_downloads_running") != "0"; {
		if time.Since(start) > time.Minute {
			t.Fatal("the dashboard's export never ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if r := f.ts.Call(t, f.ts.Browser(), "POST", f.ts.SiteURL("alpha", "/api/export"), nil, webtest.Bearer(f.token)...); r.Status != http.StatusOK || exports() != 2 {
		t.Errorf("POST /api/export with a token: %d, %d exports recorded", r.Status, exports())
	}
}
