package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/app/internal/web/auth"
	"github.com/chapterhouse/chapterhouse/app/internal/web/httpx"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// The library in the API: documents (list, upload, delete), for any
// admin, as on the dashboard (albums are in albums.go). A document is
// checked by its content, counted against the upload limits and the
// quota exactly as a dashboard upload (platform.AddDocument).

// maxDocumentBody bounds a document upload: the file and a few fields.
const maxDocumentBody = tenantdb.MaxDocumentSize + 256<<10

func (h *handler) libraryRoutes(g *echo.Group, a *auth.Auth) {
	g.GET("/api/documents", h.apiDocuments, a.RequireAdmin)
	g.POST("/api/documents", h.apiUploadDocument, httpx.LimitBody(maxDocumentBody), a.RequireAdmin)
	g.GET("/api/documents/:id", h.apiDocument, a.RequireAdmin)
	g.DELETE("/api/documents/:id", h.apiDeleteDocument, a.RequireAdmin)
}

// apiDocuments: GET /api/documents?page=&limit=, newest date first, the
// members-only ones included.
func (h *handler) apiDocuments(c echo.Context) error {
	p, err := httpx.ParsePaging(c)
	if err != nil {
		return err
	}
	ds, err := httpx.DB(c).Documents(c.Request().Context(), "", true, p.Window())
	if err != nil {
		return err
	}
	return jsonPage(c, p, ds)
}

// apiDocument: GET /api/documents/:id describes one document (its bytes
// are at /files/:id).
func (h *handler) apiDocument(c echo.Context) error {
	d, err := httpx.DB(c).Document(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, d)
}

// apiUploadDocument: POST /api/documents, multipart/form-data: the file
// in "file", and "title" (default: the file's name), "category",
// "dated" (YYYY-MM-DD), "description", "visibility" (public or members).
// 201 with the document.
func (h *handler) apiUploadDocument(c echo.Context) error {
	r := c.Request()
	if err := r.ParseMultipartForm(1 << 20); err != nil {
		if errors.As(err, new(*http.MaxBytesError)) {
			return err
		}
		return echo.NewHTTPError(http.StatusBadRequest, `send the document as multipart/form-data in the field "file"`)
	}
	fh, err := c.FormFile("file")
	if err != nil {
		return &tenantdb.ValidationError{Field: "file", Message: "choose a file to upload"}
	}
	tooLarge := echo.NewHTTPError(http.StatusRequestEntityTooLarge,
		fmt.Sprintf("the file is larger than %d MB", tenantdb.MaxDocumentSize/1_000_000))
	if fh.Size > tenantdb.MaxDocumentSize {
		return tooLarge
	}
	f, err := fh.Open()
	if err != nil {
		return err
	}
	data, err := io.ReadAll(io.LimitReader(f, tenantdb.MaxDocumentSize+1))
	f.Close()
	if err != nil {
		return err
	}
	if len(data) > tenantdb.MaxDocumentSize {
		return tooLarge
	}
	d := tenantdb.Document{
		Title:       strings.TrimSpace(c.FormValue("title")),
		Category:    c.FormValue("category"),
		Dated:       strings.TrimSpace(c.FormValue("dated")),
		Description: strings.TrimSpace(c.FormValue("description")),
		Visibility:  tenantdb.Visibility(c.FormValue("visibility")),
		Filename:    fh.Filename,
	}
	if d.Title == "" {
		d.Title = strings.TrimSuffix(fh.Filename, fileExt(fh.Filename))
	}
	d, err = h.p.AddDocument(r.Context(), httpx.DB(c).DB, platform.DocumentUpload{Document: d, Data: data})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, d)
}

func fileExt(name string) string {
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		return name[i:]
	}
	return ""
}

// apiDeleteDocument: DELETE /api/documents/:id.
func (h *handler) apiDeleteDocument(c echo.Context) error {
	if err := httpx.DB(c).DeleteDocument(c.Request().Context(), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
