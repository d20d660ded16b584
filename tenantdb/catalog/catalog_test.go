package catalog

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb"
)

func newTenant(slug string) Tenant {
	return Tenant{ID: tenantdb.NewTenantID(), Slug: slug, Name: "Chapter " + slug, Status: StatusActive,
		CreatedAt: time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)}
}

// TestTenantLifecycle adds, finds, changes and removes tenants, and checks
// that every refusal leaves the catalog (and its memory) as it was, and
// that a reopened catalog remembers what was stored.
func TestTenantLifecycle(t *testing.T) { forEachStore(t, testTenantLifecycle) }

func testTenantLifecycle(t *testing.T, open opener) {
	ctx := context.Background()
	c := open(t)
	alpha, beta := newTenant("alpha"), newTenant("beta")
	beta.Name = strings.Repeat("n", 200) // a name exactly at the limit
	for _, tn := range []Tenant{alpha, beta} {
		if err := c.AddTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
	}
	refusals := map[string]Tenant{
		"bad slug":     {ID: tenantdb.NewTenantID(), Slug: "Not A Slug", Name: "x", Status: StatusActive},
		"no name":      {ID: tenantdb.NewTenantID(), Slug: "gamma", Status: StatusActive},
		"long name":    {ID: tenantdb.NewTenantID(), Slug: "gamma", Name: strings.Repeat("n", 201), Status: StatusActive},
		"bad id":       {ID: "../catalog", Slug: "gamma", Name: "x", Status: StatusActive},
		"taken slug":   {ID: tenantdb.NewTenantID(), Slug: "alpha", Name: "x", Status: StatusActive},
		"taken id":     {ID: alpha.ID, Slug: "gamma", Name: "x", Status: StatusActive},
		"unknown kind": {ID: tenantdb.NewTenantID(), Slug: "gamma", Name: "x", Status: "weird"},
	}
	for name, tn := range refusals {
		if err := c.AddTenant(ctx, tn); err == nil {
			t.Errorf("AddTenant %s was accepted", name)
		}
		if _, ok := c.TenantBySlug("gamma"); ok {
			t.Fatalf("AddTenant %s left gamma in memory", name)
		}
	}
	if err := c.AddTenant(ctx, refusals["taken slug"]); !errors.Is(err, tenantdb.ErrConflict) {
		t.Errorf("a taken slug: %v, want ErrConflict", err)
	}
	if got, ok := c.TenantByID(alpha.ID); !ok || got.Slug != "alpha" {
		t.Errorf("TenantByID: %+v %v", got, ok)
	}
	if _, err := c.Tenant("nosuch"); !errors.Is(err, tenantdb.ErrNotFound) {
		t.Errorf("Tenant of an unknown slug: %v", err)
	}

	if got, err := c.SetStatus(ctx, "beta", StatusFrozen); err != nil || got.Status != StatusFrozen {
		t.Fatalf("SetStatus: %+v %v", got, err)
	}
	if got, _ := c.TenantBySlug("beta"); got.Status != StatusFrozen {
		t.Errorf("the host map still has beta %s", got.Status)
	}
	if _, err := c.SetStatus(ctx, "beta", "deleted"); err == nil {
		t.Error("an unknown status was set")
	}
	if _, err := c.SetStatus(ctx, "nosuch", StatusActive); !errors.Is(err, tenantdb.ErrNotFound) {
		t.Errorf("SetStatus of an unknown slug: %v", err)
	}

	if err := c.RemoveTenant(ctx, alpha, alpha.ID+"-x.db"); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.TenantBySlug("alpha"); ok {
		t.Error("a removed tenant still routes")
	}
	if err := c.RemoveTenant(ctx, alpha, ""); !errors.Is(err, tenantdb.ErrNotFound) {
		t.Errorf("removing a removed tenant: %v", err)
	}
	trash, err := c.Trash(ctx)
	if err != nil || len(trash) != 1 || trash[0].File != alpha.ID+"-x.db" || trash[0].Slug != "alpha" || trash[0].TenantID != alpha.ID {
		t.Fatalf("Trash after removing alpha: %+v %v", trash, err)
	}

	// What was stored is what a reopened catalog knows.
	c.Close()
	again := open(t)
	tenants, err := again.Tenants(ctx)
	if err != nil || len(tenants) != 1 || tenants[0].Slug != "beta" || tenants[0].Status != StatusFrozen || !tenants[0].CreatedAt.Equal(beta.CreatedAt) {
		t.Fatalf("reopened: %+v %v", tenants, err)
	}
	if got, ok := again.TenantBySlug("beta"); !ok || got.ID != beta.ID {
		t.Errorf("reopened host map: %+v %v", got, ok)
	}
}

// TestTrashEntries records, finds and removes trash entries.
func TestTrashEntries(t *testing.T) { forEachStore(t, testTrashEntries) }

