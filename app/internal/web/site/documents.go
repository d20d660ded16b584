package site

import (
	"fmt"
	"mime"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/chapterhouse/chapterhouse/app/internal/web/httpx"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// viewerIsMember says whether the visitor is a logged-in member of this
// chapter, who may see documents and albums marked for members. A session
// that cannot be read counts as no member. Asking marks a member's answer
// private (see member).
func (s *Handler) viewerIsMember(c echo.Context) bool {
	member, err := s.isMember(c)
	return err == nil && member
}

// maxListed bounds a public list of documents or albums on one page; a
// chapter's shelf holds far fewer (the dashboard pages through them all).
const maxListed = 500

// documentShelf is a category with what a visitor sees of it.
type documentShelf struct {
	tenantdb.DocumentCategory
	Count int
}

type documentsData struct {
	Shelves []documentShelf
	Latest  []tenantdb.Document
}

// showDocuments: GET /documents, the library's shelves and its newest
// documents.
func (s *Handler) showDocuments(c echo.Context) error {
	ctx, db := c.Request().Context(), httpx.DB(c)
	members := s.viewerIsMember(c)
	counts, err := db.DocumentCounts(ctx, members)
	if err != nil {
		return err
	}
	var d documentsData
	for _, cat := range tenantdb.DocumentCategories {
		if counts[cat.Name] > 0 {
			d.Shelves = append(d.Shelves, documentShelf{cat, counts[cat.Name]})
		}
	}
	if d.Latest, err = db.Documents(ctx, "", members, tenantdb.Window{Limit: 10}); err != nil {
		return err
	}
	p, err := s.newPage(c, "/documents", "Documents")
	if err != nil {
		return err
	}
	p.Description = "Minutes, bylaws, newsletters and forms of " + p.Site.Name + "."
	p.Data = d
	return c.Render(http.StatusOK, "site/documents.html", p)
}

type categoryData struct {
	Category  tenantdb.DocumentCategory
	Documents []tenantdb.Document
}

// showDocumentCategory: GET /documents/:category, one shelf, newest first.
func (s *Handler) showDocumentCategory(c echo.Context) error {
	name := c.Param("category")
	title := tenantdb.CategoryTitle(name)
	if title == "" {
		return fmt.Errorf("document category %q: %w", name, tenantdb.ErrNotFound)
	}
	docs, err := httpx.DB(c).Documents(c.Request().Context(), name, s.viewerIsMember(c), tenantdb.Window{Limit: maxListed})
	if err != nil {
		return err
	}
	p, err := s.newPage(c, "/documents", title)
	if err != nil {
		return err
	}
	p.Description = title + " of " + p.Site.Name + "."
	p.Data = categoryData{Category: tenantdb.DocumentCategory{Name: name, Title: title}, Documents: docs}
	return c.Render(http.StatusOK, "site/documents_category.html", p)
}

// documentCSP is the policy of a served document: should a browser
// render it after all (a PDF viewer, a file opened from the downloads
// bar), it runs no script, loads nothing and is its own unique origin,
// so a PDF's JavaScript or an HTML payload reaches nothing of the site.
const documentCSP = "default-src 'none'; sandbox"

// showDocumentFile: GET /files/:id, a document as a download. It is
// always an attachment, with its type as found by content, nosniff and
// a sandboxing policy: nothing a chapter uploads is ever shown as a page
// of its site.
func (s *Handler) showDocumentFile(c echo.Context) error {
	ctx := c.Request().Context()
	d, data, err := httpx.DB(c).VisibleDocument(ctx, c.Param("id"), s.viewerIsMember(c))
	if err != nil {
		return err
	}
	h := c.Response().Header()
	etag := `"` + d.SHA256 + `"`
	h.Set("ETag", etag)
	if d.Visibility == tenantdb.Public {
		h.Set("Cache-Control", "public, max-age=3600")
	} else {
		h.Set("Cache-Control", "private, no-store")
	}
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", documentCSP)
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": d.Filename}))
	if etagMatches(c.Request().Header.Get("If-None-Match"), etag) {
		return c.NoContent(http.StatusNotModified)
	}
	h.Set("Content-Length", strconv.Itoa(len(data)))
	httpx.ReleaseDB(c) // a slow client must not hold the chapter's slot while 10 MB go out
	return c.Blob(http.StatusOK, d.ContentType, data)
}
