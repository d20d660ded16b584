package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/chapterhouse/chapterhouse/app/internal/web/httpx"
)

// apiUploadMedia: POST /api/media (multipart) -> 201 with the stored image.
func (h *handler) apiUploadMedia(c echo.Context) error {
	m, err := httpx.UploadImage(c, h.p)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, m)
}

// apiMediaList: GET /api/media?page=&limit=, newest first.
func (h *handler) apiMediaList(c echo.Context) error {
	p, err := httpx.ParsePaging(c)
	if err != nil {
		return err
	}
	ms, err := httpx.DB(c).MediaIn(c.Request().Context(), p.Window())
	if err != nil {
		return err
	}
	return jsonPage(c, p, ms)
}

// apiMedia: GET /api/media/:id describes one image (its bytes are at /media/:id).
func (h *handler) apiMedia(c echo.Context) error {
	m, err := httpx.DB(c).Media(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, m)
}

// apiUpdateMedia: PATCH /api/media/:id {"name", "alt"}; the other fields
// describe the stored bytes and are read-only.
func (h *handler) apiUpdateMedia(c echo.Context) error {
	ctx, db := c.Request().Context(), httpx.DB(c)
	m, err := db.Media(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	in := m // only name and alt can change; the rest is read-only
	if err := httpx.BindJSON(c, &in); err != nil {
		return err
	}
	if err := db.UpdateMediaAlt(ctx, m.ID, in.Name, in.Alt); err != nil {
		return err
	}
	m.Name, m.Alt = in.Name, in.Alt
	return c.JSON(http.StatusOK, m)
}

// apiDeleteMedia: DELETE /api/media/:id.
func (h *handler) apiDeleteMedia(c echo.Context) error {
	if err := httpx.DB(c).DeleteMedia(c.Request().Context(), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
