package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
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
	get, err := memberFields(c, []string{"email", "name", "renewal_date"}, nil)
	if err != nil {
		return err
	}
	var m tenantdb.Member
	m.SetFields(get)
	err = httpx.DB(c).InviteMember(c.Request().Context(), &m, httpx.BaseURL(c))
	if errors.Is(err, tenantdb.ErrConflict) {
		return echo.NewHTTPError(http.StatusConflict, m.AddressTaken(true).Message)
	}
	if err != nil {
		return err
	}
	c.Response().Header().Set("Location", "/api/members/"+strconv.FormatInt(m.ID, 10))
	return c.JSON(http.StatusCreated, m)
}

// memberReadOnly are the fields of a member the API shows and ignores
// when sent back: the server's, and the directory, which is the member's
// own choice.
var memberReadOnly = []string{"id", "reminded_for", "directory", "created_at", "updated_at"}

// memberFields reads the request's JSON object for Member.SetFields: each
// field of allowed must be a string; one of ignored is skipped; any other
// is refused naming it, as httpx.BindJSON refuses a field an object does
// not have.
func memberFields(c echo.Context, allowed, ignored []string) (func(string) (string, bool), error) {
	var body map[string]json.RawMessage
	if err := httpx.BindJSON(c, &body); err != nil {
		return nil, err
	}
	if body == nil {
		return nil, echo.NewHTTPError(http.StatusBadRequest, "send a JSON object")
	}
	values := make(map[string]string, len(body))
	for k, raw := range body {
		switch {
		case slices.Contains(allowed, k) && string(raw) == "null":
			// Left as it is, as json leaves a string it is given null for.
		case slices.Contains(allowed, k):
			var v string
			if err := json.Unmarshal(raw, &v); err != nil {
				return nil, &tenantdb.ValidationError{Field: k, Message: "must be a JSON string"}
			}
			values[k] = v
		case !slices.Contains(ignored, k):
			return nil, &tenantdb.ValidationError{Field: k, Message: "is not a field of this object"}
		}
	}
	return func(name string) (string, bool) {
		v, ok := values[name]
		return v, ok
	}, nil
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
	m, err := db.Member(ctx, id)
	if err != nil {
		return err
	}
	get, err := memberFields(c, tenantdb.MemberFields, memberReadOnly)
	if err != nil {
		return err
	}
	m.SetFields(get)
	err = db.SaveMember(ctx, &m)
	if errors.Is(err, tenantdb.ErrConflict) {
		return echo.NewHTTPError(http.StatusConflict, m.AddressTaken(false).Message)
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
