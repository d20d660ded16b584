// Package api serves the admin JSON API of a chapter's site: its content,
// media, documents, albums, inbox, admins, members, outbox and custom domains, for a Bearer token from
// POST /api/login (package auth).
package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/app/internal/web/auth"
	"github.com/chapterhouse/chapterhouse/app/internal/web/httpx"
)

// The admin JSON API. Every object is the tenantdb struct with its
// snake_case tags. PATCH applies only the fields present. Read-only fields
// (id, created_at, updated_at) may be sent back and are ignored; a field
// the object does not have is refused with 422 naming it, so a typo never
// passes for a save.

// apiList: GET /api/<things>?page=&limit= is one page of the items, as a
// JSON array.
func apiList[T any](r platform.Content[T]) echo.HandlerFunc {
	return func(c echo.Context) error {
		p, err := httpx.ParsePaging(c)
		if err != nil {
			return err
		}
		items, err := r.List(httpx.DB(c).DB, c.Request().Context(), p.Window())
		if err != nil {
			return err
		}
		return jsonPage(c, p, items)
	}
}

// jsonPage answers the page of a list read through p.Window as a JSON
// array, with a Link header (rel="next") when a next page exists.
func jsonPage[T any](c echo.Context, p httpx.Paging, items []T) error {
	items, next := httpx.Cut(p, items)
	if next != "" {
		c.Response().Header().Set("Link", "<"+next+`>; rel="next"`)
	}
	if items == nil {
		items = []T{}
	}
	return c.JSON(http.StatusOK, items)
}

