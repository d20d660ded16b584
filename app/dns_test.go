package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/chapterhouse/chapterhouse/app/internal/testdns"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
)

func domainsJSON(t testing.TB, dir string) map[string]catalog.Domain {
	t.Helper()
	code, out, errOut := runCLI(t, dir, "", "domain", "list", "--json")
	if code != 0 {
		t.Fatalf("domain list: %s", errOut)
	}
	var ds []catalog.Domain
	if err := json.Unmarshal([]byte(out), &ds); err != nil {
		t.Fatalf("domain list --json: %v\n%s", err, out)
	}
	m := map[string]catalog.Domain{}
	for _, d := range ds {
		m[d.Host] = d
	}
	return m
}

// The CLI's domain verify checks the TXT record through --dns-resolver.
func TestDomainVerifyCLI(t *testing.T) {
	ns := testdns.Start(t)
	dir := t.TempDir()
	mustCLI(t, dir, "tenant", "create", "alpha", "--name", "Alpha Post")
	mustCLI(t, dir, "tenant", "create", "beta", "--name", "Beta Lodge")

	out := mustCLI(t, dir, "domain", "add", "alpha", "WWW.Alpha-Post.example")
	ds := domainsJSON(t, dir)
	alpha := ds["www.alpha-post.example"]
	if alpha.Slug != "alpha" || alpha.Status != catalog.DomainPending || !strings.HasPrefix(alpha.Token, "chapterhouse-verify=") {
		t.Fatalf("domain list --json after add: %+v", alpha)
	}
	for _, want := range []string{"_chapterhouse.www.alpha-post.example", "TXT", alpha.Token, "CNAME", "alpha.localhost", "domain verify www.alpha-post.example"} {
		if !strings.Contains(out, want) {
			t.Errorf("domain add output lacks %q:\n%s", want, out)
		}
	}
	mustCLI(t, dir, "domain", "add", "beta", "www.beta-lodge.example")
	beta := domainsJSON(t, dir)["www.beta-lodge.example"]

	verify := func(host string) (int, string) {
		t.Helper()
		code, out, errOut := runCLI(t, dir, "", "domain", "verify", host, "--dns-resolver", ns.Addr)
		return code, out + errOut
	}
	pendingCases := []struct {
		name    string
		records []string
		host    string
		want    string
	}{
		{"no record", nil, alpha.Host, "no TXT record at _chapterhouse.www.alpha-post.example"},
		{"wrong token", []string{"chapterhouse-verify=notthetoken"}, alpha.Host, "not this domain's token"},
		{"unrelated records", []string{"v=spf1 -all", "google-site-verification=x"}, alpha.Host, "not this domain's token"},
		{"another tenant's token", []string{alpha.Token}, beta.Host, "not this domain's token"},
	}
	for _, tc := range pendingCases {
		t.Run(tc.name, func(t *testing.T) {
			ns.Set("_chapterhouse."+tc.host, tc.records...)
			defer ns.Set("_chapterhouse." + tc.host)
			code, out := verify(tc.host)
			if code != 1 || !strings.Contains(out, tc.want) || !strings.Contains(out, "pending") {
				t.Errorf("verify: exit %d %q; want 1 and %q", code, out, tc.want)
			}
			if d := domainsJSON(t, dir)[tc.host]; d.Status != catalog.DomainPending || d.Verified {
				t.Errorf("after a failed check: %s verified=%v, want pending", d.Status, d.Verified)
			}
		})
	}

	// A resolver failure concludes nothing.
	ns.Fail(true)
	if code, out := verify(alpha.Host); code != 1 || !strings.Contains(out, "could not check DNS") {
		t.Errorf("SERVFAIL: exit %d %q", code, out)
	}
	ns.Fail(false)
	if code, out := verify("nosuch.example"); code != 1 || !strings.Contains(out, "not found") {
		t.Errorf("unknown domain: exit %d %q", code, out)
	}

	ns.Set("_chapterhouse.www.alpha-post.example", "v=spf1 -all", alpha.Token)
	if code, out := verify("www.alpha-post.example."); code != 0 || !strings.Contains(out, "verified and routes to tenant alpha") {
		t.Fatalf("verify with the record: exit %d %q", code, out)
	}
	if d := domainsJSON(t, dir)[alpha.Host]; d.Status != catalog.DomainVerified || !d.Verified || d.VerifiedAt == nil {
		t.Errorf("after verify: %+v", d)
	}
	if d := domainsJSON(t, dir)[beta.Host]; d.Status != catalog.DomainPending {
		t.Errorf("beta's domain changed too: %+v", d)
	}

	// One host, one tenant: a verified host cannot be added again.
	_, before, _ := runCLI(t, dir, "", "domain", "list", "--json")
	for _, tc := range []struct{ slug, want string }{
		{"beta", "already serves a site"},
		{"alpha", "added to this site already"},
	} {
		code, _, errOut := runCLI(t, dir, "", "domain", "add", tc.slug, "www.alpha-post.example")
		if code != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("add bound host to %s: exit %d %q, want %q", tc.slug, code, errOut, tc.want)
		}
	}
	// Not the name of a site: IP literals, this machine's names.
	for _, host := range []string{"192.0.2.1", "[2001:db8::1]", "127.1", "app.localhost"} {
		code, _, errOut := runCLI(t, dir, "", "domain", "add", "beta", host)
		if code != 1 || !strings.Contains(errOut, host) {
			t.Errorf("domain add beta %s: exit %d %q, want 1 saying what was wrong", host, code, errOut)
		}
	}
	if _, after, _ := runCLI(t, dir, "", "domain", "list", "--json"); after != before {
		t.Errorf("a refused add changed the domains:\n%s\n%s", before, after)
	}
}

