package site

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/chapterhouse/chapterhouse/app/internal/ratelimit"
	"github.com/chapterhouse/chapterhouse/app/internal/web/httpx"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// RSVPs: an event that takes them links from its page to a form per date
// (/events/:id/rsvp?date=YYYY-MM-DD). The form is never cached: it carries
// a fresh one-time token, and the RSVP is stored under it, so a double
// submit or a reload of the POST finds the RSVP already made and counts
// nothing twice. After the POST the visitor lands (303) on their own page,
// /rsvp/:token, which shows their place (or their place on the waitlist)
// and a button to cancel; the confirmation mail links to it too. Spam is
// held off as on the contact form: a honeypot field and a rate limit per
// client address.

// rsvpDate is one date of an event a visitor can answer for.
type rsvpDate struct {
	occurrence
	Param string // YYYY-MM-DD in the event's zone, the ?date= of its form
	Count tenantdb.RSVPCount
}

// rsvpDates are the next dates of e open to RSVPs (not started yet), with
// their counts.
func (s *Handler) rsvpDates(c echo.Context, e tenantdb.Event, limit int) ([]rsvpDate, error) {
	now := s.now()
	counts, err := httpx.DB(c).RSVPCounts(c.Request().Context(), e)
	if err != nil {
		return nil, err
	}
	var out []rsvpDate
	for _, o := range e.Occurrences(now, now.Add(upcomingHorizon), limit+1) {
		if !o.Start.After(now) {
			continue // started: no more answers
		}
		n, ok := counts[o.Start.UTC()]
		if !ok {
			n = tenantdb.RSVPCount{Capacity: e.Capacity}
		}
		out = append(out, rsvpDate{occurrence: newOccurrence(e, o.Start, o.End, now), Param: o.Start.Format(tenantdb.DateLayout), Count: n})
		if len(out) == limit {
			break
		}
	}
	return out, nil
}

// rsvpForm is the RSVP form as the visitor filled it in.
type rsvpForm struct {
	Name, Email, Note, Party, Token string
}

type rsvpData struct {
	Event    tenantdb.Event
	Date     rsvpDate
	Form     rsvpForm
	Errors   map[string]string
	Order    []string
	Limited  bool
	Already  bool // this address already has a place on this date
	MaxParty int
}

var rsvpLabels = map[string]string{"name": "Your name", "email": "Your email", "party_size": "Number of people", "note": "Note"}

// rsvpEvent reads the event of the path's :id and the date of ?date=,
// which must be a coming date of it; a wrong one is 404.
func (s *Handler) rsvpEvent(c echo.Context) (tenantdb.Event, rsvpDate, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id < 1 || c.Param("id") != strconv.FormatInt(id, 10) {
		return tenantdb.Event{}, rsvpDate{}, echo.ErrNotFound
	}
	e, err := httpx.DB(c).Event(c.Request().Context(), id)
	if err != nil {
		return e, rsvpDate{}, err
	}
	member, err := s.isMember(c)
	if err != nil {
		return e, rsvpDate{}, err
	}
	if !e.Visibility.VisibleTo(member) {
		return tenantdb.Event{}, rsvpDate{}, echo.ErrNotFound
	}
	if !e.RSVP {
		return e, rsvpDate{}, echo.NewHTTPError(http.StatusNotFound, "This event does not take RSVPs.")
	}
	dates, err := s.rsvpDates(c, e, 400)
	if err != nil {
		return e, rsvpDate{}, err
	}
	want := c.QueryParam("date")
	if want == "" && c.Request().Method == http.MethodPost {
		want = c.FormValue("date")
	}
	for _, d := range dates {
		if d.Param == want || want == "" && e.RRule == "" {
			return e, d, nil
		}
	}
	return e, rsvpDate{}, echo.NewHTTPError(http.StatusNotFound, "That date of the event is past or not one of its dates.")
}

// newRSVPToken is a form's one-time token: 256 random bits.
func newRSVPToken() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (s *Handler) showRSVPForm(c echo.Context) error {
	e, d, err := s.rsvpEvent(c)
	if err != nil {
		return err
	}
	return s.renderRSVP(c, http.StatusOK, e, d, rsvpForm{Party: "1", Token: newRSVPToken()}, nil)
}

func (s *Handler) renderRSVP(c echo.Context, status int, e tenantdb.Event, d rsvpDate, f rsvpForm, errs []error) error {
	p, err := s.newPage(c, "/events", "RSVP: "+e.Title)
	if err != nil {
		return err
	}
	data := rsvpData{Event: e, Date: d, Form: f, Errors: map[string]string{}, MaxParty: tenantdb.MaxParty,
		Limited: status == http.StatusTooManyRequests, Already: status == http.StatusConflict}
	for _, err := range errs {
		var ve *tenantdb.ValidationError
		if errors.As(err, &ve) {
			if _, seen := data.Errors[ve.Field]; !seen {
				data.Order = append(data.Order, ve.Field)
			}
			label := rsvpLabels[ve.Field]
			if label == "" {
				label = "The form"
			}
			data.Errors[ve.Field] = label + " " + ve.Message + "."
			if ve.Field == "email" {
				data.Errors[ve.Field] = "Your email does not look like an email address (like name@example.com)."
			}
		}
	}
	// A page with a one-time token is never stored by anyone.
	c.Response().Header().Set("Cache-Control", "no-store")
	p.Description = "Answer for " + e.Title + ", " + d.When + "."
	p.Data = data
	return c.Render(status, "site/rsvp.html", p)
}

