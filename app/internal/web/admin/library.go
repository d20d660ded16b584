package admin

import (
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/chapterhouse/chapterhouse/app/internal/imaging"
	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/app/internal/web/httpx"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// The document library and the photo albums on the dashboard: the same
// server-rendered forms as the rest, POST-redirect-GET, every refusal
// shown on the form that caused it.

// maxDocumentBody bounds a document upload: the file and a few fields.
const maxDocumentBody = tenantdb.MaxDocumentSize + 256<<10

// maxAlbumUploadBody bounds one upload of several photos to an album:
// a few phone photos at once, within the server's body limit.
const maxAlbumUploadBody = 11 << 20

func (h *Handler) libraryRoutes(g *echo.Group, mw ...echo.MiddlewareFunc) {
	with := func(extra ...echo.MiddlewareFunc) []echo.MiddlewareFunc {
		return append(append([]echo.MiddlewareFunc(nil), extra...), mw...)
	}
	room := append(append([]echo.MiddlewareFunc(nil), mw...), httpx.NeedsRoom(h.p))
	g.GET("/admin/documents", h.showDocuments, mw...)
	g.POST("/admin/documents", h.uploadDocument, with(httpx.LimitBody(maxDocumentBody))...)
	g.GET("/admin/documents/:id", h.showDocument, mw...)
	g.POST("/admin/documents/:id", h.saveDocument, room...)
	g.POST("/admin/documents/:id/delete", h.deleteDocument, mw...)
	g.GET("/admin/albums", h.showAlbums, mw...)
	g.GET("/admin/albums/new", h.showAlbum, mw...)
	g.POST("/admin/albums/new", h.saveAlbum, room...)
	g.GET("/admin/albums/:id", h.showAlbum, mw...)
	g.POST("/admin/albums/:id", h.saveAlbum, room...)
	g.POST("/admin/albums/:id/delete", h.deleteAlbum, mw...)
	g.POST("/admin/albums/:id/photos", h.saveAlbumPhotos, room...)
	g.POST("/admin/albums/:id/add", h.addAlbumPhotos, room...)
	g.POST("/admin/albums/:id/upload", h.uploadAlbumPhotos, with(httpx.LimitBody(maxAlbumUploadBody))...)
	g.POST("/admin/albums/:id/photos/:media/remove", h.removeAlbumPhoto, mw...)
}

// documentsPage is the library page: the upload form and one page of
// the documents.
type documentsPage struct {
	Categories []tenantdb.DocumentCategory
	Form       tenantdb.Document // the upload form, again after a refusal
	Documents  []tenantdb.Document
	MaxMB      int
}

func (h *Handler) documentsPage(c echo.Context, form tenantdb.Document) (documentsPage, httpx.Paging, string, error) {
	d := documentsPage{Categories: tenantdb.DocumentCategories, Form: form, MaxMB: tenantdb.MaxDocumentSize / 1_000_000}
	p, err := httpx.ParsePaging(c)
	if err != nil {
		return d, p, "", err
	}
	docs, err := httpx.DB(c).Documents(c.Request().Context(), "", true, p.Window())
	if err != nil {
		return d, p, "", err
	}
	var next string
	d.Documents, next = httpx.Cut(p, docs)
	return d, p, next, nil
}

// showDocuments: GET /admin/documents?page=.
func (h *Handler) showDocuments(c echo.Context) error {
	form := tenantdb.Document{Category: "minutes", Dated: h.now().Format("2006-01-02"), Visibility: tenantdb.Public}
	d, p, next, err := h.documentsPage(c, form)
	if err != nil {
		return err
	}
	return h.renderList(c, "documents.html", "Documents", "documents", p, next, d)
}

// documentForm reads the fields that describe a document.
func documentForm(c echo.Context, d *tenantdb.Document) {
	d.Title = strings.TrimSpace(c.FormValue("title"))
	d.Category = c.FormValue("category")
	d.Dated = strings.TrimSpace(c.FormValue("dated"))
	d.Description = strings.TrimSpace(c.FormValue("description"))
	d.Visibility = tenantdb.Visibility(c.FormValue("visibility"))
}

// uploadDocument: POST /admin/documents (multipart: file and fields).
func (h *Handler) uploadDocument(c echo.Context) error {
	var form tenantdb.Document
	data, filename, err := readUpload(c, "file", tenantdb.MaxDocumentSize)
	documentForm(c, &form)
	if err == nil {
		form.Filename = filename
		if form.Title == "" {
			form.Title = strings.TrimSuffix(filename, fileExt(filename))
		}
		_, err = h.p.AddDocument(c.Request().Context(), httpx.DB(c).DB, platform.DocumentUpload{Document: form, Data: data})
	}
	if err == nil {
		return done(c, "/admin/documents", "uploaded")
	}
	status := http.StatusUnprocessableEntity
	var mbe *http.MaxBytesError
	var qe *platform.QuotaError
	switch {
	case errors.As(err, &mbe) || errors.Is(err, errTooLarge):
		status = http.StatusRequestEntityTooLarge
		err = &tenantdb.ValidationError{Field: "file", Message: fmt.Sprintf("the file is larger than %d MB; make it smaller (a PDF can often be saved \"reduced size\") and try again", tenantdb.MaxDocumentSize/1_000_000)}
	case errors.As(err, &qe):
		status = http.StatusInsufficientStorage
		err = &tenantdb.ValidationError{Field: "file", Message: qe.Error()}
	}
	var ve *tenantdb.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	d, p, next, derr := h.documentsPage(c, form)
	if derr != nil {
		return derr
	}
	pg, perr := h.page(c, "Documents", "documents", d)
	if perr != nil {
		return perr
	}
	pg.Prev, pg.Next = p.Prev(), next
	pg.Error, pg.Field = fieldLabel(ve.Field)+": "+ve.Message, ve.Field
	return c.Render(status, "admin/documents.html", pg)
}

func fileExt(name string) string {
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		return name[i:]
	}
	return ""
}

