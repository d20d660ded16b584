package ical

import (
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // every zone, whatever the machine has installed
	"unicode/utf8"

	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// TestCalendarFeed parses a calendar strictly and checks every event in it
// against its input: one VEVENT each, and start times that resolve,
// through the feed's own VTIMEZONE, to the stored instants; for the
// recurring meeting, also its next two years of dates across DST changes.
func TestCalendarFeed(t *testing.T) {
	// A recurring meeting (as the demo chapter has), an event elsewhere, one in UTC and an all-day one, besides the demo's.
	start := time.Date(2027, 3, 28, 1, 30, 0, 0, time.UTC)
	extra := []tenantdb.Event{
		{Title: "Sister post visit; London, UK", StartsAt: start, EndsAt: start.Add(2 * time.Hour), Timezone: "Europe/London", Location: "Hall, 1 Main St\nLondon"},
		{Title: "Online call", StartsAt: start, EndsAt: start.Add(time.Hour), Timezone: "UTC"},
		{Title: "Fair", StartsAt: time.Date(2027, 7, 3, 5, 0, 0, 0, time.UTC), EndsAt: time.Date(2027, 7, 5, 5, 0, 0, 0, time.UTC), Timezone: "America/Chicago", AllDay: true},
	}
	chicago, err := time.LoadLocation("America/Chicago")
	if err != nil {
		t.Fatal(err)
	}
	meeting := time.Date(2026, 11, 10, 19, 0, 0, 0, chicago) // a second Tuesday
	created := time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)
	events := append([]tenantdb.Event{{Title: "Monthly membership meeting", StartsAt: meeting, EndsAt: meeting.Add(90 * time.Minute),
		Timezone: "America/Chicago", Location: "Post 42 main hall", RRule: "FREQ=MONTHLY;BYDAY=2TU"}}, extra...)
	for i := range events {
		events[i].ID = int64(i + 1)
		events[i].CreatedAt, events[i].UpdatedAt = created, created.Add(time.Duration(i)*time.Hour)
	}
	extra = events[1:]
	body := Write(Calendar{Name: "Riverside Post 42", Timezone: "America/Chicago", BaseURL: "http://demo.chapters.test", Events: events, Now: created})
	cal := parseICS(t, string(body))
	if cal.name != "VCALENDAR" || cal.prop("VERSION") != "2.0" || cal.prop("PRODID") == "" {
		t.Fatalf("not a VCALENDAR 2.0 with PRODID")
	}
	zones := map[string]*icsZone{}
	for _, c := range cal.children {
		if c.name == "VTIMEZONE" {
			zones[c.prop("TZID")] = zoneOf(t, c)
		}
	}
	vevents := map[string]*icsComponent{}
	for _, c := range cal.children {
		if c.name != "VEVENT" {
			continue
		}
		uid := c.prop("UID")
		if uid == "" || vevents[uid] != nil {
			t.Fatalf("VEVENT with empty or repeated UID %q", uid)
		}
		if _, err := time.Parse("20060102T150405Z", c.prop("DTSTAMP")); err != nil {
			t.Errorf("%s: DTSTAMP %q is not UTC", uid, c.prop("DTSTAMP"))
		}
		vevents[uid] = c
	}
	if len(vevents) != len(events) {
		t.Fatalf("%d VEVENTs for %d events", len(vevents), len(events))
	}
	for _, e := range events {
		c := vevents[UID(e)]
		if c == nil {
			t.Fatalf("no VEVENT for event %d", e.ID)
		}
		if got := unescapeICS(c.prop("SUMMARY")); got != e.Title {
			t.Errorf("event %d: SUMMARY %q, want %q", e.ID, got, e.Title)
		}
		if e.Location != "" && unescapeICS(c.prop("LOCATION")) != e.Location {
			t.Errorf("event %d: LOCATION %q, want %q", e.ID, c.prop("LOCATION"), e.Location)
		}
		if e.AllDay {
			p := c.param("DTSTART")
			if p["VALUE"] != "DATE" || c.prop("DTSTART") != "20270703" || c.prop("DTEND") != "20270705" {
				t.Errorf("all-day event: DTSTART %q %v DTEND %q, want 20270703..20270705 (exclusive)", c.prop("DTSTART"), p, c.prop("DTEND"))
			}
			continue
		}
		got := resolve(t, c, "DTSTART", zones)
		if !got.Equal(e.StartsAt) {
			t.Errorf("event %d %q: DTSTART resolves to %v, want %v", e.ID, e.Title, got, e.StartsAt)
		}
		if end := resolve(t, c, "DTEND", zones); !end.Equal(e.EndsAt) {
			t.Errorf("event %d: DTEND resolves to %v, want %v", e.ID, end, e.EndsAt)
		}
		if e.RRule == "" {
			if c.prop("RRULE") != "" {
				t.Errorf("one-off event %d has an RRULE", e.ID)
			}
			continue
		}
		// The recurring meeting: every date the site shows for the next
		// two years, written as wall-clock time in the event's zone,
		// resolves to the same instant through the feed's VTIMEZONE.
		if c.prop("RRULE") != "FREQ=MONTHLY;BYDAY=2TU" || c.param("DTSTART")["TZID"] != "America/Chicago" {
			t.Errorf("meeting: RRULE %q TZID %q", c.prop("RRULE"), c.param("DTSTART")["TZID"])
		}
		z := zones["America/Chicago"]
		occ := e.Occurrences(e.StartsAt, e.StartsAt.AddDate(2, 0, 0), 100)
		if len(occ) < 20 {
			t.Fatalf("only %d occurrences", len(occ))
		}
		for _, o := range occ {
			wall := o.Start.In(e.Zone())
			if got := z.instant(t, wall.Format("20060102T150405")); !got.Equal(o.Start) {
				t.Errorf("meeting on %s: the feed's zone gives %v, want %v", wall, got, o.Start)
			}
			if wall.Weekday() != time.Tuesday || (wall.Day()-1)/7 != 1 || wall.Hour() != 19 {
				t.Errorf("meeting on %s is not the second Tuesday at 19:00", wall)
			}
		}
	}
	if c := vevents[UID(extra[0])]; c.prop("SUMMARY") != `Sister post visit\; London\, UK` ||
		c.prop("LOCATION") != `Hall\, 1 Main St\nLondon` {
		t.Errorf("escaping: SUMMARY %q LOCATION %q", c.prop("SUMMARY"), c.prop("LOCATION"))
	}
	if c := vevents[UID(extra[1])]; c.prop("DTSTART") != "20270328T013000Z" {
		t.Errorf("UTC event: DTSTART %q, want 20270328T013000Z", c.prop("DTSTART"))
	}
}

