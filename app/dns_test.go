package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// testDNS is a real DNS server on a loopback UDP port that answers TXT
// queries from a table the test edits.
type testDNS struct {
	addr string

	mu       sync.Mutex
	txt      map[string][]string // lower-case name without the final dot -> records
	servfail bool
	queries  int
}

func startTestDNS(t testing.TB) *testDNS {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &testDNS{addr: pc.LocalAddr().String(), txt: map[string][]string{}}
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(d.serve), NotifyStartedFunc: func() { close(started) }}
	go srv.ActivateAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })
	return d
}

func (d *testDNS) set(name string, records ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(records) == 0 {
		delete(d.txt, name)
		return
	}
	d.txt[name] = records
}

func (d *testDNS) fail(on bool) {
	d.mu.Lock()
	d.servfail = on
	d.mu.Unlock()
}

func (d *testDNS) serve(w dns.ResponseWriter, q *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(q)
	m.Authoritative = true
	d.mu.Lock()
	d.queries++
	name := strings.TrimSuffix(strings.ToLower(q.Question[0].Name), ".")
	records, ok := d.txt[name]
	switch {
	case d.servfail:
		m.Rcode = dns.RcodeServerFailure
	case !ok:
		m.Rcode = dns.RcodeNameError
	case q.Question[0].Qtype == dns.TypeTXT:
		for _, r := range records {
			// Long values travel as several character-strings, as DNS
			// providers split them; the checker must join them.
			var parts []string
			for len(r) > 20 {
				parts, r = append(parts, r[:20]), r[20:]
			}
			m.Answer = append(m.Answer, &dns.TXT{
				Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60},
				Txt: append(parts, r),
			})
		}
	}
	d.mu.Unlock()
	w.WriteMsg(m)
}

// domainsJSON is `domain list --json` of data dir dir, by host.
func domainsJSON(t testing.TB, dir string) map[string]tenantdb.Domain {
	t.Helper()
	code, out, errOut := runCLI(t, dir, "", "domain", "list", "--json")
	if code != 0 {
		t.Fatalf("domain list: %s", errOut)
	}
	var ds []tenantdb.Domain
	if err := json.Unmarshal([]byte(out), &ds); err != nil {
		t.Fatalf("domain list --json: %v\n%s", err, out)
	}
	m := map[string]tenantdb.Domain{}
	for _, d := range ds {
		m[d.Host] = d
	}
	return m
}

