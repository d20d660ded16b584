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
	})
}

// publicPaths lists a GET path for every public route of the tenant site,
// filling parameters with values that exist in some tenant: slugs and ids
// of tenant other (so a leak would show) and of the tenant itself.
func publicPaths(t testing.TB, ts *testServer, self, other catalog.Tenant) []string {
	t.Helper()
	params := map[string][]string{}
	for _, tn := range []catalog.Tenant{self, other} {
		h, err := ts.p.Pool.Acquire(context.Background(), tn.ID)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		posts, _, _ := h.Posts(ctx, tenantdb.PostQuery{PublishedOnly: true})
		for _, p := range posts {
			params["slug"] = append(params["slug"], p.Slug)
		}
		pages, _ := h.Pages(ctx, true)
		for _, p := range pages {
			params["slug"] = append(params["slug"], p.Slug)
		}
		events, _ := h.Events(ctx)
		for _, e := range events {
			params["id"] = append(params["id"], fmt.Sprint(e.ID))
		}
		media, _ := h.MediaList(ctx)
		for _, m := range media {
			params["id"] = append(params["id"], m.ID)
		}
		h.Release()
	}
	var paths []string
	for _, r := range ts.Web.Routes() {
		if r.Method != http.MethodGet || strings.HasPrefix(r.Path, "/api") || strings.HasPrefix(r.Path, "/admin") || strings.Contains(r.Path, "*") {
			continue
		}
		expanded := []string{r.Path}
		for name, values := range params {
			var next []string
			for _, p := range expanded {
				if !strings.Contains(p, ":"+name) {
					next = append(next, p)
					continue
				}
				for _, v := range values {
					next = append(next, strings.ReplaceAll(p, ":"+name, v))
				}
			}
			expanded = next
		}
		for _, p := range expanded {
			if !strings.Contains(p, ":") {
				paths = append(paths, p)
			}
		}
	}
	slices.Sort(paths)
	return slices.Compact(paths)
}

func TestTenantIsolation(t *testing.T) {
	ts := newTestServer(t)
	a := markerTenant(t, ts, "alpha", "ALPHAMARK")
	b := markerTenant(t, ts, "bravo", "BRAVOMARK")
	type check struct {
		host, path, own, foreign string
	}
	var checks []check
	for _, path := range publicPaths(t, ts, a, b) {
		checks = append(checks, check{"alpha.localhost", path, "ALPHAMARK", "BRAVOMARK"})
	}
	for _, path := range publicPaths(t, ts, b, a) {
		checks = append(checks, check{"bravo.localhost", path, "BRAVOMARK", "ALPHAMARK"})
	}
	if len(checks) < 2 {
		t.Fatalf("only %d paths to check", len(checks))
	}
	// Sequentially first, then all at once under -race.
	for _, c := range checks {
		code, body := ts.get(t, c.host, c.path)
		if strings.Contains(body, c.foreign) {
			t.Errorf("%s%s (%d) shows the other tenant's %s", c.host, c.path, code, c.foreign)
		}
	}
	code, body := ts.get(t, "alpha.localhost", "/")
	if code != http.StatusOK || !strings.Contains(body, "ALPHAMARK") {
		t.Fatalf("alpha home: %d", code)
	}
	var wg sync.WaitGroup
	for range 4 {
		for _, c := range checks {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, body := ts.get(t, c.host, c.path)
				if strings.Contains(body, c.foreign) {
					t.Errorf("concurrent %s%s shows %s", c.host, c.path, c.foreign)
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
