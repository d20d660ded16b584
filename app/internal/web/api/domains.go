package api

import (
	"net/http"

	"github.com/chapterhouse/chapterhouse/app/internal/web/auth"
	"github.com/chapterhouse/chapterhouse/app/internal/web/httpx"
	"github.com/labstack/echo/v4"
)

// A tenant's custom domains, self-service: owners add and remove them, any
// admin lists them and runs the DNS check. The routes answer for the
// request's own tenant only: another site's domain is 404, as if it did not
// exist.

// apiDomains: GET /api/domains?page=&limit= (the catalog holds them in
// memory; the page is cut from there).
func (h *handler) apiDomains(c echo.Context) error {
	p, err := httpx.ParsePaging(c)
	if err != nil {
		return err
	}
	views, err := h.p.TenantDomains(c.Request().Context(), httpx.Tenant(c))
	if err != nil {
		return err
	}
	return jsonPage(c, p, pageOf(views, p))
}

// apiAddDomain: POST /api/domains {"host"} -> 201 with the token and the
// DNS records to create; 409 when the host belongs to a site already, 422
// when it is not a host name.
func (h *handler) apiAddDomain(c echo.Context) error {
	var in struct {
		Host string `json:"host"`
	}
	if err := httpx.BindJSON(c, &in); err != nil {
		return err
	}
	d, err := h.p.AddTenantDomain(c.Request().Context(), httpx.Tenant(c), in.Host, auth.Actor(c))
	if err != nil {
		return err
	}
	c.Response().Header().Set("Location", "/api/domains/"+d.Host)
	return c.JSON(http.StatusCreated, h.p.ViewDomain(d))
}

// apiDomain: GET /api/domains/:host.
func (h *handler) apiDomain(c echo.Context) error {
	d, err := h.p.TenantDomain(c.Request().Context(), httpx.Tenant(c), c.Param("host"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, h.p.ViewDomain(d))
}

// apiVerifyDomain: POST /api/domains/:host/verify checks the TXT record now
// -> 200 with the domain as it is after the check ("problem" says what is
// wrong when it did not pass); 503 when DNS could not be asked.
func (h *handler) apiVerifyDomain(c echo.Context) error {
	d, err := h.p.TenantDomain(c.Request().Context(), httpx.Tenant(c), c.Param("host"))
	if err != nil {
		return err
	}
	res, err := h.p.CheckTenantDomain(c.Request().Context(), httpx.Tenant(c), d, auth.Actor(c))
	if err != nil {
		return err
	}
	v := h.p.ViewDomain(res.Domain)
	v.Problem = res.Problem
	return c.JSON(http.StatusOK, v)
}

// apiRemoveDomain: DELETE /api/domains/:host -> 204; it stops routing at once.
func (h *handler) apiRemoveDomain(c echo.Context) error {
	d, err := h.p.TenantDomain(c.Request().Context(), httpx.Tenant(c), c.Param("host"))
	if err != nil {
		return err
	}
	if err := h.p.RemoveTenantDomain(c.Request().Context(), httpx.Tenant(c), d, auth.Actor(c)); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
