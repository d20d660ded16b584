// Package ical writes a chapter's events as an iCalendar (RFC 5545) feed,
// with a VTIMEZONE generated from Go's tz data for every zone in use.
package ical

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// The calendar feed is written by hand: RFC 5545's line format (CRLF, 75
// octet folding, text escaping) is a few lines, and the part that needs
// care, a VTIMEZONE for every zone in use, built from Go's own tz data so
// that it agrees with the site across daylight saving changes, is not
// something the Go iCalendar libraries (emersion/go-ical, arran4/golang-ical)
// do: they only serialise components they are given.

type Calendar struct {
	Name, Timezone string
	BaseURL        string
	Events         []tenantdb.Event
	Now            time.Time
}

// Write renders a VCALENDAR. Its output depends only on the
// input's content (DTSTAMP is each event's last change), so a feed reader
// sees the same bytes until something changes.
func Write(in Calendar) []byte {
	var w icalWriter
	w.line("BEGIN", "VCALENDAR")
	w.line("VERSION", "2.0")
	w.line("PRODID", "-//Chapterhouse//Chapter site//EN")
	w.line("CALSCALE", "GREGORIAN")
	w.line("METHOD", "PUBLISH")
	w.line("X-WR-CALNAME", icsText(in.Name))
	if in.Timezone != "" {
		w.line("X-WR-TIMEZONE", in.Timezone)
	}
	// The zones in use, and the span their VTIMEZONE must describe.
	first := map[string]time.Time{}
	last := map[string]time.Time{}
	for _, e := range in.Events {
		if e.AllDay || isUTC(e.Timezone) {
			continue
		}
		end := e.EndsAt
		if e.RRule != "" {
			end = in.Now // and onward: the zone's rule covers the future
		}
		if f, ok := first[e.Timezone]; !ok || e.StartsAt.Before(f) {
			first[e.Timezone] = e.StartsAt
		}
		if l, ok := last[e.Timezone]; !ok || end.After(l) {
			last[e.Timezone] = end
		}
	}
	zones := make([]string, 0, len(first))
	for z := range first {
		zones = append(zones, z)
	}
	sort.Strings(zones)
	for _, z := range zones {
		loc, err := tenantdb.LoadZone(z)
		if err != nil {
			continue
		}
		writeVTimezone(&w, loc, first[z], last[z])
	}
	for _, e := range in.Events {
		writeVEvent(&w, e, in)
	}
	w.line("END", "VCALENDAR")
	return w.b.Bytes()
}

func isUTC(zone string) bool { return zone == "UTC" || zone == "Etc/UTC" || zone == "" }

const (
	icsUTC   = "20060102T150405Z"
	icsLocal = "20060102T150405"
	icsDate  = "20060102"
)

func writeVEvent(w *icalWriter, e tenantdb.Event, in Calendar) {
	w.line("BEGIN", "VEVENT")
	w.line("UID", UID(e))
	w.line("DTSTAMP", e.UpdatedAt.UTC().Format(icsUTC))
	w.line("CREATED", e.CreatedAt.UTC().Format(icsUTC))
	w.line("LAST-MODIFIED", e.UpdatedAt.UTC().Format(icsUTC))
	loc := e.Zone()
	start, end := e.StartsAt.In(loc), e.EndsAt.In(loc)
	switch {
	case e.AllDay:
		// DTEND of a date is exclusive: the day after the last day.
		last := end
		if !end.After(start) || end.Hour() == 0 && end.Minute() == 0 && end.Second() == 0 && end.After(start) && !sameDate(start, end) {
			last = end.AddDate(0, 0, -1)
		}
		if last.Before(start) {
			last = start
		}
		w.line("DTSTART;VALUE=DATE", start.Format(icsDate))
		w.line("DTEND;VALUE=DATE", time.Date(last.Year(), last.Month(), last.Day()+1, 0, 0, 0, 0, time.UTC).Format(icsDate))
	case isUTC(e.Timezone):
		w.line("DTSTART", start.UTC().Format(icsUTC))
		w.line("DTEND", end.UTC().Format(icsUTC))
	default:
		w.line("DTSTART;TZID="+e.Timezone, start.Format(icsLocal))
		w.line("DTEND;TZID="+e.Timezone, end.Format(icsLocal))
	}
	if rule := icsRRule(e); rule != "" {
		w.line("RRULE", rule)
	}
	w.line("SUMMARY", icsText(e.Title))
	if e.Location != "" {
		w.line("LOCATION", icsText(e.Location))
	}
	if e.Description != "" {
		w.line("DESCRIPTION", icsText(e.Description))
	}
	if e.Category != "" {
		w.line("CATEGORIES", icsText(strings.ToUpper(e.Category)))
	}
	w.line("URL;VALUE=URI", fmt.Sprintf("%s/events/%d", in.BaseURL, e.ID))
	w.line("STATUS", "CONFIRMED")
	w.line("TRANSP", "OPAQUE")
	w.line("END", "VEVENT")
}