func testTrashEntries(t *testing.T, open opener) {
	ctx := context.Background()
	c := open(t)
	e := TrashEntry{File: "aaaaaaaaaaaaaaaa-1.db", TenantID: "aaaaaaaaaaaaaaaa", Slug: "old", Name: "Old Post",
		DeletedAt: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)}
	if err := c.AddTrash(ctx, e); err != nil {
		t.Fatal(err)
	}
	if err := c.AddTrash(ctx, e); !errors.Is(err, tenantdb.ErrConflict) {
		t.Errorf("a second entry for one file: %v, want ErrConflict", err)
	}
	got, err := c.TrashEntry(ctx, e.File)
	if err != nil || got.Slug != "old" || got.Name != "Old Post" || !got.DeletedAt.Equal(e.DeletedAt) {
		t.Fatalf("TrashEntry: %+v %v", got, err)
	}
	if _, err := c.TrashEntry(ctx, "nosuch.db"); !errors.Is(err, tenantdb.ErrNotFound) {
		t.Errorf("TrashEntry of an unknown file: %v", err)
	}
	if err := c.RemoveTrash(ctx, e.File); err != nil {
		t.Fatal(err)
	}
	if list, _ := c.Trash(ctx); len(list) != 0 {
		t.Errorf("trash after removal: %+v", list)
	}
}

// TestPutDomainsAndReadFile gives a tenant its custom domains (as an
// import with domains does), refuses a bad or taken one without storing
// any, and reads a snapshot of the catalog back.
func TestPutDomainsAndReadFile(t *testing.T) { forEachStore(t, testPutDomainsAndReadFile) }

func testPutDomainsAndReadFile(t *testing.T, open opener) {
	ctx := context.Background()
	c := open(t)
	alpha, beta := newTenant("alpha"), newTenant("beta")
	for _, tn := range []Tenant{alpha, beta} {
		if err := c.AddTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Date(2026, 5, 2, 0, 0, 0, 0, time.UTC)
	ds := []Domain{
		{Host: "www.alpha.example", Status: DomainVerified, Token: "t1", CreatedAt: now, VerifiedAt: &now},
		{Host: "new.alpha.example", Status: DomainPending, Token: "t2", CreatedAt: now},
	}
	if err := c.PutDomains(ctx, alpha, ds); err != nil {
		t.Fatal(err)
	}
	if got, ok := c.TenantByHost("www.alpha.example"); !ok || got.ID != alpha.ID {
		t.Errorf("a verified domain does not route: %+v %v", got, ok)
	}
	if _, ok := c.TenantByHost("new.alpha.example"); ok {
		t.Error("a pending domain routes")
	}
	bad := []Domain{{Host: "ok.beta.example", Status: DomainPending, CreatedAt: now}, {Host: "x.beta.example", Status: "stolen", CreatedAt: now}}
	if err := c.PutDomains(ctx, beta, bad); err == nil {
		t.Error("a domain with an unknown status was stored")
	}
	taken := []Domain{{Host: "ok.beta.example", Status: DomainVerified, CreatedAt: now}, {Host: "www.alpha.example", Status: DomainVerified, CreatedAt: now}}
	if err := c.PutDomains(ctx, beta, taken); !errors.Is(err, tenantdb.ErrConflict) {
		t.Errorf("another tenant's domain: %v, want ErrConflict", err)
	}
	if got, _ := c.Domains(ctx, beta.ID); len(got) != 0 {
		t.Errorf("refused PutDomains stored %+v", got)
	}
	if _, ok := c.TenantByHost("ok.beta.example"); ok {
		t.Error("a refused PutDomains routes a domain")
	}
	if err := c.Audit(ctx, "cli", "domain.add", alpha.ID, "www.alpha.example"); err != nil {
		t.Fatal(err)
	}
	if log, err := c.AuditLog(ctx, 10); err != nil || len(log) != 1 || log[0].Action != "domain.add" || log[0].Actor != "cli" {
		t.Fatalf("AuditLog: %+v %v", log, err)
	}

	snapshot := filepath.Join(t.TempDir(), "catalog.db")
	if _, err := c.Export(ctx, snapshot); err != nil {
		t.Fatal(err)
	}
	if _, err := CheckFile(ctx, snapshot); err != nil {
		t.Fatalf("the snapshot fails its check: %v", err)
	}
	tenants, domains, err := ReadFile(ctx, snapshot)
	if err != nil || len(tenants) != 2 || len(domains) != 2 {
		t.Fatalf("ReadFile: %d tenants, %d domains, %v", len(tenants), len(domains), err)
	}
	for _, d := range domains {
		if want := d.Host == "www.alpha.example"; d.Verified != want {
			t.Errorf("the snapshot's %s: verified %v, want %v", d.Host, d.Verified, want)
		}
	}
	if err := c.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
	if err := c.Check(ctx); err != nil {
		t.Errorf("Check: %v", err)
	}
}