// pageOf is the part of a list held in memory that p.Window covers.
func pageOf[T any](items []T, p httpx.Paging) []T {
	w := p.Window()
	lo := min(w.Offset, len(items))
	return items[lo:min(lo+w.Limit, len(items))]
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
func (h *handler) apiSite(c echo.Context) error {
	site, err := httpx.DB(c).Site(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, site)
}

// apiUpdateSite: PATCH /api/site changes the settings sent.
func (h *handler) apiUpdateSite(c echo.Context) error {
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

// apiMessages: GET /api/messages?page=&limit=, newest first.
func (h *handler) apiMessages(c echo.Context) error {
	p, err := httpx.ParsePaging(c)
	if err != nil {
		return err
	}
	ms, err := httpx.DB(c).MessagesIn(c.Request().Context(), p.Window())
	if err != nil {
		return err
	}
	return jsonPage(c, p, ms)
}

// apiMessage: GET /api/messages/:id.
func (h *handler) apiMessage(c echo.Context) error {
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
func (h *handler) apiUpdateMessage(c echo.Context) error {
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
func (h *handler) apiDeleteMessage(c echo.Context) error {
	id, err := httpx.IDParam(c)
	if err != nil {
		return err
	}
	if err := httpx.DB(c).DeleteMessage(c.Request().Context(), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// apiAdmins: GET /api/admins?page=&limit= (owners only).
func (h *handler) apiAdmins(c echo.Context) error {
	p, err := httpx.ParsePaging(c)
	if err != nil {
		return err
	}
	as, err := httpx.DB(c).AdminsIn(c.Request().Context(), p.Window())
	if err != nil {
		return err
	}
	return jsonPage(c, p, as)
}

// apiAddAdmin: POST /api/admins {"email", "role", "password"} (owners
// only). Without a password one is generated and returned once, as
// "password" next to the new admin's fields.
func (h *handler) apiAddAdmin(c echo.Context) error {
	var in struct {
		Email    string `json:"email"`
		Role     string `json:"role"`
		Password string `json:"password"`
	}
	if err := httpx.BindJSON(c, &in); err != nil {
		return err
	}
	a, generated, err := h.p.AddAdmin(c.Request().Context(), httpx.DB(c).DB, in.Email, in.Role, in.Password)
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

// apiDeleteAdmin: DELETE /api/admins/:id (owners only; the last owner stays).
func (h *handler) apiDeleteAdmin(c echo.Context) error {
	id, err := httpx.IDParam(c)
	if err != nil {
		return err
	}
	if err := httpx.DB(c).DeleteAdmin(c.Request().Context(), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// handler serves the admin JSON API of the request's tenant.
type handler struct {
	p *platform.Platform
}

// Deps are what the API needs.
type Deps struct {
	Platform *platform.Platform
	Auth     *auth.Auth // checks the Bearer token of every route
}

// Register adds the API's routes to g (a tenant's group).
func Register(g *echo.Group, d Deps) {
	h, a := &handler{p: d.Platform}, d.Auth
	room := httpx.NeedsRoom(d.Platform) // on saves that grow the file, after the login check
	g.GET("/api/site", h.apiSite, a.RequireAdmin)
	g.PATCH("/api/site", h.apiUpdateSite, a.RequireAdmin, room)
	g.GET("/api/posts", apiList(platform.Posts), a.RequireAdmin)
	g.POST("/api/posts", apiCreate(platform.Posts), a.RequireAdmin, room)
	g.GET("/api/posts/:id", apiGet(platform.Posts), a.RequireAdmin)
	g.PATCH("/api/posts/:id", apiUpdate(platform.Posts), a.RequireAdmin, room)
	g.DELETE("/api/posts/:id", apiDelete(platform.Posts), a.RequireAdmin)
	g.GET("/api/events", apiList(platform.Events), a.RequireAdmin)
	g.POST("/api/events", apiCreate(platform.Events), a.RequireAdmin, room)
	g.GET("/api/events/:id", apiGet(platform.Events), a.RequireAdmin)
	g.PATCH("/api/events/:id", apiUpdate(platform.Events), a.RequireAdmin, room)
	g.DELETE("/api/events/:id", apiDelete(platform.Events), a.RequireAdmin)
	g.GET("/api/officers", apiList(platform.Officers), a.RequireAdmin)
	g.POST("/api/officers", apiCreate(platform.Officers), a.RequireAdmin, room)
	g.GET("/api/officers/:id", apiGet(platform.Officers), a.RequireAdmin)
	g.PATCH("/api/officers/:id", apiUpdate(platform.Officers), a.RequireAdmin, room)
	g.DELETE("/api/officers/:id", apiDelete(platform.Officers), a.RequireAdmin)
	g.GET("/api/pages", apiList(platform.Pages), a.RequireAdmin)
	g.POST("/api/pages", apiCreate(platform.Pages), a.RequireAdmin, room)
	g.GET("/api/pages/:id", apiGet(platform.Pages), a.RequireAdmin)
	g.PATCH("/api/pages/:id", apiUpdate(platform.Pages), a.RequireAdmin, room)
	g.DELETE("/api/pages/:id", apiDelete(platform.Pages), a.RequireAdmin)
	g.GET("/api/media", h.apiMediaList, a.RequireAdmin)
	g.POST("/api/media", h.apiUploadMedia, httpx.LimitBody(httpx.MaxUploadBody), a.RequireAdmin)
	g.GET("/api/media/:id", h.apiMedia, a.RequireAdmin)
	g.PATCH("/api/media/:id", h.apiUpdateMedia, a.RequireAdmin, room)
	g.DELETE("/api/media/:id", h.apiDeleteMedia, a.RequireAdmin)
	g.GET("/api/messages", h.apiMessages, a.RequireAdmin)
	g.GET("/api/messages/:id", h.apiMessage, a.RequireAdmin)
	g.PATCH("/api/messages/:id", h.apiUpdateMessage, a.RequireAdmin)
	g.DELETE("/api/messages/:id", h.apiDeleteMessage, a.RequireAdmin)
	g.GET("/api/admins", h.apiAdmins, a.RequireOwner)
	g.POST("/api/admins", h.apiAddAdmin, a.RequireOwner)
	g.DELETE("/api/admins/:id", h.apiDeleteAdmin, a.RequireOwner)
	h.memberRoutes(g, a)      // members.go: the roster and the outbox
	h.libraryRoutes(g, a)     // library.go: documents
	h.albumRoutes(g, a, room) // albums.go: albums and their photos
	g.GET("/api/domains", h.apiDomains, a.RequireAdmin)
	g.POST("/api/domains", h.apiAddDomain, a.RequireOwner)
	g.GET("/api/domains/:host", h.apiDomain, a.RequireAdmin)
	g.POST("/api/domains/:host/verify", h.apiVerifyDomain, a.RequireAdmin)
	g.DELETE("/api/domains/:host", h.apiRemoveDomain, a.RequireOwner)
	g.POST("/api/export", h.export, a.RequireOwner)
	g.GET("/api/export", func(c echo.Context) error {
		c.Response().Header().Set("Allow", http.MethodPost)
		return echo.NewHTTPError(http.StatusMethodNotAllowed, "the export is POST /api/export")
	}, a.RequireAdmin)
}

// export: POST /api/export (owners) downloads the site as one file. POST
// because nothing that changes or costs this much may run on a GET (the
// dashboard's cookie reaches /api too).
func (h *handler) export(c echo.Context) error {
	return httpx.ExportDownload(c, h.p, auth.Actor(c))
}