// TestVTimezoneMatchesGo checks, for zones with every kind of rule (north
// and south, half-hour offsets and DST, DST abolished, irregular yearly
// dates), that the VTIMEZONE gives Go's offset at every 6 hours and either
// side of every transition from 2000 to thirty years from now.
func TestVTimezoneMatchesGo(t *testing.T) {
	now := time.Now()
	zones := []string{"America/Chicago", "America/New_York", "Europe/London", "Europe/Dublin", "Europe/Berlin",
		"Australia/Sydney", "Australia/Lord_Howe", "Pacific/Chatham", "America/St_Johns", "America/Sao_Paulo",
		"Asia/Tehran", "America/Mexico_City", "Europe/Moscow", "Africa/Casablanca", "Asia/Tokyo", "Asia/Kolkata", "America/Santiago", "Pacific/Auckland"}
	for _, name := range zones {
		t.Run(name, func(t *testing.T) {
			loc, err := time.LoadLocation(name)
			if err != nil {
				t.Fatalf("no tz data for %s: %v", name, err)
			}
			first := time.Date(2000, 1, 1, 12, 0, 0, 0, loc)
			var w icalWriter
			writeVTimezone(&w, loc, first, now)
			cal := parseICS(t, "BEGIN:VCALENDAR\r\n"+w.b.String()+"END:VCALENDAR\r\n")
			z := zoneOf(t, cal.children[0])
			end := now.AddDate(vtimezoneYears, 0, 0)
			check := func(at time.Time) {
				_, want := at.In(loc).Zone()
				if got := z.offsetAt(at); got != want {
					t.Fatalf("%s at %v: VTIMEZONE offset %d, Go %d\n%s", name, at.UTC(), got, want, w.b.String())
				}
			}
			for at := first; at.Before(end); at = at.Add(6 * time.Hour) {
				check(at)
			}
			for _, tr := range zoneTransitions(loc, first, end) {
				check(tr.at.Add(-time.Second))
				check(tr.at)
			}
		})
	}
}