// UID names an event for calendar apps for good: it is made of what
// the tenant's file keeps (the event's id and creation time), so it
// survives an export, import or move of the chapter to another host or
// tenant id, and still differs between chapters.
func UID(e tenantdb.Event) string {
	return fmt.Sprintf("event-%d-%d@chapterhouse", e.ID, e.CreatedAt.UnixMilli())
}

func sameDate(a, b time.Time) bool {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	return ay == by && am == bm && ad == bd
}

var icsWeekdays = [...]string{"SU", "MO", "TU", "WE", "TH", "FR", "SA"}

// icsRRule writes e's rule as RFC 5545 says it, meaning what
// Event.Occurrences computes: a weekly rule repeats DTSTART's weekday, and
// a date-only UNTIL includes that whole day in the event's zone (an
// RRULE's UNTIL must be UTC when DTSTART has a TZID).
func icsRRule(e tenantdb.Event) string {
	if e.RRule == "" {
		return ""
	}
	r, err := tenantdb.ParseRRule(e.RRule)
	if err != nil {
		return ""
	}
	parts := []string{"FREQ=" + r.Freq}
	if r.Interval > 1 {
		parts = append(parts, fmt.Sprintf("INTERVAL=%d", r.Interval))
	}
	if r.Freq == "MONTHLY" && r.ByDay {
		parts = append(parts, fmt.Sprintf("BYDAY=%d%s", r.Nth, icsWeekdays[r.Weekday]))
	}
	switch {
	case r.Count > 0:
		parts = append(parts, fmt.Sprintf("COUNT=%d", r.Count))
	case !r.Until.IsZero():
		until := r.Until
		if h, m, s := until.Clock(); h == 0 && m == 0 && s == 0 {
			y, mo, d := until.Date()
			until = time.Date(y, mo, d, 23, 59, 59, 0, e.Zone())
		}
		if e.AllDay {
			parts = append(parts, "UNTIL="+until.In(e.Zone()).Format(icsDate))
		} else {
			parts = append(parts, "UNTIL="+until.UTC().Format(icsUTC))
		}
	}
	return strings.Join(parts, ";")
}

// tzTransition is one change of a zone's offset or abbreviation.
type tzTransition struct {
	at       time.Time // the instant, UTC
	from, to int       // UTC offsets in seconds, before and after
	name     string    // abbreviation after
	dst      bool      // daylight saving time after
}

// zoneTransitions returns loc's transitions in (from, to].
func zoneTransitions(loc *time.Location, from, to time.Time) []tzTransition {
	var out []tzTransition
	t := from
	for i := 0; i < 10000; i++ {
		_, end := t.In(loc).ZoneBounds()
		if !end.IsZero() && !end.After(t) {
			// Go's bounds can stop at a year's end in the rule-based
			// years (a leap year's last day): step past it.
			t = t.Add(time.Hour)
			continue
		}
		if end.IsZero() || end.After(to) {
			break
		}
		prevName, before := end.Add(-time.Second).In(loc).Zone()
		prevDST := end.Add(-time.Second).In(loc).IsDST()
		after := end.In(loc)
		name, off := after.Zone()
		// Go also ends a zone period where its table gives way to the
		// rule for later years: no change at all, so not a transition.
		if before != off || prevName != name || prevDST != after.IsDST() {
			out = append(out, tzTransition{at: end.UTC(), from: before, to: off, name: name, dst: after.IsDST()})
		}
		t = end
	}
	return out
}

