package platform

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/hostname"
	"github.com/chapterhouse/chapterhouse/app/internal/ratelimit"
	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
)

// PendingDomainTTL is how long a claim of a custom domain stays without
// being verified: then it is dropped (by the re-check loop, and ignored by
// a new claim of the host), so that nobody holds a host they cannot prove.
const PendingDomainTTL = 7 * 24 * time.Hour

// CheckCustomHost validates a custom domain typed by an operator or admin:
// a host name with a dot, not an IP literal (v4, v6, bracketed, or the
// numeric forms browsers read as one) and not one of the platform's own
// names (the base domain, its subdomains, localhost).
func (p *Platform) CheckCustomHost(raw string) (string, error) {
	refuse := func(format string, args ...any) (string, error) {
		return "", &tenantdb.ValidationError{Field: "host", Message: fmt.Sprintf(format, args...)}
	}
	trimmed := strings.TrimSuffix(strings.TrimSpace(raw), ".")
	if _, err := netip.ParseAddr(strings.Trim(trimmed, "[]")); err == nil {
		return refuse("%q is an IP address; a custom domain is a name like www.example.org", raw)
	}
	host, err := hostname.Normalize(raw)
	if err != nil || strings.ContainsRune(raw, ':') || !strings.Contains(host, ".") {
		return refuse("%q is not a host name like www.example.org", raw)
	}
	last := host[strings.LastIndexByte(host, '.')+1:]
	if strings.Trim(last, "0123456789") == "" || strings.HasPrefix(last, "0x") {
		return refuse("%q is an IP address; a custom domain is a name like www.example.org", raw)
	}
	if p.Base != "" && (host == p.Base || strings.HasSuffix(host, "."+p.Base)) {
		return refuse("%q is under the platform domain %s; sites get their subdomain automatically", raw, p.Base)
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return refuse("%q is a name of this machine (localhost), not a domain of the site", raw)
	}
	return host, nil
}

// AddDomain adds a pending claim of custom domain raw to tenant t. A host
// this tenant claimed already, or that another site has proven and
// serves, is a conflict; another site's pending claim is not (the first to
// verify wins). The conflict says no more than what anyone can see: that
// the host serves a site here.
func (p *Platform) AddDomain(ctx context.Context, t catalog.Tenant, raw string) (catalog.Domain, error) {
	host, err := p.CheckCustomHost(raw)
	if err != nil {
		return catalog.Domain{}, err
	}
	d, err := p.Catalog.AddDomain(ctx, t, host, PendingDomainTTL)
	switch {
	case errors.Is(err, catalog.ErrDomainOwned):
		return d, fmt.Errorf("%s already serves a site on this platform; if the domain is yours, contact the platform's operator: %w", host, tenantdb.ErrConflict)
	case errors.Is(err, tenantdb.ErrConflict):
		return d, fmt.Errorf("%s was added to this site already (%s): %w", host, d.Status, tenantdb.ErrConflict)
	}
	return d, err
}

// MaxDomainsPerTenant bounds what one site can make the platform check in
// DNS every hour.
const MaxDomainsPerTenant = 10

// DomainView is a custom domain as the API and the dashboard show it.
type DomainView struct {
	Host   string `json:"host"`
	Status string `json:"status"` // pending, verified, misconfigured
	// Routes says whether the domain serves the site now; RoutesUntil is
	// when a misconfigured domain stops, unless its record comes back.
	Routes             bool        `json:"routes"`
	RoutesUntil        *time.Time  `json:"routes_until,omitempty"`
	Token              string      `json:"token"`
	Records            []DNSRecord `json:"records"`
	CreatedAt          time.Time   `json:"created_at"`
	VerifiedAt         *time.Time  `json:"verified_at,omitempty"`
	CheckedAt          *time.Time  `json:"checked_at,omitempty"`
	MisconfiguredSince *time.Time  `json:"misconfigured_since,omitempty"`
	// PendingUntil is when a pending claim is dropped unless verified.
	PendingUntil *time.Time `json:"pending_until,omitempty"`
	// Problem is what the last check found wrong (verify only).
	Problem string `json:"problem,omitempty"`
	// Anchor is the id of the domain's section on the dashboard page.
	Anchor string `json:"-"`
}

