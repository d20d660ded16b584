package site

import (
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb"
)

var listNow = time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC)

func oneOff(id int64, title string, start time.Time, d time.Duration) tenantdb.Event {
	return tenantdb.Event{ID: id, Title: title, StartsAt: start, EndsAt: start.Add(d), Timezone: "UTC", Category: "social"}
}

func titles(l []occurrence) []string {
	var out []string
	for _, o := range l {
		out = append(out, o.Event.Title+"@"+o.Start.Format("01-02T15"))
	}
	return out
}

func sameList(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestUpcomingListsSoonestFirstWithinLimit checks the upcoming list: a
// meeting under way is listed (it has not ended), one that ended exactly
// now is not, recurring events are expanded, the list is soonest first
// with ties in id order, and it stops at the limit.
func TestUpcomingListsSoonestFirstWithinLimit(t *testing.T) {
	h := time.Hour
	weekly := oneOff(5, "weekly", listNow.Add(2*h), h)
	weekly.RRule = "FREQ=WEEKLY"
	events := []tenantdb.Event{
		oneOff(9, "late", listNow.Add(72*h), h),
		oneOff(2, "ended-now", listNow.Add(-h), h),
		oneOff(3, "ongoing", listNow.Add(-30*time.Minute), h),
		weekly,
		oneOff(4, "tie-b", listNow.Add(72*h), h), // same start as "late": id 4 first
		oneOff(6, "past", listNow.Add(-48*h), h),
		oneOff(7, "beyond-horizon", listNow.Add(400*24*h), h),
	}
	got := titles(upcomingOccurrences(events, listNow, 4))
	want := []string{"ongoing@06-10T11", "weekly@06-10T14", "tie-b@06-13T12", "late@06-13T12"}
	if !sameList(got, want) {
		t.Errorf("upcoming(limit 4) = %v, want %v", got, want)
	}
	got = titles(upcomingOccurrences(events, listNow, 6))
	want = append(want, "weekly@06-17T14", "weekly@06-24T14")
	if !sameList(got, want) {
		t.Errorf("upcoming(limit 6) = %v, want %v", got, want)
	}
	if l := upcomingOccurrences(events, listNow, 50); len(l) != 50 {
		t.Errorf("upcoming(limit 50) has %d, want 50", len(l))
	}
	// Without a binding limit: ongoing, tie-b, late and 53 weekly dates in
	// the 366-day horizon; nothing beyond it.
	if l := upcomingOccurrences(events, listNow, 100); len(l) != 3+53 {
		t.Errorf("upcoming(limit 100) has %d, want 56", len(l))
	}
	on := upcomingOccurrences(events, listNow, 1)[0]
	if !on.Ongoing {
		t.Errorf("the meeting under way is not marked ongoing")
	}
	if next := upcomingOccurrences(events, listNow, 2)[1]; next.Ongoing {
		t.Errorf("a meeting still to come is marked ongoing")
	}
}

// TestPastListsOneOffsLatestFirst checks the past list: one-off events
// that ended at or before now, latest first, recurring ones never, cut at
// the limit.
func TestPastListsOneOffsLatestFirst(t *testing.T) {
	h := time.Hour
	rec := oneOff(8, "recurring", listNow.Add(-100*h), h)
	rec.RRule = "FREQ=WEEKLY;COUNT=2"
	events := []tenantdb.Event{
		oneOff(1, "older", listNow.Add(-50*h), h),
		oneOff(2, "ended-now", listNow.Add(-h), h),
		oneOff(3, "ongoing", listNow.Add(-30*time.Minute), h),
		rec,
		oneOff(4, "newer", listNow.Add(-10*h), h),
		oneOff(5, "oldest", listNow.Add(-90*h), h),
	}
	if got, want := titles(pastEvents(events, listNow, 3)), []string{"ended-now@06-10T11", "newer@06-10T02", "older@06-08T10"}; !sameList(got, want) {
		t.Errorf("past(limit 3) = %v, want %v", got, want)
	}
	if got := pastEvents(events, listNow, 10); len(got) != 4 {
		t.Errorf("past(limit 10) = %v, want the 4 one-offs that ended", titles(got))
	}
}

// TestMeetingsPrefersRecurring checks which events count as the chapter's
// meetings: the recurring ones of the meeting category when there are any,
// else every meeting, and never another category.
func TestMeetingsPrefersRecurring(t *testing.T) {
	one := oneOff(1, "one-off meeting", listNow, time.Hour)
	one.Category = "meeting"
	rec := oneOff(2, "monthly meeting", listNow, time.Hour)
	rec.Category, rec.RRule = "meeting", "FREQ=MONTHLY"
	social := oneOff(3, "social", listNow, time.Hour)
	socialRec := oneOff(4, "weekly social", listNow, time.Hour)
	socialRec.RRule = "FREQ=WEEKLY"
	name := func(l []tenantdb.Event) (s []string) {
		for _, e := range l {
			s = append(s, e.Title)
		}
		return s
	}
	if got := name(meetings([]tenantdb.Event{one, social, rec, socialRec})); !sameList(got, []string{"monthly meeting"}) {
		t.Errorf("meetings with a recurring one = %v", got)
	}
	if got := name(meetings([]tenantdb.Event{social, one, socialRec})); !sameList(got, []string{"one-off meeting"}) {
		t.Errorf("meetings without a recurring one = %v", got)
	}
	if got := meetings([]tenantdb.Event{social, socialRec}); len(got) != 0 {
		t.Errorf("meetings of no meeting = %v", name(got))
	}
}

// TestChangesAtIsTheNextStartOrEnd checks when a list next changes by
// itself: the first start or end after now and within the hour, else an
// hour from now; times at or before now do not count.
func TestChangesAtIsTheNextStartOrEnd(t *testing.T) {
	m := time.Minute
	occ := func(start, end time.Duration) occurrence {
		return occurrence{Start: listNow.Add(start), End: listNow.Add(end)}
	}
	for _, tc := range []struct {
		name  string
		lists [][]occurrence
		want  time.Duration
	}{
		{"nothing", nil, 60 * m},
		{"a start in 20 minutes", [][]occurrence{{occ(20*m, 80*m)}}, 20 * m},
		{"an end in 10 minutes", [][]occurrence{{occ(-20*m, 10*m)}}, 10 * m},
		{"the earliest of two lists", [][]occurrence{{occ(40*m, 90*m)}, {occ(-5*m, 25*m), occ(30*m, 35*m)}}, 25 * m},
		{"a start now and an end in 30", [][]occurrence{{occ(0, 30*m)}}, 30 * m},
		{"an end now", [][]occurrence{{occ(-60*m, 0)}}, 60 * m},
		{"all beyond the hour", [][]occurrence{{occ(61*m, 120*m), occ(60*m, 70*m)}}, 60 * m},
	} {
		if got := changesAt(listNow, tc.lists...); !got.Equal(listNow.Add(tc.want)) {
			t.Errorf("%s: changesAt = now+%v, want now+%v", tc.name, got.Sub(listNow), tc.want)
		}
	}
}

// TestOccurrenceFormats checks what a list shows of an occurrence: the
// day and time for a timed event, the day alone for an all-day one, and
// whether it is under way (from its start, until its end).
func TestOccurrenceFormats(t *testing.T) {
	e := oneOff(1, "x", listNow, time.Hour)
	o := newOccurrence(e, listNow, listNow.Add(time.Hour), listNow)
	if o.When != "Wed, June 10, 2026 · 12:00 PM" || o.ISO != "2026-06-10T12:00:00Z" || o.Month != "Jun" || o.Day != "10" || !o.Ongoing {
		t.Errorf("timed occurrence = %+v", o)
	}
	if o := newOccurrence(e, listNow, listNow.Add(time.Hour), listNow.Add(time.Hour)); o.Ongoing {
		t.Errorf("an occurrence is ongoing at its end")
	}
	if o := newOccurrence(e, listNow, listNow.Add(time.Hour), listNow.Add(-time.Second)); o.Ongoing {
		t.Errorf("an occurrence is ongoing before its start")
	}
	e.AllDay = true
	if o := newOccurrence(e, listNow, listNow.Add(24*time.Hour), listNow); o.When != "Wed, June 10, 2026" || o.ISO != "2026-06-10" {
		t.Errorf("all-day occurrence = %q %q", o.When, o.ISO)
	}
}

// TestMapURL checks the OpenStreetMap link: none for no place, spaces as
// %20 and reserved characters escaped.
func TestMapURL(t *testing.T) {
	if got := mapURL(""); got != "" {
		t.Errorf("mapURL(\"\") = %q", got)
	}
	if got, want := mapURL("1 Main St & 2nd, #4"), "https://www.openstreetmap.org/search?query=1%20Main%20St%20%26%202nd%2C%20%234"; got != want {
		t.Errorf("mapURL = %q, want %q", got, want)
	}
}