// vtimezoneYears is how far past the last date a calendar needs that a
// zone's rule is checked against Go's tz data (and listed, if the zone
// follows no yearly rule).
const vtimezoneYears = 30

// writeVTimezone describes loc from before first through at least last and
// on into the future: the offset in force at first, each transition
// after it, and where the zone follows a yearly rule ("second Sunday of
// March at 2:00"), that rule as an RRULE instead of its instances. The rule
// is only used where it matches every transition Go's tz data has through
// vtimezoneYears after last.
func writeVTimezone(w *icalWriter, loc *time.Location, first, last time.Time) {
	from := first.AddDate(-1, 0, 0)
	horizon := last.AddDate(vtimezoneYears, 0, 0)
	ts := zoneTransitions(loc, from, horizon)
	start := regularTail(ts)
	if start >= 0 && ts[len(ts)-1].at.Before(horizon.AddDate(-2, 0, 0)) {
		start = -1 // the zone stopped changing: its last rule is history
	}
	w.line("BEGIN", "VTIMEZONE")
	w.line("TZID", loc.String())
	// The offset in force at from, as an observance with no change.
	name, off := from.In(loc).Zone()
	initial := tzTransition{at: from.UTC(), from: off, to: off, name: name, dst: from.In(loc).IsDST()}
	writeObservance(w, initial, nil, "")
	// Explicit transitions, merged per kind into one observance with RDATEs.
	type kind struct {
		from, to int
		name     string
		dst      bool
	}
	var order []kind
	groups := map[kind][]tzTransition{}
	explicitEnd := len(ts)
	if start >= 0 {
		explicitEnd = start
	}
	for _, t := range ts[:explicitEnd] {
		k := kind{t.from, t.to, t.name, t.dst}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], t)
	}
	for _, k := range order {
		g := groups[k]
		writeObservance(w, g[0], g[1:], "")
	}
	if start >= 0 {
		for _, t := range ts[start : start+2] {
			writeObservance(w, t, nil, yearlyRule(ts[start:], t))
		}
	}
	w.line("END", "VTIMEZONE")
}

// writeObservance writes a STANDARD or DAYLIGHT component starting at t,
// with more onsets (RDATE) or a rule.
func writeObservance(w *icalWriter, t tzTransition, more []tzTransition, rrule string) {
	kind := "STANDARD"
	if t.dst {
		kind = "DAYLIGHT"
	}
	local := func(t tzTransition) string {
		// Onsets are written in the local time before the change.
		return t.at.Add(time.Duration(t.from) * time.Second).Format(icsLocal)
	}
	w.line("BEGIN", kind)
	w.line("DTSTART", local(t))
	w.line("TZOFFSETFROM", icsOffset(t.from))
	w.line("TZOFFSETTO", icsOffset(t.to))
	if t.name != "" && !strings.HasPrefix(t.name, "+") && !strings.HasPrefix(t.name, "-") {
		w.line("TZNAME", icsText(t.name))
	}
	if rrule != "" {
		w.line("RRULE", rrule)
	}
	if len(more) > 0 {
		dates := make([]string, len(more))
		for i, m := range more {
			dates[i] = local(m)
		}
		w.line("RDATE", strings.Join(dates, ","))
	}
	w.line("END", kind)
}

func icsOffset(sec int) string {
	sign := "+"
	if sec < 0 {
		sign, sec = "-", -sec
	}
	s := fmt.Sprintf("%s%02d%02d", sign, sec/3600, sec/60%60)
	if sec%60 != 0 {
		s += fmt.Sprintf("%02d", sec%60)
	}
	return s
}