func TestICalLinesFoldAndEscape(t *testing.T) {
	var w icalWriter
	long := strings.Repeat("Ünïcödé, ; \\ text ", 20) + "\nnew line"
	w.line("SUMMARY", icsText(long))
	out := w.b.String()
	for _, l := range strings.Split(strings.TrimSuffix(out, "\r\n"), "\r\n") {
		if len(l) > 75 {
			t.Errorf("line of %d octets: %q", len(l), l)
		}
		if !utf8.ValidString(l) {
			t.Errorf("fold split a character: %q", l)
		}
	}
	cal := parseICS(t, "BEGIN:VCALENDAR\r\n"+out+"END:VCALENDAR\r\n")
	if got := unescapeICS(cal.prop("SUMMARY")); got != long {
		t.Errorf("round trip: got %q, want %q", got, long)
	}
}

// icsComponent is a parsed BEGIN/END block.
type icsComponent struct {
	name     string
	props    []icsProp
	children []*icsComponent
}

type icsProp struct {
	name   string
	params map[string]string
	value  string
}

func (c *icsComponent) prop(name string) string {
	for _, p := range c.props {
		if p.name == name {
			return p.value
		}
	}
	return ""
}

func (c *icsComponent) param(name string) map[string]string {
	for _, p := range c.props {
		if p.name == name {
			return p.params
		}
	}
	return nil
}

// parseICS is a strict RFC 5545 reader: CRLF only, no line over 75 octets,
// folded lines joined, every content line NAME[;PARAM=V]:VALUE, and BEGIN
// and END properly nested, with one VCALENDAR at the top.
func parseICS(t *testing.T, s string) *icsComponent {
	t.Helper()
	if !strings.HasSuffix(s, "\r\n") {
		t.Fatalf("does not end in CRLF")
	}
	raw := strings.Split(strings.TrimSuffix(s, "\r\n"), "\r\n")
	var lines []string
	for i, l := range raw {
		if strings.ContainsAny(l, "\r\n") {
			t.Fatalf("line %d has a bare CR or LF: %q", i+1, l)
		}
		if len(l) > 75 {
			t.Fatalf("line %d is %d octets: %q", i+1, len(l), l)
		}
		if strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t") {
			if len(lines) == 0 {
				t.Fatalf("line %d continues nothing", i+1)
			}
			lines[len(lines)-1] += l[1:]
			continue
		}
		lines = append(lines, l)
	}
	var stack []*icsComponent
	var root *icsComponent
	for _, l := range lines {
		head, value, ok := strings.Cut(l, ":")
		if !ok {
			t.Fatalf("no ':' in %q", l)
		}
		parts := strings.Split(head, ";")
		p := icsProp{name: parts[0], params: map[string]string{}, value: value}
		for _, kv := range parts[1:] {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				t.Fatalf("bad parameter %q in %q", kv, l)
			}
			p.params[k] = v
		}
		if p.name == "" || strings.Trim(p.name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != "" {
			t.Fatalf("bad property name in %q", l)
		}
		switch p.name {
		case "BEGIN":
			c := &icsComponent{name: value}
			if len(stack) > 0 {
				top := stack[len(stack)-1]
				top.children = append(top.children, c)
			} else if root != nil {
				t.Fatalf("two top-level components")
			} else {
				root = c
			}
			stack = append(stack, c)
		case "END":
			if len(stack) == 0 || stack[len(stack)-1].name != value {
				t.Fatalf("END:%s does not close the open component", value)
			}
			stack = stack[:len(stack)-1]
		default:
			if len(stack) == 0 {
				t.Fatalf("property outside a component: %q", l)
			}
			top := stack[len(stack)-1]
			top.props = append(top.props, p)
		}
	}
	if len(stack) != 0 || root == nil || root.name != "VCALENDAR" {
		t.Fatalf("unclosed components or no VCALENDAR")
	}
	return root
}