// sendRSVP stores an RSVP once and redirects to the visitor's own page.
func (s *Handler) sendRSVP(c echo.Context) error {
	e, d, err := s.rsvpEvent(c)
	if err != nil {
		return err
	}
	f := rsvpForm{Name: c.FormValue("name"), Email: c.FormValue("email"), Note: c.FormValue("note"),
		Party: c.FormValue("party_size"), Token: c.FormValue("token")}
	if !tenantdb.ValidRSVPToken(f.Token) {
		f.Token = newRSVPToken()
		return s.renderRSVP(c, http.StatusUnprocessableEntity, e, d, f,
			[]error{&tenantdb.ValidationError{Field: "token", Message: "had expired; please check your answers and send it again"}})
	}
	ctx, db := c.Request().Context(), httpx.DB(c)
	// A form sent again (a double click, a reload of the POST) finds its
	// RSVP before any limit is applied.
	if r, err := db.RSVPByToken(ctx, f.Token); err == nil {
		return c.Redirect(http.StatusSeeOther, "/rsvp/"+r.Token)
	}
	t := httpx.Tenant(c)
	if ok, wait := s.contactLimit.Take("rsvp|"+t.ID+"|"+ratelimit.ClientKey(c.RealIP()), s.now()); !ok {
		httpx.SetRetryAfter(c, &ratelimit.Error{What: "too many RSVPs", Wait: wait})
		return s.renderRSVP(c, http.StatusTooManyRequests, e, d, f, nil)
	}
	if c.FormValue(honeypotField) != "" {
		return c.Redirect(http.StatusSeeOther, "/events/"+strconv.FormatInt(e.ID, 10))
	}
	party, perr := strconv.Atoi(strings.TrimSpace(f.Party))
	if perr != nil {
		party = 0
	}
	r := tenantdb.RSVP{Occurrence: d.Start, Name: strings.TrimSpace(f.Name), Email: strings.TrimSpace(f.Email),
		PartySize: party, Note: strings.TrimSpace(f.Note), Token: f.Token}
	if errs := r.Validate(); len(errs) > 0 {
		return s.renderRSVP(c, http.StatusUnprocessableEntity, e, d, f, errs)
	}
	if _, err := db.AddRSVP(ctx, e, &r, s.rsvpMail(c, e)); err != nil {
		var ve *tenantdb.ValidationError
		switch {
		case errors.As(err, &ve):
			return s.renderRSVP(c, http.StatusUnprocessableEntity, e, d, f, []error{err})
		case errors.Is(err, tenantdb.ErrAlreadyRSVPd):
			return s.renderRSVP(c, http.StatusConflict, e, d, f, nil)
		}
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/rsvp/"+r.Token)
}

// rsvpView is a visitor's own RSVP page.
type rsvpView struct {
	RSVP  tenantdb.RSVP
	Event tenantdb.Event
	When  occurrence
	Count tenantdb.RSVPCount
	Past  bool // the date has begun: nothing to change
}

// rsvpOf reads the RSVP of the path's :token with its event.
func (s *Handler) rsvpOf(c echo.Context) (rsvpView, error) {
	ctx, db := c.Request().Context(), httpx.DB(c)
	r, err := db.RSVPByToken(ctx, c.Param("token"))
	if err != nil {
		return rsvpView{}, err
	}
	e, err := db.Event(ctx, r.EventID)
	if err != nil {
		return rsvpView{}, err
	}
	counts, err := db.RSVPCounts(ctx, e)
	if err != nil {
		return rsvpView{}, err
	}
	start := r.Occurrence.In(e.Zone())
	now := s.now()
	return rsvpView{RSVP: r, Event: e, When: newOccurrence(e, start, start.Add(e.EndsAt.Sub(e.StartsAt)), now),
		Count: counts[r.Occurrence.UTC()], Past: !start.After(now)}, nil
}

func (s *Handler) showRSVP(c echo.Context) error {
	v, err := s.rsvpOf(c)
	if err != nil {
		return err
	}
	p, err := s.newPage(c, "/events", "Your RSVP: "+v.Event.Title)
	if err != nil {
		return err
	}
	// The address is a secret of the visitor's: kept out of caches,
	// search engines and other sites' logs.
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Robots-Tag", "noindex")
	h.Set("Referrer-Policy", "no-referrer")
	p.Canonical = ""
	p.Data = v
	return c.Render(http.StatusOK, "site/rsvp_done.html", p)
}

// cancelRSVP withdraws the visitor's RSVP; the waitlist moves up.
func (s *Handler) cancelRSVP(c echo.Context) error {
	v, err := s.rsvpOf(c)
	if err != nil {
		return err
	}
	if v.Past {
		return echo.NewHTTPError(http.StatusConflict, "This date has begun: the RSVP can no longer be changed.")
	}
	if _, err := httpx.DB(c).CancelRSVP(c.Request().Context(), v.Event, v.RSVP.ID, s.rsvpMail(c, v.Event)); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/rsvp/"+c.Param("token"))
}

// rsvpWhen words the date of an RSVP for a mail: "Tue, December 8, 2026 · 7:00 PM".
func rsvpWhen(e tenantdb.Event, occ time.Time) string {
	return newOccurrence(e, occ.In(e.Zone()), occ.In(e.Zone()), time.Time{}).When
}
