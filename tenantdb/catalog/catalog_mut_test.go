package catalog

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// verifiedDomain adds host to tenant tn and verifies it, so it routes.
func verifiedDomain(t *testing.T, c *Catalog, tn Tenant, host string) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.AddDomain(ctx, tn, host, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SetDomainStatus(ctx, tn.ID, host, DomainVerified); err != nil {
		t.Fatal(err)
	}
	if got, ok := c.TenantByHost(host); !ok || got.ID != tn.ID {
		t.Fatalf("%s routes to %v %v, want %s", host, got.Slug, ok, tn.Slug)
	}
}

// TestRemoveTenantStopsOnlyItsOwnDomains: a removed tenant's domains stop
// routing at once and leave the catalog; another tenant's keep routing.
func TestRemoveTenantStopsOnlyItsOwnDomains(t *testing.T) {
	ctx := context.Background()
	c, dir := openCatalog(t)
	a, b := newTenant("alpha"), newTenant("bravo")
	webtestMust(t, c.AddTenant(ctx, a))
	webtestMust(t, c.AddTenant(ctx, b))
	verifiedDomain(t, c, a, "www.alpha.example")
	verifiedDomain(t, c, a, "alpha.example")
	verifiedDomain(t, c, b, "www.bravo.example")

	webtestMust(t, c.RemoveTenant(ctx, a, a.ID+".db"))
	for _, host := range []string{"www.alpha.example", "alpha.example"} {
		if got, ok := c.TenantByHost(host); ok {
			t.Errorf("%s still routes, to %s", host, got.Slug)
		}
	}
	if got, ok := c.TenantByHost("www.bravo.example"); !ok || got.ID != b.ID {
		t.Errorf("bravo's domain after alpha's removal: %v %v", got.Slug, ok)
	}
	if ds, err := c.Domains(ctx, a.ID); err != nil || len(ds) != 0 {
		t.Errorf("alpha's domains after its removal: %+v %v", ds, err)
	}
	// A reopened catalog agrees with the memory of the one that removed it.
	c.Close()
	c2, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if _, ok := c2.TenantByHost("www.alpha.example"); ok {
		t.Error("alpha's domain routes after a reopen")
	}
	if got, ok := c2.TenantByHost("www.bravo.example"); !ok || got.ID != b.ID {
		t.Errorf("bravo's domain after a reopen: %v %v", got.Slug, ok)
	}
}

// TestRemoveTenantDomain: a tenant removes its own claim of a host (a
// routed one stops routing at once); a host it does not claim is not
// found, and another tenant's claim of the same host stays.
func TestRemoveTenantDomain(t *testing.T) {
	ctx := context.Background()
	c, _ := openCatalog(t)
	a, b := newTenant("alpha"), newTenant("bravo")
	webtestMust(t, c.AddTenant(ctx, a))
	webtestMust(t, c.AddTenant(ctx, b))
	verifiedDomain(t, c, a, "www.alpha.example")
	const shared = "www.shared.example"
	for _, tn := range []Tenant{a, b} {
		if _, err := c.AddDomain(ctx, tn, shared, time.Hour); err != nil {
			t.Fatal(err)
		}
	}

	if _, err := c.RemoveTenantDomain(ctx, b.ID, "www.alpha.example"); !errors.Is(err, tenantdb.ErrNotFound) {
		t.Errorf("bravo removing alpha's domain: %v, want ErrNotFound", err)
	}
	if got, ok := c.TenantByHost("www.alpha.example"); !ok || got.ID != a.ID {
		t.Fatalf("alpha's domain after bravo's attempt: %v %v", got.Slug, ok)
	}
	d, err := c.RemoveTenantDomain(ctx, b.ID, shared)
	if err != nil || d.Host != shared || d.TenantID != b.ID {
		t.Fatalf("bravo's pending claim: %+v %v", d, err)
	}
	if ds, _ := c.Claims(ctx, shared); len(ds) != 1 || ds[0].TenantID != a.ID {
		t.Errorf("claims of %s after bravo's went: %+v, want alpha's", shared, ds)
	}
	d, err = c.RemoveTenantDomain(ctx, a.ID, "www.alpha.example")
	if err != nil || d.Host != "www.alpha.example" || !d.Verified {
		t.Fatalf("alpha's verified domain: %+v %v", d, err)
	}
	if got, ok := c.TenantByHost("www.alpha.example"); ok {
		t.Errorf("a removed domain still routes, to %s", got.Slug)
	}
	if _, err := c.RemoveTenantDomain(ctx, a.ID, "www.alpha.example"); !errors.Is(err, tenantdb.ErrNotFound) {
		t.Errorf("removing it again: %v, want ErrNotFound", err)
	}
}

// openCatalog opens a catalog.db in a temp dir, closed when t ends, and
// returns it with its dir.
func openCatalog(t *testing.T) (*Catalog, string) {
	t.Helper()
	dir := t.TempDir()
	c, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, dir
}
