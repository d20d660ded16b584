package site_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/web"
	"github.com/chapterhouse/chapterhouse/app/internal/web/site"
	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// marker is in every members-only item of the fixture: its title, slug
// and text. No public answer may carry it, in any case.
const marker = "mbrz7q"

// membersFixture is a chapter with public and members-only items of each
// kind, and the ids and slugs of the members-only ones.
type membersFixture struct {
	ts                  *webtest.Server
	post, page          string // members-only slugs
	event               int64
	mediaID             string
	document, album     string // members-only: a file's id, an album's slug
	lodge, other        string // hosts
	memberA, memberB    string // session cookies: a member of lodge, a member of other
	publicPost, pubPage string
	seen                map[string]int64 // per chapter, the newest mail already read
}

// newMembersFixture starts a server (opts: its config) with chapters
// lodge (the items) and other, and logs a member into each through the
// real login: the form, the queued mail's link, the link's POST.
func newMembersFixture(t testing.TB, opts ...webtest.Option) *membersFixture {
	t.Helper()
	ts := webtest.New(t, opts...)
	ctx := context.Background()
	f := &membersFixture{ts: ts, lodge: webtest.Host("lodge"), other: webtest.Host("other"), seen: map[string]int64{}}
	ts.AddTenant("lodge", "Lodge 7", func(db *tenantdb.DB) {
		m := &tenantdb.Media{Name: "logo.png", ContentType: "image/png", Width: 2, Height: 2}
		webtest.Must(t, db.AddMedia(ctx, m, webtest.PNG(2, 2)))
		f.mediaID = m.ID
		// Ten public posts fill the first page of /news exactly: an
		// eleventh, members-only, would add a second page for members only.
		for i := range 10 {
			at := time.Date(2026, 1, 1+i, 12, 0, 0, 0, time.UTC)
			p := &tenantdb.Post{Title: fmt.Sprintf("Public news %d", i), Body: "Open to all.", Published: true, PublishedAt: &at}
			webtest.Must(t, db.SavePost(ctx, p))
			f.publicPost = p.Slug
		}
		at := time.Date(2026, 2, 1, 12, 0, 0, 0, time.UTC)
		secret := &tenantdb.Post{Title: "Minutes " + marker, Body: "The " + marker + " vote.", Published: true,
			PublishedAt: &at, ImageID: m.ID, Visibility: tenantdb.Members}
		webtest.Must(t, db.SavePost(ctx, secret))
		f.post = secret.Slug
		page := &tenantdb.Page{Title: "Roster " + marker, Body: "For members: " + marker, Published: true, ShowInNav: true,
			Visibility: tenantdb.Members}
		webtest.Must(t, db.SavePage(ctx, page))
		f.page = page.Slug
		pub := &tenantdb.Page{Title: "History", Body: "Since 1900.", Published: true, ShowInNav: true}
		webtest.Must(t, db.SavePage(ctx, pub))
		f.pubPage = pub.Slug
		start := time.Now().Add(48 * time.Hour).Truncate(time.Hour)
		for _, e := range []*tenantdb.Event{
			{Title: "Open house", StartsAt: start, EndsAt: start.Add(time.Hour), Timezone: "UTC"},
			{Title: "Closed session " + marker, StartsAt: start.Add(time.Hour), EndsAt: start.Add(2 * time.Hour),
				Timezone: "UTC", Category: "meeting", Description: marker, Visibility: tenantdb.Members, RSVP: true},
		} {
			webtest.Must(t, db.SaveEvent(ctx, e))
			f.event = e.ID
		}
		doc := &tenantdb.Document{Title: "Treasurer " + marker, Category: "minutes", Dated: "2026-05-12",
			Filename: "treasurer.pdf", Visibility: tenantdb.Members}
		webtest.Must(t, db.AddDocument(ctx, doc, []byte("%PDF-1.4\n%%EOF\n")))
		f.document = doc.ID
		album := &tenantdb.Album{Title: "Dinner " + marker, Dated: "2026-05-12", Published: true,
			Visibility: tenantdb.Members, CoverID: m.ID}
		webtest.Must(t, db.SaveAlbum(ctx, album))
		f.album = album.Slug
		webtest.Must(t, db.SaveMember(ctx, &tenantdb.Member{Email: "ann@example.org", Name: "Ann Member"}))
	})
	ts.AddTenant("other", "Other Post", func(db *tenantdb.DB) {
		webtest.Must(t, db.SaveMember(ctx, &tenantdb.Member{Email: "bob@example.org", Name: "Bob Member"}))
	})
	f.memberA = f.login(t, "lodge", "ann@example.org")
	f.memberB = f.login(t, "other", "bob@example.org")
	return f
}

