package main

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/chapterhouse/chapterhouse/app/internal/testdns"
)

// The dashboard's domains page: add, see the records and the live status,
// check now, remove; every form CSRF-checked; owners only for changes.
func TestDashboardDomains(t *testing.T) {
	ns := testdns.Start(t)
	ls := startLive(t, "--dns-resolver", ns.Addr)
	email, password := ls.newTenant(t, "riverside")
	ls.newTenant(t, "sibling")
	host := ls.host("riverside")
	c := ls.client()
	csrf := ls.dashLogin(t, c, host, email, password)
	post := func(path string, v url.Values) page {
		t.Helper()
		v.Set("csrf_token", csrf)
		return ls.form(t, c, host, path, v, "Sec-Fetch-Site", "same-origin", "Origin", "http://"+host+":"+ls.port)
	}
	site := func(h string) int {
		t.Helper()
		return ls.form(t, ls.client(), h, "/", nil).status
	}

	p := ls.form(t, c, host, "/admin/domains", nil)
	if p.status != 200 || !strings.Contains(p.body, "No custom domain yet") || !strings.Contains(p.body, `action="/admin/domains"`) {
		t.Fatalf("empty domains page: %d %.500s", p.status, p.body)
	}
	if !strings.Contains(ls.form(t, c, host, "/admin", nil).body, `href="/admin/domains"`) {
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
			[]string{"Sec-Fetch-Site", "same-site", "Origin", "http://sibling." + ls.base + ":" + ls.port}},
	} {
		if p := ls.form(t, c, host, "/admin/domains", tc.values, tc.headers...); p.status != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", tc.name, p.status)
		}
	}

	// Bad input shows the form again with the problem.
	for _, tc := range []struct{ host, want string }{
		{"not a domain", "is not a host name"},
		{"https://www.x.example/", "is not a host name"},
		{"news." + ls.base, "platform domain"},
	} {
		p := post("/admin/domains", url.Values{"host": {tc.host}})
		if p.status != http.StatusUnprocessableEntity || !strings.Contains(html.UnescapeString(p.body), tc.want) || !strings.Contains(p.body, `aria-invalid="true"`) {
			t.Errorf("add %q: %d, want 422 with %q", tc.host, p.status, tc.want)
		}
	}

	p = post("/admin/domains", url.Values{"host": {"www.riversidepost42.org"}})
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/admin/domains?done=added") {
		t.Fatalf("add: %d %q %.300s", p.status, p.location, p.body)
	}
	p = ls.form(t, c, host, p.location, nil)
	token := regexp.MustCompile(`chapterhouse-verify=[a-z2-7]+`).FindString(p.body)
	for _, want := range []string{"Added.", "www.riversidepost42.org", "Pending", "_chapterhouse.www.riversidepost42.org",
		"TXT", "CNAME", "riverside." + ls.base, "Check now", "not yet"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("page after add lacks %q", want)
		}
	}
	if token == "" {
		t.Fatal("the page shows no token")
	}
	if p := post("/admin/domains", url.Values{"host": {"www.riversidepost42.org"}}); p.status != http.StatusConflict ||
		!strings.Contains(p.body, "added to this site already") {
		t.Errorf("add twice: %d", p.status)
	}

	// Check now: absent record -> still pending, the page says why.
	check := func() page {
		t.Helper()
		return post("/admin/domains/www.riversidepost42.org/verify", url.Values{})
	}
	p = check()
	if p.status != 200 || !strings.Contains(p.body, "is not verified") || !strings.Contains(p.body, "no TXT record") || !strings.Contains(p.body, "Pending") {
		t.Errorf("check without the record: %d %.800s", p.status, p.body)
	}
	if code := site("www.riversidepost42.org"); code != http.StatusNotFound {
		t.Errorf("pending domain serves: %d", code)
	}
	ns.Set("_chapterhouse.www.riversidepost42.org", token)
	p = check()
	if p.status != 200 || !strings.Contains(p.body, "is verified: it serves your site now") || !strings.Contains(p.body, `class="status verified"`) {
		t.Fatalf("check with the record: %d %.800s", p.status, p.body)
	}
	if code := site("www.riversidepost42.org"); code != http.StatusOK {
		t.Errorf("verified domain: %d", code)
	}

	// The record vanishes: the next check shows it misconfigured, still
	// serving within the grace period.
	ns.Set("_chapterhouse.www.riversidepost42.org")
	p = check()
	if !strings.Contains(p.body, `class="status misconfigured"`) || !strings.Contains(p.body, "keeps serving your site until") {
		t.Errorf("check after the record vanished: %.1000s", p.body)
	}

	// Another site's domain does not exist here.
	if _, errOut, err := ls.cli(t, "", "domain", "add", "sibling", "www.sibling.example"); err != nil {
		t.Fatalf("domain add: %v %s", err, errOut)
	}
	for _, path := range []string{"/admin/domains/www.sibling.example/verify", "/admin/domains/www.sibling.example/delete", "/admin/domains/www.nosuch.example/verify"} {
		if p := post(path, url.Values{}); p.status != http.StatusNotFound {
			t.Errorf("POST %s: %d, want 404", path, p.status)
		}
	}
	if p := ls.form(t, c, host, "/admin/domains", nil); strings.Contains(p.body, "www.sibling.example") {
		t.Error("another site's domain is listed")
	}
	if out, _, _ := ls.cli(t, "", "domain", "list"); !strings.Contains(out, "www.sibling.example") {
		t.Error("a refused removal removed the sibling's domain")
	}

	// Editors see the page and may check, but not add or remove.
	if _, errOut, err := ls.cli(t, "editor-password-1234\n", "admin", "add", "riverside", "ed@riverside.example.org", "--role", "editor", "--password-stdin"); err != nil {
		t.Fatalf("admin add: %v %s", err, errOut)
	}
	ec := ls.client()
	ecsrf := ls.dashLogin(t, ec, host, "ed@riverside.example.org", "editor-password-1234")
	p = ls.form(t, ec, host, "/admin/domains", nil)
	if p.status != 200 || strings.Contains(p.body, `action="/admin/domains"`) || strings.Contains(p.body, "/delete") || !strings.Contains(p.body, "Check now") {
		t.Errorf("editor's domains page: %d (no add or remove form, a check button)", p.status)
	}
	for _, path := range []string{"/admin/domains", "/admin/domains/www.riversidepost42.org/delete"} {
		p := ls.form(t, ec, host, path, url.Values{"csrf_token": {ecsrf}, "host": {"ed.example"}}, "Sec-Fetch-Site", "same-origin")
		if p.status != http.StatusForbidden {
			t.Errorf("editor POST %s: %d, want 403", path, p.status)
		}
	}

	// Remove: it stops serving at once.
	p = post("/admin/domains/www.riversidepost42.org/delete", url.Values{})
	if p.status != http.StatusSeeOther {
		t.Fatalf("remove: %d %.300s", p.status, p.body)
	}
	if code := site("www.riversidepost42.org"); code != http.StatusNotFound {
		t.Errorf("removed domain serves: %d", code)
	}
	if p := ls.form(t, c, host, "/admin/domains", nil); strings.Contains(p.body, "www.riversidepost42.org") {
		t.Error("the removed domain is still listed")
	}
}
