package main

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/chapterhouse/chapterhouse/app/internal/hostname"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// A tenant's custom domains, self-service: owners add and remove them, any
// admin lists them and runs the DNS check. The routes answer for the
// request's own tenant only: another site's domain is 404, as if it did not
// exist.

// maxDomainsPerTenant bounds what one site can make the platform check in
// DNS every hour.
const maxDomainsPerTenant = 10

// Checks run DNS lookups: each tenant gets a few at once, then one every
// 12 seconds.
const (
	domainCheckBurst = 5
	domainCheckEvery = 12 * time.Second
)

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

// ownDomain is the custom domain named by the :host parameter, if it is
// one of the request's tenant.
func (s *server) ownDomain(c echo.Context) (tenantdb.Domain, error) {
	raw := c.Param("host")
	host, err := hostname.Normalize(raw)
	if err != nil {
		return tenantdb.Domain{}, fmt.Errorf("domain %q: %w", raw, tenantdb.ErrNotFound)
	}
	d, err := s.p.catalog.Domain(c.Request().Context(), host)
	if err == nil && d.TenantID != tenantOf(c).ID {
		err = fmt.Errorf("domain %s: %w", host, tenantdb.ErrNotFound)
	}
	return d, err
}

// tenantDomains lists the request's tenant's custom domains.
func (s *server) tenantDomains(ctx context.Context, t tenantdb.Tenant) ([]domainView, error) {
	ds, err := s.p.catalog.Domains(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	views := make([]domainView, 0, len(ds))
	for _, d := range ds {
		views = append(views, s.p.viewDomain(d))
	}
	return views, nil
}

// addTenantDomain adds a custom domain to the request's tenant.
func (s *server) addTenantDomain(c echo.Context, raw string) (tenantdb.Domain, error) {
	ctx := c.Request().Context()
	t := tenantOf(c)
	ds, err := s.p.catalog.Domains(ctx, t.ID)
	if err != nil {
		return tenantdb.Domain{}, err
	}
	if len(ds) >= maxDomainsPerTenant {
		return tenantdb.Domain{}, &tenantdb.ValidationError{Field: "host",
			Message: fmt.Sprintf("a site can have at most %d custom domains; remove one first", maxDomainsPerTenant)}
	}
	d, err := s.p.addDomain(ctx, t, raw)
	if err != nil {
		return d, err
	}
	s.auditAdmin(c, "domain.add", d.Host)
	return d, nil
}

// checkTenantDomain runs the DNS check of the request's tenant's domain d,
// within the tenant's allowance of checks.
func (s *server) checkTenantDomain(c echo.Context, d tenantdb.Domain) (domainCheck, error) {
	if ok, wait := s.domainCheckLimit.Take(tenantOf(c).ID, s.now()); !ok {
		secs := int(math.Ceil(wait.Seconds()))
		c.Response().Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
		return domainCheck{}, echo.NewHTTPError(http.StatusTooManyRequests,
			fmt.Sprintf("too many DNS checks; try again in %s", humanWait(secs)))
	}
	res, err := s.p.checkDomain(c.Request().Context(), nil, d.Host)
	if err != nil {
		return res, err
	}
	if res.Domain.Status != d.Status || res.Domain.Verified != d.Verified {
		s.auditAdmin(c, "domain.check", fmt.Sprintf("%s: %s -> %s", d.Host, d.Status, res.Domain.Status))
	}
	return res, nil
}

// removeTenantDomain removes the request's tenant's domain d: it stops
// routing at once.
func (s *server) removeTenantDomain(c echo.Context, d tenantdb.Domain) error {
	if _, err := s.p.catalog.RemoveDomain(c.Request().Context(), d.Host); err != nil {
		return err
	}
	s.auditAdmin(c, "domain.remove", d.Host)
	return nil
}

// auditAdmin records a tenant admin's change in the platform's audit log.
func (s *server) auditAdmin(c echo.Context, action, detail string) {
	actor := "admin " + adminOf(c).Email
	if err := s.p.catalog.Audit(c.Request().Context(), actor, action, tenantOf(c).ID, detail); err != nil {
		s.log.Warn("audit log", "err", err)
	}
}

// apiDomains: GET /api/domains.
func (s *server) apiDomains(c echo.Context) error {
	views, err := s.tenantDomains(c.Request().Context(), tenantOf(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, views)
}

// apiAddDomain: POST /api/domains {"host"} -> 201 with the token and the
// DNS records to create; 409 when the host belongs to a site already, 422
// when it is not a host name.
func (s *server) apiAddDomain(c echo.Context) error {
	var in struct {
		Host string `json:"host"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	d, err := s.addTenantDomain(c, in.Host)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Location", "/api/domains/"+d.Host)
	return c.JSON(http.StatusCreated, s.p.viewDomain(d))
}

// apiDomain: GET /api/domains/:host.
func (s *server) apiDomain(c echo.Context) error {
	d, err := s.ownDomain(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.p.viewDomain(d))
}

// apiVerifyDomain: POST /api/domains/:host/verify checks the TXT record now
// -> 200 with the domain as it is after the check ("problem" says what is
// wrong when it did not pass); 503 when DNS could not be asked.
func (s *server) apiVerifyDomain(c echo.Context) error {
	d, err := s.ownDomain(c)
	if err != nil {
		return err
	}
	res, err := s.checkTenantDomain(c, d)
	if err != nil {
		return err
	}
	v := s.p.viewDomain(res.Domain)
	v.Problem = res.Problem
	return c.JSON(http.StatusOK, v)
}

// apiRemoveDomain: DELETE /api/domains/:host -> 204; it stops routing at once.
func (s *server) apiRemoveDomain(c echo.Context) error {
	d, err := s.ownDomain(c)
	if err != nil {
		return err
	}
	if err := s.removeTenantDomain(c, d); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
