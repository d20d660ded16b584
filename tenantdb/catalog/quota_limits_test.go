package catalog

import (
	"context"
	"errors"
	"testing"

	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// TestAddTenantQuotaBounds checks the quota a tenant may be added with:
// none (the default), zero (no room at all) and any positive size are
// stored; a negative one is refused and adds nothing.
func TestAddTenantQuotaBounds(t *testing.T) { forEachStore(t, testAddTenantQuotaBounds) }

func testAddTenantQuotaBounds(t *testing.T, open opener) {
	c := open(t)
	ctx := context.Background()
	for _, tc := range []struct {
		slug  string
		quota *int64
		ok    bool
	}{
		{"none", nil, true},
		{"zero", quotaOf(0), true},
		{"one", quotaOf(1), true},
		{"negative", quotaOf(-1), false},
	} {
		tn := newTenant(tc.slug)
		tn.Quota = tc.quota
		err := c.AddTenant(ctx, tn)
		if (err == nil) != tc.ok {
			t.Errorf("AddTenant with quota %v: %v, want ok %v", quotaValue(tc.quota), err, tc.ok)
			continue
		}
		got, found := c.TenantBySlug(tc.slug)
		if found != tc.ok {
			t.Errorf("quota %v: tenant found %v, want %v", quotaValue(tc.quota), found, tc.ok)
		}
		if tc.ok && quotaValue(got.Quota) != quotaValue(tc.quota) {
			t.Errorf("quota %v stored as %v", quotaValue(tc.quota), quotaValue(got.Quota))
		}
	}
}

func quotaOf(n int64) *int64 { return &n }

func quotaValue(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

// TestSetQuota changes a tenant's quota: to zero and to a size (kept in
// memory and in the file), back to none; a negative quota and an unknown
// tenant are refused and change nothing.
func TestSetQuota(t *testing.T) { forEachStore(t, testSetQuota) }

func testSetQuota(t *testing.T, open opener) {
	c := open(t)
	ctx := context.Background()
	if err := c.AddTenant(ctx, newTenant("alpha")); err != nil {
		t.Fatal(err)
	}
	for _, q := range []*int64{quotaOf(0), quotaOf(5 << 20), nil} {
		got, err := c.SetQuota(ctx, "alpha", q)
		if err != nil || quotaValue(got.Quota) != quotaValue(q) {
			t.Fatalf("SetQuota(%v) = %v, %v", quotaValue(q), quotaValue(got.Quota), err)
		}
		if mem, _ := c.TenantBySlug("alpha"); quotaValue(mem.Quota) != quotaValue(q) {
			t.Errorf("after SetQuota(%v) the catalog's memory says %v", quotaValue(q), quotaValue(mem.Quota))
		}
	}
	if _, err := c.SetQuota(ctx, "alpha", quotaOf(7)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SetQuota(ctx, "alpha", quotaOf(-1)); !isFieldError(err, "quota") {
		t.Errorf("SetQuota(-1): %v, want a refusal naming quota", err)
	}
	if _, err := c.SetQuota(ctx, "nosuch", quotaOf(1)); !errors.Is(err, tenantdb.ErrNotFound) {
		t.Errorf("SetQuota of an unknown tenant: %v, want ErrNotFound", err)
	}
	c.Close()
	c2 := open(t)
	if got, _ := c2.TenantBySlug("alpha"); quotaValue(got.Quota) != int64(7) {
		t.Errorf("reopened: quota %v, want 7 (the refused change not applied)", quotaValue(got.Quota))
	}
}

func isFieldError(err error, field string) bool {
	var ve *tenantdb.ValidationError
	return errors.As(err, &ve) && ve.Field == field
}
