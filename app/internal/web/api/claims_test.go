package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/app/internal/testdns"
	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
)

// TestDomainClaimsCannotBeSquatted: a site that claims another's host
// first does not block it (both are pending, and the owner's proof in DNS
// wins and removes the squatter's claim); a host another site has proven
// is refused with a message that names no site; pending claims expire;
// IP literals and the platform's own names are refused with 422.
func TestDomainClaimsCannotBeSquatted(t *testing.T) {
	ns := testdns.Start(t)
	ls := webtest.NewEmpty(t)
	clock := webtest.NewClock(time.Now())
	ls.Platform.Now = clock.Now
	ls.Platform.Resolver, _ = platform.NewResolver(ns.Addr)
	ownerEmail, ownerPW := ls.NewTenant(t, "owner")
	squatEmail, squatPW := ls.NewTenant(t, "squatter")
	lateEmail, latePW := ls.NewTenant(t, "late")
	owner := ls.Login(t, "owner", ownerEmail, ownerPW)
	squatter := ls.Login(t, "squatter", squatEmail, squatPW)
	late := ls.Login(t, "late", lateEmail, latePW)
	c := ls.Browser()
	api := func(slug, token, method, path string, body any) webtest.APIResult {
		t.Helper()
		return ls.Call(t, c, method, ls.SiteURL(slug, path), body, webtest.Bearer(token)...)
	}
	claim := func(slug, token, host string) (apiDomain, webtest.APIResult) {
		t.Helper()
		r := api(slug, token, "POST", "/api/domains", map[string]string{"host": host})
		var d apiDomain
		if r.Status == http.StatusCreated {
			r.JSON(t, &d)
		}
		return d, r
	}
	const host = "www.riverside-post.example"

	if _, r := claim("squatter", squatter, host); r.Status != http.StatusCreated {
		t.Fatalf("squatter's claim: %d %s", r.Status, r.Body)
	}
	mine, r := claim("owner", owner, host)
	if r.Status != http.StatusCreated {
		t.Fatalf("the owner's claim of a host another site only claimed: %d %s, want 201", r.Status, r.Body)
	}
	ns.Set("_chapterhouse."+host, mine.Token)
	if r := api("owner", owner, "POST", "/api/domains/"+host+"/verify", nil); r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"status":"verified"`) {
		t.Fatalf("owner's verify: %d %s", r.Status, r.Body)
	}
	if code := ls.Call(t, c, "GET", "http://"+host+":"+ls.Port()+"/", nil).Status; code != http.StatusOK {
		t.Errorf("verified host: %d, want the owner's site", code)
	}
	if r := api("squatter", squatter, "GET", "/api/domains/"+host, nil); r.Status != http.StatusNotFound {
		t.Errorf("the squatter's claim after the owner verified: %d, want 404 (removed)", r.Status)
	}

	// A proven host: 409, saying nothing of whose it is.
	_, r = claim("late", late, host)
	msg, _ := r.ErrField(t)
	if r.Status != http.StatusConflict || strings.Contains(msg, "owner") || strings.Contains(msg, mine.Token) {
		t.Errorf("claim of a verified host: %d %q, want 409 naming no site", r.Status, msg)
	}

	// Pending claims expire: the re-check drops them, audited.
	squat, r := claim("squatter", squatter, "www.never-proven.example")
	if r.Status != http.StatusCreated {
		t.Fatalf("second claim: %d", r.Status)
	}
	clock.Advance(platform.PendingDomainTTL + time.Hour)
	ls.Platform.RecheckDomains(context.Background())
	if r := api("squatter", squatter, "GET", "/api/domains/"+squat.Host, nil); r.Status != http.StatusNotFound {
		t.Errorf("a pending claim %s after its expiry and a re-check: %d, want 404", platform.PendingDomainTTL, r.Status)
	}
	audit, err := ls.Platform.Catalog.AuditLog(context.Background(), 100)
	webtest.Must(t, err)
	expired := false
	for _, e := range audit {
		expired = expired || e.Action == "domain.expire" && strings.HasPrefix(e.Detail, squat.Host)
	}
	if !expired {
		t.Error("no domain.expire in the audit log")
	}

	// Not host names of a site: 422, nothing stored.
	for _, bad := range []string{"192.0.2.1", "[192.0.2.1]", "2001:db8::1", "[2001:db8::1]", "127.1", "0x7f.0.0.1",
		webtest.Base, "news." + webtest.Base, "localhost", "app.localhost"} {
		if _, r := claim("late", late, bad); r.Status != http.StatusUnprocessableEntity {
			t.Errorf("claim of %q: %d %s, want 422", bad, r.Status, r.Body)
		}
	}
	var list []apiDomain
	api("late", late, "GET", "/api/domains", nil).JSON(t, &list)
	if len(list) != 0 {
		t.Errorf("refused claims were stored: %+v", list)
	}
}
