package web_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/app/internal/testdns"
	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
)

// Only a verified custom domain routes, and an unverified one opens no
// file; verification routes it at once, without a restart.
func TestCustomDomainRoutesOnlyOnceVerified(t *testing.T) {
	ns := testdns.Start(t)
	ts := newTestServer(t)
	ts.p.Resolver, _ = platform.NewResolver(ns.Addr)
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
	files := webtest.Files(t, ts.p.Dir)
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
	if after := webtest.Files(t, ts.p.Dir); !slices.Equal(files, after) {
		t.Errorf("pending domain changed files:\n%v\n%v", files, after)
	}

	ns.Set("_chapterhouse.www.alpha.example", d.Token)
	res, err := ts.p.CheckDomain(ctx, nil, d)
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
	ns := testdns.Start(t)
	ts := newTestServer(t)
	ts.p.Resolver, _ = platform.NewResolver(ns.Addr)
	markerTenant(t, ts, "alpha", "ALPHAMARK")
	alpha, _ := ts.p.Catalog.Tenant("alpha")
	ctx := context.Background()
	kept, _ := ts.p.AddDomain(ctx, alpha, "kept.alpha.example")
	vanishing, _ := ts.p.AddDomain(ctx, alpha, "vanishing.alpha.example")
	late, _ := ts.p.AddDomain(ctx, alpha, "late.alpha.example")
	flaky, _ := ts.p.AddDomain(ctx, alpha, "flaky.alpha.example")
	for _, d := range []catalog.Domain{kept, vanishing, flaky} {
		ns.Set("_chapterhouse."+d.Host, d.Token)
		if res, err := ts.p.CheckDomain(ctx, nil, d); err != nil || !res.Passed {
			t.Fatalf("verify %s: %+v %v", d.Host, res, err)
		}
	}

	ns.Set("_chapterhouse." + vanishing.Host)
	ns.Set("_chapterhouse."+late.Host, late.Token)
	ts.p.DomainGrace = time.Hour
	ts.p.RecheckDomains(ctx)
	want := map[string]struct {
		status string
		routes bool
	}{
		kept.Host:      {catalog.DomainVerified, true},
		vanishing.Host: {catalog.DomainMisconfigured, true}, // within the grace period
		late.Host:      {catalog.DomainVerified, true},
		flaky.Host:     {catalog.DomainVerified, true},
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
	ns.Fail(true)
	ts.p.RecheckDomains(ctx)
	check("re-check with the resolver failing")
	ns.Fail(false)
	ts.p.RecheckDomains(ctx)
	want[vanishing.Host] = struct {
		status string
		routes bool
	}{catalog.DomainMisconfigured, false}
	check("re-check without grace")

	// The record back: verified and routing again.
	ns.Set("_chapterhouse."+vanishing.Host, vanishing.Token)
	ts.p.RecheckDomains(ctx)
	want[vanishing.Host] = struct {
		status string
		routes bool
	}{catalog.DomainVerified, true}
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
