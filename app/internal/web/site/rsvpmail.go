package site

import (
	"context"
	"database/sql"

	"github.com/labstack/echo/v4"

	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// rsvpMail is the confirmation of an RSVP of event e (and the notice of a
// place that came free), queued in the transaction that stores it.
func (s *Handler) rsvpMail(c echo.Context, e tenantdb.Event) func(ctx context.Context, tx *sql.Tx, r tenantdb.RSVP) error {
	return nil
}
