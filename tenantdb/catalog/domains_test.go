package catalog

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// catalogWithDomain opens a catalog with one tenant and one pending
// custom domain, on a clock the test moves.
func catalogWithDomain(t *testing.T, open opener, host string) (*Catalog, Tenant, *time.Time) {
	t.Helper()
	ctx := context.Background()
	c := open(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	c.now = func() time.Time { return now }
	tn := Tenant{ID: tenantdb.NewTenantID(), Slug: "alpha", Name: "Alpha", Status: StatusActive, CreatedAt: now}
	if err := c.AddTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddDomain(ctx, tn, host, 7*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	return c, tn, &now
}

func TestDomainCheckLifecycle(t *testing.T) { forEachStore(t, testDomainCheckLifecycle) }

func testDomainCheckLifecycle(t *testing.T, open opener) {
	ctx := context.Background()
	const host = "www.alpha.example"
	c, tn, now := catalogWithDomain(t, open, host)
	const grace = 24 * time.Hour

	routes := func() bool {
		got, ok := c.TenantByHost(host)
		if ok && got.ID != tn.ID {
			t.Fatalf("%s routes to %s, want %s", host, got.ID, tn.ID)
		}
		return ok
	}
	step := func(name string, passed bool, wantStatus string, wantRoutes bool) Domain {
		t.Helper()
		d, err := c.RecordDomainCheck(ctx, tn.ID, host, passed, grace)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if d.Status != wantStatus || d.Verified != wantRoutes || routes() != wantRoutes {
			t.Fatalf("%s: status %s, verified %v, routes %v; want %s, %v", name, d.Status, d.Verified, routes(), wantStatus, wantRoutes)
		}
		// What is stored is what memory says.
		stored, err := c.Domain(ctx, host)
		if err != nil || stored.Status != d.Status || stored.Verified != d.Verified {
			t.Fatalf("%s: stored %+v, %v; returned %+v", name, stored, err, d)
		}
		return d
	}

	step("pending, record absent", false, DomainPending, false)
	d := step("record appears", true, DomainVerified, true)
	if d.VerifiedAt == nil || d.MisconfiguredSince != nil {
		t.Fatalf("verified: verified_at %v, misconfigured_since %v", d.VerifiedAt, d.MisconfiguredSince)
	}
	*now = now.Add(time.Hour)
	d = step("record vanishes", false, DomainMisconfigured, true)
	if d.MisconfiguredSince == nil || !d.MisconfiguredSince.Equal(*now) {
		t.Fatalf("misconfigured_since = %v, want %v", d.MisconfiguredSince, *now)
	}
	*now = now.Add(grace - time.Minute)
	step("still missing within the grace period", false, DomainMisconfigured, true)
	*now = now.Add(time.Minute)
	step("grace period over", false, DomainMisconfigured, false)
	*now = now.Add(time.Hour)
	step("stays off", false, DomainMisconfigured, false)
	d = step("record back", true, DomainVerified, true)
	if d.MisconfiguredSince != nil {
		t.Fatalf("misconfigured_since kept after a pass: %v", d.MisconfiguredSince)
	}

	// With no grace a vanished record stops routing at once.
	d, err := c.RecordDomainCheck(ctx, tn.ID, host, false, 0)
	if err != nil || d.Status != DomainMisconfigured || d.Verified || routes() {
		t.Fatalf("no grace: %+v %v, routes %v", d, err, routes())
	}

	// Reopening the catalog routes from what was stored.
	c.SetDomainStatus(ctx, tn.ID, host, DomainVerified)
	c2 := open(t)
	if got, ok := c2.TenantByHost(host); !ok || got.ID != tn.ID {
		t.Fatalf("after reopen: %v %v", got, ok)
	}

	if _, err := c.RecordDomainCheck(ctx, tn.ID, "nosuch.example", false, grace); !errors.Is(err, tenantdb.ErrNotFound) {
		t.Fatalf("unknown host: %v, want ErrNotFound", err)
	}
}

// A check that read a domain before it was removed never brings it back.
func TestRemovedDomainStaysRemoved(t *testing.T) { forEachStore(t, testRemovedDomainStaysRemoved) }

func testRemovedDomainStaysRemoved(t *testing.T, open opener) {
	ctx := context.Background()
	const host = "www.alpha.example"
	c, tn, _ := catalogWithDomain(t, open, host)
	if _, err := c.SetDomainStatus(ctx, tn.ID, host, DomainVerified); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 50 {
			c.RecordDomainCheck(ctx, tn.ID, host, true, time.Hour)
		}
	}()
	if _, err := c.RemoveDomain(ctx, host); err != nil {
		t.Fatal(err)
	}
	<-done
	if _, ok := c.TenantByHost(host); ok {
		t.Fatal("removed domain routes again")
	}
	if _, err := c.Domain(ctx, host); !errors.Is(err, tenantdb.ErrNotFound) {
		t.Fatalf("removed domain: %v", err)
	}
}

// TestDomainClaims: several tenants may claim a host while none has proven
// it; the first verified claim wins and removes the others; a proven host
// that routes cannot be claimed; one that stopped routing (its proof gone
// past the grace period) can, and its new owner's proof replaces the old
// claim; an expired pending claim is ignored by a new claim.
func TestDomainClaims(t *testing.T) { forEachStore(t, testDomainClaims) }

func testDomainClaims(t *testing.T, open opener) {
	ctx := context.Background()
	const host = "www.shared.example"
	const ttl = 7 * 24 * time.Hour
	c, a, now := catalogWithDomain(t, open, host)
	b := Tenant{ID: tenantdb.NewTenantID(), Slug: "bravo", Name: "Bravo", Status: StatusActive, CreatedAt: *now}
	webtestMust(t, c.AddTenant(ctx, b))

	if _, err := c.AddDomain(ctx, b, host, ttl); err != nil {
		t.Fatalf("a second tenant's claim of a pending host: %v", err)
	}
	if _, err := c.AddDomain(ctx, a, host, ttl); !errors.Is(err, tenantdb.ErrConflict) || errors.Is(err, ErrDomainOwned) {
		t.Fatalf("a tenant's second claim of one host: %v, want ErrConflict", err)
	}
	if ds, _ := c.Claims(ctx, host); len(ds) != 2 {
		t.Fatalf("claims: %+v, want both", ds)
	}
	if _, err := c.RecordDomainCheck(ctx, b.ID, host, true, time.Hour); err != nil {
		t.Fatal(err)
	}
	if ds, _ := c.Claims(ctx, host); len(ds) != 1 || ds[0].TenantID != b.ID {
		t.Fatalf("claims after bravo verified: %+v, want bravo's only", ds)
	}
	if got, ok := c.TenantByHost(host); !ok || got.ID != b.ID {
		t.Fatalf("%s routes to %v %v, want bravo", host, got, ok)
	}
	if _, err := c.AddDomain(ctx, a, host, ttl); !errors.Is(err, ErrDomainOwned) {
		t.Fatalf("a claim of a host that routes elsewhere: %v, want ErrDomainOwned", err)
	}
	// Bravo's proof goes and the grace period passes: alpha may claim it,
	// and alpha's proof ends bravo's claim.
	if _, err := c.RecordDomainCheck(ctx, b.ID, host, false, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddDomain(ctx, a, host, ttl); err != nil {
		t.Fatalf("a claim of a host whose owner lost it: %v", err)
	}
	if _, err := c.SetDomainStatus(ctx, a.ID, host, DomainVerified); err != nil {
		t.Fatalf("verifying over a lapsed owner: %v", err)
	}
	if ds, _ := c.Claims(ctx, host); len(ds) != 1 || ds[0].TenantID != a.ID {
		t.Fatalf("claims after alpha verified: %+v", ds)
	}

	// Expiry: bravo's stale pending claim is no claim at all.
	const other = "www.stale.example"
	if _, err := c.AddDomain(ctx, b, other, ttl); err != nil {
		t.Fatal(err)
	}
	*now = now.Add(ttl + time.Minute)
	if _, err := c.AddDomain(ctx, a, other, ttl); err != nil {
		t.Fatal(err)
	}
	if ds, _ := c.Claims(ctx, other); len(ds) != 1 || ds[0].TenantID != a.ID {
		t.Fatalf("claims of %s after bravo's expired: %+v, want alpha's only", other, ds)
	}
	expired, err := c.ExpirePendingDomains(ctx, now.Add(-ttl))
	if err != nil || len(expired) != 0 {
		t.Fatalf("nothing is older than the TTL now: %+v %v", expired, err)
	}
	*now = now.Add(ttl + time.Minute)
	expired, err = c.ExpirePendingDomains(ctx, now.Add(-ttl))
	if err != nil || len(expired) != 1 || expired[0].Host != other {
		t.Fatalf("expired: %+v %v, want alpha's claim of %s", expired, err, other)
	}
	if _, err := c.TenantDomain(ctx, a.ID, host); err != nil {
		t.Errorf("a verified domain expired with the pending ones: %v", err)
	}
}

func webtestMust(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