// mailedLink asks chapter slug's login form for a link to email and
// returns the link's path from the newest mail in the outbox.
func (f *membersFixture) mailedLink(t testing.TB, slug, email string) string {
	t.Helper()
	r := f.ts.Post(webtest.Host(slug), "/members/login", url.Values{"email": {email}})
	if r.Status != http.StatusOK || !strings.Contains(r.Body, "a login link is on its way") {
		t.Fatalf("login form for %s: %d %q", email, r.Status, r.Body)
	}
	// The link is looked up and queued after the answer (so that its
	// timing tells nothing): wait for the mail, for a minute at most.
	db := f.ts.DB(slug)
	var mails []tenantdb.Outgoing
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
		var err error
		mails, err = db.Outbox(context.Background(), tenantdb.Window{Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(mails) > 0 && mails[0].ID > f.seen[slug] && mails[0].To == email {
			f.seen[slug] = mails[0].ID
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no mail to %s queued: %+v", email, mails)
		}
	}
	_, rest, ok := strings.Cut(mails[0].Text, "http://"+webtest.Host(slug))
	if !ok {
		t.Fatalf("the mail has no link to %s: %q", webtest.Host(slug), mails[0].Text)
	}
	path, _, _ := strings.Cut(rest, "\n")
	return path
}

// login logs email in on chapter slug and returns the session cookie.
func (f *membersFixture) login(t testing.TB, slug, email string) string {
	t.Helper()
	path := f.mailedLink(t, slug, email)
	r := f.ts.Post(webtest.Host(slug), path, url.Values{})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/members" {
		t.Fatalf("POST %s: %d, Location %q", path, r.Status, r.Header.Get("Location"))
	}
	for _, ck := range (&http.Response{Header: r.Header}).Cookies() {
		if ck.Name == site.MemberCookie && ck.Value != "" {
			if !ck.HttpOnly || ck.Domain != "" || ck.SameSite != http.SameSiteLaxMode {
				t.Errorf("member cookie %+v: want HttpOnly, host-only, SameSite=Lax", ck)
			}
			return site.MemberCookie + "=" + ck.Value
		}
	}
	t.Fatalf("no member cookie set: %v", r.Header["Set-Cookie"])
	return ""
}

// routePaths turns each GET route of a tenant's site into the paths to
// request: a route's parameters name the members-only item of their kind
// (and a path is marked as one that must be a 404 for strangers). A route
// with a parameter this table does not know fails the test: a new route
// must be added here, so that it is checked too.
func (f *membersFixture) routePaths(t *testing.T) (paths []string, hidden map[string]bool) {
	t.Helper()
	hidden = map[string]bool{}
	// Each parameter's value, and whether the path names a members-only
	// item (a 404 for strangers). Media are as private as their random ids
	// (docs/members.md); a document category and a stranger's token are
	// no items.
	params := map[string]struct {
		v      string
		hidden bool
	}{
		"/news/:slug":           {f.post, true},
		"/p/:slug":              {f.page, true},
		"/events/:id":           {strconv.FormatInt(f.event, 10), true},
		"/events/:id/rsvp":      {strconv.FormatInt(f.event, 10), true},
		"/files/:id":            {f.document, true},
		"/albums/:slug":         {f.album, true},
		"/documents/:category":  {"minutes", false},
		"/media/:id":            {f.mediaID, false},
		"/media/:id/:size":      {f.mediaID + "/small", false},
		"/members/login/:token": {"not-a-token", false},
		"/rsvp/:token":          {"not-a-token", false},
	}
	seen := map[string]bool{}
	for _, r := range f.ts.Web.TenantRoutes() {
		if r.Method != http.MethodGet || seen[r.Path] || strings.HasPrefix(r.Path, "/admin") ||
			strings.HasPrefix(r.Path, "/api/") || strings.HasPrefix(r.Path, "/static/") {
			continue
		}
		seen[r.Path] = true
		path := r.Path
		if strings.ContainsAny(path, ":*") {
			v, ok := params[path]
			if !ok {
				t.Errorf("route %s has a parameter this test does not know: add it to routePaths", path)
				continue
			}
			path = path[:strings.IndexAny(path, ":*")] + v.v
			if rest := r.Path[strings.IndexAny(r.Path, ":*"):]; strings.Contains(rest, "/") && !strings.ContainsAny(rest[1:], ":*") {
				// A parameter before a fixed tail: /events/:id/rsvp.
				path += rest[strings.Index(rest, "/"):]
			}
			hidden[path] = v.hidden
		}
		paths = append(paths, path)
	}
	// The second page of /news exists for members only (its eleventh post).
	paths = append(paths, "/news?page=2", "/no-such-page")
	hidden["/news?page=2"] = true
	return paths, hidden
}

