package platform

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
)

// RemindRenewals queues the renewal reminders that are due at now in
// every active tenant (see tenantdb.QueueRenewalReminders), each on the
// date of its own time zone, and returns how many it queued. A tenant
// that fails is reported and the others still run; suspended and frozen
// tenants are left for the next sweep.
func (p *Platform) RemindRenewals(ctx context.Context, now time.Time) (int, error) {
	tenants, err := p.Catalog.Tenants(ctx)
	if err != nil {
		return 0, fmt.Errorf("renewal reminders: %w", err)
	}
	total := 0
	var errs []error
	for _, t := range tenants {
		if t.Status != catalog.StatusActive {
			continue
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
		n, err := p.remindTenant(ctx, t, now)
		total += n
		if err != nil {
			errs = append(errs, fmt.Errorf("renewal reminders of %s: %w", t.Slug, err))
		}
	}
	return total, errors.Join(errs...)
}

func (p *Platform) remindTenant(ctx context.Context, t catalog.Tenant, now time.Time) (int, error) {
	h, err := p.Pool.Acquire(ctx, t.ID)
	if err != nil {
		return 0, err
	}
	defer h.Release()
	site, err := h.Site(ctx)
	if err != nil {
		return 0, err
	}
	loc, err := tenantdb.LoadZone(site.Timezone)
	if err != nil {
		loc = time.UTC
	}
	return h.QueueRenewalReminders(ctx, now.In(loc))
}

// RenewalLoop runs RemindRenewals first after the delay first (the sweep
// opens every tenant: not while a server is starting), then every period
// until ctx ends, logging what it did. A reminder is queued once per
// renewal date, so a restart or a second sweep on one day sends nothing
// twice.
func (p *Platform) RenewalLoop(ctx context.Context, first, every time.Duration, now func() time.Time) {
	if every <= 0 {
		return
	}
	select {
	case <-ctx.Done():
		return
	case <-time.After(first):
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		n, err := p.RemindRenewals(ctx, now())
		if err != nil && ctx.Err() == nil {
			p.Log.Error("renewal reminders", "err", err)
		}
		if n > 0 {
			p.Log.Info("renewal reminders queued", "mails", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
