package httpx

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/labstack/echo/v4"
)

// MaxJSONBody caps a JSON request; the longest field (a post body) is
// 100,000 characters.
const MaxJSONBody = 1 << 20

// BindJSON decodes the request's JSON object into v, over what v holds.
// Malformed JSON is 400, a field of the wrong type or unknown 422, a body
// over MaxJSONBody 413.
func BindJSON(c echo.Context, v any) error {
	r := c.Request()
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, _ := mime.ParseMediaType(ct); mt != "application/json" {
			return echo.NewHTTPError(http.StatusUnsupportedMediaType, "send JSON with Content-Type: application/json")
		}
	}
	dec := json.NewDecoder(http.MaxBytesReader(c.Response(), r.Body, MaxJSONBody))
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

// IDParam is the numeric :id of the path; anything else names nothing.
func IDParam(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%s: %w", c.Param("id"), tenantdb.ErrNotFound)
	}
	return id, nil
}

// MaxUploadBody bounds an upload request: the image and a few fields.
const MaxUploadBody = tenantdb.MaxMediaSize + 256<<10

// LimitBody caps the request body of a route below the server-wide cap.
// It must run before anything reads the body (the CSRF check reads forms).
func LimitBody(n int64) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			r.Body = http.MaxBytesReader(c.Response(), r.Body, n)
			return next(c)
		}
	}
}

// UploadImage stores the image of the multipart field "file" (with the
// optional fields "alt" and "name") in the tenant's media library.
func UploadImage(c echo.Context, p *platform.Platform) (tenantdb.Media, error) {
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
	return p.AddImage(r.Context(), DB(c).DB, platform.Upload{
		Name: c.FormValue("name"), Filename: fh.Filename, Alt: c.FormValue("alt"), Data: data,
	})
}

func readPart(fh *multipart.FileHeader) ([]byte, error) {
	f, err := fh.Open()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, tenantdb.MaxMediaSize+1))
}