// TestMembersOnlyNeverLeaks walks every GET route of a chapter's site,
// with and without the page cache, each time first as a member of the
// chapter (who must see the members-only items: the check can fail), then
// as an anonymous visitor (twice: the second may come from the cache) and
// as a member of another chapter (their cookie sent here): neither may
// get a members-only marker in any answer, and a members-only item's
// address is a 404 for them.
func TestMembersOnlyNeverLeaks(t *testing.T) {
	for _, cache := range []int{64, 0} {
		t.Run(fmt.Sprintf("page cache %d MB", cache), func(t *testing.T) {
			f := newMembersFixture(t, func(c *web.Config) { c.PageCacheMB = cache })
			paths, hidden := f.routePaths(t)
			if len(paths) < 15 {
				t.Fatalf("only %d paths from the router: %v", len(paths), paths)
			}
			seenByMember := 0
			for _, path := range paths {
				r := f.ts.Get(f.lodge, path, "Cookie: "+f.memberA)
				if strings.Contains(strings.ToLower(r.Body), marker) {
					seenByMember++
					if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "private") || !strings.Contains(cc, "no-store") {
						t.Errorf("GET %s as a member: Cache-Control %q, want private, no-store", path, cc)
					}
				}
				if hidden[path] && r.Status != http.StatusOK {
					t.Errorf("GET %s as a member of the chapter: %d, want 200", path, r.Status)
				}
				for _, who := range []struct{ name, header string }{
					{"anonymous", "X-Anonymous: 1"},
					{"anonymous again", "X-Anonymous: 2"},
					{"a member of another chapter", "Cookie: " + f.memberB},
				} {
					r := f.ts.Get(f.lodge, path, who.header)
					if strings.Contains(strings.ToLower(r.Body), marker) {
						t.Errorf("GET %s as %s: the answer (%d) carries a members-only item", path, who.name, r.Status)
					}
					if hidden[path] && r.Status != http.StatusNotFound {
						t.Errorf("GET %s as %s: %d, want 404", path, who.name, r.Status)
					}
				}
			}
			// The member saw the items on their pages, the lists, the menu.
			if seenByMember < 8 {
				t.Errorf("the member of the chapter saw members-only items on %d paths, want at least 8", seenByMember)
			}
		})
	}
}

