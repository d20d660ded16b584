package main

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/app/internal/web/httpx"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// The admin JSON API. Every object is the tenantdb struct with its
// snake_case tags. PATCH applies only the fields present. Read-only fields
// (id, created_at, updated_at) may be sent back and are ignored; a field
// the object does not have is refused with 422 naming it, so a typo never
// passes for a save.

// apiList: GET /api/<things> is every item, as a JSON array.
func apiList[T any](r platform.Content[T]) echo.HandlerFunc {
	return func(c echo.Context) error {
		items, err := r.List(httpx.DB(c).DB, c.Request().Context())
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
func apiGet[T any](r platform.Content[T]) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := httpx.IDParam(c)
		if err != nil {
			return err
		}
		v, err := r.Get(httpx.DB(c).DB, c.Request().Context(), id)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, v)
	}
}

// apiCreate: POST /api/<things> -> 201 with the stored item and Location.
func apiCreate[T any](r platform.Content[T]) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx, db := c.Request().Context(), httpx.DB(c).DB
		var v T
		if err := httpx.BindJSON(c, &v); err != nil {
			return err
		}
		var zero T
		r.Keep(&v, zero)
		if r.Defaults != nil {
			if err := r.Defaults(ctx, db, &v); err != nil {
				return err
			}
		}
		if err := r.Save(db, ctx, &v); err != nil {
			return err
		}
		return c.JSON(http.StatusCreated, v)
	}
}

// apiUpdate: PATCH /api/<things>/:id changes the fields sent.
func apiUpdate[T any](r platform.Content[T]) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx, db := c.Request().Context(), httpx.DB(c).DB
		id, err := httpx.IDParam(c)
		if err != nil {
			return err
		}
		old, err := r.Get(db, ctx, id)
		if err != nil {
			return err
		}
		v := old
		if err := httpx.BindJSON(c, &v); err != nil {
			return err
		}
		r.Keep(&v, old)
		if err := r.Save(db, ctx, &v); err != nil {
			return err
		}
		return c.JSON(http.StatusOK, v)
	}
}

// apiDelete: DELETE /api/<things>/:id -> 204.
func apiDelete[T any](r platform.Content[T]) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := httpx.IDParam(c)
		if err != nil {
			return err
		}
		if err := r.Delete(httpx.DB(c).DB, c.Request().Context(), id); err != nil {
			return err
		}
		return c.NoContent(http.StatusNoContent)
	}
}

// apiSite: GET /api/site.
func (s *server) apiSite(c echo.Context) error {
	site, err := httpx.DB(c).Site(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, site)
}

// apiUpdateSite: PATCH /api/site changes the settings sent.
func (s *server) apiUpdateSite(c echo.Context) error {
	ctx, db := c.Request().Context(), httpx.DB(c)
	site, err := db.Site(ctx)
	if err != nil {
		return err
	}
	updated := site.UpdatedAt
	if err := httpx.BindJSON(c, &site); err != nil {
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
	ms, err := httpx.DB(c).Messages(c.Request().Context())
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
	id, err := httpx.IDParam(c)
	if err != nil {
		return err
	}
	m, err := httpx.DB(c).Message(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, m)
}

// apiUpdateMessage: PATCH /api/messages/:id {"read": bool}.
func (s *server) apiUpdateMessage(c echo.Context) error {
	id, err := httpx.IDParam(c)
	if err != nil {
		return err
	}
	var in struct {
		Read *bool `json:"read"`
	}
	if err := httpx.BindJSON(c, &in); err != nil {
		return err
	}
	ctx, db := c.Request().Context(), httpx.DB(c)
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
	id, err := httpx.IDParam(c)
	if err != nil {
		return err
	}
	if err := httpx.DB(c).DeleteMessage(c.Request().Context(), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// apiAdmins: GET /api/admins (owners only).
func (s *server) apiAdmins(c echo.Context) error {
	as, err := httpx.DB(c).Admins(c.Request().Context())
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
	if err := httpx.BindJSON(c, &in); err != nil {
		return err
	}
	a, generated, err := s.addAdmin(c.Request().Context(), httpx.DB(c).DB, in.Email, in.Role, in.Password)
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
	id, err := httpx.IDParam(c)
	if err != nil {
		return err
	}
	if err := httpx.DB(c).DeleteAdmin(c.Request().Context(), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
