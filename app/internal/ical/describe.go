package ical

import (
	"fmt"

	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// Describe says in words how e repeats ("The second Tuesday of every
// month, 7:00 PM"), in the event's own zone, or "" for a one-off event:
// what the site and the dashboard show instead of the RRULE.
func Describe(e tenantdb.Event) string {
	if e.RRule == "" {
		return ""
	}
	r, err := tenantdb.ParseRRule(e.RRule)
	if err != nil {
		return ""
	}
	start := e.StartsAt
	var s string
	switch r.Freq {
	case "WEEKLY":
		s = "Every " + start.Weekday().String()
		if r.Interval == 2 {
			s = "Every other " + start.Weekday().String()
		} else if r.Interval > 2 {
			s = fmt.Sprintf("Every %d weeks on %s", r.Interval, start.Weekday())
		}
	case "MONTHLY":
		every := "every month"
		if r.Interval == 2 {
			every = "every other month"
		} else if r.Interval > 2 {
			every = fmt.Sprintf("every %d months", r.Interval)
		}
		if r.ByDay {
			s = fmt.Sprintf("The %s %s of %s", tenantdb.Ordinal(r.Nth), r.Weekday, every)
		} else {
			s = fmt.Sprintf("On day %d of %s", start.Day(), every)
		}
	case "YEARLY":
		s = "Every year on " + start.Format("January 2")
		if r.Interval > 1 {
			s = fmt.Sprintf("Every %d years on %s", r.Interval, start.Format("January 2"))
		}
	}
	if !e.AllDay {
		s += ", " + start.Format("3:04 PM")
	}
	switch {
	case r.Count > 0:
		s += fmt.Sprintf(", %d times", r.Count)
	case !r.Until.IsZero():
		s += ", until " + r.Until.Format("January 2, 2006")
	}
	return s
}
