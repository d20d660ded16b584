package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/app/internal/testdns"
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
	ls := startLive(t, "--dns-resolver", ns.Addr)
	alphaEmail, alphaPW := ls.newTenant(t, "alpha")
	betaEmail, betaPW := ls.newTenant(t, "beta")
	alpha := ls.login(t, "alpha", alphaEmail, alphaPW)
	beta := ls.login(t, "beta", betaEmail, betaPW)
	c := ls.client()
	api := func(slug, token, method, path string, body any) apiResult {
		t.Helper()
		return ls.do(t, c, method, ls.url(slug, path), body, bearer(token)...)
	}
	site := func(host string) int {
		t.Helper()
		return ls.do(t, c, "GET", "http://"+host+":"+ls.port+"/", nil).status
	}

	r := api("alpha", alpha, "POST", "/api/domains", map[string]string{"host": "WWW.Alpha-Post.example"})
	if r.status != http.StatusCreated {
		t.Fatalf("POST /api/domains: %d %s", r.status, r.body)
	}
	var d apiDomain
	r.json(t, &d)
	if d.Host != "www.alpha-post.example" || d.Status != "pending" || d.Routes || !strings.HasPrefix(d.Token, "chapterhouse-verify=") {
		t.Fatalf("created domain: %s", r.body)
	}
	if loc := r.header.Get("Location"); loc != "/api/domains/www.alpha-post.example" {
		t.Errorf("Location %q", loc)
	}
	want := map[string]string{"TXT": d.Token, "CNAME": "alpha." + liveBase}
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
		{"platform subdomain", "alpha", alpha, map[string]string{"host": "beta." + liveBase}, 422},
		{"unknown field", "alpha", alpha, map[string]string{"hostname": "x.example"}, 422},
		{"bound to another site", "beta", beta, map[string]string{"host": "www.alpha-post.example"}, 409},
		{"added already", "alpha", alpha, map[string]string{"host": "www.alpha-post.example."}, 409},
		{"no token", "alpha", "", map[string]string{"host": "x.example"}, 401},
	} {
		r := api(tc.slug, tc.token, "POST", "/api/domains", tc.body)
		if r.status != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, r.status, r.body, tc.status)
		}
		if msg, _ := r.errField(t); msg == "" {
			t.Errorf("%s: no error message: %s", tc.name, r.body)
		}
	}
	var list []apiDomain
	api("alpha", alpha, "GET", "/api/domains", nil).json(t, &list)
	if len(list) != 1 || list[0].Host != "www.alpha-post.example" {
		t.Fatalf("alpha's domains after bad input: %+v", list)
	}
	api("beta", beta, "GET", "/api/domains", nil).json(t, &list)
	if len(list) != 0 {
		t.Fatalf("beta sees %+v", list)
	}

	// Another site's domain does not exist for beta.
	for _, m := range []struct{ method, path string }{
		{"GET", "/api/domains/www.alpha-post.example"},
		{"POST", "/api/domains/www.alpha-post.example/verify"},
		{"DELETE", "/api/domains/www.alpha-post.example"},
	} {
		if r := api("beta", beta, m.method, m.path, nil); r.status != http.StatusNotFound {
			t.Errorf("beta %s %s: %d, want 404", m.method, m.path, r.status)
		}
	}

	// Verification: only alpha's own token in the TXT record verifies.
	r = api("beta", beta, "POST", "/api/domains", map[string]string{"host": "www.beta-lodge.example"})
	var betaDomain apiDomain
	r.json(t, &betaDomain)
	verify := func(records ...string) apiDomain {
		t.Helper()
		ns.Set("_chapterhouse.www.alpha-post.example", records...)
		r := api("alpha", alpha, "POST", "/api/domains/www.alpha-post.example/verify", nil)
		if r.status != http.StatusOK {
			t.Fatalf("verify: %d %s", r.status, r.body)
		}
		var d apiDomain
		r.json(t, &d)
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
	if msg, _ := r.errField(t); r.status != http.StatusServiceUnavailable || strings.Contains(msg, ns.Addr) {
		t.Errorf("verify with DNS failing: %d %s", r.status, r.body)
	}
	ns.Fail(false)

	// Editors see and check domains; only owners add and remove them.
	out, errOut, err := ls.cli(t, "editor-password-1234\n", "admin", "add", "alpha", "ed@alpha.example.org", "--role", "editor", "--password-stdin")
	if err != nil {
		t.Fatalf("admin add: %v %s %s", err, out, errOut)
	}
	editor := ls.login(t, "alpha", "ed@alpha.example.org", "editor-password-1234")
	if r := api("alpha", editor, "POST", "/api/domains", map[string]string{"host": "ed.example"}); r.status != http.StatusForbidden {
		t.Errorf("editor adds a domain: %d", r.status)
	}
	if r := api("alpha", editor, "DELETE", "/api/domains/www.alpha-post.example", nil); r.status != http.StatusForbidden {
		t.Errorf("editor removes a domain: %d", r.status)
	}
	if r := api("alpha", editor, "GET", "/api/domains/www.alpha-post.example", nil); r.status != http.StatusOK {
		t.Errorf("editor reads a domain: %d", r.status)
	}

	// Checks are rate-limited per site.
	limited := false
	for range 20 {
		r := api("alpha", editor, "POST", "/api/domains/www.alpha-post.example/verify", nil)
		if r.status == http.StatusTooManyRequests {
			limited = r.header.Get("Retry-After") != ""
			break
		}
	}
	if !limited {
		t.Error("20 checks in a row were never refused with 429 and Retry-After")
	}

	// Removing stops routing at once.
	if r := api("alpha", alpha, "DELETE", "/api/domains/www.alpha-post.example", nil); r.status != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", r.status, r.body)
	}
	if code := site("www.alpha-post.example"); code != http.StatusNotFound {
		t.Errorf("removed domain serves: %d", code)
	}
	if r := api("alpha", alpha, "DELETE", "/api/domains/www.alpha-post.example", nil); r.status != http.StatusNotFound {
		t.Errorf("second DELETE: %d", r.status)
	}

	// A site has a bounded number of domains.
	for i := 1; i < platform.MaxDomainsPerTenant; i++ {
		if r := api("beta", beta, "POST", "/api/domains", map[string]string{"host": fmt.Sprintf("d%d.beta.example", i)}); r.status != http.StatusCreated {
			t.Fatalf("domain %d: %d %s", i, r.status, r.body)
		}
	}
	if r := api("beta", beta, "POST", "/api/domains", map[string]string{"host": "one-too-many.example"}); r.status != 422 {
		t.Errorf("domain %d: %d, want 422", platform.MaxDomainsPerTenant+1, r.status)
	}
}
