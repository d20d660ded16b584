package site

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/chapterhouse/chapterhouse/app/internal/ical"
	"github.com/chapterhouse/chapterhouse/app/internal/web/httpx"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// occurrence is one instance of an event, as a visitor sees it on a list.
type occurrence struct {
	Event      tenantdb.Event
	Start, End time.Time // in the event's time zone
	Ongoing    bool
	// What a list shows, formatted once here rather than in the template.
	When, ISO, Month, Day string
}

func newOccurrence(e tenantdb.Event, start, end time.Time, now time.Time) occurrence {
	o := occurrence{Event: e, Start: start, End: end, Ongoing: !start.After(now) && end.After(now),
		Month: start.Format("Jan"), Day: strconv.Itoa(start.Day())}
	if e.AllDay {
		o.When, o.ISO = start.Format("Mon, January 2, 2006"), start.Format("2006-01-02")
	} else {
		o.When, o.ISO = start.Format("Mon, January 2, 2006 · 3:04 PM"), start.Format(time.RFC3339)
	}
	return o
}

// upcomingHorizon is how far ahead the site lists events.
const upcomingHorizon = 366 * 24 * time.Hour

// upcomingOccurrences returns the next limit instances of events that have
// not ended at now, recurring events expanded, soonest first.
func upcomingOccurrences(events []tenantdb.Event, now time.Time, limit int) []occurrence {
	var out []occurrence
	for _, e := range events {
		for _, o := range e.Occurrences(now, now.Add(upcomingHorizon), limit) {
			out = append(out, newOccurrence(e, o.Start, o.End, now))
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Start.Equal(out[j].Start) {
			return out[i].Start.Before(out[j].Start)
		}
		return out[i].Event.ID < out[j].Event.ID
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}

// pastEvents returns the one-off events that ended before now, latest
// first. Past instances of a recurring meeting are not news to anyone.
func pastEvents(events []tenantdb.Event, now time.Time, limit int) []occurrence {
	var out []occurrence
	for _, e := range events {
		if e.RRule == "" && !e.EndsAt.After(now) {
			out = append(out, newOccurrence(e, e.StartsAt, e.EndsAt, now))
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start.After(out[j].Start) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}

// meetings are the chapter's regular meetings: recurring events of the
// meeting category, or failing that any meeting.
func meetings(events []tenantdb.Event) []tenantdb.Event {
	var recurring, any []tenantdb.Event
	for _, e := range events {
		if e.Category == "meeting" {
			any = append(any, e)
			if e.RRule != "" {
				recurring = append(recurring, e)
			}
		}
	}
	if len(recurring) > 0 {
		return recurring
	}
	return any
}

// changesAt is when a page listing these occurrences next changes by
// itself: the first start or end still to come, and at the latest an hour
// from now (an event far ahead moves into the listed window).
func changesAt(now time.Time, lists ...[]occurrence) time.Time {
	t := now.Add(time.Hour)
	for _, l := range lists {
		for _, o := range l {
			if o.Start.After(now) && o.Start.Before(t) {
				t = o.Start
			}
			if o.End.After(now) && o.End.Before(t) {
				t = o.End
			}
		}
	}
	return t
}

type eventsData struct {
	Upcoming []occurrence
	Past     []occurrence
}

func (s *Handler) showEvents(c echo.Context) error {
	p, err := s.newPage(c, "/events", "Events")
	if err != nil {
		return err
	}
	events, err := httpx.DB(c).Events(c.Request().Context())
	if err != nil {
		return err
	}
	events = visibleEvents(events, p.Member != nil)
	now := s.now()
	d := eventsData{Upcoming: upcomingOccurrences(events, now, 50), Past: pastEvents(events, now, 20)}
	s.expireAt(c, changesAt(now, d.Upcoming))
	p.Description = "Meetings, ceremonies, fundraisers and socials of " + p.Site.Name + "."
	p.Data = d
	return c.Render(http.StatusOK, "site/events.html", p)
}

type eventData struct {
	Event      tenantdb.Event
	Repeats    string       // "Second Tuesday of every month", for a recurring event
	Next       []occurrence // its coming instances
	Past       bool
	MapURL     string
	OtherZone  bool // the event is not in the site's time zone: show the zone
	IsMultiDay bool
	RSVPDates  []rsvpDate // the dates open to RSVPs, with their counts
}

func (s *Handler) showEvent(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id < 1 || c.Param("id") != strconv.FormatInt(id, 10) {
		return echo.ErrNotFound
	}
	e, err := httpx.DB(c).Event(c.Request().Context(), id)
	if err != nil {
		return err
	}
	p, err := s.newPage(c, "/events", e.Title)
	if err != nil {
		return err
	}
	if !e.Visibility.VisibleTo(p.Member != nil) {
		return echo.ErrNotFound
	}
	now := s.now()
	d := eventData{Event: e, Repeats: ical.Describe(e), MapURL: mapURL(e.Location)}
	d.Next = upcomingOccurrences([]tenantdb.Event{e}, now, 6)
	d.Past = len(d.Next) == 0
	d.OtherZone = e.Timezone != p.Site.Timezone
	sy, sm, sd := e.StartsAt.Date()
	ey, em, ed := e.EndsAt.Date()
	d.IsMultiDay = sy != ey || sm != em || sd != ed
	s.expireAt(c, changesAt(now, d.Next))
	if e.RSVP {
		if d.RSVPDates, err = s.rsvpDates(c, e, 6); err != nil {
			return err
		}
		// A date closes to RSVPs when it begins.
		for _, rd := range d.RSVPDates {
			s.expireAt(c, rd.Start)
		}
	}
	p.OGType = "article"
	if text := s.md.Summary(e.Description, 160); text != "" {
		p.Description = text
	} else {
		p.Description = e.Title + ", " + e.StartsAt.Format("January 2, 2006")
	}
	p.Data = d
	return c.Render(http.StatusOK, "site/event.html", p)
}

// mapURL is an OpenStreetMap search for a place, or "" for none.
func mapURL(place string) string {
	if place == "" {
		return ""
	}
	return "https://www.openstreetmap.org/search?query=" + strings.ReplaceAll(url.QueryEscape(place), "+", "%20")
}