// onsetPattern is what a yearly BYMONTH/BYDAY rule fixes of a transition.
type onsetPattern struct {
	month   time.Month
	weekday time.Weekday
	nth     int  // 1-5: the nth weekday of the month
	last    bool // the last such weekday of the month
	clock   time.Duration
}

func patternOf(t tzTransition) onsetPattern {
	l := t.at.Add(time.Duration(t.from) * time.Second) // wall clock before the change, as UTC fields
	daysIn := time.Date(l.Year(), l.Month()+1, 0, 0, 0, 0, 0, time.UTC).Day()
	return onsetPattern{
		month:   l.Month(),
		weekday: l.Weekday(),
		nth:     (l.Day()-1)/7 + 1,
		last:    l.Day()+7 > daysIn,
		clock:   time.Duration(l.Hour())*time.Hour + time.Duration(l.Minute())*time.Minute + time.Duration(l.Second())*time.Second,
	}
}

// regularTail returns the index from which ts alternates between two kinds
// of transition, one of each a year, each kind at the same nth (or last)
// weekday of the same month at the same time, to the end of ts; or -1.
func regularTail(ts []tzTransition) int {
	n := len(ts)
	if n < 6 {
		return -1
	}
	// byNth/byLast: whether the rule "nth weekday" / "last weekday" holds
	// for the kind at parity p from index i on.
	byNth := [2]bool{true, true}
	byLast := [2]bool{true, true}
	start := -1
	for i := n - 3; i >= 0; i-- {
		a, b := ts[i], ts[i+2]
		pa, pb := patternOf(a), patternOf(b)
		p := i % 2
		ok := a.from == b.from && a.to == b.to && a.name == b.name && a.dst == b.dst &&
			pa.month == pb.month && pa.weekday == pb.weekday && pa.clock == pb.clock &&
			b.at.Year() == a.at.Year()+1 && a.from != a.to
		nth := byNth[p] && pa.nth == pb.nth && pa.nth <= 4
		last := byLast[p] && pa.last && pb.last
		if !ok || !nth && !last {
			break
		}
		byNth[p], byLast[p] = nth, last
		start = i
	}
	if start < 0 || n-start < 6 {
		return -1
	}
	return start
}

// yearlyRule is the RRULE of transition t's kind in the regular tail.
func yearlyRule(tail []tzTransition, t tzTransition) string {
	p := patternOf(t)
	nthOK := true
	for _, u := range tail {
		if u.from == t.from && u.to == t.to && patternOf(u).nth != p.nth {
			nthOK = false
		}
	}
	day := fmt.Sprintf("%d%s", p.nth, icsWeekdays[p.weekday])
	if !nthOK || p.nth > 4 {
		day = "-1" + icsWeekdays[p.weekday]
	}
	return fmt.Sprintf("FREQ=YEARLY;BYMONTH=%d;BYDAY=%s", int(p.month), day)
}

// icalWriter writes content lines: CRLF ends each, and a line longer than
// 75 octets is folded (CRLF and a space) without splitting a UTF-8
// character.
type icalWriter struct{ b bytes.Buffer }

func (w *icalWriter) line(name, value string) {
	s := name + ":" + value
	limit := 75
	for len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		w.b.WriteString(s[:cut])
		w.b.WriteString("\r\n ")
		s = s[cut:]
		limit = 74 // the leading space counts
	}
	w.b.WriteString(s)
	w.b.WriteString("\r\n")
}

// icsText escapes a TEXT value: backslash, semicolon, comma and newlines.
// Other control characters are not allowed in iCalendar and are dropped.
func icsText(s string) string {
	var b strings.Builder
	s = strings.ReplaceAll(s, "\r\n", "\n")
	for _, r := range s {
		switch {
		case r == '\\', r == ';', r == ',':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n', r == '\r':
			b.WriteString(`\n`)
		case r < 0x20 && r != '\t', r == 0x7f:
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
