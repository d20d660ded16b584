package web_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/app/internal/web"
	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
	"github.com/chapterhouse/chapterhouse/tenantdb/pool"
)

// testServer is the web test server over base domain "localhost", with
// no tenant until a test adds one, and the helpers these tests use.
type testServer struct {
	*webtest.Server
	p *platform.Platform
}

func newTestServer(t testing.TB, opts ...webtest.Option) *testServer {
	t.Helper()
	opts = append([]webtest.Option{func(c *web.Config) { c.BaseDomain = "localhost" }}, opts...)
	ts := webtest.NewEmpty(t, opts...)
	return &testServer{Server: ts, p: ts.Platform}
}

// tenant creates a tenant and fills it with fn.
func (ts *testServer) tenant(t testing.TB, slug, name string, fill func(db *tenantdb.DB)) catalog.Tenant {
	t.Helper()
	return ts.AddTenant(slug, name, fill)
}

// do sends a request to host, following redirects.
func (ts *testServer) do(t testing.TB, method, host, path string, body io.Reader) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s%s: %v", method, host, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (ts *testServer) get(t testing.TB, host, path string) (int, string) {
	t.Helper()
	resp, body := ts.do(t, http.MethodGet, host, path, nil)
	return resp.StatusCode, body
}

// markerTenant creates a tenant whose content carries marker everywhere
// a visitor could see it.
func markerTenant(t testing.TB, ts *testServer, slug, marker string) catalog.Tenant {
	return ts.tenant(t, slug, "Chapter "+marker, func(db *tenantdb.DB) {
		ctx := context.Background()
		site, _ := db.Site(ctx)
		site.Tagline, site.About, site.MeetingInfo = marker+" tagline", marker+" about", marker+" meets"
		if err := db.UpdateSite(ctx, &site); err != nil {
			t.Fatal(err)
		}
		if err := platform.FillDemo(ctx, db, time.Now()); err != nil {
			t.Fatal(err)
		}
		site, _ = db.Site(ctx)
		site.Name, site.Tagline = "Chapter "+marker, marker+" tagline"
		if err := db.UpdateSite(ctx, &site); err != nil {
			t.Fatal(err)
		}
		for _, title := range []string{marker + " news"} {
			if err := db.SavePost(ctx, &tenantdb.Post{Title: title, Slug: strings.ToLower(marker) + "-news", Body: marker + " body", Published: true}); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.SavePage(ctx, &tenantdb.Page{Title: marker + " page", Slug: strings.ToLower(marker) + "-page", Body: marker, Published: true, ShowInNav: true}); err != nil {
			t.Fatal(err)
		}
		// An event taking RSVPs, and an RSVP with a token of this tenant's.
		start := time.Now().Add(10 * 24 * time.Hour).Truncate(time.Hour)
		dinner := tenantdb.Event{Title: marker + " dinner", StartsAt: start, EndsAt: start.Add(time.Hour), Timezone: "UTC", RSVP: true}
		webtest.Must(t, db.SaveEvent(ctx, &dinner))
		r := tenantdb.RSVP{Occurrence: start, Name: marker, Email: "guest@example.org", PartySize: 1, Token: rsvpToken(marker)}
		_, err := db.AddRSVP(ctx, dinner, &r, nil)
		webtest.Must(t, err)
	})
}

// rsvpToken is the token of the RSVP markerTenant makes.
func rsvpToken(marker string) string { return strings.ToLower(marker) + "-rsvp-token-0123456789" }

// probe is a GET of a public path and the status it must answer.
type probe struct {
	path string
	want int
}

// publicPaths lists a GET for every public route of the tenant site: the
// routes without parameters, and each route with a parameter filled with
// every value of tenant self (200) and of tenant other (404: another
// chapter's post, page, event or image does not exist here).
func publicPaths(t testing.TB, ts *testServer, self, other catalog.Tenant) []probe {
	t.Helper()
	values := func(tn catalog.Tenant) map[string][]string {
		ctx := context.Background()
		h, err := ts.p.Pool.Acquire(ctx, tn.ID)
		if err != nil {
			t.Fatal(err)
		}
		defer h.Release()
		v := map[string][]string{}
		posts, _, err := h.Posts(ctx, tenantdb.PostQuery{PublishedOnly: true})
		webtest.Must(t, err)
		for _, p := range posts {
			v["/news/:slug"] = append(v["/news/:slug"], p.Slug)
		}
		pages, err := h.Pages(ctx, true)
		webtest.Must(t, err)
		for _, p := range pages {
			v["/p/:slug"] = append(v["/p/:slug"], p.Slug)
		}
		events, err := h.Events(ctx)
		webtest.Must(t, err)
		for _, e := range events {
			v["/events/:id"] = append(v["/events/:id"], fmt.Sprint(e.ID))
			if next := e.Occurrences(time.Now(), time.Now().Add(366*24*time.Hour), 2); e.RSVP && len(next) > 0 {
				if !next[0].Start.After(time.Now()) {
					next = next[1:]
				}
				v["/events/:id/rsvp"] = append(v["/events/:id/rsvp"], fmt.Sprintf("%d/rsvp?date=%s", e.ID, next[0].Start.Format("2006-01-02")))
			}
		}
		v["/rsvp/:token"] = []string{rsvpToken(strings.TrimPrefix(tn.Name, "Chapter "))}
		media, err := h.MediaList(ctx)
		webtest.Must(t, err)
		for _, m := range media {
			v["/media/:id"] = append(v["/media/:id"], m.ID)
			v["/media/:id/:size"] = append(v["/media/:id/:size"], m.ID+"/small")
		}
		docs, err := h.Documents(ctx, "", false, tenantdb.Window{})
		webtest.Must(t, err)
		for _, d := range docs {
			v["/files/:id"] = append(v["/files/:id"], d.ID)
			if !slices.Contains(v["/documents/:category"], d.Category) {
				v["/documents/:category"] = append(v["/documents/:category"], d.Category)
			}
		}
		albums, err := h.Albums(ctx, true, false, tenantdb.Window{})
		webtest.Must(t, err)
		for _, a := range albums {
			v["/albums/:slug"] = append(v["/albums/:slug"], a.Slug)
		}
		// A magic link's page shows for any token; the POST judges it.
		v["/members/login/:token"] = []string{"some-token"}
		return v
	}
	own, foreign := values(self), values(other)
	var probes []probe
	for _, r := range ts.Web.Routes() {
		if r.Method != http.MethodGet || strings.HasPrefix(r.Path, "/api") || strings.HasPrefix(r.Path, "/admin") || strings.Contains(r.Path, "*") {
			continue
		}
		name, param, ok := strings.Cut(r.Path, ":")
		if !ok {
			probes = append(probes, probe{r.Path, http.StatusOK})
			continue
		}
		if len(own[r.Path]) == 0 {
			t.Fatalf("route %s: the tenant has nothing to fill :%s with; extend publicPaths", r.Path, param)
		}
		for _, v := range own[r.Path] {
			probes = append(probes, probe{name + v, http.StatusOK})
		}
		for _, v := range foreign[r.Path] {
			if !slices.Contains(own[r.Path], v) && r.Path != "/members/login/:token" { // both chapters may have a post "welcome"
				probes = append(probes, probe{name + v, http.StatusNotFound})
			}
		}
	}
	slices.SortFunc(probes, func(a, b probe) int { return strings.Compare(a.path, b.path) })
	return probes
}

func TestTenantIsolation(t *testing.T) {
	ts := newTestServer(t)
	a := markerTenant(t, ts, "alpha", "ALPHAMARK")
	b := markerTenant(t, ts, "bravo", "BRAVOMARK")
	// One more event for bravo, so that its id is one alpha lacks.
	webtest.Must(t, ts.p.WithTenant(context.Background(), "bravo", func(_ catalog.Tenant, h *pool.Handle) error {
		start := time.Now().Add(48 * time.Hour).Truncate(time.Hour)
		return h.SaveEvent(context.Background(), &tenantdb.Event{Title: "BRAVOMARK picnic", StartsAt: start, EndsAt: start.Add(time.Hour), Timezone: "UTC"})
	}))
	type check struct {
		host, own, foreign string
		probe
	}
	var checks []check
	for _, p := range publicPaths(t, ts, a, b) {
		checks = append(checks, check{"alpha.localhost", "ALPHAMARK", "BRAVOMARK", p})
	}
	for _, p := range publicPaths(t, ts, b, a) {
		checks = append(checks, check{"bravo.localhost", "BRAVOMARK", "ALPHAMARK", p})
	}
	if len(checks) < 30 {
		t.Fatalf("only %d paths to check", len(checks))
	}
	// verify says what is wrong with one answer: the status the path must
	// have (a 500 is a failure, not a refusal), never the other tenant's
	// marker, and the tenant's own marker on every page and feed.
	verify := func(c check, resp *http.Response, body string) string {
		if resp.StatusCode != c.want {
			return fmt.Sprintf("status %d, want %d", resp.StatusCode, c.want)
		}
		if strings.Contains(body, c.foreign) {
			return "shows the other tenant's " + c.foreign
		}
		ct := resp.Header.Get("Content-Type")
		named := strings.HasPrefix(ct, "text/html") || c.path == "/feed.xml" || c.path == "/events.ics"
		if named && !strings.Contains(body, c.own) {
			return "lacks its own tenant's " + c.own
		}
		return ""
	}
	// Sequentially first, then all at once under -race.
	for _, c := range checks {
		resp, body := ts.do(t, http.MethodGet, c.host, c.path, nil)
		if problem := verify(c, resp, body); problem != "" {
			t.Errorf("%s%s: %s", c.host, c.path, problem)
		}
	}
	var wg sync.WaitGroup
	for range 4 {
		for _, c := range checks {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, body := ts.do(t, http.MethodGet, c.host, c.path, nil)
				if problem := verify(c, resp, body); problem != "" {
					t.Errorf("concurrent %s%s: %s", c.host, c.path, problem)
				}
			}()
		}
	}
	wg.Wait()
}

