package catalog

import (
	"context"
	"testing"
)

// TestAddTenantQuotaBounds checks the quota a tenant may be added with:
// none (the default), zero (no room at all) and any positive size are
// stored; a negative one is refused and adds nothing.
func TestAddTenantQuotaBounds(t *testing.T) {
	c, _ := openCatalog(t)
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
