package site_test

import (
	"context"
	"io"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/mail"
	"github.com/chapterhouse/chapterhouse/app/internal/mailpit"
	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/app/internal/web"
	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

var tokenField = regexp.MustCompile(`name="token" value="([A-Za-z0-9_-]+)"`)

// rsvpForm opens the RSVP form of path (with its ?date=) and returns the
// form's values with its fresh token.
func rsvpForm(t *testing.T, ts *webtest.Server, host, path, name, email, party string) url.Values {
	t.Helper()
	r := ts.Get(host, path)
	if r.Status != 200 {
		t.Fatalf("GET %s: %d\n%s", path, r.Status, r.Body)
	}
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("the RSVP form is cacheable (Cache-Control %q)", r.Header.Get("Cache-Control"))
	}
	m := tokenField.FindStringSubmatch(r.Body)
	if m == nil {
		t.Fatalf("no token in the form:\n%s", r.Body)
	}
	u, _ := url.Parse(path)
	return url.Values{"token": {m[1]}, "date": {u.Query().Get("date")}, "name": {name}, "email": {email},
		"party_size": {party}, "note": {"Near the door, please"}, "website": {""}}
}

func rsvpCount(t *testing.T, ts *webtest.Server, slug string, eventID int64) (going, waiting int) {
	t.Helper()
	rs, err := ts.DB(slug).RSVPs(context.Background(), eventID)
	webtest.Must(t, err)
	for _, r := range rs {
		switch r.Status {
		case tenantdb.RSVPGoing:
			going += r.PartySize
		case tenantdb.RSVPWaitlist:
			waiting += r.PartySize
		}
	}
	return going, waiting
}