func (p *Platform) ViewDomain(d catalog.Domain) DomainView {
	v := DomainView{
		Host: d.Host, Status: d.Status, Routes: d.Verified, Token: d.Token,
		Records: p.DomainRecords(d), CreatedAt: d.CreatedAt,
		VerifiedAt: d.VerifiedAt, CheckedAt: d.CheckedAt, MisconfiguredSince: d.MisconfiguredSince,
		Anchor: "domain-" + strings.ReplaceAll(d.Host, ".", "-"),
	}
	if d.Verified && d.MisconfiguredSince != nil {
		until := d.MisconfiguredSince.Add(p.DomainGrace)
		v.RoutesUntil = &until
	}
	if d.Status == catalog.DomainPending {
		until := d.CreatedAt.Add(PendingDomainTTL)
		v.PendingUntil = &until
	}
	return v
}

// Checks run DNS lookups: each tenant's admins get a few at once, then one
// every 12 seconds.
const (
	domainCheckBurst = 5
	domainCheckEvery = 12 * time.Second
)

// TenantDomain is tenant t's custom domain raw (as an admin typed it or a
// URL names it); another tenant's domain is not found, as if it did not
// exist.
func (p *Platform) TenantDomain(ctx context.Context, t catalog.Tenant, raw string) (catalog.Domain, error) {
	host, err := hostname.Normalize(raw)
	if err != nil {
		return catalog.Domain{}, fmt.Errorf("domain %q: %w", raw, tenantdb.ErrNotFound)
	}
	return p.Catalog.TenantDomain(ctx, t.ID, host)
}

// TenantDomains lists tenant t's custom domains.
func (p *Platform) TenantDomains(ctx context.Context, t catalog.Tenant) ([]DomainView, error) {
	ds, err := p.Catalog.Domains(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	views := make([]DomainView, 0, len(ds))
	for _, d := range ds {
		views = append(views, p.ViewDomain(d))
	}
	return views, nil
}

// AddTenantDomain adds custom domain raw to tenant t for one of its
// admins (actor), within the per-site limit.
func (p *Platform) AddTenantDomain(ctx context.Context, t catalog.Tenant, raw, actor string) (catalog.Domain, error) {
	ds, err := p.Catalog.Domains(ctx, t.ID)
	if err != nil {
		return catalog.Domain{}, err
	}
	if len(ds) >= MaxDomainsPerTenant {
		return catalog.Domain{}, &tenantdb.ValidationError{Field: "host",
			Message: fmt.Sprintf("a site can have at most %d custom domains; remove one first", MaxDomainsPerTenant)}
	}
	d, err := p.AddDomain(ctx, t, raw)
	if err != nil {
		return d, err
	}
	p.Audit(ctx, actor, "domain.add", t.ID, d.Host)
	return d, nil
}

// CheckTenantDomain runs the DNS check of tenant t's domain d for one of
// its admins, within the tenant's allowance of checks (a *ratelimit.Error
// past it).
func (p *Platform) CheckTenantDomain(ctx context.Context, t catalog.Tenant, d catalog.Domain, actor string) (DomainCheck, error) {
	if ok, wait := p.domainChecks.Take(t.ID, p.Now()); !ok {
		return DomainCheck{}, &ratelimit.Error{Wait: wait, What: "too many DNS checks"}
	}
	res, err := p.CheckDomain(ctx, nil, d)
	if err != nil {
		return res, err
	}
	if res.Domain.Status != d.Status || res.Domain.Verified != d.Verified {
		p.Audit(ctx, actor, "domain.check", t.ID, fmt.Sprintf("%s: %s -> %s", d.Host, d.Status, res.Domain.Status))
	}
	return res, nil
}

// RemoveTenantDomain removes tenant t's domain d for one of its admins: it
// stops routing at once.
func (p *Platform) RemoveTenantDomain(ctx context.Context, t catalog.Tenant, d catalog.Domain, actor string) error {
	if _, err := p.Catalog.RemoveTenantDomain(ctx, t.ID, d.Host); err != nil {
		return err
	}
	p.Audit(ctx, actor, "domain.remove", t.ID, d.Host)
	return nil
}

// Audit records a change in the catalog's audit log; a failure to record
// is logged, not returned: the change itself is done.
func (p *Platform) Audit(ctx context.Context, actor, action, tenantID, detail string) {
	if err := p.Catalog.Audit(ctx, actor, action, tenantID, detail); err != nil {
		p.Log.Warn("audit log", "action", action, "err", err)
	}
}