// The CLI's domain verify checks the TXT record through --dns-resolver.
func TestDomainVerifyCLI(t *testing.T) {
	ns := startTestDNS(t)
	dir := t.TempDir()
	mustCLI(t, dir, "tenant", "create", "alpha", "--name", "Alpha Post")
	mustCLI(t, dir, "tenant", "create", "beta", "--name", "Beta Lodge")

	out := mustCLI(t, dir, "domain", "add", "alpha", "WWW.Alpha-Post.example")
	ds := domainsJSON(t, dir)
	alpha := ds["www.alpha-post.example"]
	if alpha.Slug != "alpha" || alpha.Status != tenantdb.DomainPending || !strings.HasPrefix(alpha.Token, "chapterhouse-verify=") {
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
		code, out, errOut := runCLI(t, dir, "", "domain", "verify", host, "--dns-resolver", ns.addr)
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
			ns.set("_chapterhouse."+tc.host, tc.records...)
			defer ns.set("_chapterhouse." + tc.host)
			code, out := verify(tc.host)
			if code != 1 || !strings.Contains(out, tc.want) || !strings.Contains(out, "pending") {
				t.Errorf("verify: exit %d %q; want 1 and %q", code, out, tc.want)
			}
			if d := domainsJSON(t, dir)[tc.host]; d.Status != tenantdb.DomainPending || d.Verified {
				t.Errorf("after a failed check: %s verified=%v, want pending", d.Status, d.Verified)
			}
		})
	}

	// A resolver failure concludes nothing.
	ns.fail(true)
	if code, out := verify(alpha.Host); code != 1 || !strings.Contains(out, "could not check DNS") {
		t.Errorf("SERVFAIL: exit %d %q", code, out)
	}
	ns.fail(false)
	if code, out := verify("nosuch.example"); code != 1 || !strings.Contains(out, "not found") {
		t.Errorf("unknown domain: exit %d %q", code, out)
	}

	ns.set("_chapterhouse.www.alpha-post.example", "v=spf1 -all", alpha.Token)
	if code, out := verify("www.alpha-post.example."); code != 0 || !strings.Contains(out, "verified and routes to tenant alpha") {
		t.Fatalf("verify with the record: exit %d %q", code, out)
	}
	if d := domainsJSON(t, dir)[alpha.Host]; d.Status != tenantdb.DomainVerified || !d.Verified || d.VerifiedAt == nil {
		t.Errorf("after verify: %+v", d)
	}
	if d := domainsJSON(t, dir)[beta.Host]; d.Status != tenantdb.DomainPending {
		t.Errorf("beta's domain changed too: %+v", d)
	}

	// One host, one tenant: a bound host cannot be added again.
	_, before, _ := runCLI(t, dir, "", "domain", "list", "--json")
	for _, tc := range []struct{ slug, want string }{
		{"beta", "connected to another site"},
		{"alpha", "added to this site already"},
	} {
		code, _, errOut := runCLI(t, dir, "", "domain", "add", tc.slug, "www.alpha-post.example")
		if code != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("add bound host to %s: exit %d %q, want %q", tc.slug, code, errOut, tc.want)
		}
	}
	if _, after, _ := runCLI(t, dir, "", "domain", "list", "--json"); after != before {
		t.Errorf("a refused add changed the domains:\n%s\n%s", before, after)
	}
}

// Only a verified custom domain routes, and an unverified one opens no
// file; verification routes it at once, without a restart.
func TestCustomDomainRoutesOnlyOnceVerified(t *testing.T) {
	ns := startTestDNS(t)
	ts := newTestServer(t)
	ts.p.Resolver, _ = platform.NewResolver(ns.addr)
	markerTenant(t, ts, "alpha", "ALPHAMARK")
	markerTenant(t, ts, "bravo", "BRAVOMARK")
	alpha, _ := ts.p.Catalog.Tenant("alpha")
	ctx := context.Background()
	d, err := ts.p.AddDomain(ctx, alpha, "www.alpha.example")
	if err != nil {
		t.Fatal(err)
	}

	// Close every tenant so an open would show.
	ts.p.Pool.Drain(ctx, alpha.ID, func() error { return nil })
	files := dirFiles(t, ts.p.Dir)
	opens := ts.p.Pool.Stats.Opens.Load()
	for _, path := range []string{"/", "/posts", "/media/x", "/admin", "/api/site"} {
		if code, body := ts.get(t, "www.alpha.example", path); code != http.StatusNotFound || strings.Contains(body, "ALPHAMARK") {
			t.Errorf("pending domain %s: %d, want 404 without the chapter's content", path, code)
		}
	}
	if got := ts.p.Pool.Stats.Opens.Load(); got != opens {
		t.Errorf("pending domain opened %d tenant files", got-opens)
	}
	if open, _ := ts.p.Pool.IsOpen(alpha.ID); open {
		t.Error("pending domain left the tenant open")
	}
	if after := dirFiles(t, ts.p.Dir); !slices.Equal(files, after) {
		t.Errorf("pending domain changed files:\n%v\n%v", files, after)
	}

	ns.set("_chapterhouse.www.alpha.example", d.Token)
	res, err := ts.p.CheckDomain(ctx, nil, d.Host)
	if err != nil || !res.Passed {
		t.Fatalf("check: %+v %v", res, err)
	}
	code, body := ts.get(t, "www.alpha.example", "/")
	if code != http.StatusOK || !strings.Contains(body, "ALPHAMARK") || strings.Contains(body, "BRAVOMARK") {
		t.Fatalf("verified domain: %d, want alpha's home", code)
	}
	if code, body := ts.get(t, "bravo.localhost", "/"); code != http.StatusOK || strings.Contains(body, "ALPHAMARK") {
		t.Errorf("bravo after alpha's domain: %d", code)
	}
	if _, err := ts.p.Catalog.RemoveDomain(ctx, d.Host); err != nil {
		t.Fatal(err)
	}
	if code, _ := ts.get(t, "www.alpha.example", "/"); code != http.StatusNotFound {
		t.Errorf("removed domain: %d, want 404", code)
	}
}

