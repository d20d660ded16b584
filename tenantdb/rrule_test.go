package tenantdb

import (
	"strings"
	"testing"
	"time"
)

func TestParseRRule(t *testing.T) {
	good := []struct {
		rule string
		want Recurrence
	}{
		{"FREQ=WEEKLY", Recurrence{Freq: "WEEKLY", Interval: 1}},
		{"RRULE:freq=weekly;interval=2", Recurrence{Freq: "WEEKLY", Interval: 2}},
		{"FREQ=MONTHLY;BYDAY=2TU", Recurrence{Freq: "MONTHLY", Interval: 1, Nth: 2, Weekday: time.Tuesday, ByDay: true}},
		{"FREQ=MONTHLY;BYDAY=-1FR", Recurrence{Freq: "MONTHLY", Interval: 1, Nth: -1, Weekday: time.Friday, ByDay: true}},
		{"FREQ=MONTHLY;BYDAY=+5SU", Recurrence{Freq: "MONTHLY", Interval: 1, Nth: 5, Weekday: time.Sunday, ByDay: true}},
		{"FREQ=WEEKLY;BYDAY=MO", Recurrence{Freq: "WEEKLY", Interval: 1, Weekday: time.Monday, ByDay: true}},
		{"FREQ=YEARLY;COUNT=1000", Recurrence{Freq: "YEARLY", Interval: 1, Count: 1000}},
		{"FREQ=MONTHLY;INTERVAL=52;COUNT=1", Recurrence{Freq: "MONTHLY", Interval: 52, Count: 1}},
		{"FREQ=WEEKLY;UNTIL=20270101", Recurrence{Freq: "WEEKLY", Interval: 1, Until: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{"FREQ=WEEKLY;UNTIL=20270101T183000Z", Recurrence{Freq: "WEEKLY", Interval: 1, Until: time.Date(2027, 1, 1, 18, 30, 0, 0, time.UTC)}},
	}
	for _, tc := range good {
		got, err := ParseRRule(tc.rule)
		if err != nil || got != tc.want {
			t.Errorf("ParseRRule(%q) = %+v, %v; want %+v", tc.rule, got, err, tc.want)
		}
	}
	bad := []string{
		"", "FREQ=DAILY", "FREQ=SECONDLY", "INTERVAL=2", "FREQ=WEEKLY;FREQ=WEEKLY", "FREQ", "FREQ=WEEKLY;X=1",
		"FREQ=WEEKLY;INTERVAL=0", "FREQ=WEEKLY;INTERVAL=53", "FREQ=WEEKLY;INTERVAL=x",
		"FREQ=WEEKLY;COUNT=0", "FREQ=WEEKLY;COUNT=1001", "FREQ=WEEKLY;COUNT=x",
		"FREQ=WEEKLY;UNTIL=2027", "FREQ=WEEKLY;UNTIL=20270101;COUNT=3",
		"FREQ=MONTHLY;BYDAY=T", "FREQ=MONTHLY;BYDAY=2XX", "FREQ=MONTHLY;BYDAY=0TU", "FREQ=MONTHLY;BYDAY=6TU",
		"FREQ=MONTHLY;BYDAY=-2TU", "FREQ=MONTHLY;BYDAY=xTU", "FREQ=MONTHLY;BYDAY=TU", "FREQ=WEEKLY;BYDAY=2TU",
		"FREQ=YEARLY;BYDAY=SU", strings.Repeat("FREQ=WEEKLY;", 20),
	}
	for _, rule := range bad {
		if r, err := ParseRRule(rule); err == nil {
			t.Errorf("ParseRRule(%q) = %+v, want an error", rule, r)
		}
	}
}

// TestOccurrences expands each kind of rule and checks the dates against
// a calendar: the nth and the last weekday, months without the day, leap
// days, intervals, COUNT and UNTIL (which includes its whole day), the
// window and the limit, and wall-clock time kept across DST.
func TestOccurrences(t *testing.T) {
	chicago, err := time.LoadLocation("America/Chicago")
	if err != nil {
		t.Fatal(err)
	}
	at := func(y int, m time.Month, d, h int) time.Time { return time.Date(y, m, d, h, 0, 0, 0, chicago) }
	day := func(o Occurrence) string { return o.Start.In(chicago).Format("2006-01-02 15:04") }
	tests := []struct {
		name       string
		start      time.Time
		rule       string
		from, to   time.Time
		limit      int
		want       []string
		wantLength time.Duration
	}{
		{"one-off", at(2026, 3, 10, 19), "", at(2026, 1, 1, 0), at(2027, 1, 1, 0), 10,
			[]string{"2026-03-10 19:00"}, 2 * time.Hour},
		{"one-off outside the window", at(2026, 3, 10, 19), "", at(2026, 4, 1, 0), at(2027, 1, 1, 0), 10, nil, 0},
		{"second Tuesday across DST", at(2026, 2, 10, 19), "FREQ=MONTHLY;BYDAY=2TU", at(2026, 1, 1, 0), at(2026, 6, 1, 0), 10,
			[]string{"2026-02-10 19:00", "2026-03-10 19:00", "2026-04-14 19:00", "2026-05-12 19:00"}, 2 * time.Hour},
		{"last Friday", at(2026, 1, 30, 18), "FREQ=MONTHLY;BYDAY=-1FR", at(2026, 1, 1, 0), at(2026, 5, 1, 0), 10,
			[]string{"2026-01-30 18:00", "2026-02-27 18:00", "2026-03-27 18:00", "2026-04-24 18:00"}, 2 * time.Hour},
		{"fifth Sunday only where there is one", at(2026, 3, 29, 10), "FREQ=MONTHLY;BYDAY=5SU", at(2026, 1, 1, 0), at(2026, 9, 1, 0), 10,
			[]string{"2026-03-29 10:00", "2026-05-31 10:00", "2026-08-30 10:00"}, 2 * time.Hour},
		{"the 31st skips short months", at(2026, 1, 31, 12), "FREQ=MONTHLY", at(2026, 1, 1, 0), at(2026, 6, 1, 0), 10,
			[]string{"2026-01-31 12:00", "2026-03-31 12:00", "2026-05-31 12:00"}, 2 * time.Hour},
		{"every two weeks, three times", at(2026, 1, 5, 19), "FREQ=WEEKLY;INTERVAL=2;COUNT=3", at(2026, 1, 1, 0), at(2027, 1, 1, 0), 10,
			[]string{"2026-01-05 19:00", "2026-01-19 19:00", "2026-02-02 19:00"}, 2 * time.Hour},
		{"weekly until a date, that day included", at(2026, 1, 5, 19), "FREQ=WEEKLY;UNTIL=20260119", at(2026, 1, 1, 0), at(2027, 1, 1, 0), 10,
			[]string{"2026-01-05 19:00", "2026-01-12 19:00", "2026-01-19 19:00"}, 2 * time.Hour},
		{"yearly on a leap day", at(2024, 2, 29, 9), "FREQ=YEARLY", at(2024, 1, 1, 0), at(2033, 1, 1, 0), 10,
			[]string{"2024-02-29 09:00", "2028-02-29 09:00", "2032-02-29 09:00"}, 2 * time.Hour},
		{"the window cuts the past and the limit the rest", at(2026, 1, 6, 19), "FREQ=WEEKLY", at(2026, 2, 1, 0), at(2027, 1, 1, 0), 2,
			[]string{"2026-02-03 19:00", "2026-02-10 19:00"}, 2 * time.Hour},
		{"an occurrence still under way is listed", at(2026, 1, 6, 19), "FREQ=WEEKLY", at(2026, 1, 13, 20), at(2026, 1, 20, 0), 5,
			[]string{"2026-01-13 19:00"}, 2 * time.Hour},
		{"a bad rule is a one-off", at(2026, 3, 10, 19), "FREQ=HOURLY", at(2026, 1, 1, 0), at(2027, 1, 1, 0), 10,
			[]string{"2026-03-10 19:00"}, 2 * time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := Event{StartsAt: tc.start.UTC(), EndsAt: tc.start.Add(2 * time.Hour).UTC(), Timezone: "America/Chicago", RRule: tc.rule}
			occ := e.Occurrences(tc.from, tc.to, tc.limit)
			var got []string
			for _, o := range occ {
				got = append(got, day(o))
				if o.End.Sub(o.Start) != tc.wantLength {
					t.Errorf("%s lasts %v, want %v", day(o), o.End.Sub(o.Start), tc.wantLength)
				}
			}
			if strings.Join(got, ", ") != strings.Join(tc.want, ", ") {
				t.Errorf("got   %v\nwant %v", got, tc.want)
			}
		})
	}
}

func TestOrdinal(t *testing.T) {
	for n, want := range map[int]string{1: "first", 2: "second", 5: "fifth", -1: "last", 0: "", 6: ""} {
		if got := Ordinal(n); got != want {
			t.Errorf("Ordinal(%d) = %q, want %q", n, got, want)
		}
	}
}
