package platform

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
	"github.com/chapterhouse/chapterhouse/tenantdb/pool"
)

// TestRemindRenewalsOnEachChaptersDate: one instant is a different date in
// two chapters' time zones; each chapter's reminder goes out when its own
// date is 30 days before the renewal, once; a frozen chapter waits.
func TestRemindRenewalsOnEachChaptersDate(t *testing.T) {
	ctx := context.Background()
	p, err := Open(ctx, t.TempDir(), 4, 0, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	setup := func(slug, zone string) catalog.Tenant {
		tn, err := p.CreateTenant(ctx, slug, slug)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.WithTenant(ctx, slug, func(_ catalog.Tenant, h *pool.Handle) error {
			site, err := h.Site(ctx)
			if err != nil {
				return err
			}
			site.Timezone = zone
			if err := h.UpdateSite(ctx, &site); err != nil {
				return err
			}
			return h.SaveMember(ctx, &tenantdb.Member{Email: "m@example.org", Name: "M", RenewalDate: "2027-02-01"})
		}); err != nil {
			t.Fatal(err)
		}
		return tn
	}
	setup("east", "Pacific/Kiritimati") // UTC+14
	setup("west", "Pacific/Pago_Pago")  // UTC-11
	queued := func(slug string) int {
		n := 0
		p.WithTenant(ctx, slug, func(_ catalog.Tenant, h *pool.Handle) error {
			mails, err := h.Outbox(ctx, tenantdb.Window{})
			n = len(mails)
			return err
		})
		return n
	}
	// 2027-01-01 12:00 UTC is Jan 2 in the east, Jan 1 in the west (31 days ahead).
	now := time.Date(2027, 1, 1, 12, 0, 0, 0, time.UTC)
	if n, err := p.RemindRenewals(ctx, now); err != nil || n != 1 || queued("east") != 1 || queued("west") != 0 {
		t.Fatalf("first sweep: %d, %v; east %d, west %d mails; want the east's only", n, err, queued("east"), queued("west"))
	}
	west, _ := p.Catalog.Tenant("west")
	if west, err = p.Freeze(ctx, west); err != nil {
		t.Fatal(err)
	}
	if n, err := p.RemindRenewals(ctx, now.Add(24*time.Hour)); err != nil || n != 0 {
		t.Errorf("sweep with the west frozen: %d, %v; want 0", n, err)
	}
	if _, err := p.Thaw(ctx, west); err != nil {
		t.Fatal(err)
	}
	if n, err := p.RemindRenewals(ctx, now.Add(24*time.Hour)); err != nil || n != 1 || queued("west") != 1 || queued("east") != 1 {
		t.Errorf("next day's sweep: %d, %v; east %d, west %d mails; want one each", n, err, queued("east"), queued("west"))
	}
}
