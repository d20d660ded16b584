package admin_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/app/internal/testdns"
	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
)

// The dashboard's domains page: add, see the records and the live status,
// check now, remove; every form CSRF-checked; owners only for changes.
func TestDashboardDomains(t *testing.T) {
	ns := testdns.Start(t)
	ls := webtest.NewEmpty(t)
	ls.Platform.Resolver, _ = platform.NewResolver(ns.Addr)
	email, password := ls.NewTenant(t, "riverside")
	ls.NewTenant(t, "sibling")
	host := webtest.Host("riverside")
	c := ls.Browser()
	csrf := ls.DashLogin(t, c, host, email, password)
	post := func(path string, v url.Values) webtest.Page {
		t.Helper()
		v.Set("csrf_token", csrf)
		return ls.Form(t, c, host, path, v, "Sec-Fetch-Site", "same-origin", "Origin", "http://"+host+":"+ls.Port())
	}
	site := func(h string) int {
		t.Helper()
		return ls.Form(t, ls.Browser(), h, "/", nil).Status
	}
	// hosts lists riverside's custom domains as the catalog holds them:
	// what every refusal must leave as it was.
	riverside, err := ls.Platform.Catalog.Tenant("riverside")
	webtest.Must(t, err)
	hosts := func() string {
		t.Helper()
		ds, err := ls.Platform.Catalog.Domains(context.Background(), riverside.ID)
		webtest.Must(t, err)
		var hs []string
		for _, d := range ds {
			hs = append(hs, d.Host+" "+d.Status)
		}
		return strings.Join(hs, ", ")
	}

	p := ls.Form(t, c, host, "/admin/domains", nil)
	if p.Status != 200 || !strings.Contains(p.Body, "No custom domain yet") || !strings.Contains(p.Body, `action="/admin/domains"`) {
		t.Fatalf("empty domains page: %d %.500s", p.Status, p.Body)
	}
	if !strings.Contains(ls.Form(t, c, host, "/admin", nil).Body, `href="/admin/domains"`) {
		t.Error("the menu has no Domains entry")
	}

	// Forged or token-less posts are refused and change nothing.
	for _, tc := range []struct {
		name    string
		values  url.Values
		headers []string
	}{
		{"no token", url.Values{"host": {"www.forged.example"}}, nil},
		{"sibling tenant", url.Values{"host": {"www.forged.example"}, "csrf_token": {csrf}},
			[]string{"Sec-Fetch-Site", "same-site", "Origin", "http://sibling." + webtest.Base + ":" + ls.Port()}},
	} {
		if p := ls.Form(t, c, host, "/admin/domains", tc.values, tc.headers...); p.Status != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", tc.name, p.Status)
		}
		if got := hosts(); got != "" {
			t.Errorf("%s: a refused post added %q", tc.name, got)
		}
	}

	// Bad input shows the form again with the problem.
	for _, tc := range []struct{ host, want string }{
		{"not a domain", "is not a host name"},
		{"https://www.x.example/", "is not a host name"},
		{"news." + webtest.Base, "platform domain"},
	} {
		p := post("/admin/domains", url.Values{"host": {tc.host}})
		if p.Status != http.StatusUnprocessableEntity || !strings.Contains(html.UnescapeString(p.Body), tc.want) || !strings.Contains(p.Body, `aria-invalid="true"`) {
			t.Errorf("add %q: %d, want 422 with %q", tc.host, p.Status, tc.want)
		}
		if got := hosts(); got != "" {
			t.Errorf("add %q was refused but added %q", tc.host, got)
		}
	}

	p = post("/admin/domains", url.Values{"host": {"www.riversidepost42.org"}})
	if p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location, "/admin/domains?done=added") {
		t.Fatalf("add: %d %q %.300s", p.Status, p.Location, p.Body)
	}
	p = ls.Form(t, c, host, p.Location, nil)
	token := regexp.MustCompile(`chapterhouse-verify=[a-z2-7]+`).FindString(p.Body)
	for _, want := range []string{"Added.", "www.riversidepost42.org", "Pending", "_chapterhouse.www.riversidepost42.org",
		"TXT", "CNAME", "riverside." + webtest.Base, "Check now", "not yet"} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("page after add lacks %q", want)
		}
	}
	if token == "" {
		t.Fatal("the page shows no token")
	}
	if got := hosts(); got != "www.riversidepost42.org pending" {
		t.Errorf("after the add the catalog holds %q, want the one pending domain", got)
	}
	if d, err := ls.Platform.Catalog.Domain(context.Background(), "www.riversidepost42.org"); err != nil || d.Token != token {
		t.Errorf("the page shows %q, the catalog holds token %q (%v)", token, d.Token, err)
	}
	if p := post("/admin/domains", url.Values{"host": {"www.riversidepost42.org"}}); p.Status != http.StatusConflict ||
		!strings.Contains(p.Body, "added to this site already") {
		t.Errorf("add twice: %d", p.Status)
	}
	if got := hosts(); got != "www.riversidepost42.org pending" {
		t.Errorf("after adding it twice the catalog holds %q", got)
	}

	// Check now: absent record -> still pending, the page says why.
	check := func() webtest.Page {
		t.Helper()
		return post("/admin/domains/www.riversidepost42.org/verify", url.Values{})
	}
	p = check()
	if p.Status != 200 || !strings.Contains(p.Body, "is not verified") || !strings.Contains(p.Body, "no TXT record") || !strings.Contains(p.Body, "Pending") {
		t.Errorf("check without the record: %d %.800s", p.Status, p.Body)
	}
	if code := site("www.riversidepost42.org"); code != http.StatusNotFound {
		t.Errorf("pending domain serves: %d", code)
	}
	ns.Set("_chapterhouse.www.riversidepost42.org", token)
	p = check()
	if p.Status != 200 || !strings.Contains(p.Body, "is verified: it serves your site now") || !strings.Contains(p.Body, `class="status verified"`) {
		t.Fatalf("check with the record: %d %.800s", p.Status, p.Body)
	}
	// The verified domain serves riverside's site, not another's.
	if p := ls.Form(t, ls.Browser(), "www.riversidepost42.org", "/", nil); p.Status != http.StatusOK ||
		!strings.Contains(p.Body, "Chapter riverside") || strings.Contains(p.Body, "Chapter sibling") {
		t.Errorf("verified domain: %d %.300s", p.Status, p.Body)
	}
	if got := hosts(); got != "www.riversidepost42.org verified" {
		t.Errorf("after the check the catalog holds %q", got)
	}

	// The record vanishes: the next check shows it misconfigured, still
	// serving within the grace period.
	ns.Set("_chapterhouse.www.riversidepost42.org")
	p = check()
	if !strings.Contains(p.Body, `class="status misconfigured"`) || !strings.Contains(p.Body, "keeps serving your site until") {
		t.Errorf("check after the record vanished: %.1000s", p.Body)
	}

	// Another site's domain does not exist here.
	sibling, err := ls.Platform.Catalog.Tenant("sibling")
	webtest.Must(t, err)
	_, err = ls.Platform.AddDomain(context.Background(), sibling, "www.sibling.example")
	webtest.Must(t, err)
	for _, path := range []string{"/admin/domains/www.sibling.example/verify", "/admin/domains/www.sibling.example/delete", "/admin/domains/www.nosuch.example/verify"} {
		if p := post(path, url.Values{}); p.Status != http.StatusNotFound {
			t.Errorf("POST %s: %d, want 404", path, p.Status)
		}
	}
	if p := ls.Form(t, c, host, "/admin/domains", nil); strings.Contains(p.Body, "www.sibling.example") {
		t.Error("another site's domain is listed")
	}
	if d, err := ls.Platform.Catalog.Domain(context.Background(), "www.sibling.example"); err != nil || d.Slug != "sibling" {
		t.Error("a refused removal removed the sibling's domain")
	}

	// Editors see the page and may check, but not add or remove.
	ls.AddAdmin(t, "riverside", "ed@riverside.example.org", "editor", "editor-password-1234")
	ec := ls.Browser()
	ecsrf := ls.DashLogin(t, ec, host, "ed@riverside.example.org", "editor-password-1234")
	p = ls.Form(t, ec, host, "/admin/domains", nil)
	if p.Status != 200 || strings.Contains(p.Body, `action="/admin/domains"`) || strings.Contains(p.Body, "/delete") || !strings.Contains(p.Body, "Check now") {
		t.Errorf("editor's domains page: %d (no add or remove form, a check button)", p.Status)
	}
	for _, path := range []string{"/admin/domains", "/admin/domains/www.riversidepost42.org/delete"} {
		p := ls.Form(t, ec, host, path, url.Values{"csrf_token": {ecsrf}, "host": {"ed.example"}}, "Sec-Fetch-Site", "same-origin")
		if p.Status != http.StatusForbidden {
			t.Errorf("editor POST %s: %d, want 403", path, p.Status)
		}
	}
	if got := hosts(); got != "www.riversidepost42.org misconfigured" {
		t.Errorf("an editor's refused posts changed the domains to %q", got)
	}

	// Remove: it stops serving at once.
	p = post("/admin/domains/www.riversidepost42.org/delete", url.Values{})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("remove: %d %.300s", p.Status, p.Body)
	}
	if code := site("www.riversidepost42.org"); code != http.StatusNotFound {
		t.Errorf("removed domain serves: %d", code)
	}
	if p := ls.Form(t, c, host, "/admin/domains", nil); strings.Contains(p.Body, "www.riversidepost42.org") {
		t.Error("the removed domain is still listed")
	}
	if got := hosts(); got != "" {
		t.Errorf("after the removal the catalog holds %q", got)
	}
}
