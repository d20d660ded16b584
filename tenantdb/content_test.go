package tenantdb

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func rsvpEvent(t *testing.T, db *DB, capacity int) Event {
	t.Helper()
	start := time.Date(2026, 12, 8, 19, 0, 0, 0, time.UTC)
	e := Event{Title: "Christmas dinner", StartsAt: start, EndsAt: start.Add(2 * time.Hour), Timezone: "America/Chicago",
		RSVP: true, Capacity: capacity}
	must(t, db.SaveEvent(context.Background(), &e))
	return e
}

func rsvp(t *testing.T, db *DB, e Event, email string, party int) RSVP {
	t.Helper()
	r := RSVP{Occurrence: e.StartsAt, Name: "Guest " + email, Email: email, PartySize: party,
		Token: "token-" + strings.ReplaceAll(strings.ReplaceAll(email, "@", "-"), ".", "-") + "-0123456789"}
	created, err := db.AddRSVP(context.Background(), e, &r, nil)
	if err != nil || !created {
		t.Fatalf("RSVP of %s: created %v, %v", email, created, err)
	}
	return r
}

func TestRSVPCapacityWaitlistAndPromotion(t *testing.T) {
	ctx := context.Background()
	db := openTenant(t)
	e := rsvpEvent(t, db, 5)
	a := rsvp(t, db, e, "a@example.org", 3)
	b := rsvp(t, db, e, "b@example.org", 3) // 6 > 5: waits
	c := rsvp(t, db, e, "c@example.org", 2) // 5: fits
	d := rsvp(t, db, e, "d@example.org", 1) // waits
	for _, tc := range []struct {
		r    RSVP
		want string
	}{{a, RSVPGoing}, {b, RSVPWaitlist}, {c, RSVPGoing}, {d, RSVPWaitlist}} {
		if tc.r.Status != tc.want {
			t.Errorf("%s: status %s, want %s", tc.r.Email, tc.r.Status, tc.want)
		}
	}
	counts, err := db.RSVPCounts(ctx, e)
	must(t, err)
	if n := counts[e.StartsAt]; n.Going != 5 || n.Waiting != 4 || !n.Full() || n.Left() != 0 {
		t.Errorf("counts %+v, want 5 going, 4 waiting, full", n)
	}

	// The same form again: nothing new.
	again := RSVP{Occurrence: e.StartsAt, Name: "Other", Email: "other@example.org", PartySize: 1, Token: a.Token}
	created, err := db.AddRSVP(ctx, e, &again, nil)
	if err != nil || created || again.ID != a.ID || again.Email != a.Email {
		t.Errorf("resubmit: created %v, %+v, %v; want RSVP %d unchanged", created, again, err, a.ID)
	}
	// The same address on the same date: refused.
	dup := RSVP{Occurrence: e.StartsAt, Name: "A again", Email: "A@example.org", PartySize: 1, Token: "another-token-0123456789abc"}
	if _, err := db.AddRSVP(ctx, e, &dup, nil); !errors.Is(err, ErrAlreadyRSVPd) {
		t.Errorf("second RSVP of one address: %v, want ErrAlreadyRSVPd", err)
	}

	// a (3) cancels: b (3) fits and goes in, d (1) too: 2 + 3 + 1 = 6 > 5, so d waits.
	promoted, err := db.CancelRSVP(ctx, e, a.ID, nil)
	must(t, err)
	if len(promoted) != 1 || promoted[0].ID != b.ID {
		t.Fatalf("promoted %+v, want only %s", promoted, b.Email)
	}
	// c (2) cancels: d (1) goes in.
	promoted, err = db.CancelRSVP(ctx, e, c.ID, nil)
	must(t, err)
	if len(promoted) != 1 || promoted[0].ID != d.ID {
		t.Fatalf("promoted %+v, want only %s", promoted, d.Email)
	}
	counts, _ = db.RSVPCounts(ctx, e)
	if n := counts[e.StartsAt]; n.Going != 4 || n.Waiting != 0 {
		t.Errorf("after cancellations %+v, want 4 going", n)
	}
	// Cancelled, the address may answer again.
	dup.Email = "a@example.org"
	if _, err := db.AddRSVP(ctx, e, &dup, nil); err != nil || dup.Status != RSVPGoing {
		t.Errorf("new RSVP after cancelling: %v, status %s; want going (4 + 1 fits in 5)", err, dup.Status)
	}
	dup2 := RSVP{Occurrence: e.StartsAt, Name: "Late", Email: "late@example.org", PartySize: 1, Token: "late-token-0123456789abcdef"}
	if _, err := db.AddRSVP(ctx, e, &dup2, nil); err != nil || dup2.Status != RSVPWaitlist {
		t.Errorf("RSVP to a full date: %v, status %s; want waitlist", err, dup2.Status)
	}
}

