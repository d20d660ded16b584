package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// The admin JSON API. Every object is the tenantdb struct with its
// snake_case tags. PATCH applies only the fields present. Read-only fields
// (id, created_at, updated_at) may be sent back and are ignored; a field
// the object does not have is refused with 422 naming it, so a typo never
// passes for a save.

// maxJSONBody caps a JSON request; the longest field (a post body) is
// 100,000 characters.
const maxJSONBody = 1 << 20

// bindJSON decodes the request's JSON object into v, over what v holds.
// Malformed JSON is 400, a field of the wrong type or unknown 422, a body
// over maxJSONBody 413.
func bindJSON(c echo.Context, v any) error {
	r := c.Request()
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, _ := mime.ParseMediaType(ct); mt != "application/json" {
			return echo.NewHTTPError(http.StatusUnsupportedMediaType, "send JSON with Content-Type: application/json")
		}
	}
	dec := json.NewDecoder(http.MaxBytesReader(c.Response(), r.Body, maxJSONBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("more than one JSON value")
	}
	if err == nil {
		return nil
	}
	var mbe *http.MaxBytesError
	var te *json.UnmarshalTypeError
	var pe *time.ParseError
	switch {
	case errors.As(err, &mbe):
		return err
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "body"
		}
		return &tenantdb.ValidationError{Field: field, Message: "must be a JSON " + jsonKind(te.Type.Kind().String())}
	case errors.As(err, &pe):
		return &tenantdb.ValidationError{Field: "time", Message: fmt.Sprintf("%q is not an RFC 3339 time like 2026-06-09T19:00:00-05:00", pe.Value)}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		return &tenantdb.ValidationError{Field: field, Message: "is not a field of this object"}
	case errors.Is(err, io.EOF):
		return echo.NewHTTPError(http.StatusBadRequest, "the request body is empty; send a JSON object")
	}
	return echo.NewHTTPError(http.StatusBadRequest, "malformed JSON: "+strings.TrimPrefix(err.Error(), "json: "))
}

func jsonKind(k string) string {
	switch {
	case strings.HasPrefix(k, "int"), strings.HasPrefix(k, "uint"), strings.HasPrefix(k, "float"):
		return "number"
	case k == "bool":
		return "boolean (true or false)"
	case k == "slice":
		return "array"
	case k == "struct", k == "map":
		return "object"
	}
	return k
}

// idParam is the numeric :id of the path; anything else names nothing.
func idParam(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%s: %w", c.Param("id"), tenantdb.ErrNotFound)
	}
	return id, nil
}

// resource is one kind of numbered content (posts, events, officers,
// pages) as the API and dashboard see it. Its functions take the database
// first, so that they can be tenantdb's method expressions.
type resource[T any] struct {
	list func(db *tenantdb.DB, ctx context.Context) ([]T, error)
	get  func(db *tenantdb.DB, ctx context.Context, id int64) (T, error)
	save func(db *tenantdb.DB, ctx context.Context, v *T) error
	del  func(db *tenantdb.DB, ctx context.Context, id int64) error
	// keep copies the read-only fields of from into v.
	keep func(v *T, from T)
	// defaults fills in what a new item leaves empty.
	defaults func(ctx context.Context, db *tenantdb.DB, v *T) error
}

var postResource = resource[tenantdb.Post]{
	list: func(db *tenantdb.DB, ctx context.Context) ([]tenantdb.Post, error) {
		ps, _, err := db.Posts(ctx, tenantdb.PostQuery{Limit: 10000})
		return ps, err
	},
	get:  (*tenantdb.DB).Post,
	save: (*tenantdb.DB).SavePost,
	del:  (*tenantdb.DB).DeletePost,
	keep: func(v *tenantdb.Post, from tenantdb.Post) {
		v.ID, v.CreatedAt, v.UpdatedAt = from.ID, from.CreatedAt, from.UpdatedAt
	},
}

var eventResource = resource[tenantdb.Event]{
	list: (*tenantdb.DB).Events,
	get:  (*tenantdb.DB).Event,
	save: (*tenantdb.DB).SaveEvent,
	del:  (*tenantdb.DB).DeleteEvent,
	keep: func(v *tenantdb.Event, from tenantdb.Event) {
		v.ID, v.CreatedAt, v.UpdatedAt = from.ID, from.CreatedAt, from.UpdatedAt
	},
	defaults: func(ctx context.Context, db *tenantdb.DB, e *tenantdb.Event) error {
		if e.Timezone != "" {
			return nil
		}
		site, err := db.Site(ctx)
		e.Timezone = site.Timezone
		return err
	},
}

var officerResource = resource[tenantdb.Officer]{
	list: (*tenantdb.DB).Officers,
	get:  (*tenantdb.DB).Officer,
	save: (*tenantdb.DB).SaveOfficer,
	del:  (*tenantdb.DB).DeleteOfficer,
	keep: func(v *tenantdb.Officer, from tenantdb.Officer) {
		v.ID, v.CreatedAt, v.UpdatedAt = from.ID, from.CreatedAt, from.UpdatedAt
	},
}

var pageResource = resource[tenantdb.Page]{
	list: func(db *tenantdb.DB, ctx context.Context) ([]tenantdb.Page, error) { return db.Pages(ctx, false) },
	get:  (*tenantdb.DB).Page,
	save: (*tenantdb.DB).SavePage,
	del:  (*tenantdb.DB).DeletePage,
	keep: func(v *tenantdb.Page, from tenantdb.Page) {
		v.ID, v.CreatedAt, v.UpdatedAt = from.ID, from.CreatedAt, from.UpdatedAt
	},
}

