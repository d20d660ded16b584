package tenantdb

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestRSVPValidateChecksEveryField: each bad field is named; a party of
// MaxParty is taken and one more refused.
func TestRSVPValidateChecksEveryField(t *testing.T) {
	ok := RSVP{Name: "Sam", Email: "sam@example.org", PartySize: MaxParty, Note: strings.Repeat("n", 1000)}
	if errs := ok.Validate(); len(errs) != 0 {
		t.Fatalf("a sound RSVP at its limits: %v", errs)
	}
	for _, tc := range []struct {
		change func(*RSVP)
		field  string
	}{
		{func(r *RSVP) { r.Name = "  " }, "name"},
		{func(r *RSVP) { r.Email = "not an email" }, "email"},
		{func(r *RSVP) { r.Email = strings.Repeat("a", 250) + "@b.org" }, "email"},
		{func(r *RSVP) { r.PartySize = MaxParty + 1 }, "party_size"},
		{func(r *RSVP) { r.PartySize = 0 }, "party_size"},
		{func(r *RSVP) { r.Note = strings.Repeat("n", 1001) }, "note"},
	} {
		r := ok
		tc.change(&r)
		errs := r.Validate()
		if len(errs) != 1 || field(errs[0]) != tc.field {
			t.Errorf("%+v: %v, want one refusal of %s", r, errs, tc.field)
		}
	}
}

// TestRSVPsWithoutALimit: an event of capacity 0 takes every party,
// is never full and has no count of places left; its answers are listed
// by date and read one by one without their tokens.
func TestRSVPsWithoutALimit(t *testing.T) {
	ctx := context.Background()
	db := openTenant(t)
	e := rsvpEvent(t, db, 0)
	a := rsvp(t, db, e, "a@example.org", MaxParty)
	b := rsvp(t, db, e, "b@example.org", MaxParty)
	if a.Status != RSVPGoing || b.Status != RSVPGoing {
		t.Errorf("without a limit: %s and %s, want both going", a.Status, b.Status)
	}
	counts, err := db.RSVPCounts(ctx, e)
	must(t, err)
	if n := counts[e.StartsAt]; n.Going != 2*MaxParty || n.Full() || n.Left() != -1 {
		t.Errorf("counts %+v (full %v, left %d), want %d going, not full, left -1", n, n.Full(), n.Left(), 2*MaxParty)
	}
	if n := (RSVPCount{Going: 3, Capacity: 10}); n.Full() || n.Left() != 7 {
		t.Errorf("3 of 10: full %v, left %d", n.Full(), n.Left())
	}
	if n := (RSVPCount{Going: 12, Capacity: 10}); !n.Full() || n.Left() != 0 {
		t.Errorf("12 of 10: full %v, left %d", n.Full(), n.Left())
	}
	all, err := db.RSVPs(ctx, e.ID)
	must(t, err)
	if len(all) != 2 || all[0].ID != a.ID || all[1].ID != b.ID || all[0].Token != "" {
		t.Errorf("RSVPs %+v, want a then b, without tokens", all)
	}
	got, err := db.RSVP(ctx, e.ID, b.ID)
	if err != nil || got.Email != "b@example.org" || got.Token != "" {
		t.Errorf("RSVP b: %+v, %v", got, err)
	}
	if _, err := db.RSVP(ctx, e.ID+1, b.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("RSVP b of another event: %v, want not found", err)
	}
}

// TestWaitingPartiesOfEveryDateArePromoted: a capacity raised (here
// to no limit) promotes the waiting parties of each date of a recurring
// event, not only the first.
func TestWaitingPartiesOfEveryDateArePromoted(t *testing.T) {
	ctx := context.Background()
	db := openTenant(t)
	e := rsvpEvent(t, db, 1)
	e.RRule = "FREQ=WEEKLY;COUNT=4"
	must(t, db.SaveEvent(ctx, &e))
	next := e
	next.StartsAt = e.StartsAt.AddDate(0, 0, 7)
	var waiting []RSVP
	for _, date := range []Event{e, next} {
		for _, who := range []string{"first", "second"} {
			r := RSVP{Occurrence: date.StartsAt, Name: who, Email: who + date.StartsAt.Format("0102") + "@example.org", PartySize: 1,
				Token: "tok-" + who + date.StartsAt.Format("20060102") + "-0123456789"}
			_, err := db.AddRSVP(ctx, e, &r, nil)
			must(t, err)
			if who == "second" {
				waiting = append(waiting, r)
			}
		}
	}
	e.Capacity = 0
	must(t, db.SaveEvent(ctx, &e))
	for _, w := range waiting {
		got, err := db.RSVPByToken(ctx, w.Token)
		must(t, err)
		if got.Status != RSVPGoing {
			t.Errorf("%s of %s: %s after the limit was lifted, want going", w.Name, w.Occurrence.Format("Jan 2"), got.Status)
		}
	}
}

// TestCancelQueuesMailToThosePromoted: a cancellation that lets a waiting
// party in queues the mail the caller composes for each one promoted.
func TestCancelQueuesMailToThosePromoted(t *testing.T) {
	ctx := context.Background()
	db := openTenant(t)
	e := rsvpEvent(t, db, 2)
	a := rsvp(t, db, e, "a@example.org", 2)
	b := rsvp(t, db, e, "b@example.org", 1)
	c := rsvp(t, db, e, "c@example.org", 1)
	mail := func(r RSVP) OutMail {
		return OutMail{Kind: MailRSVP, To: r.Email, Subject: "You are going", Text: "A place opened up."}
	}
	promoted, err := db.CancelRSVP(ctx, e, a.ID, mail)
	must(t, err)
	if len(promoted) != 2 || promoted[0].ID != b.ID || promoted[1].ID != c.ID {
		t.Fatalf("promoted %+v, want b and c", promoted)
	}
	got := outbox(t, db)
	if len(got) != 2 || got[0].To != "b@example.org" || got[1].To != "c@example.org" || got[0].Kind != MailRSVP {
		t.Errorf("mails %+v, want one to b and one to c", got)
	}
}