func TestRSVPCapacityRaisedPromotes(t *testing.T) {
	ctx := context.Background()
	db := openTenant(t)
	e := rsvpEvent(t, db, 2)
	rsvp(t, db, e, "a@example.org", 2)
	w := rsvp(t, db, e, "b@example.org", 2)
	if w.Status != RSVPWaitlist {
		t.Fatalf("status %s, want waitlist", w.Status)
	}
	e.Capacity = 4
	must(t, db.SaveEvent(ctx, &e))
	got, err := db.RSVPByToken(ctx, w.Token)
	must(t, err)
	if got.Status != RSVPGoing {
		t.Errorf("after the capacity rose to 4: %s, want going", got.Status)
	}
}

func TestOfficerTermsByDate(t *testing.T) {
	off := []Officer{
		{Name: "Old", Role: "Commander", TermFrom: "2025-07-01", TermTo: "2026-06-30"},
		{Name: "New", Role: "Commander", TermFrom: "2026-07-01", TermTo: "2027-06-30"},
		{Name: "Always", Role: "Chaplain"},
	}
	for _, tc := range []struct{ day, current, incoming, past string }{
		{"2026-06-30", "Old,Always", "New", ""},
		{"2026-07-01", "New,Always", "", "Old"},
		{"2027-07-01", "Always", "", "New,Old"},
	} {
		cur, inc, past := OfficerTerms(off, tc.day)
		names := func(os []Officer) string {
			var n []string
			for _, o := range os {
				n = append(n, o.Name)
			}
			return strings.Join(n, ",")
		}
		if names(cur) != tc.current || names(inc) != tc.incoming || names(past) != tc.past {
			t.Errorf("%s: current %q incoming %q past %q, want %q %q %q", tc.day, names(cur), names(inc), names(past),
				tc.current, tc.incoming, tc.past)
		}
	}
	bad := Officer{Name: "X", Role: "Y", TermFrom: "2026-07-01", TermTo: "2026-06-30"}
	if f := field(bad.Validate()); f != "term_to" {
		t.Errorf("a term that ends before it starts: refused on %q, want term_to", f)
	}
	oneDay := Officer{Name: "X", Role: "Y", TermFrom: "2026-07-01", TermTo: "2026-07-01"}
	if err := oneDay.Validate(); err != nil {
		t.Errorf("a term of one day: %v", err)
	}
	// Past officers: the latest term first; the same end by display order.
	_, _, past := OfficerTerms([]Officer{
		{Name: "A", Position: 2, TermTo: "2020-06-30"},
		{Name: "B", Position: 3, TermTo: "2024-06-30"},
		{Name: "C", Position: 1, TermTo: "2020-06-30"},
		{Name: "D", Position: 5, TermTo: "2024-06-30"},
	}, "2026-01-01")
	var order []string
	for _, o := range past {
		order = append(order, o.Name)
	}
	if got := strings.Join(order, ","); got != "B,D,C,A" {
		t.Errorf("past officers %s, want B,D,C,A", got)
	}
	site := Site{OfficersChange: "07-01"}
	if d, ok := site.NextChangeover("2026-07-02"); !ok || d.Format(DateLayout) != "2027-07-01" {
		t.Errorf("next changeover after 2026-07-02: %v %v", d, ok)
	}
}

