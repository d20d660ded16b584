package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/app/internal/testdns"
	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
)

type apiDomain struct {
	Host    string               `json:"host"`
	Status  string               `json:"status"`
	Routes  bool                 `json:"routes"`
	Token   string               `json:"token"`
	Records []platform.DNSRecord `json:"records"`
	Problem string               `json:"problem"`
}

// Self-service custom domains over the API, on the real server, with a
// DNS server on loopback.
func TestDomainsAPI(t *testing.T) {
	ns := testdns.Start(t)
	ls := webtest.NewEmpty(t)
	ls.Platform.Resolver, _ = platform.NewResolver(ns.Addr)
	alphaEmail, alphaPW := ls.NewTenant(t, "alpha")
	betaEmail, betaPW := ls.NewTenant(t, "beta")
	alpha := ls.Login(t, "alpha", alphaEmail, alphaPW)
	beta := ls.Login(t, "beta", betaEmail, betaPW)
	c := ls.Browser()
	api := func(slug, token, method, path string, body any) webtest.APIResult {
		t.Helper()
		return ls.Call(t, c, method, ls.SiteURL(slug, path), body, webtest.Bearer(token)...)
	}
	site := func(host string) int {
		t.Helper()
		return ls.Call(t, c, "GET", "http://"+host+":"+ls.Port()+"/", nil).Status
	}

	r := api("alpha", alpha, "POST", "/api/domains", map[string]string{"host": "WWW.Alpha-Post.example"})
	if r.Status != http.StatusCreated {
		t.Fatalf("POST /api/domains: %d %s", r.Status, r.Body)
	}
	var d apiDomain
	r.JSON(t, &d)
	if d.Host != "www.alpha-post.example" || d.Status != "pending" || d.Routes || !strings.HasPrefix(d.Token, "chapterhouse-verify=") {
		t.Fatalf("created domain: %s", r.Body)
	}
	if loc := r.Header.Get("Location"); loc != "/api/domains/www.alpha-post.example" {
		t.Errorf("Location %q", loc)
	}
	want := map[string]string{"TXT": d.Token, "CNAME": "alpha." + webtest.Base}
	for _, rec := range d.Records {
		if v, ok := want[rec.Type]; ok {
			if rec.Value != v || (rec.Type == "TXT") != (rec.Name == "_chapterhouse.www.alpha-post.example") {
				t.Errorf("record %+v", rec)
			}
			delete(want, rec.Type)
		}
	}
	if len(want) > 0 {
		t.Errorf("records lack %v: %+v", want, d.Records)
	}
	if code := site("www.alpha-post.example"); code != http.StatusNotFound {
		t.Errorf("pending domain serves: %d", code)
	}

	// Bad input: the right status, the field named, nothing stored.
	for _, tc := range []struct {
		name   string
		slug   string
		token  string
		body   any
		status int
	}{
		{"not a host", "alpha", alpha, map[string]string{"host": "not a host"}, 422},
		{"empty", "alpha", alpha, map[string]string{"host": ""}, 422},
		{"with a port", "alpha", alpha, map[string]string{"host": "www.alpha.example:8443"}, 422},
		{"platform subdomain", "alpha", alpha, map[string]string{"host": "beta." + webtest.Base}, 422},
		{"unknown field", "alpha", alpha, map[string]string{"hostname": "x.example"}, 422},
		{"added already", "alpha", alpha, map[string]string{"host": "www.alpha-post.example."}, 409},
		{"no token", "alpha", "", map[string]string{"host": "x.example"}, 401},
	} {
		r := api(tc.slug, tc.token, "POST", "/api/domains", tc.body)
		if r.Status != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, r.Status, r.Body, tc.status)
		}
		if msg, _ := r.ErrField(t); msg == "" {
			t.Errorf("%s: no error message: %s", tc.name, r.Body)
		}
	}
	var list []apiDomain
	api("alpha", alpha, "GET", "/api/domains", nil).JSON(t, &list)
	if len(list) != 1 || list[0].Host != "www.alpha-post.example" {
		t.Fatalf("alpha's domains after bad input: %+v", list)
	}
	api("beta", beta, "GET", "/api/domains", nil).JSON(t, &list)
	if len(list) != 0 {
		t.Fatalf("beta sees %+v", list)
	}

	// Another site's domain does not exist for beta.
	for _, m := range []struct{ method, path string }{
		{"GET", "/api/domains/www.alpha-post.example"},
		{"POST", "/api/domains/www.alpha-post.example/verify"},
		{"DELETE", "/api/domains/www.alpha-post.example"},
	} {
		if r := api("beta", beta, m.method, m.path, nil); r.Status != http.StatusNotFound {
			t.Errorf("beta %s %s: %d, want 404", m.method, m.path, r.Status)
		}
	}

	// Verification: only alpha's own token in the TXT record verifies.
	r = api("beta", beta, "POST", "/api/domains", map[string]string{"host": "www.beta-lodge.example"})
	var betaDomain apiDomain
	r.JSON(t, &betaDomain)
	verify := func(records ...string) apiDomain {
		t.Helper()
		ns.Set("_chapterhouse.www.alpha-post.example", records...)
		r := api("alpha", alpha, "POST", "/api/domains/www.alpha-post.example/verify", nil)
		if r.Status != http.StatusOK {
			t.Fatalf("verify: %d %s", r.Status, r.Body)
		}
		var d apiDomain
		r.JSON(t, &d)
		return d
	}
	for _, tc := range []struct {
		name    string
		records []string
		problem string
	}{
		{"no record", nil, "no TXT record"},
		{"wrong token", []string{"chapterhouse-verify=guess"}, "not this domain's token"},
		{"another site's token", []string{betaDomain.Token}, "not this domain's token"},
	} {
		d := verify(tc.records...)
		if d.Status != "pending" || d.Routes || !strings.Contains(d.Problem, tc.problem) {
			t.Errorf("%s: %+v, want pending with %q", tc.name, d, tc.problem)
		}
		if code := site("www.alpha-post.example"); code != http.StatusNotFound {
			t.Errorf("%s: the domain serves: %d", tc.name, code)
		}
	}
	if d := verify(d.Token); d.Status != "verified" || !d.Routes || d.Problem != "" {
		t.Fatalf("verify with the token: %+v", d)
	}
	if code := site("www.alpha-post.example"); code != http.StatusOK {
		t.Fatalf("verified domain: %d, want alpha's site", code)
	}

	// A DNS failure concludes nothing and says so without internals.
	ns.Fail(true)
	r = api("beta", beta, "POST", "/api/domains/www.beta-lodge.example/verify", nil)
	if msg, _ := r.ErrField(t); r.Status != http.StatusServiceUnavailable || strings.Contains(msg, ns.Addr) {
		t.Errorf("verify with DNS failing: %d %s", r.Status, r.Body)
	}
	ns.Fail(false)

	// Editors see and check domains; only owners add and remove them.
	ls.AddAdmin(t, "alpha", "ed@alpha.example.org", "editor", "editor-password-1234")
	editor := ls.Login(t, "alpha", "ed@alpha.example.org", "editor-password-1234")
	if r := api("alpha", editor, "POST", "/api/domains", map[string]string{"host": "ed.example"}); r.Status != http.StatusForbidden {
		t.Errorf("editor adds a domain: %d", r.Status)
	}
	if r := api("alpha", editor, "DELETE", "/api/domains/www.alpha-post.example", nil); r.Status != http.StatusForbidden {
		t.Errorf("editor removes a domain: %d", r.Status)
	}
	if r := api("alpha", editor, "GET", "/api/domains/www.alpha-post.example", nil); r.Status != http.StatusOK {
		t.Errorf("editor reads a domain: %d", r.Status)
	}

	// Checks are rate-limited per site.
	limited := false
	for range 20 {
		r := api("alpha", editor, "POST", "/api/domains/www.alpha-post.example/verify", nil)
		if r.Status == http.StatusTooManyRequests {
			limited = r.Header.Get("Retry-After") != ""
			break
		}
	}
	if !limited {
		t.Error("20 checks in a row were never refused with 429 and Retry-After")
	}

	// Removing stops routing at once.
	if r := api("alpha", alpha, "DELETE", "/api/domains/www.alpha-post.example", nil); r.Status != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", r.Status, r.Body)
	}
	if code := site("www.alpha-post.example"); code != http.StatusNotFound {
		t.Errorf("removed domain serves: %d", code)
	}
	if r := api("alpha", alpha, "DELETE", "/api/domains/www.alpha-post.example", nil); r.Status != http.StatusNotFound {
		t.Errorf("second DELETE: %d", r.Status)
	}

	// A site has a bounded number of domains.
	for i := 1; i < platform.MaxDomainsPerTenant; i++ {
		if r := api("beta", beta, "POST", "/api/domains", map[string]string{"host": fmt.Sprintf("d%d.beta.example", i)}); r.Status != http.StatusCreated {
			t.Fatalf("domain %d: %d %s", i, r.Status, r.Body)
		}
	}
	if r := api("beta", beta, "POST", "/api/domains", map[string]string{"host": "one-too-many.example"}); r.Status != 422 {
		t.Errorf("domain %d: %d, want 422", platform.MaxDomainsPerTenant+1, r.Status)
	}
}
