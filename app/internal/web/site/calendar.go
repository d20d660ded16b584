package site

import (
	"net/http"
	"sort"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/chapterhouse/chapterhouse/app/internal/web/httpx"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// The month grid of the calendar, /events/calendar?month=YYYY-MM: a table
// of weeks (Sunday first) with every event of each day, recurring ones
// expanded, rendered on the server. Months from two years back to two
// years ahead have a page; others are 404, so that following "next month"
// ends and crawlers do not walk the calendar forever.

// calendarReach is how many months before and after this one have a grid.
const calendarReach = 24

type calendarDay struct {
	Date    time.Time
	ISO     string // YYYY-MM-DD
	InMonth bool
	Today   bool
	Events  []occurrence
}

type calendarData struct {
	Month      time.Time // its first day, in the site's zone
	Weeks      [][]calendarDay
	Prev, Next string // ?month= of the months around, "" at the ends
	Count      int    // events in the month
}

// monthParam is the ?month= of a month.
func monthParam(t time.Time) string { return t.Format("2006-01") }

func (s *Handler) showMonth(c echo.Context) error {
	p, err := s.newPage(c, "/events", "")
	if err != nil {
		return err
	}
	loc := zone(p.Site.Timezone)
	now := s.now().In(loc)
	this := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, loc)
	month := this
	if q := c.QueryParam("month"); q != "" || c.QueryParams().Has("month") {
		m, err := time.ParseInLocation("2006-01", q, loc)
		if err != nil || monthParam(m) != q {
			return echo.ErrNotFound
		}
		month = m
	}
	first, last := this.AddDate(0, -calendarReach, 0), this.AddDate(0, calendarReach, 0)
	if month.Before(first) || month.After(last) {
		return echo.ErrNotFound
	}
	events, err := httpx.DB(c).Events(c.Request().Context())
	if err != nil {
		return err
	}
	member, err := s.isMember(c)
	if err != nil {
		return err
	}
	events = visibleEvents(events, member)
	end := month.AddDate(0, 1, 0)
	// The grid's first Sunday and the Saturday after the month.
	gridStart := month.AddDate(0, 0, -int(month.Weekday()))
	byDay := map[string][]occurrence{}
	d := calendarData{Month: month}
	for _, e := range events {
		for _, o := range e.Occurrences(month, end, 62) {
			start := o.Start.In(loc)
			if start.Before(month) {
				continue // began the month before: shown there
			}
			key := start.Format(tenantdb.DateLayout)
			byDay[key] = append(byDay[key], newOccurrence(e, o.Start, o.End, now))
			d.Count++
		}
	}
	today := now.Format(tenantdb.DateLayout)
	for day := gridStart; day.Before(end) || day.Weekday() != time.Sunday; day = day.AddDate(0, 0, 1) {
		if day.Weekday() == time.Sunday {
			d.Weeks = append(d.Weeks, nil)
		}
		key := day.Format(tenantdb.DateLayout)
		evs := byDay[key]
		sort.SliceStable(evs, func(i, j int) bool { return evs[i].Start.Before(evs[j].Start) })
		w := len(d.Weeks) - 1
		d.Weeks[w] = append(d.Weeks[w], calendarDay{Date: day, ISO: key, InMonth: day.Month() == month.Month(),
			Today: key == today, Events: evs})
	}
	if prev := month.AddDate(0, -1, 0); !prev.Before(first) {
		d.Prev = monthParam(prev)
	}
	if next := month.AddDate(0, 1, 0); !next.After(last) {
		d.Next = monthParam(next)
	}
	// The page changes by itself when the day changes (today's mark).
	tomorrow := time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, loc)
	s.expireAt(c, tomorrow)
	p.Title = "Calendar: " + month.Format("January 2006")
	p.Description = "Events of " + p.Site.Name + " in " + month.Format("January 2006") + "."
	p.Data = d
	return c.Render(http.StatusOK, "site/calendar.html", p)
}

// zone loads a time zone, UTC when it cannot.
func zone(name string) *time.Location {
	loc, err := tenantdb.LoadZone(name)
	if err != nil {
		return time.UTC
	}
	return loc
}
