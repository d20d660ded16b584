package admin

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/chapterhouse/chapterhouse/app/internal/imaging"
	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/app/internal/render"
	"github.com/chapterhouse/chapterhouse/app/internal/web/httpx"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// The editor's server side. The dashboard's own script (views/static/
// editor.js, the only script Chapterhouse serves, and on the dashboard
// only) adds formatting buttons, "insert picture" and a live preview to
// the Markdown fields; these three routes are what it calls. Every form
// works without it: the Preview button and the media library do the same
// by plain form posts.

// maxPreviewBody bounds a preview request: the longest Markdown text.
const maxPreviewBody = 4*tenantdb.MaxMarkdownChars + 4<<10

func (h *Handler) editorRoutes(g *echo.Group, mw ...echo.MiddlewareFunc) {
	g.GET("/admin/media/picker", h.pickerList, mw...)
	g.POST("/admin/media/picker", h.pickerUpload, append([]echo.MiddlewareFunc{httpx.LimitBody(httpx.MaxUploadBody)}, mw...)...)
	g.POST("/admin/preview", h.preview, append([]echo.MiddlewareFunc{httpx.LimitBody(maxPreviewBody)}, mw...)...)
}

// pickerItem is an image as the picture picker shows and inserts it.
type pickerItem struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Alt      string `json:"alt"`
	Width    int    `json:"width"`
	Height   int    `json:"height"`
	Thumb    string `json:"thumb"`    // the small copy's address
	Markdown string `json:"markdown"` // what "insert" puts in the text
}

func newPickerItem(m tenantdb.Media) pickerItem {
	alt := m.Alt
	if alt == "" {
		alt = m.Name
	}
	return pickerItem{ID: m.ID, Name: m.Name, Alt: m.Alt, Width: m.Width, Height: m.Height,
		Thumb: render.Sized(m, "small"), Markdown: fmt.Sprintf("![%s](/media/%s)", markdownText(alt), m.ID)}
}

// markdownText escapes what would end an image's alt text early.
func markdownText(s string) string {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		switch r {
		case '[', ']', '\\':
			out = append(out, '\\')
		case '\n', '\r':
			r = ' '
		}
		out = append(out, r)
	}
	return string(out)
}

// pickerList: GET /admin/media/picker?page=, one page of the media
// library, newest first, as JSON.
func (h *Handler) pickerList(c echo.Context) error {
	p, err := httpx.ParsePaging(c)
	if err != nil {
		return err
	}
	media, err := httpx.DB(c).MediaIn(c.Request().Context(), p.Window())
	if err != nil {
		return err
	}
	media, next := httpx.Cut(p, media)
	items := make([]pickerItem, len(media))
	for i, m := range media {
		items[i] = newPickerItem(m)
	}
	return c.JSON(http.StatusOK, map[string]any{"items": items, "next": next})
}

// pickerUpload: POST /admin/media/picker, an image uploaded from the
// editor (multipart: file, alt), stored in the media library like any
// upload; answers the new image as JSON, or {"error": why} with the
// status of the refusal.
func (h *Handler) pickerUpload(c echo.Context) error {
	m, err := httpx.UploadImage(c, h.p)
	if err == nil {
		return c.JSON(http.StatusCreated, newPickerItem(m))
	}
	status := http.StatusUnprocessableEntity
	var ve *tenantdb.ValidationError
	var he *echo.HTTPError
	switch {
	case errors.As(err, new(*http.MaxBytesError)):
		status, err = http.StatusRequestEntityTooLarge, fmt.Errorf("the image is larger than %d MB", tenantdb.MaxMediaSize>>20)
	case errors.As(err, new(*imaging.TooLargeError)):
		status = http.StatusRequestEntityTooLarge
	case errors.As(err, new(*platform.QuotaError)):
		status = http.StatusInsufficientStorage
	case errors.As(err, &he):
		status, err = he.Code, fmt.Errorf("%v", he.Message)
	case errors.As(err, &ve):
	default:
		return err
	}
	return c.JSON(status, map[string]string{"error": err.Error()})
}

// preview: POST /admin/preview (field text), the Markdown rendered as
// the site renders it, as an HTML fragment for the editor's preview pane.
func (h *Handler) preview(c echo.Context) error {
	text := c.FormValue("text")
	if err := tenantdb.CheckMarkdown("text", text, tenantdb.MaxMarkdownChars); err != nil {
		return err
	}
	html, err := h.md.HTMLContext(c.Request().Context(), text)
	if err != nil {
		return err
	}
	return c.HTML(http.StatusOK, string(html))
}