// errTooLarge is an uploaded file over its limit.
var errTooLarge = errors.New("the file is too large")

// readUpload reads the multipart file field (at most max bytes) and its
// client-side name.
func readUpload(c echo.Context, field string, max int64) ([]byte, string, error) {
	if err := c.Request().ParseMultipartForm(1 << 20); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, "", err
		}
		return nil, "", echo.NewHTTPError(http.StatusBadRequest, "send the file as multipart/form-data in the field \""+field+"\"")
	}
	fh, err := c.FormFile(field)
	if err != nil {
		return nil, "", &tenantdb.ValidationError{Field: field, Message: "choose a file to upload"}
	}
	if fh.Size > max {
		return nil, "", errTooLarge
	}
	data, err := readFile(fh, max)
	return data, fh.Filename, err
}

// readFile reads an uploaded file of at most max bytes.
func readFile(fh *multipart.FileHeader, max int64) ([]byte, error) {
	f, err := fh.Open()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err == nil && int64(len(data)) > max {
		return nil, errTooLarge
	}
	return data, err
}

// documentPage is the edit form of one document.
type documentPage struct {
	Categories []tenantdb.DocumentCategory
	Document   tenantdb.Document
}

// showDocument: GET /admin/documents/:id.
func (h *Handler) showDocument(c echo.Context) error {
	d, err := httpx.DB(c).Document(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, "document.html", "Edit document: "+d.Title, "documents",
		documentPage{Categories: tenantdb.DocumentCategories, Document: d})
}

// saveDocument: POST /admin/documents/:id saves what is said about it.
func (h *Handler) saveDocument(c echo.Context) error {
	ctx, db := c.Request().Context(), httpx.DB(c)
	d, err := db.Document(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	title := "Edit document: " + d.Title
	documentForm(c, &d)
	if err := db.UpdateDocument(ctx, &d); err != nil {
		return h.renderInvalid(c, err, "document.html", title, "documents", documentPage{Categories: tenantdb.DocumentCategories, Document: d})
	}
	return done(c, "/admin/documents/"+d.ID, "saved")
}

// deleteDocument: POST /admin/documents/:id/delete.
func (h *Handler) deleteDocument(c echo.Context) error {
	if err := httpx.DB(c).DeleteDocument(c.Request().Context(), c.Param("id")); err != nil {
		return err
	}
	return done(c, "/admin/documents", "deleted")
}

// showAlbums: GET /admin/albums?page=.
func (h *Handler) showAlbums(c echo.Context) error {
	p, err := httpx.ParsePaging(c)
	if err != nil {
		return err
	}
	albums, err := httpx.DB(c).Albums(c.Request().Context(), false, true, p.Window())
	if err != nil {
		return err
	}
	albums, next := httpx.Cut(p, albums)
	return h.renderList(c, "albums.html", "Photo albums", "albums", p, next, albums)
}

// albumPage is an album's edit page: its form, its photos, and the
// library's images to add.
type albumPage struct {
	Album  tenantdb.Album
	New    bool
	Action string
	Photos []tenantdb.AlbumPhoto
	Media  []tenantdb.Media // the library's newest images, to add
	MaxMB  int
}

func (h *Handler) albumPage(c echo.Context, a tenantdb.Album, isNew bool) (albumPage, error) {
	ctx, db := c.Request().Context(), httpx.DB(c)
	d := albumPage{Album: a, New: isNew, Action: "/admin/albums/new", MaxMB: maxAlbumUploadBody >> 20}
	if isNew {
		return d, nil
	}
	d.Action = fmt.Sprintf("/admin/albums/%d", a.ID)
	var err error
	if d.Photos, err = db.AlbumPhotos(ctx, a.ID, 0); err != nil {
		return d, err
	}
	d.Media, err = db.MediaIn(ctx, tenantdb.Window{Limit: httpx.MaxPageSize})
	return d, err
}

// loadAlbum is the album of the path's :id, or a new one for /new.
func (h *Handler) loadAlbum(c echo.Context) (tenantdb.Album, bool, error) {
	if c.Param("id") == "" {
		return tenantdb.Album{Dated: h.now().Format("2006-01-02"), Published: true, Visibility: tenantdb.Public}, true, nil
	}
	id, err := httpx.IDParam(c)
	if err != nil {
		return tenantdb.Album{}, false, err
	}
	a, err := httpx.DB(c).Album(c.Request().Context(), id)
	return a, false, err
}

func albumTitle(a tenantdb.Album, isNew bool) string {
	if isNew {
		return "New album"
	}
	return "Edit album: " + a.Title
}

// showAlbum: GET /admin/albums/new and /admin/albums/:id.
func (h *Handler) showAlbum(c echo.Context) error {
	a, isNew, err := h.loadAlbum(c)
	if err != nil {
		return err
	}
	d, err := h.albumPage(c, a, isNew)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, "album.html", albumTitle(a, isNew), "albums", d)
}