// TestMemberLoginLink: the link's page does not spend it (mail scanners
// open links); its POST logs in once; a second POST, or a made-up link,
// is refused with 410 and sets no cookie. A logged-out session ends.
func TestMemberLoginLink(t *testing.T) {
	f := newMembersFixture(t)
	path := f.mailedLink(t, "lodge", "ann@example.org")
	for range 2 {
		if r := f.ts.Get(f.lodge, path); r.Status != http.StatusOK || !strings.Contains(r.Body, `action="`+path+`"`) {
			t.Fatalf("GET %s: %d", path, r.Status)
		}
	}
	if r := f.ts.Post(f.lodge, path, url.Values{}); r.Status != http.StatusSeeOther {
		t.Fatalf("first POST of the link: %d", r.Status)
	}
	for _, p := range []string{path, "/members/login/made-up"} {
		r := f.ts.Post(f.lodge, p, url.Values{})
		if r.Status != http.StatusGone || len(r.Header["Set-Cookie"]) != 0 || !strings.Contains(r.Body, "cannot be used") {
			t.Errorf("POST %s again: %d, cookies %v", p, r.Status, r.Header["Set-Cookie"])
		}
	}
	// A link of one chapter is nothing on another.
	other := f.mailedLink(t, "lodge", "ann@example.org")
	if r := f.ts.Post(f.other, other, url.Values{}); r.Status != http.StatusGone {
		t.Errorf("lodge's link on other: %d, want 410", r.Status)
	}
	// Cross-site POSTs are refused.
	if r := f.ts.Post(f.lodge, other, url.Values{}, "Sec-Fetch-Site: same-site"); r.Status != http.StatusForbidden {
		t.Errorf("a link POSTed from a sibling chapter: %d, want 403", r.Status)
	}
	// The member's pages, then logout.
	if r := f.ts.Get(f.lodge, "/members", "Cookie: "+f.memberA); r.Status != http.StatusOK || !strings.Contains(r.Body, "Ann Member") {
		t.Fatalf("/members as the member: %d", r.Status)
	}
	if r := f.ts.Get(f.lodge, "/members"); r.Status != http.StatusSeeOther {
		t.Errorf("/members anonymous: %d, want a redirect to the login", r.Status)
	}
	if r := f.ts.Post(f.lodge, "/members/logout", url.Values{}, "Cookie: "+f.memberA); r.Status != http.StatusForbidden {
		t.Errorf("logout without the CSRF token: %d, want 403", r.Status)
	}
	body := f.ts.Get(f.lodge, "/members", "Cookie: "+f.memberA).Body
	csrf := csrfField(t, body)
	if r := f.ts.Post(f.lodge, "/members/logout", url.Values{"csrf_token": {csrf}}, "Cookie: "+f.memberA); r.Status != http.StatusSeeOther {
		t.Fatalf("logout: %d", r.Status)
	}
	if r := f.ts.Get(f.lodge, "/members", "Cookie: "+f.memberA); r.Status != http.StatusSeeOther {
		t.Errorf("/members after logout: %d, want a redirect to the login", r.Status)
	}
}

func csrfField(t *testing.T, body string) string {
	t.Helper()
	_, rest, ok := strings.Cut(body, `name="csrf_token" value="`)
	if !ok {
		t.Fatal("no csrf_token in the page")
	}
	v, _, _ := strings.Cut(rest, `"`)
	return v
}

// TestDirectoryAndApplication: a member chooses what the directory shows;
// a visitor's application is checked field by field, stored once, and a
// filled honeypot stores nothing.
func TestDirectoryAndApplication(t *testing.T) {
	f := newMembersFixture(t)
	ck := "Cookie: " + f.memberA
	if r := f.ts.Get(f.lodge, "/members/directory", ck); !strings.Contains(r.Body, "No member has chosen") {
		t.Fatalf("directory before any choice: %d %q", r.Status, r.Body)
	}
	csrf := csrfField(t, f.ts.Get(f.lodge, "/members", ck).Body)
	r := f.ts.Post(f.lodge, "/members/profile", url.Values{"csrf_token": {csrf}, "listed": {"on"}, "show_email": {"on"}}, ck)
	if r.Status != http.StatusSeeOther {
		t.Fatalf("saving the choices: %d", r.Status)
	}
	if r := f.ts.Get(f.lodge, "/members/directory", ck); !strings.Contains(r.Body, "Ann Member") || !strings.Contains(r.Body, "ann@example.org") {
		t.Errorf("directory after the choice: %q", r.Body)
	}
	if r := f.ts.Get(f.lodge, "/members/directory", "Cookie: "+f.memberB); r.Status != http.StatusSeeOther {
		t.Errorf("directory for another chapter's member: %d, want a redirect to the login", r.Status)
	}

	form := url.Values{"name": {"Cal Applicant"}, "email": {"not an email"}, "qualification": {""}}
	r = f.ts.Post(f.lodge, "/join", form)
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(r.Body, "Your email") || !strings.Contains(r.Body, "How you qualify is required") ||
		!strings.Contains(r.Body, "Cal Applicant") {
		t.Errorf("a bad application: %d %q", r.Status, r.Body)
	}
	form.Set("website", "http://spam.example")
	form.Set("email", "cal@example.org")
	form.Set("qualification", "Served 2001-2005")
	if r := f.ts.Post(f.lodge, "/join", form); r.Status != http.StatusSeeOther {
		t.Errorf("honeypot: %d", r.Status)
	}
	form.Del("website")
	if r := f.ts.Post(f.lodge, "/join", form); r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/join/thanks" {
		t.Errorf("an application: %d", r.Status)
	}
	apps, err := f.ts.DB("lodge").Applications(context.Background())
	if err != nil || len(apps) != 1 || apps[0].Email != "cal@example.org" {
		t.Errorf("applications stored: %+v, %v; want Cal's only", apps, err)
	}
}
