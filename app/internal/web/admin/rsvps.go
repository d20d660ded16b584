package admin

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/chapterhouse/chapterhouse/app/internal/web/httpx"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// The RSVPs of an event: a list by date with the counts, a button to
// cancel one (the waitlist moves up, and whoever gets in is told by mail),
// and the same list as CSV for a spreadsheet or a name badge printer.

// rsvpDate is the RSVPs of one date of an event.
type rsvpDate struct {
	Start   time.Time
	Going   int // people
	Waiting int
	RSVPs   []tenantdb.RSVP
}

type rsvpList struct {
	Event tenantdb.Event
	Dates []rsvpDate
}

func (h *Handler) loadRSVPs(c echo.Context) (rsvpList, error) {
	id, err := httpx.IDParam(c)
	if err != nil {
		return rsvpList{}, err
	}
	ctx, db := c.Request().Context(), httpx.DB(c)
	e, err := db.Event(ctx, id)
	if err != nil {
		return rsvpList{}, err
	}
	rs, err := db.RSVPs(ctx, id)
	if err != nil {
		return rsvpList{}, err
	}
	l := rsvpList{Event: e}
	for _, r := range rs {
		if n := len(l.Dates); n == 0 || !l.Dates[n-1].Start.Equal(r.Occurrence) {
			l.Dates = append(l.Dates, rsvpDate{Start: r.Occurrence})
		}
		d := &l.Dates[len(l.Dates)-1]
		d.RSVPs = append(d.RSVPs, r)
		switch r.Status {
		case tenantdb.RSVPGoing:
			d.Going += r.PartySize
		case tenantdb.RSVPWaitlist:
			d.Waiting += r.PartySize
		}
	}
	return l, nil
}

// showRSVPs: GET /admin/events/:id/rsvps.
func (h *Handler) showRSVPs(c echo.Context) error {
	l, err := h.loadRSVPs(c)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, "rsvps.html", "RSVPs: "+l.Event.Title, "events", l)
}

// rsvpsCSV: GET /admin/events/:id/rsvps.csv, every RSVP of the event.
// A cell that a spreadsheet would run as a formula is quoted with a
// leading apostrophe (OWASP's CSV injection advice).
func (h *Handler) rsvpsCSV(c echo.Context) error {
	l, err := h.loadRSVPs(c)
	if err != nil {
		return err
	}
	tz := l.Event.Timezone
	res := c.Response()
	res.Header().Set("Content-Type", "text/csv; charset=utf-8")
	res.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="rsvps-event-%d.csv"`, l.Event.ID))
	res.WriteHeader(http.StatusOK)
	w := csv.NewWriter(res)
	w.Write([]string{"date", "status", "name", "email", "party_size", "note", "answered_at"})
	for _, d := range l.Dates {
		for _, r := range d.RSVPs {
			w.Write([]string{d.Start.In(zone(tz)).Format("2006-01-02 15:04"), r.Status, cell(r.Name), cell(r.Email),
				strconv.Itoa(r.PartySize), cell(r.Note), r.CreatedAt.In(zone(tz)).Format("2006-01-02 15:04")})
		}
	}
	w.Flush()
	return w.Error()
}

// cell keeps a spreadsheet from reading a visitor's text as a formula.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// cancelRSVPForm: POST /admin/events/:id/rsvps/:rsvp/cancel.
func (h *Handler) cancelRSVPForm(c echo.Context) error {
	id, err := httpx.IDParam(c)
	if err != nil {
		return err
	}
	rid, err := strconv.ParseInt(c.Param("rsvp"), 10, 64)
	if err != nil || rid < 1 {
		return echo.ErrNotFound
	}
	ctx, db := c.Request().Context(), httpx.DB(c)
	e, err := db.Event(ctx, id)
	if err != nil {
		return err
	}
	site, err := db.Site(ctx)
	if err != nil {
		return err
	}
	mail := h.p.RSVPMail(site.Name, site.Email, httpx.BaseURL(c), e, func(r tenantdb.RSVP) string {
		return r.Occurrence.In(zone(e.Timezone)).Format("Mon, January 2, 2006 · 3:04 PM")
	})
	if _, err := db.CancelRSVP(ctx, e, rid, mail); err != nil {
		return err
	}
	return done(c, fmt.Sprintf("/admin/events/%d/rsvps", id), "cancelled")
}