// saveAlbum: POST /admin/albums/new and /admin/albums/:id.
func (h *Handler) saveAlbum(c echo.Context) error {
	a, isNew, err := h.loadAlbum(c)
	if err != nil {
		return err
	}
	title := albumTitle(a, isNew)
	a.Title = strings.TrimSpace(c.FormValue("title"))
	a.Slug = strings.TrimSpace(c.FormValue("slug"))
	a.Dated = strings.TrimSpace(c.FormValue("dated"))
	a.Description = c.FormValue("description")
	a.Published = checked(c, "published")
	a.Visibility = tenantdb.Visibility(c.FormValue("visibility"))
	a.CoverID = c.FormValue("cover_id")
	if err := httpx.DB(c).SaveAlbum(c.Request().Context(), &a); err != nil {
		d, derr := h.albumPage(c, a, isNew)
		if derr != nil {
			return derr
		}
		return h.renderInvalid(c, err, "album.html", title, "albums", d)
	}
	return done(c, fmt.Sprintf("/admin/albums/%d", a.ID), "saved")
}

// deleteAlbum: POST /admin/albums/:id/delete; the photos stay in Media.
func (h *Handler) deleteAlbum(c echo.Context) error {
	id, err := httpx.IDParam(c)
	if err != nil {
		return err
	}
	if err := httpx.DB(c).DeleteAlbum(c.Request().Context(), id); err != nil {
		return err
	}
	return done(c, "/admin/albums", "deleted")
}

// saveAlbumPhotos: POST /admin/albums/:id/photos, every photo's caption
// and place (fields caption-<media id> and position-<media id>).
func (h *Handler) saveAlbumPhotos(c echo.Context) error {
	a, _, err := h.loadAlbum(c)
	if err != nil {
		return err
	}
	ctx, db := c.Request().Context(), httpx.DB(c)
	photos, err := db.AlbumPhotos(ctx, a.ID, 0)
	if err != nil {
		return err
	}
	for _, p := range photos {
		if !c.Request().PostForm.Has("caption-" + p.Media.ID) {
			continue
		}
		p.Caption = strings.TrimSpace(c.FormValue("caption-" + p.Media.ID))
		n, err := formInt(c, "position-"+p.Media.ID)
		if err == nil {
			p.Position = n
			err = db.UpdateAlbumPhoto(ctx, p)
		}
		if err != nil {
			var ve *tenantdb.ValidationError
			if errors.As(err, &ve) {
				ve.Message = fmt.Sprintf("photo %s: %s", p.Media.Name, ve.Message)
			}
			d, derr := h.albumPage(c, a, false)
			if derr != nil {
				return derr
			}
			return h.renderInvalid(c, err, "album.html", albumTitle(a, false), "albums", d)
		}
	}
	return done(c, fmt.Sprintf("/admin/albums/%d", a.ID), "saved")
}