// apiList: GET /api/<things> is every item, as a JSON array.
func apiList[T any](r resource[T]) echo.HandlerFunc {
	return func(c echo.Context) error {
		items, err := r.list(tenantDB(c).DB, c.Request().Context())
		if err != nil {
			return err
		}
		if items == nil {
			items = []T{}
		}
		return c.JSON(http.StatusOK, items)
	}
}

// apiGet: GET /api/<things>/:id.
func apiGet[T any](r resource[T]) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := idParam(c)
		if err != nil {
			return err
		}
		v, err := r.get(tenantDB(c).DB, c.Request().Context(), id)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, v)
	}
}

// apiCreate: POST /api/<things> -> 201 with the stored item and Location.
func apiCreate[T any](r resource[T]) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx, db := c.Request().Context(), tenantDB(c).DB
		var v T
		if err := bindJSON(c, &v); err != nil {
			return err
		}
		var zero T
		r.keep(&v, zero)
		if r.defaults != nil {
			if err := r.defaults(ctx, db, &v); err != nil {
				return err
			}
		}
		if err := r.save(db, ctx, &v); err != nil {
			return err
		}
		return c.JSON(http.StatusCreated, v)
	}
}

// apiUpdate: PATCH /api/<things>/:id changes the fields sent.
func apiUpdate[T any](r resource[T]) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx, db := c.Request().Context(), tenantDB(c).DB
		id, err := idParam(c)
		if err != nil {
			return err
		}
		old, err := r.get(db, ctx, id)
		if err != nil {
			return err
		}
		v := old
		if err := bindJSON(c, &v); err != nil {
			return err
		}
		r.keep(&v, old)
		if err := r.save(db, ctx, &v); err != nil {
			return err
		}
		return c.JSON(http.StatusOK, v)
	}
}

// apiDelete: DELETE /api/<things>/:id -> 204.
func apiDelete[T any](r resource[T]) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := idParam(c)
		if err != nil {
			return err
		}
		if err := r.del(tenantDB(c).DB, c.Request().Context(), id); err != nil {
			return err
		}
		return c.NoContent(http.StatusNoContent)
	}
}

// apiSite: GET /api/site.
func (s *server) apiSite(c echo.Context) error {
	site, err := tenantDB(c).Site(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, site)
}

// apiUpdateSite: PATCH /api/site changes the settings sent.
func (s *server) apiUpdateSite(c echo.Context) error {
	ctx, db := c.Request().Context(), tenantDB(c)
	site, err := db.Site(ctx)
	if err != nil {
		return err
	}
	updated := site.UpdatedAt
	if err := bindJSON(c, &site); err != nil {
		return err
	}
	site.UpdatedAt = updated
	if err := db.UpdateSite(ctx, &site); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, site)
}

// apiMessages: GET /api/messages, newest first.
func (s *server) apiMessages(c echo.Context) error {
	ms, err := tenantDB(c).Messages(c.Request().Context())
	if err != nil {
		return err
	}
	if ms == nil {
		ms = []tenantdb.Message{}
	}
	return c.JSON(http.StatusOK, ms)
}

// apiMessage: GET /api/messages/:id.
func (s *server) apiMessage(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	m, err := tenantDB(c).Message(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, m)
}

// apiUpdateMessage: PATCH /api/messages/:id {"read": bool}.
func (s *server) apiUpdateMessage(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	var in struct {
		Read *bool `json:"read"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	ctx, db := c.Request().Context(), tenantDB(c)
	if in.Read != nil {
		if err := db.MarkMessageRead(ctx, id, *in.Read); err != nil {
			return err
		}
	}
	m, err := db.Message(ctx, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, m)
}

// apiDeleteMessage: DELETE /api/messages/:id.
func (s *server) apiDeleteMessage(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	if err := tenantDB(c).DeleteMessage(c.Request().Context(), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// apiAdmins: GET /api/admins (owners only).
func (s *server) apiAdmins(c echo.Context) error {
	as, err := tenantDB(c).Admins(c.Request().Context())
	if err != nil {
		return err
	}
	if as == nil {
		as = []tenantdb.Admin{}
	}
	return c.JSON(http.StatusOK, as)
}

// apiAddAdmin: POST /api/admins {"email", "role", "password"} (owners
// only). Without a password one is generated and returned once, as
// "password" next to the new admin's fields.
func (s *server) apiAddAdmin(c echo.Context) error {
	var in struct {
		Email    string `json:"email"`
		Role     string `json:"role"`
		Password string `json:"password"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	a, generated, err := s.addAdmin(c.Request().Context(), tenantDB(c).DB, in.Email, in.Role, in.Password)
	if err != nil {
		return err
	}
	out := map[string]any{"id": a.ID, "email": a.Email, "role": a.Role, "created_at": a.CreatedAt,
		"password_changed_at": a.PasswordChangedAt}
	if generated != "" {
		out["password"] = generated
	}
	return c.JSON(http.StatusCreated, out)
}

// addAdmin validates and adds an admin; an empty password is generated
// and returned.
func (s *server) addAdmin(ctx context.Context, db *tenantdb.DB, email, role, password string) (tenantdb.Admin, string, error) {
	return platform.AddAdmin(ctx, s.p.Passwords, db, email, role, password)
}

// apiDeleteAdmin: DELETE /api/admins/:id (owners only; the last owner stays).
func (s *server) apiDeleteAdmin(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	if err := tenantDB(c).DeleteAdmin(c.Request().Context(), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