// TestStatsCountOncePerVisitorAndFlushAtClose counts visits, closes the
// file without a flush and checks the counts there, with each visitor
// counted once a day and page, across a reopen, and no raw address in it.
func TestStatsCountOncePerVisitorAndFlushAtClose(t *testing.T) {
	ctx := context.Background()
	dir, id := newTenant(t)
	db, err := Open(ctx, dir, id)
	must(t, err)
	alice, bob := Visitor{1}, Visitor{2}
	for range 3 {
		db.CountVisit("2026-12-03", "/", alice)
	}
	db.CountVisit("2026-12-03", "/events", alice)
	db.CountVisit("2026-12-03", "/", bob)
	must(t, db.Close())
	db, err = Open(ctx, dir, id)
	must(t, err)
	db.CountVisit("2026-12-03", "/", alice) // a reopen: still once
	db.CountVisit("2026-12-04", "/", alice) // a new day: again
	must(t, db.FlushStats(ctx))
	days, err := db.StatsDays(ctx, "2026-12-02", "2026-12-04")
	must(t, err)
	want := []DayStats{{"2026-12-02", 0, 0}, {"2026-12-03", 6, 2}, {"2026-12-04", 1, 1}}
	wantLater := []DayStats{{"2026-12-04", 2, 2}}
	if fmt.Sprint(days) != fmt.Sprint(want) {
		t.Errorf("days %v, want %v", days, want)
	}
	pages, err := db.StatsPages(ctx, "2026-12-03", "2026-12-03", 10)
	must(t, err)
	if fmt.Sprint(pages) != fmt.Sprint([]PageStats{{"/", 5, 2}, {"/events", 1, 1}}) {
		t.Errorf("pages %v", pages)
	}
	// The next flush of the new day forgets the visitors of the old one.
	db.CountVisit("2026-12-04", "/", bob)
	must(t, db.FlushStats(ctx))
	var seenOld int
	must(t, db.r.QueryRowContext(ctx, `SELECT count(*) FROM stats_seen WHERE day < '2026-12-04'`).Scan(&seenOld))
	if seenOld != 0 {
		t.Errorf("%d visitors of past days kept, want none", seenOld)
	}
	if days, _ = db.StatsDays(ctx, "2026-12-04", "2026-12-04"); fmt.Sprint(days) != fmt.Sprint(wantLater) {
		t.Errorf("days %v, want %v", days, wantLater)
	}
	must(t, db.Close())
}

// A party that does not fit in the places freed does not hold up a
// smaller one behind it.
func TestRSVPPromotionSkipsAPartyThatDoesNotFit(t *testing.T) {
	ctx := context.Background()
	db := openTenant(t)
	e := rsvpEvent(t, db, 4)
	rsvp(t, db, e, "a@example.org", 2)
	c := rsvp(t, db, e, "c@example.org", 2)
	big := rsvp(t, db, e, "big@example.org", 3)
	small := rsvp(t, db, e, "small@example.org", 2)
	promoted, err := db.CancelRSVP(ctx, e, c.ID, nil)
	must(t, err)
	if len(promoted) != 1 || promoted[0].ID != small.ID {
		t.Fatalf("promoted %+v, want only the party of 2 (the party of 3, %d, does not fit)", promoted, big.ID)
	}
}

// TestStatsFlushHeedsTheFence: a flush of visit counts is a write like any
// other: while the fence refuses (a cluster node that lost the tenant),
// nothing of them reaches the file; once it allows, they do.
func TestStatsFlushHeedsTheFence(t *testing.T) {
	ctx := context.Background()
	dir, id := newTenant(t)
	db, err := Open(ctx, dir, id)
	must(t, err)
	defer db.Close()
	var refuse atomic.Bool
	refuse.Store(true)
	db.SetFence(func() error {
		if refuse.Load() {
			return errors.New("fenced")
		}
		return nil
	})
	db.CountVisit("2026-12-03", "/", Visitor{1})
	if err := db.FlushStats(ctx); err == nil {
		t.Fatal("a flush while fenced succeeded")
	}
	var rows int
	must(t, db.r.QueryRowContext(ctx, `SELECT count(*) FROM stats_daily`).Scan(&rows))
	if rows != 0 {
		t.Fatalf("%d rows of statistics written while fenced", rows)
	}
	refuse.Store(false)
	must(t, db.FlushStats(ctx))
	days, err := db.StatsDays(ctx, "2026-12-03", "2026-12-03")
	must(t, err)
	if fmt.Sprint(days) != fmt.Sprint([]DayStats{{"2026-12-03", 1, 1}}) {
		t.Fatalf("after the fence allows: %v", days)
	}
}
