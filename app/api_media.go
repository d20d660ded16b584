package main

import (
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/chapterhouse/chapterhouse/app/internal/imaging"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// maxUploadBody bounds an upload request: the image and a few fields.
const maxUploadBody = tenantdb.MaxMediaSize + 256<<10

// limitBody caps the request body of a route below the server-wide cap.
// It must run before anything reads the body (the CSRF check reads forms).
func limitBody(n int64) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			r.Body = http.MaxBytesReader(c.Response(), r.Body, n)
			return next(c)
		}
	}
}

// uploadMedia stores the image of the multipart field "file" (with the
// optional fields "alt" and "name") in the media library.
func (s *server) uploadMedia(c echo.Context) (tenantdb.Media, error) {
	var m tenantdb.Media
	r := c.Request()
	if err := r.ParseMultipartForm(1 << 20); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return m, err
		}
		return m, echo.NewHTTPError(http.StatusBadRequest, "send the image as multipart/form-data in the field \"file\"")
	}
	fh, err := c.FormFile("file")
	if err != nil {
		return m, &tenantdb.ValidationError{Field: "file", Message: "choose an image to upload"}
	}
	if fh.Size > tenantdb.MaxMediaSize {
		return m, echo.NewHTTPError(http.StatusRequestEntityTooLarge, "the image is larger than 5 MB")
	}
	data, err := readPart(fh)
	if err != nil {
		return m, err
	}
	select {
	case s.imageSlots <- struct{}{}:
	case <-r.Context().Done():
		return m, r.Context().Err()
	}
	contentType, w, h, clean, err := imaging.Clean(data)
	<-s.imageSlots
	if err != nil {
		return m, err
	}
	m = tenantdb.Media{
		Name:        mediaName(c.FormValue("name"), fh.Filename, contentType),
		Alt:         strings.TrimSpace(c.FormValue("alt")),
		ContentType: contentType,
		Width:       w,
		Height:      h,
	}
	err = tenantDB(c).AddMedia(r.Context(), &m, clean)
	return m, err
}

func readPart(fh *multipart.FileHeader) ([]byte, error) {
	f, err := fh.Open()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, tenantdb.MaxMediaSize+1))
}

// mediaName is the name to show for an upload: the one typed, else the
// file's base name, with the extension of what it now is.
func mediaName(typed, filename, contentType string) string {
	name := strings.TrimSpace(typed)
	if name == "" {
		name = path.Base(strings.ReplaceAll(filename, `\`, "/"))
		name = strings.TrimSuffix(name, path.Ext(name))
		ext := ".png"
		if contentType == "image/jpeg" {
			ext = ".jpg"
		}
		name = strings.Map(func(r rune) rune {
			if r < 0x20 || r == 0x7f {
				return -1
			}
			return r
		}, name)
		if name == "" || name == "." || name == "/" {
			name = "image"
		}
		if utf8.RuneCountInString(name) > 150 {
			name = string([]rune(name)[:150])
		}
		name += ext
	}
	return name
}

// apiUploadMedia: POST /api/media (multipart) -> 201 with the stored image.
func (s *server) apiUploadMedia(c echo.Context) error {
	m, err := s.uploadMedia(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, m)
}

// apiMediaList: GET /api/media, newest first.
func (s *server) apiMediaList(c echo.Context) error {
	ms, err := tenantDB(c).MediaList(c.Request().Context())
	if err != nil {
		return err
	}
	if ms == nil {
		ms = []tenantdb.Media{}
	}
	return c.JSON(http.StatusOK, ms)
}

// apiMedia: GET /api/media/:id describes one image (its bytes are at /media/:id).
func (s *server) apiMedia(c echo.Context) error {
	m, err := tenantDB(c).Media(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, m)
}

// apiUpdateMedia: PATCH /api/media/:id {"name", "alt"}; the other fields
// describe the stored bytes and are read-only.
func (s *server) apiUpdateMedia(c echo.Context) error {
	ctx, db := c.Request().Context(), tenantDB(c)
	m, err := db.Media(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	in := m // only name and alt can change; the rest is read-only
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	if err := db.UpdateMediaAlt(ctx, m.ID, in.Name, in.Alt); err != nil {
		return err
	}
	m.Name, m.Alt = in.Name, in.Alt
	return c.JSON(http.StatusOK, m)
}

// apiDeleteMedia: DELETE /api/media/:id.
func (s *server) apiDeleteMedia(c echo.Context) error {
	if err := tenantDB(c).DeleteMedia(c.Request().Context(), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