func TestHostVariantsReachTheirTenant(t *testing.T) {
	ts := newTestServer(t)
	markerTenant(t, ts, "alpha", "ALPHAMARK")
	for _, host := range []string{"alpha.localhost", "ALPHA.LOCALHOST", "alpha.localhost.", "Alpha.Localhost.:8080", "alpha.localhost:1"} {
		code, body := ts.get(t, host, "/")
		if code != http.StatusOK || !strings.Contains(body, "ALPHAMARK") {
			t.Errorf("Host %q: %d, want alpha's home", host, code)
		}
	}
	if code, body := ts.get(t, "localhost:8080", "/"); code != http.StatusOK || strings.Contains(body, "ALPHAMARK") {
		t.Errorf("bare base domain: %d (must be the platform page, no tenant data)", code)
	}
}

// Unknown and hostile hosts never open or create a file.
func TestUnknownAndHostileHostsTouchNoFile(t *testing.T) {
	ts := newTestServer(t)
	markerTenant(t, ts, "alpha", "ALPHAMARK")
	before := webtest.Files(t, ts.p.Dir)
	opensBefore := ts.p.Pool.Stats.Opens.Load()
	rng := rand.New(rand.NewPCG(1, 2))
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789-"
	for i := range 1000 {
		var b strings.Builder
		for range 1 + rng.IntN(20) {
			b.WriteByte(letters[rng.IntN(len(letters)-1)])
		}
		host := b.String() + ".localhost"
		if i%2 == 1 {
			host = b.String() + ".example.org"
		}
		if code, _ := ts.get(t, host, "/"); code != http.StatusNotFound {
			t.Fatalf("unknown host %q: %d, want 404", host, code)
		}
	}
	hostile := []string{"..", "../catalog.db", "%2e%2e%2fcatalog", "a&_pragma=x", "a?mode=rwc", "alpha.localhost%00",
		"alpha\x00.localhost", strings.Repeat("a", 64) + ".localhost", "tenants.localhost", "catalog.localhost",
		"-alpha.localhost", "alpha..localhost", "[::1]", "alpha.localhost:80:80", ".localhost", "xn--.localhost"}
	for _, host := range hostile {
		req, _ := http.NewRequest(http.MethodGet, ts.URL+"/", nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			continue // the client itself refused the header
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusNotFound {
			t.Errorf("hostile host %q: %d, want 400 or 404", host, resp.StatusCode)
		}
	}
	if after := webtest.Files(t, ts.p.Dir); !slices.Equal(before, after) {
		t.Errorf("files changed by unknown hosts:\nbefore %v\nafter  %v", before, after)
	}
	if opens := ts.p.Pool.Stats.Opens.Load(); opens != opensBefore {
		t.Errorf("%d tenant opens for unknown hosts, want 0", opens-opensBefore)
	}
}