// The periodic re-check verifies pending domains whose record appeared and
// marks verified ones whose record vanished; they stop routing once the
// grace period is over (here: none).
func TestRecheckDomains(t *testing.T) {
	ns := startTestDNS(t)
	ts := newTestServer(t)
	ts.p.Resolver, _ = platform.NewResolver(ns.addr)
	markerTenant(t, ts, "alpha", "ALPHAMARK")
	alpha, _ := ts.p.Catalog.Tenant("alpha")
	ctx := context.Background()
	kept, _ := ts.p.AddDomain(ctx, alpha, "kept.alpha.example")
	vanishing, _ := ts.p.AddDomain(ctx, alpha, "vanishing.alpha.example")
	late, _ := ts.p.AddDomain(ctx, alpha, "late.alpha.example")
	flaky, _ := ts.p.AddDomain(ctx, alpha, "flaky.alpha.example")
	for _, d := range []tenantdb.Domain{kept, vanishing, flaky} {
		ns.set("_chapterhouse."+d.Host, d.Token)
		if res, err := ts.p.CheckDomain(ctx, nil, d.Host); err != nil || !res.Passed {
			t.Fatalf("verify %s: %+v %v", d.Host, res, err)
		}
	}

	ns.set("_chapterhouse." + vanishing.Host)
	ns.set("_chapterhouse."+late.Host, late.Token)
	ts.p.DomainGrace = time.Hour
	ts.p.RecheckDomains(ctx)
	want := map[string]struct {
		status string
		routes bool
	}{
		kept.Host:      {tenantdb.DomainVerified, true},
		vanishing.Host: {tenantdb.DomainMisconfigured, true}, // within the grace period
		late.Host:      {tenantdb.DomainVerified, true},
		flaky.Host:     {tenantdb.DomainVerified, true},
	}
	check := func(when string) {
		t.Helper()
		for host, w := range want {
			d, err := ts.p.Catalog.Domain(ctx, host)
			if err != nil {
				t.Fatal(err)
			}
			code, _ := ts.get(t, host, "/")
			if d.Status != w.status || d.Verified != w.routes || (code == http.StatusOK) != w.routes {
				t.Errorf("%s: %s: status %s, routes %v (GET %d); want %s, %v", when, host, d.Status, d.Verified, code, w.status, w.routes)
			}
		}
	}
	check("first re-check")

	// No grace: the vanished record stops routing. A resolver failure for
	// one domain changes nothing about it.
	ts.p.DomainGrace = 0
	ns.fail(true)
	ts.p.RecheckDomains(ctx)
	check("re-check with the resolver failing")
	ns.fail(false)
	ts.p.RecheckDomains(ctx)
	want[vanishing.Host] = struct {
		status string
		routes bool
	}{tenantdb.DomainMisconfigured, false}
	check("re-check without grace")

	// The record back: verified and routing again.
	ns.set("_chapterhouse."+vanishing.Host, vanishing.Token)
	ts.p.RecheckDomains(ctx)
	want[vanishing.Host] = struct {
		status string
		routes bool
	}{tenantdb.DomainVerified, true}
	check("record restored")
	log, err := ts.p.Catalog.AuditLog(ctx, 20)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range log {
		if e.Actor == "recheck" && strings.HasPrefix(e.Detail, vanishing.Host) {
			n++
		}
	}
	if n != 3 {
		t.Errorf("audit log has %d re-check entries for %s, want 3 (misconfigured, stopped, verified): %+v", n, vanishing.Host, log)
	}
}
