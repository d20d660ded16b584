package api

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/chapterhouse/chapterhouse/app/internal/web/auth"
	"github.com/chapterhouse/chapterhouse/app/internal/web/httpx"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// The roster and the outbox in the API, for integrations (a membership
// system that keeps the roster, a monitor of failed mail): what the
// dashboard's Members and Outgoing mail pages do, for owners only, as
// there. Storage checks every value as it does for the dashboard.

func (h *handler) memberRoutes(g *echo.Group, a *auth.Auth) {
	g.GET("/api/members", h.apiMembers, a.RequireOwner)
	g.POST("/api/members", h.apiInviteMember, a.RequireOwner)
	g.GET("/api/members/:id", h.apiMember, a.RequireOwner)
	g.PATCH("/api/members/:id", h.apiUpdateMember, a.RequireOwner)
	g.DELETE("/api/members/:id", h.apiDeleteMember, a.RequireOwner)
	g.POST("/api/members/:id/invite", h.apiResendInvitation, a.RequireOwner)
	g.GET("/api/outbox", h.apiOutbox, a.RequireOwner)
	g.GET("/api/outbox/:id", h.apiOutboxMail, a.RequireOwner)
	g.POST("/api/outbox/:id/retry", h.apiRetryMail, a.RequireOwner)
}

// apiMembers: GET /api/members?page=&limit=, by name.
func (h *handler) apiMembers(c echo.Context) error {
	p, err := httpx.ParsePaging(c)
	if err != nil {
		return err
	}
	ms, err := httpx.DB(c).MembersIn(c.Request().Context(), p.Window())
	if err != nil {
		return err
	}
	return jsonPage(c, p, ms)
}

// apiMember: GET /api/members/:id.
func (h *handler) apiMember(c echo.Context) error {
	id, err := httpx.IDParam(c)
	if err != nil {
		return err
	}
	m, err := httpx.DB(c).Member(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, m)
}

// apiInviteMember: POST /api/members {"email", "name", "renewal_date"}
// adds an invited member and queues the invitation, whose link logs them
// in (the dashboard's "Invite"). 201 with the member; an address that is
// a member's already is 409.
func (h *handler) apiInviteMember(c echo.Context) error {
	var in struct {
		Email       string `json:"email"`
		Name        string `json:"name"`
		RenewalDate string `json:"renewal_date"`
	}
	if err := httpx.BindJSON(c, &in); err != nil {
		return err
	}
	m := tenantdb.Member{Email: in.Email, Name: in.Name, RenewalDate: in.RenewalDate}
	err := httpx.DB(c).InviteMember(c.Request().Context(), &m, httpx.BaseURL(c))
	if errors.Is(err, tenantdb.ErrConflict) {
		return echo.NewHTTPError(http.StatusConflict, m.Email+" is already a member")
	}
	if err != nil {
		return err
	}
	c.Response().Header().Set("Location", "/api/members/"+strconv.FormatInt(m.ID, 10))
	return c.JSON(http.StatusCreated, m)
}

// apiUpdateMember: PATCH /api/members/:id changes the fields sent of
// email, name, phone, address, qualification, status (invited, active,
// lapsed, resigned) and renewal_date (YYYY-MM-DD or ""). What the member
// shows in the directory is theirs to choose: "directory" is kept as it
// is, like the read-only fields.
func (h *handler) apiUpdateMember(c echo.Context) error {
	id, err := httpx.IDParam(c)
	if err != nil {
		return err
	}
	ctx, db := c.Request().Context(), httpx.DB(c)
	old, err := db.Member(ctx, id)
	if err != nil {
		return err
	}
	m := old
	if err := httpx.BindJSON(c, &m); err != nil {
		return err
	}
	m.ID, m.CreatedAt, m.UpdatedAt, m.RemindedFor, m.Directory = old.ID, old.CreatedAt, old.UpdatedAt, old.RemindedFor, old.Directory
	err = db.SaveMember(ctx, &m)
	if errors.Is(err, tenantdb.ErrConflict) {
		return echo.NewHTTPError(http.StatusConflict, m.Email+" is another member's address")
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, m)
}

// apiDeleteMember: DELETE /api/members/:id.
func (h *handler) apiDeleteMember(c echo.Context) error {
	id, err := httpx.IDParam(c)
	if err != nil {
		return err
	}
	if err := httpx.DB(c).DeleteMember(c.Request().Context(), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// apiResendInvitation: POST /api/members/:id/invite queues a new
// invitation to an invited member (202: it is in the outbox).
func (h *handler) apiResendInvitation(c echo.Context) error {
	id, err := httpx.IDParam(c)
	if err != nil {
		return err
	}
	if err := httpx.DB(c).ResendInvitation(c.Request().Context(), id, httpx.BaseURL(c)); err != nil {
		return err
	}
	return c.NoContent(http.StatusAccepted)
}

// apiOutbox: GET /api/outbox?status=&page=&limit=, newest first: each
// mail with its status, attempts, next attempt and the server's last
// answer. The bodies are not shown: they hold the recipients' links.
func (h *handler) apiOutbox(c echo.Context) error {
	p, err := httpx.ParsePaging(c)
	if err != nil {
		return err
	}
	out, err := httpx.DB(c).OutboxWith(c.Request().Context(), c.QueryParam("status"), p.Window())
	if err != nil {
		return err
	}
	return jsonPage(c, p, out)
}

// apiOutboxMail: GET /api/outbox/:id.
func (h *handler) apiOutboxMail(c echo.Context) error {
	id, err := httpx.IDParam(c)
	if err != nil {
		return err
	}
	o, err := httpx.DB(c).OutboxMail(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, o)
}

// apiRetryMail: POST /api/outbox/:id/retry has a failed (or waiting)
// mail tried again now, with a fresh count of attempts; the sending
// limits still apply. A mail sent or being sent, or older than 3 days,
// is refused (422).
func (h *handler) apiRetryMail(c echo.Context) error {
	id, err := httpx.IDParam(c)
	if err != nil {
		return err
	}
	o, err := h.p.RetryMail(c.Request().Context(), httpx.DB(c).DB, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, o)
}
