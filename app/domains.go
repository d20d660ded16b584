package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/hostname"
	"github.com/chapterhouse/chapterhouse/app/internal/ratelimit"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// checkCustomHost validates a custom domain typed by an operator or admin.
func (p *platform) checkCustomHost(raw string) (string, error) {
	host, err := hostname.Normalize(raw)
	if err != nil || strings.ContainsRune(raw, ':') || !strings.Contains(host, ".") {
		return "", &tenantdb.ValidationError{Field: "host", Message: fmt.Sprintf("%q is not a host name like www.example.org", raw)}
	}
	if host == p.base || strings.HasSuffix(host, "."+p.base) {
		return "", &tenantdb.ValidationError{Field: "host", Message: fmt.Sprintf("%q is under the platform domain %s; tenants get their subdomain automatically", raw, p.base)}
	}
	return host, nil
}

// addDomain adds custom domain raw to tenant t, unverified. A host that
// belongs to a site already is a conflict.
func (p *platform) addDomain(ctx context.Context, t tenantdb.Tenant, raw string) (tenantdb.Domain, error) {
	host, err := p.checkCustomHost(raw)
	if err != nil {
		return tenantdb.Domain{}, err
	}
	d, err := p.catalog.AddDomain(ctx, t, host)
	if errors.Is(err, tenantdb.ErrConflict) {
		if old, oerr := p.catalog.Domain(ctx, host); oerr == nil && old.TenantID == t.ID {
			return d, fmt.Errorf("%s was added to this site already (%s): %w", host, old.Status, tenantdb.ErrConflict)
		}
		return d, fmt.Errorf("%s is connected to another site; a domain serves one site only: %w", host, tenantdb.ErrConflict)
	}
	return d, err
}

// maxDomainsPerTenant bounds what one site can make the platform check in
// DNS every hour.
const maxDomainsPerTenant = 10

// domainView is a custom domain as the API and the dashboard show it.
type domainView struct {
	Host   string `json:"host"`
	Status string `json:"status"` // pending, verified, misconfigured
	// Routes says whether the domain serves the site now; RoutesUntil is
	// when a misconfigured domain stops, unless its record comes back.
	Routes             bool        `json:"routes"`
	RoutesUntil        *time.Time  `json:"routes_until,omitempty"`
	Token              string      `json:"token"`
	Records            []dnsRecord `json:"records"`
	CreatedAt          time.Time   `json:"created_at"`
	VerifiedAt         *time.Time  `json:"verified_at,omitempty"`
	CheckedAt          *time.Time  `json:"checked_at,omitempty"`
	MisconfiguredSince *time.Time  `json:"misconfigured_since,omitempty"`
	// Problem is what the last check found wrong (verify only).
	Problem string `json:"problem,omitempty"`
	// Anchor is the id of the domain's section on the dashboard page.
	Anchor string `json:"-"`
}

func (p *platform) viewDomain(d tenantdb.Domain) domainView {
	v := domainView{
		Host: d.Host, Status: d.Status, Routes: d.Verified, Token: d.Token,
		Records: p.domainRecords(d), CreatedAt: d.CreatedAt,
		VerifiedAt: d.VerifiedAt, CheckedAt: d.CheckedAt, MisconfiguredSince: d.MisconfiguredSince,
		Anchor: "domain-" + strings.ReplaceAll(d.Host, ".", "-"),
	}
	if d.Verified && d.MisconfiguredSince != nil {
		until := d.MisconfiguredSince.Add(p.domainGrace)
		v.RoutesUntil = &until
	}
	return v
}

// Checks run DNS lookups: each tenant's admins get a few at once, then one
// every 12 seconds.
const (
	domainCheckBurst = 5
	domainCheckEvery = 12 * time.Second
)

// tenantDomain is tenant t's custom domain raw (as an admin typed it or a
// URL names it); another tenant's domain is not found, as if it did not
// exist.
func (p *platform) tenantDomain(ctx context.Context, t tenantdb.Tenant, raw string) (tenantdb.Domain, error) {
	host, err := hostname.Normalize(raw)
	if err != nil {
		return tenantdb.Domain{}, fmt.Errorf("domain %q: %w", raw, tenantdb.ErrNotFound)
	}
	d, err := p.catalog.Domain(ctx, host)
	if err == nil && d.TenantID != t.ID {
		err = fmt.Errorf("domain %s: %w", host, tenantdb.ErrNotFound)
	}
	return d, err
}

// tenantDomains lists tenant t's custom domains.
func (p *platform) tenantDomains(ctx context.Context, t tenantdb.Tenant) ([]domainView, error) {
	ds, err := p.catalog.Domains(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	views := make([]domainView, 0, len(ds))
	for _, d := range ds {
		views = append(views, p.viewDomain(d))
	}
	return views, nil
}

// addTenantDomain adds custom domain raw to tenant t for one of its
// admins (actor), within the per-site limit.
func (p *platform) addTenantDomain(ctx context.Context, t tenantdb.Tenant, raw, actor string) (tenantdb.Domain, error) {
	ds, err := p.catalog.Domains(ctx, t.ID)
	if err != nil {
		return tenantdb.Domain{}, err
	}
	if len(ds) >= maxDomainsPerTenant {
		return tenantdb.Domain{}, &tenantdb.ValidationError{Field: "host",
			Message: fmt.Sprintf("a site can have at most %d custom domains; remove one first", maxDomainsPerTenant)}
	}
	d, err := p.addDomain(ctx, t, raw)
	if err != nil {
		return d, err
	}
	p.audit(ctx, actor, "domain.add", t.ID, d.Host)
	return d, nil
}

// checkTenantDomain runs the DNS check of tenant t's domain d for one of
// its admins, within the tenant's allowance of checks (a *ratelimit.Error
// past it).
func (p *platform) checkTenantDomain(ctx context.Context, t tenantdb.Tenant, d tenantdb.Domain, actor string) (domainCheck, error) {
	if ok, wait := p.domainChecks.Take(t.ID, p.now()); !ok {
		return domainCheck{}, &ratelimit.Error{Wait: wait, What: "too many DNS checks"}
	}
	res, err := p.checkDomain(ctx, nil, d.Host)
	if err != nil {
		return res, err
	}
	if res.Domain.Status != d.Status || res.Domain.Verified != d.Verified {
		p.audit(ctx, actor, "domain.check", t.ID, fmt.Sprintf("%s: %s -> %s", d.Host, d.Status, res.Domain.Status))
	}
	return res, nil
}

// removeTenantDomain removes tenant t's domain d for one of its admins: it
// stops routing at once.
func (p *platform) removeTenantDomain(ctx context.Context, t tenantdb.Tenant, d tenantdb.Domain, actor string) error {
	if _, err := p.catalog.RemoveDomain(ctx, d.Host); err != nil {
		return err
	}
	p.audit(ctx, actor, "domain.remove", t.ID, d.Host)
	return nil
}

// audit records a change in the catalog's audit log; a failure to record
// is logged, not returned: the change itself is done.
func (p *platform) audit(ctx context.Context, actor, action, tenantID, detail string) {
	if err := p.catalog.Audit(ctx, actor, action, tenantID, detail); err != nil {
		p.log.Warn("audit log", "action", action, "err", err)
	}
}
