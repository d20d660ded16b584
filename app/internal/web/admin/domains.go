package admin

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/app/internal/ratelimit"
	"github.com/chapterhouse/chapterhouse/app/internal/web/auth"
	"github.com/chapterhouse/chapterhouse/app/internal/web/httpx"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// domainsData is what the dashboard's domains page shows.
type domainsData struct {
	Domains []platform.DomainView
	Host    string // what was typed into the add form
	// Checked is the domain the admin just checked, and Passed its outcome
	// (the problem, if any, is the page's Error).
	Checked string
	Passed  bool
	Recheck string // how often the server checks by itself: "every <Recheck>"
	Base    string // the platform domain
}

// renderDomains shows the domains page with status; problem (and field)
// explain a refused form or a failed check.
func (h *Handler) renderDomains(c echo.Context, status int, d domainsData, problem, field string) error {
	views, err := h.p.TenantDomains(c.Request().Context(), httpx.Tenant(c))
	if err != nil {
		return err
	}
	d.Domains, d.Base = views, h.p.Base
	d.Recheck = humanDuration(h.domainRecheck)
	p, err := h.page(c, "Custom domains", "domains", d)
	if err != nil {
		return err
	}
	p.Error, p.Field = problem, field
	return c.Render(status, "admin/domains.html", p)
}

// showDomains: GET /admin/domains.
func (h *Handler) showDomains(c echo.Context) error {
	return h.renderDomains(c, http.StatusOK, domainsData{}, "", "")
}

// addDomainForm: POST /admin/domains (owners).
func (h *Handler) addDomainForm(c echo.Context) error {
	d := domainsData{Host: strings.TrimSpace(c.FormValue("host"))}
	added, err := h.p.AddTenantDomain(c.Request().Context(), httpx.Tenant(c), d.Host, auth.Actor(c))
	var ve *tenantdb.ValidationError
	switch {
	case errors.As(err, &ve):
		return h.renderDomains(c, http.StatusUnprocessableEntity, d, ve.Message, "host")
	case errors.Is(err, tenantdb.ErrConflict):
		return h.renderDomains(c, http.StatusConflict, d, httpx.Message(err, http.StatusConflict), "host")
	case err != nil:
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/admin/domains?done=added#"+h.p.ViewDomain(added).Anchor)
}

// checkDomainForm: POST /admin/domains/:host/verify, the "Check now" button.
// The page shows the outcome at once (no redirect: it is not stored as a
// message anywhere).
func (h *Handler) checkDomainForm(c echo.Context) error {
	dom, err := h.p.TenantDomain(c.Request().Context(), httpx.Tenant(c), c.Param("host"))
	if err != nil {
		return err
	}
	res, err := h.p.CheckTenantDomain(c.Request().Context(), httpx.Tenant(c), dom, auth.Actor(c))
	d := domainsData{Checked: dom.Host, Passed: res.Passed}
	var limited *ratelimit.Error
	switch {
	case errors.As(err, &limited):
		httpx.SetRetryAfter(c, err)
		return h.renderDomains(c, http.StatusTooManyRequests, d, limited.Error(), "")
	case errors.Is(err, platform.ErrDNS):
		return h.renderDomains(c, http.StatusServiceUnavailable, d, httpx.Message(err, http.StatusServiceUnavailable), "")
	case err != nil:
		return err
	}
	problem := ""
	if !res.Passed {
		problem = fmt.Sprintf("%s is not verified: %s", dom.Host, res.Problem)
	}
	return h.renderDomains(c, http.StatusOK, d, problem, "")
}

// removeDomainForm: POST /admin/domains/:host/delete (owners).
func (h *Handler) removeDomainForm(c echo.Context) error {
	dom, err := h.p.TenantDomain(c.Request().Context(), httpx.Tenant(c), c.Param("host"))
	if err != nil {
		return err
	}
	if err := h.p.RemoveTenantDomain(c.Request().Context(), httpx.Tenant(c), dom, auth.Actor(c)); err != nil {
		return err
	}
	return done(c, "/admin/domains", "deleted")
}

// humanDuration writes a flag's duration for "every ...": "hour",
// "24 hours", "30 minutes".
func humanDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return ""
	case d == time.Hour:
		return "hour"
	case d%time.Hour == 0:
		return fmt.Sprintf("%d hours", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%d minutes", d/time.Minute)
	}
	return d.String()
}
