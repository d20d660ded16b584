package httpx

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/pool"
)

// TestStatus maps errors, wrapped as storage wraps them, to their
// statuses: a client that left is 499 (not a 500 logged as a failure).
func TestStatus(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{fmt.Errorf("feed of %q: %w", "lodge", context.Canceled), StatusClientClosed},
		{fmt.Errorf("post %q: %w", "x", tenantdb.ErrNotFound), http.StatusNotFound},
		{fmt.Errorf("slug: %w", tenantdb.ErrConflict), http.StatusConflict},
		{&tenantdb.ValidationError{Field: "title", Message: "is required"}, http.StatusUnprocessableEntity},
		{fmt.Errorf("acquire: %w", pool.ErrFull), http.StatusServiceUnavailable},
		{fmt.Errorf("wrapped: %w", ErrFrozen), http.StatusServiceUnavailable},
		{errors.New("disk on fire"), http.StatusInternalServerError},
	} {
		if got := Status(tc.err); got != tc.want {
			t.Errorf("Status(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}