// Two sites claim one host: domain verify checks each claim's own token
// and the site whose token is in DNS gets the host (the other claim goes);
// --force must be told which site with --slug.
func TestDomainVerifyCLIWithSeveralClaims(t *testing.T) {
	ns := testdns.Start(t)
	dir := t.TempDir()
	mustCLI(t, dir, "tenant", "create", "alpha", "--name", "Alpha Post")
	mustCLI(t, dir, "tenant", "create", "squat", "--name", "Squatter")
	const host = "www.alpha-post.example"
	mustCLI(t, dir, "domain", "add", "squat", host)
	mustCLI(t, dir, "domain", "add", "alpha", host)
	code, out, errOut := runCLI(t, dir, "", "domain", "list", "--json")
	var ds []catalog.Domain
	if err := json.Unmarshal([]byte(out), &ds); code != 0 || err != nil || len(ds) != 2 {
		t.Fatalf("domain list: %d %v %s%s", code, err, out, errOut)
	}
	if code, _, errOut := runCLI(t, dir, "", "domain", "verify", host, "--force"); code == 0 || !strings.Contains(errOut, "--slug") {
		t.Errorf("--force on a host two sites claim: exit %d %q, want a request for --slug", code, errOut)
	}
	for _, d := range ds {
		if d.Slug == "alpha" {
			ns.Set("_chapterhouse."+host, d.Token)
		}
	}
	code, out, errOut = runCLI(t, dir, "", "domain", "verify", host, "--dns-resolver", ns.Addr)
	if code != 0 || !strings.Contains(out, "routes to tenant alpha") {
		t.Fatalf("verify: exit %d %s%s", code, out, errOut)
	}
	if d := domainsJSON(t, dir)[host]; d.Slug != "alpha" || d.Status != catalog.DomainVerified {
		t.Errorf("after verify: %+v, want alpha's verified claim only", d)
	}
	_, out, _ = runCLI(t, dir, "", "domain", "list", "--json")
	ds = nil
	if err := json.Unmarshal([]byte(out), &ds); err != nil || len(ds) != 1 {
		t.Errorf("claims after alpha verified: %s, want alpha's only", out)
	}
}