func unescapeICS(s string) string {
	r := strings.NewReplacer(`\n`, "\n", `\N`, "\n", `\,`, ",", `\;`, ";", `\\`, `\`)
	return r.Replace(s)
}

// icsZone is a VTIMEZONE as a sorted list of onsets, each with the offset
// it starts.
type icsZone struct {
	onsets []icsOnset
}

type icsOnset struct {
	at time.Time
	to int
}

// zoneOf expands a VTIMEZONE's observances (DTSTART, RDATE and the yearly
// BYMONTH/BYDAY rules the feed uses) into onsets up to 2100.
func zoneOf(t *testing.T, c *icsComponent) *icsZone {
	t.Helper()
	z := &icsZone{}
	for _, o := range c.children {
		if o.name != "STANDARD" && o.name != "DAYLIGHT" {
			t.Fatalf("VTIMEZONE child %s", o.name)
		}
		from, to := parseOffset(t, o.prop("TZOFFSETFROM")), parseOffset(t, o.prop("TZOFFSETTO"))
		onset := func(local time.Time) {
			z.onsets = append(z.onsets, icsOnset{at: local.Add(-time.Duration(from) * time.Second), to: to})
		}
		start, err := time.Parse("20060102T150405", o.prop("DTSTART"))
		if err != nil {
			t.Fatalf("observance DTSTART %q", o.prop("DTSTART"))
		}
		onset(start)
		if rd := o.prop("RDATE"); rd != "" {
			for _, d := range strings.Split(rd, ",") {
				l, err := time.Parse("20060102T150405", d)
				if err != nil {
					t.Fatalf("RDATE %q", d)
				}
				onset(l)
			}
		}
		if rule := o.prop("RRULE"); rule != "" {
			var month, nth int
			var wd time.Weekday = -1
			for _, part := range strings.Split(rule, ";") {
				k, v, _ := strings.Cut(part, "=")
				switch k {
				case "FREQ":
					if v != "YEARLY" {
						t.Fatalf("rule %q", rule)
					}
				case "BYMONTH":
					month, _ = strconv.Atoi(v)
				case "BYDAY":
					nth, _ = strconv.Atoi(v[:len(v)-2])
					for i, d := range icsWeekdays {
						if d == v[len(v)-2:] {
							wd = time.Weekday(i)
						}
					}
				default:
					t.Fatalf("rule part %q", part)
				}
			}
			if month == 0 || nth == 0 || wd < 0 {
				t.Fatalf("rule %q", rule)
			}
			h, m, s := start.Clock()
			for y := start.Year() + 1; y <= 2100; y++ {
				var d time.Time
				if nth > 0 {
					first := time.Date(y, time.Month(month), 1, h, m, s, 0, time.UTC)
					d = first.AddDate(0, 0, (int(wd)-int(first.Weekday())+7)%7+7*(nth-1))
				} else {
					last := time.Date(y, time.Month(month)+1, 0, h, m, s, 0, time.UTC)
					d = last.AddDate(0, 0, -((int(last.Weekday()) - int(wd) + 7) % 7))
				}
				onset(d)
			}
		}
	}
	sort.Slice(z.onsets, func(i, j int) bool { return z.onsets[i].at.Before(z.onsets[j].at) })
	return z
}

func (z *icsZone) offsetAt(at time.Time) int {
	off, found := 0, false
	for _, o := range z.onsets {
		if o.at.After(at) {
			break
		}
		off, found = o.to, true
	}
	if !found {
		return -1 << 30
	}
	return off
}

// instant resolves a local date-time in the zone to UTC, the RFC 5545 way
// for the times an event uses (no gap or overlap).
func (z *icsZone) instant(t *testing.T, local string) time.Time {
	t.Helper()
	l, err := time.Parse("20060102T150405", local)
	if err != nil {
		t.Fatalf("local time %q", local)
	}
	guess := l.Add(-time.Duration(z.offsetAt(l)) * time.Second)
	return l.Add(-time.Duration(z.offsetAt(guess)) * time.Second)
}

func resolve(t *testing.T, c *icsComponent, prop string, zones map[string]*icsZone) time.Time {
	t.Helper()
	v := c.prop(prop)
	if tzid := c.param(prop)["TZID"]; tzid != "" {
		z := zones[tzid]
		if z == nil {
			t.Fatalf("%s uses TZID %s with no VTIMEZONE", prop, tzid)
		}
		return z.instant(t, v)
	}
	at, err := time.Parse("20060102T150405Z", v)
	if err != nil {
		t.Fatalf("%s %q is neither TZID nor UTC", prop, v)
	}
	return at
}

func parseOffset(t *testing.T, s string) int {
	t.Helper()
	if len(s) != 5 && len(s) != 7 || s[0] != '+' && s[0] != '-' {
		t.Fatalf("offset %q", s)
	}
	h, _ := strconv.Atoi(s[1:3])
	m, _ := strconv.Atoi(s[3:5])
	sec := 0
	if len(s) == 7 {
		sec, _ = strconv.Atoi(s[5:7])
	}
	v := h*3600 + m*60 + sec
	if s[0] == '-' {
		v = -v
	}
	return v
}
