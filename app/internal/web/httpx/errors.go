package httpx

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/chapterhouse/chapterhouse/tenantdb/pool"

	"github.com/chapterhouse/chapterhouse/app/internal/imaging"
	"github.com/chapterhouse/chapterhouse/app/internal/password"
	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/app/internal/ratelimit"
	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/labstack/echo/v4"
)

// ErrFrozen is returned for writes to a tenant in read-only mode.
var ErrFrozen = errors.New("this site is in read-only mode for maintenance; changes cannot be saved right now, please try again in a few minutes")

// StatusClientClosed is the status recorded (in the log and metrics) for
// a request whose client went away before the answer was ready: nginx's
// 499. Nobody receives it, and it is no server error.
const StatusClientClosed = 499

// Status maps an error to the HTTP status it deserves. This is the one
// place where storage errors become statuses.
func Status(err error) int {
	var he *echo.HTTPError
	var ve *tenantdb.ValidationError
	var mbe *http.MaxBytesError
	var tle *imaging.TooLargeError
	var rle *ratelimit.Error
	var qe *platform.QuotaError
	switch {
	case errors.As(err, &he):
		return he.Code
	case errors.As(err, &qe), errors.Is(err, platform.ErrInboxFull):
		return http.StatusInsufficientStorage
	case errors.As(err, &rle):
		return http.StatusTooManyRequests
	case errors.As(err, &ve):
		return http.StatusUnprocessableEntity
	case errors.As(err, &mbe), errors.As(err, &tle):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, tenantdb.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, tenantdb.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, context.Canceled):
		return StatusClientClosed
	case errors.Is(err, pool.ErrFull), errors.Is(err, ErrFrozen), errors.Is(err, platform.ErrDNS), errors.Is(err, platform.ErrFenced),
		errors.Is(err, password.ErrBusy), errors.Is(err, ErrBodiesBusy), errors.Is(err, ErrExportsBusy):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// Message is what a visitor or API client is told about err: the
// error itself for 4xx, nothing internal for 5xx.
func Message(err error, status int) string {
	var he *echo.HTTPError
	var ve *tenantdb.ValidationError
	switch {
	case errors.As(err, &ve):
		return ve.Error()
	case errors.As(err, &he):
		if m, ok := he.Message.(string); ok {
			return m
		}
		return http.StatusText(status)
	case errors.Is(err, ErrFrozen):
		return ErrFrozen.Error()
	case errors.Is(err, platform.ErrFenced):
		return platform.ErrFenced.Error()
	case errors.Is(err, password.ErrBusy), errors.Is(err, ErrBodiesBusy), errors.Is(err, ErrExportsBusy):
		return err.Error()
	case errors.As(err, new(*imaging.TooLargeError)), errors.As(err, new(*ratelimit.Error)):
		return err.Error()
	case errors.As(err, new(*platform.QuotaError)), errors.Is(err, platform.ErrInboxFull):
		return err.Error()
	case errors.Is(err, platform.ErrDNS):
		return "The DNS check could not be done right now; please try again in a few minutes."
	case status == http.StatusNotFound:
		return "The page you asked for does not exist."
	case status == http.StatusConflict:
		return err.Error()
	case status == http.StatusRequestEntityTooLarge:
		return "The request is too large."
	case status == http.StatusServiceUnavailable:
		return "The site is busy right now; please try again in a moment."
	}
	return http.StatusText(status)
}

// SetRetryAfter tells the client when to try again after err, for the
// errors that have a when: a limit's own wait, a frozen site's
// maintenance, a full pool, busy password hashing, too many uploads or
// exports at once.
func SetRetryAfter(c echo.Context, err error) {
	secs := 0
	var rle *ratelimit.Error
	switch {
	case errors.As(err, &rle):
		secs = rle.RetryAfter()
	case errors.Is(err, ErrFrozen):
		secs = 120
	case errors.Is(err, pool.ErrFull), errors.Is(err, password.ErrBusy):
		secs = 5
	case errors.Is(err, platform.ErrFenced):
		secs = 2
	case errors.Is(err, ErrBodiesBusy), errors.Is(err, ErrExportsBusy), errors.Is(err, ErrExportRunning):
		secs = 60
	default:
		return
	}
	c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
}

// JSONError answers err as the API does: {"error": ..., "field": ...}.
func JSONError(c echo.Context, err error, status int) error {
	body := map[string]string{"error": Message(err, status)}
	var ve *tenantdb.ValidationError
	if errors.As(err, &ve) {
		body["field"] = ve.Field
	}
	return c.JSON(status, body)
}
