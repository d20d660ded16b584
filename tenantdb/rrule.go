package tenantdb

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Recurrence is the subset of RFC 5545 RRULE that chapters use: "every
// second Tuesday", "every month on the 15th", "every week", "every year",
// with an optional interval and an end (COUNT or UNTIL).
type Recurrence struct {
	Freq     string // WEEKLY, MONTHLY or YEARLY
	Interval int
	Nth      int          // for MONTHLY with BYDAY: 1..5, or -1 for the last
	Weekday  time.Weekday // with Nth
	ByDay    bool
	Count    int
	Until    time.Time
}

var weekdays = map[string]time.Weekday{"SU": time.Sunday, "MO": time.Monday, "TU": time.Tuesday,
	"WE": time.Wednesday, "TH": time.Thursday, "FR": time.Friday, "SA": time.Saturday}

// ParseRRule parses a rule such as FREQ=MONTHLY;BYDAY=2TU.
func ParseRRule(s string) (Recurrence, error) {
	r := Recurrence{Interval: 1}
	if len(s) > 200 {
		return r, errors.New("rule is too long")
	}
	seen := map[string]bool{}
	for _, part := range strings.Split(strings.ToUpper(strings.TrimPrefix(s, "RRULE:")), ";") {
		k, v, ok := strings.Cut(part, "=")
		if !ok || seen[k] {
			return r, fmt.Errorf("%q is not KEY=VALUE or repeats a key", part)
		}
		seen[k] = true
		switch k {
		case "FREQ":
			if v != "WEEKLY" && v != "MONTHLY" && v != "YEARLY" {
				return r, fmt.Errorf("FREQ %q: only WEEKLY, MONTHLY and YEARLY are supported", v)
			}
			r.Freq = v
		case "INTERVAL":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 52 {
				return r, fmt.Errorf("INTERVAL %q must be 1-52", v)
			}
			r.Interval = n
		case "COUNT":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 1000 {
				return r, fmt.Errorf("COUNT %q must be 1-1000", v)
			}
			r.Count = n
		case "UNTIL":
			t, err := time.Parse("20060102T150405Z", v)
			if err != nil {
				t, err = time.Parse("20060102", v)
			}
			if err != nil {
				return r, fmt.Errorf("UNTIL %q must be YYYYMMDD or YYYYMMDDTHHMMSSZ", v)
			}
			r.Until = t
		case "BYDAY":
			if len(v) < 2 {
				return r, fmt.Errorf("BYDAY %q must be like 2TU or -1FR", v)
			}
			wd, ok := weekdays[v[len(v)-2:]]
			if !ok {
				return r, fmt.Errorf("BYDAY %q: unknown weekday", v)
			}
			r.Weekday, r.ByDay = wd, true
			if num := strings.TrimPrefix(v[:len(v)-2], "+"); num != "" {
				n, err := strconv.Atoi(num)
				if err != nil || n == 0 || n < -1 || n > 5 {
					return r, fmt.Errorf("BYDAY %q: the week must be 1-5 or -1", v)
				}
				r.Nth = n
			}
		default:
			return r, fmt.Errorf("%s is not supported", k)
		}
	}
	if r.Freq == "" {
		return r, errors.New("FREQ is required")
	}
	if r.Count > 0 && !r.Until.IsZero() {
		return r, errors.New("COUNT and UNTIL cannot both be given")
	}
	if r.ByDay && r.Freq == "MONTHLY" && r.Nth == 0 {
		return r, errors.New("a monthly BYDAY needs a week number, like 2TU")
	}
	if r.ByDay && r.Freq != "MONTHLY" && r.Nth != 0 {
		return r, errors.New("a week number in BYDAY needs FREQ=MONTHLY")
	}
	if r.ByDay && r.Freq == "YEARLY" {
		return r, errors.New("BYDAY with FREQ=YEARLY is not supported")
	}
	return r, nil
}

// Occurrence is one instance of an event.
type Occurrence struct {
	Start, End time.Time
}

// Occurrences returns the instances of e that end after from and start
// before to, at most limit of them. A one-off event has one instance.
func (e *Event) Occurrences(from, to time.Time, limit int) []Occurrence {
	dur := e.EndsAt.Sub(e.StartsAt)
	var out []Occurrence
	add := func(start time.Time) {
		if start.Add(dur).After(from) && start.Before(to) && len(out) < limit {
			out = append(out, Occurrence{start, start.Add(dur)})
		}
	}
	r, err := ParseRRule(e.RRule)
	if e.RRule == "" || err != nil {
		add(e.StartsAt)
		return out
	}
	start := e.StartsAt.In(e.Zone())
	n := 0
	for k := 0; k < 5000 && len(out) < limit; k++ {
		t, ok := r.nth(start, k)
		if !ok {
			continue
		}
		if k > 0 && !t.After(start) {
			continue
		}
		if !r.Until.IsZero() && t.After(r.Until) && !sameDay(t, r.Until) {
			break
		}
		if !t.Before(to) {
			break
		}
		n++
		if r.Count > 0 && n > r.Count {
			break
		}
		add(t)
	}
	return out
}

func sameDay(a, b time.Time) bool {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	return ay == by && am == bm && ad == bd && b.Hour() == 0 && b.Minute() == 0 && b.Second() == 0
}

// nth returns the candidate of period k after start (k = 0 is the period
// of start), at start's wall-clock time; ok is false if that period has no
// such day (the 31st of April, the fifth Tuesday of February).
func (r Recurrence) nth(start time.Time, k int) (time.Time, bool) {
	y, m, d := start.Date()
	hh, mm, ss := start.Clock()
	loc := start.Location()
	switch r.Freq {
	case "WEEKLY":
		if k == 0 {
			return start, true
		}
		return time.Date(y, m, d+7*r.Interval*k, hh, mm, ss, 0, loc), true
	case "YEARLY":
		t := time.Date(y+r.Interval*k, m, d, hh, mm, ss, 0, loc)
		return t, t.Day() == d
	}
	month := time.Date(y, m+time.Month(r.Interval*k), 1, hh, mm, ss, 0, loc)
	if !r.ByDay {
		t := time.Date(month.Year(), month.Month(), d, hh, mm, ss, 0, loc)
		return t, t.Day() == d
	}
	if k == 0 {
		// DTSTART is the first instance whether or not it matches the rule.
		return start, true
	}
	return nthWeekday(month, r.Nth, r.Weekday)
}

// nthWeekday returns the nth (or last, n = -1) weekday wd of the month of
// first, which is the 1st of that month at the wanted time of day.
func nthWeekday(first time.Time, n int, wd time.Weekday) (time.Time, bool) {
	if n > 0 {
		offset := (int(wd) - int(first.Weekday()) + 7) % 7
		t := first.AddDate(0, 0, offset+7*(n-1))
		return t, t.Month() == first.Month()
	}
	last := first.AddDate(0, 1, -1)
	offset := (int(last.Weekday()) - int(wd) + 7) % 7
	return last.AddDate(0, 0, -offset), true
}

// Ordinal is the word for the nth weekday of a month in a rule (BYDAY=2TU
// is "second", -1 "last"), or "" for an n no rule has.
func Ordinal(n int) string {
	return ordinals[n]
}

var ordinals = map[int]string{1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", -1: "last"}