// TestRSVPOverHTTP answers an event with a capacity of 4 through the
// public forms: a double submit counts once, a party that does not fit
// waits, a cancellation lets it in, and bad, repeated or robotic answers
// change nothing.
func TestRSVPOverHTTP(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 15, 0, 0, 0, time.UTC)
	clock := webtest.NewClock(t0)
	ts := webtest.New(t, func(c *web.Config) {
		c.Now = clock.Now
		c.TrustedProxies = []*net.IPNet{{IP: net.IPv4(127, 0, 0, 1), Mask: net.CIDRMask(32, 32)}}
	})
	// The real mail path: the mail worker sends to a Mailpit over SMTP.
	mp := mailpit.Start(t)
	sender, err := mail.New(mail.Config{URL: mp.URL(), From: "chapters@chapters.test"}, io.Discard)
	webtest.Must(t, err)
	mailer := ts.Platform.NewMailer(platform.MailConfig{Sender: sender, From: "chapters@chapters.test"})
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go mailer.Run(ctx)

	var dinner, closed tenantdb.Event
	ts.AddTenant("rsvp", "RSVP Post", func(db *tenantdb.DB) {
		start := time.Date(2026, 12, 12, 18, 0, 0, 0, time.UTC)
		dinner = tenantdb.Event{Title: "Christmas dinner", StartsAt: start, EndsAt: start.Add(3 * time.Hour), Timezone: "UTC", RSVP: true, Capacity: 4}
		webtest.Must(t, db.SaveEvent(context.Background(), &dinner))
		closed = tenantdb.Event{Title: "Board meeting", StartsAt: start, EndsAt: start.Add(time.Hour), Timezone: "UTC"}
		webtest.Must(t, db.SaveEvent(context.Background(), &closed))
	})
	h := webtest.Host("rsvp")
	ev := "/events/" + itoa(dinner.ID)
	if r := ts.Get(h, ev); r.Status != 200 || !strings.Contains(r.Body, "0 going") || !strings.Contains(r.Body, "4 of 4 places left") {
		t.Fatalf("event page before any RSVP: %d\n%s", r.Status, r.Body)
	}
	form := rsvpForm(t, ts, h, ev+"/rsvp?date=2026-12-12", "Ann Lee", "ann@example.org", "2")
	r := ts.Post(h, ev+"/rsvp", form, "X-Forwarded-For: 203.0.113.1")
	loc := r.Header.Get("Location")
	if r.Status != 303 || !strings.HasPrefix(loc, "/rsvp/") {
		t.Fatalf("POST: %d to %q\n%s", r.Status, loc, r.Body)
	}
	// The same form again (a double click, a reload of the POST).
	if again := ts.Post(h, ev+"/rsvp", form, "X-Forwarded-For: 203.0.113.1"); again.Status != 303 || again.Header.Get("Location") != loc {
		t.Errorf("second submit: %d to %q, want 303 to %q", again.Status, again.Header.Get("Location"), loc)
	}
	if g, w := rsvpCount(t, ts, "rsvp", dinner.ID); g != 2 || w != 0 {
		t.Fatalf("after a double submit: %d going, %d waiting; want 2 going", g, w)
	}
	if mine := ts.Get(h, loc); mine.Status != 200 || !strings.Contains(mine.Body, "You are on the list") || mine.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("own page: %d, Cache-Control %q\n%s", mine.Status, mine.Header.Get("Cache-Control"), mine.Body)
	}
	confirm := mp.WaitFor(t, "ann@example.org")
	if !strings.Contains(confirm.Subject, "You are on the list: Christmas dinner") || !strings.Contains(confirm.Text, "http://rsvp.chapters.test"+loc) ||
		!strings.Contains(confirm.Text, "2 people") {
		t.Errorf("confirmation mail: %q\n%s", confirm.Subject, confirm.Text)
	}
	if r := ts.Get(h, ev); !strings.Contains(r.Body, "2 going") || !strings.Contains(r.Body, "2 of 4 places left") {
		t.Errorf("event page after one RSVP does not show the count:\n%s", r.Body)
	}

	// A party of 3 does not fit in 2: it waits.
	form2 := rsvpForm(t, ts, h, ev+"/rsvp?date=2026-12-12", "Bo Diaz", "bo@example.org", "3")
	r2 := ts.Post(h, ev+"/rsvp", form2, "X-Forwarded-For: 203.0.113.2")
	loc2 := r2.Header.Get("Location")
	if mine := ts.Get(h, loc2); !strings.Contains(mine.Body, "You are on the waitlist") {
		t.Fatalf("a party that does not fit: %d\n%s", mine.Status, mine.Body)
	}

	// Refused, and nothing stored.
	for _, tc := range []struct {
		name   string
		change func(url.Values)
		status int
		want   string
	}{
		{"no name", func(v url.Values) { v.Set("name", " ") }, 422, "Your name is required."},
		{"bad email", func(v url.Values) { v.Set("email", "not-an-address") }, 422, "does not look like an email address"},
		{"party of 0", func(v url.Values) { v.Set("party_size", "0") }, 422, "Number of people must be from 1 to 20 people."},
		{"party of 21", func(v url.Values) { v.Set("party_size", "21") }, 422, "Number of people must be from 1 to 20 people."},
		{"same address again", func(v url.Values) { v.Set("email", "ANN@example.org") }, 409, "already has a place"},
		{"no token", func(v url.Values) { v.Del("token") }, 422, "had expired"},
		{"a date that is not the event's", func(v url.Values) { v.Set("date", "2026-12-13") }, 404, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := rsvpForm(t, ts, h, ev+"/rsvp?date=2026-12-12", "Cy Park", "cy@example.org", "1")
			tc.change(v)
			r := ts.Post(h, ev+"/rsvp", v, "X-Forwarded-For: 198.51.100.7")
			if r.Status != tc.status || !strings.Contains(r.Body, tc.want) {
				t.Errorf("%d, want %d saying %q\n%s", r.Status, tc.status, tc.want, r.Body)
			}
		})
	}
	// The honeypot: the same answer as a success, nothing stored.
	bot := rsvpForm(t, ts, h, ev+"/rsvp?date=2026-12-12", "Bot", "bot@example.org", "1")
	bot.Set("website", "http://spam.example")
	if r := ts.Post(h, ev+"/rsvp", bot, "X-Forwarded-For: 198.51.100.8"); r.Status != 303 {
		t.Errorf("honeypot: %d, want 303", r.Status)
	}
	if g, w := rsvpCount(t, ts, "rsvp", dinner.ID); g != 2 || w != 3 {
		t.Fatalf("after refused answers: %d going, %d waiting; want 2 and 3", g, w)
	}
	// An event without RSVPs has no form.
	if r := ts.Get(h, "/events/"+itoa(closed.ID)+"/rsvp"); r.Status != 404 {
		t.Errorf("RSVP form of an event without RSVPs: %d, want 404", r.Status)
	}

	// Ann cancels: Bo's party of 3 now fits.
	if r := ts.Post(h, loc+"/cancel", url.Values{}); r.Status != 303 {
		t.Fatalf("cancel: %d\n%s", r.Status, r.Body)
	}
	if mine := ts.Get(h, loc); !strings.Contains(mine.Body, "Your RSVP is cancelled") {
		t.Errorf("after cancelling:\n%s", mine.Body)
	}
	if mine := ts.Get(h, loc2); !strings.Contains(mine.Body, "You are on the list") {
		t.Errorf("the waiting party was not promoted:\n%s", mine.Body)
	}
	var subjects []string
	for len(subjects) < 2 {
		subjects = subjects[:0]
		for _, m := range mp.Messages(t) {
			if len(m.To) == 1 && m.To[0].Address == "bo@example.org" {
				subjects = append(subjects, m.Subject)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := strings.Join(subjects, " | "); !strings.Contains(got, "Waitlist: Christmas dinner") || !strings.Contains(got, "A place came free: Christmas dinner") {
		t.Errorf("Bo's mails: %s", got)
	}
	if g, w := rsvpCount(t, ts, "rsvp", dinner.ID); g != 3 || w != 0 {
		t.Errorf("after the cancellation: %d going, %d waiting; want 3 and 0", g, w)
	}
	if r := ts.Get(h, "/rsvp/"+strings.Repeat("x", 43)); r.Status != 404 {
		t.Errorf("an unknown RSVP link: %d, want 404", r.Status)
	}
	// Once the dinner has begun, the form is gone.
	clock.Advance(9*24*time.Hour + 3*time.Hour + time.Minute)
	if r := ts.Get(h, ev+"/rsvp?date=2026-12-12"); r.Status != 404 {
		t.Errorf("RSVP form of a date that began: %d, want 404", r.Status)
	}
}

// TestRSVPPerDateOfARecurringEvent answers two dates of a monthly meeting:
// each date has its own count and capacity.
func TestRSVPPerDateOfARecurringEvent(t *testing.T) {
	clock := webtest.NewClock(time.Date(2026, 12, 3, 15, 0, 0, 0, time.UTC))
	ts := webtest.New(t, func(c *web.Config) { c.Now = clock.Now })
	var e tenantdb.Event
	ts.AddTenant("monthly", "Monthly Club", func(db *tenantdb.DB) {
		start := time.Date(2026, 1, 13, 19, 0, 0, 0, time.UTC)
		e = tenantdb.Event{Title: "Meeting", StartsAt: start, EndsAt: start.Add(time.Hour), Timezone: "UTC",
			RRule: "FREQ=MONTHLY;BYDAY=2TU", RSVP: true, Capacity: 1}
		webtest.Must(t, db.SaveEvent(context.Background(), &e))
	})
	h := webtest.Host("monthly")
	ev := "/events/" + itoa(e.ID)
	page := ts.Get(h, ev).Body
	for _, d := range []string{"2026-12-08", "2027-01-12"} {
		if !strings.Contains(page, ev+"/rsvp?date="+d) {
			t.Errorf("no RSVP link for %s on the event page", d)
		}
	}
	for i, d := range []string{"2026-12-08", "2027-01-12"} {
		f := rsvpForm(t, ts, h, ev+"/rsvp?date="+d, "Di", "di@example.org", "1")
		if r := ts.Post(h, ev+"/rsvp", f); r.Status != 303 {
			t.Fatalf("RSVP %d: %d\n%s", i, r.Status, r.Body)
		}
	}
	rs, err := ts.DB("monthly").RSVPs(context.Background(), e.ID)
	webtest.Must(t, err)
	if len(rs) != 2 || rs[0].Status != tenantdb.RSVPGoing || rs[1].Status != tenantdb.RSVPGoing ||
		rs[0].Occurrence.Format(time.RFC3339) != "2026-12-08T19:00:00Z" || rs[1].Occurrence.Format(time.RFC3339) != "2027-01-12T19:00:00Z" {
		t.Errorf("RSVPs %+v, want one going on each date", rs)
	}
	if r := ts.Get(h, ev+"/rsvp?date=2026-12-09"); r.Status != 404 {
		t.Errorf("a day that is not the meeting's: %d, want 404", r.Status)
	}
	if r := ts.Get(h, ev+"/rsvp"); r.Status != 404 {
		t.Errorf("a recurring event's form without a date: %d, want 404", r.Status)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