// addAlbumPhotos: POST /admin/albums/:id/add, images of the library
// (the checked media fields) appended to the album.
func (h *Handler) addAlbumPhotos(c echo.Context) error {
	a, _, err := h.loadAlbum(c)
	if err != nil {
		return err
	}
	c.FormValue("media") // parse the form
	ids := c.Request().PostForm["media"]
	if len(ids) == 0 {
		d, derr := h.albumPage(c, a, false)
		if derr != nil {
			return derr
		}
		return h.renderInvalid(c, &tenantdb.ValidationError{Field: "media", Message: "tick the images to add"}, "album.html", albumTitle(a, false), "albums", d)
	}
	if err := httpx.DB(c).AddAlbumPhotos(c.Request().Context(), a.ID, ids); err != nil {
		d, derr := h.albumPage(c, a, false)
		if derr != nil {
			return derr
		}
		return h.renderInvalid(c, err, "album.html", albumTitle(a, false), "albums", d)
	}
	return done(c, fmt.Sprintf("/admin/albums/%d", a.ID), "added")
}

// uploadAlbumPhotos: POST /admin/albums/:id/upload, one or more photos
// (the field files) cleaned and sized like any upload, stored in the
// media library and appended to the album. A photo refused stops the
// rest; the ones before it are kept, and the page says which failed.
func (h *Handler) uploadAlbumPhotos(c echo.Context) error {
	a, _, err := h.loadAlbum(c)
	if err != nil {
		return err
	}
	ctx, db := c.Request().Context(), httpx.DB(c)
	refuse := func(status int, err error) error {
		var ve *tenantdb.ValidationError
		if !errors.As(err, &ve) {
			return err
		}
		d, derr := h.albumPage(c, a, false)
		if derr != nil {
			return derr
		}
		pg, perr := h.page(c, albumTitle(a, false), "albums", d)
		if perr != nil {
			return perr
		}
		pg.Error, pg.Field = fieldLabel(ve.Field)+": "+ve.Message, ve.Field
		return c.Render(status, "admin/album.html", pg)
	}
	tooLarge := &tenantdb.ValidationError{Field: "files", Message: fmt.Sprintf(
		"the photos are larger than %d MB together, or one is over %d MB; send fewer at once", maxAlbumUploadBody>>20, tenantdb.MaxMediaSize>>20)}
	if err := c.Request().ParseMultipartForm(1 << 20); err != nil {
		if errors.As(err, new(*http.MaxBytesError)) {
			return refuse(http.StatusRequestEntityTooLarge, tooLarge)
		}
		return echo.NewHTTPError(http.StatusBadRequest, "send the photos as multipart/form-data in the field \"files\"")
	}
	files := c.Request().MultipartForm.File["files"]
	if len(files) == 0 {
		return refuse(http.StatusUnprocessableEntity, &tenantdb.ValidationError{Field: "files", Message: "choose one or more photos to upload"})
	}
	var ids []string
	for _, fh := range files {
		if fh.Size > tenantdb.MaxMediaSize {
			err = tooLarge
		} else {
			var data []byte
			if data, err = readFile(fh, tenantdb.MaxMediaSize); err == nil {
				var m tenantdb.Media
				m, err = h.p.AddImage(ctx, db.DB, platform.Upload{Filename: fh.Filename, Data: data})
				ids = append(ids, m.ID)
			}
		}
		if err != nil {
			ids = slices.DeleteFunc(ids, func(id string) bool { return id == "" })
			if aerr := db.AddAlbumPhotos(ctx, a.ID, ids); aerr != nil {
				return aerr
			}
			status := http.StatusUnprocessableEntity
			var qe *platform.QuotaError
			switch {
			case errors.As(err, &qe):
				status, err = http.StatusInsufficientStorage, &tenantdb.ValidationError{Field: "files", Message: qe.Error()}
			case errors.As(err, new(*imaging.TooLargeError)):
				status, err = http.StatusRequestEntityTooLarge, &tenantdb.ValidationError{Field: "files", Message: err.Error()}
			case err == tooLarge || errors.Is(err, errTooLarge):
				status, err = http.StatusRequestEntityTooLarge, &tenantdb.ValidationError{Field: "files", Message: tooLarge.Message}
			}
			if ve, ok := errors.AsType[*tenantdb.ValidationError](err); ok {
				ve.Field = "files"
				ve.Message = fmt.Sprintf("%s: %s (%d photos before it were added)", fh.Filename, ve.Message, len(ids))
			}
			return refuse(status, err)
		}
	}
	if err := db.AddAlbumPhotos(ctx, a.ID, ids); err != nil {
		return refuse(http.StatusUnprocessableEntity, err)
	}
	return done(c, fmt.Sprintf("/admin/albums/%d", a.ID), "uploaded")
}

// removeAlbumPhoto: POST /admin/albums/:id/photos/:media/remove.
func (h *Handler) removeAlbumPhoto(c echo.Context) error {
	id, err := httpx.IDParam(c)
	if err != nil {
		return err
	}
	if err := httpx.DB(c).RemoveAlbumPhoto(c.Request().Context(), id, c.Param("media")); err != nil {
		return err
	}
	return done(c, fmt.Sprintf("/admin/albums/%d", id), "deleted")
}
