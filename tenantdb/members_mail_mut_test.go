package tenantdb

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
)

// welcomeLink is the login link of a welcome or an invitation.
var welcomeLink = regexp.MustCompile(`https://p42\.example/members/login/(\S+)`)

// TestInvitationsAndWelcomes: an invited member is stored as invited with
// a mail whose link makes them active; an invitation can be sent again
// only to a member still invited; an approved application becomes an
// active member, with a welcome, and is gone. Each refusal (a member
// already there, a bad field, a bad renewal date, an id that is not
// there) changes nothing and queues no mail.
func TestInvitationsAndWelcomes(t *testing.T) {
	ctx := context.Background()
	db := openTenant(t)
	must(t, db.UpdateSite(ctx, &Site{Name: "Post 42", AccentColor: DefaultAccent, Timezone: "UTC"}))
	const base = "https://p42.example"
	mails := func(want int) []Outgoing {
		t.Helper()
		got := outbox(t, db)
		if len(got) != want {
			t.Fatalf("%d mails queued, want %d: %+v", len(got), want, got)
		}
		return got
	}
	use := func(m Outgoing) Member {
		t.Helper()
		link := welcomeLink.FindStringSubmatch(m.Text)
		if link == nil {
			t.Fatalf("no login link in %q", m.Text)
		}
		member, _, err := db.UseMemberLink(ctx, link[1])
		must(t, err)
		return member
	}

	pat := &Member{Email: "pat@example.org", Name: "Pat"}
	must(t, db.InviteMember(ctx, pat, base))
	if got, _ := db.Member(ctx, pat.ID); got.Status != MemberInvited {
		t.Errorf("invited member stored as %q", got.Status)
	}
	m := mails(1)[0]
	if m.Kind != MailMemberInvite || m.To != "pat@example.org" || m.Subject != "You are invited to join Post 42" {
		t.Errorf("invitation %+v", m)
	}
	if err := db.InviteMember(ctx, &Member{Email: "PAT@example.org", Name: "Pat again"}, base); !errors.Is(err, ErrConflict) {
		t.Errorf("inviting a member already there: %v, want a conflict", err)
	}
	if f := field(db.InviteMember(ctx, &Member{Email: "not an email", Name: "X"}, base)); f != "email" {
		t.Errorf("inviting a bad address: refused on %q, want email", f)
	}
	mails(1)

	// Sent again while invited: a second mail, whose link works too.
	must(t, db.ResendInvitation(ctx, pat.ID, base))
	if got := use(mails(2)[1]); got.ID != pat.ID || got.Status != MemberActive {
		t.Errorf("the second invitation's link logged in %+v", got)
	}
	if f := field(db.ResendInvitation(ctx, pat.ID, base)); f != "status" {
		t.Errorf("an invitation to an active member: refused on %q, want status", f)
	}
	if err := db.ResendInvitation(ctx, pat.ID+100, base); !errors.Is(err, ErrNotFound) {
		t.Errorf("an invitation to no member: %v, want not found", err)
	}
	mails(2)

	a := &Application{Name: "Sam", Email: "sam@example.org", Qualification: "Served 1990-1994"}
	must(t, db.AddApplication(ctx, a))
	n := len(outbox(t, db)) // the notice to owners who take them (none here)
	if _, err := db.ApproveApplication(ctx, a.ID, "31/01/2027", base); field(err) != "renewal_date" {
		t.Errorf("approving with a bad renewal date: %v, want a refusal of renewal_date", err)
	}
	if _, err := db.ApproveApplication(ctx, a.ID+100, "", base); !errors.Is(err, ErrNotFound) {
		t.Errorf("approving no application: %v, want not found", err)
	}
	if apps, _ := db.Applications(ctx); len(apps) != 1 {
		t.Fatalf("after the refusals: %d applications, want 1", len(apps))
	}
	mails(n)
	sam, err := db.ApproveApplication(ctx, a.ID, "2027-01-31", base)
	must(t, err)
	if sam.Status != MemberActive || sam.RenewalDate != "2027-01-31" || sam.Email != "sam@example.org" {
		t.Errorf("approved as %+v", sam)
	}
	if apps, _ := db.Applications(ctx); len(apps) != 0 {
		t.Errorf("the approved application stays: %+v", apps)
	}
	w := mails(n + 1)[n]
	if w.To != "sam@example.org" || w.Subject != "Welcome: your application was approved by Post 42" {
		t.Errorf("welcome %+v", w)
	}
	if got := use(w); got.ID != sam.ID {
		t.Errorf("the welcome's link logged in %+v, want Sam", got)
	}
}

// TestOfficersStore: officers are listed by position, then as added; one
// is read and changed by id; an id that is not there, or a photo that is
// not in the library, is refused and changes nothing.
func TestOfficersStore(t *testing.T) {
	ctx := context.Background()
	db := openTenant(t)
	chap := &Officer{Name: "Lee", Role: "Chaplain", Position: 2}
	cmdr := &Officer{Name: "Pat", Role: "Commander", Position: 1}
	adj := &Officer{Name: "Kim", Role: "Adjutant", Position: 2}
	for _, o := range []*Officer{chap, cmdr, adj} {
		must(t, db.SaveOfficer(ctx, o))
	}
	names := func() string {
		all, err := db.Officers(ctx)
		must(t, err)
		var s []string
		for _, o := range all {
			s = append(s, o.Name)
		}
		return strings.Join(s, ",")
	}
	if got := names(); got != "Pat,Lee,Kim" {
		t.Errorf("officers %s, want Pat,Lee,Kim", got)
	}
	chap.Position = 3
	chap.Email = "chaplain@example.org"
	must(t, db.SaveOfficer(ctx, chap))
	if got, err := db.Officer(ctx, chap.ID); err != nil || got.Position != 3 || got.Email != "chaplain@example.org" {
		t.Errorf("after the change: %+v, %v", got, err)
	}
	if got := names(); got != "Pat,Kim,Lee" {
		t.Errorf("officers %s, want Pat,Kim,Lee", got)
	}
	if _, err := db.Officer(ctx, chap.ID+100); !errors.Is(err, ErrNotFound) {
		t.Errorf("an officer who is not there: %v", err)
	}
	ghost := &Officer{ID: chap.ID + 100, Name: "Ghost", Role: "Nobody"}
	if err := db.SaveOfficer(ctx, ghost); !errors.Is(err, ErrNotFound) {
		t.Errorf("changing an officer who is not there: %v, want not found", err)
	}
	cmdr.PhotoID = "no-such-photo"
	if f := field(db.SaveOfficer(ctx, cmdr)); f != "photo_id" {
		t.Errorf("a photo not in the library: refused on %q, want photo_id", f)
	}
	if got := names(); got != "Pat,Kim,Lee" {
		t.Errorf("after the refusals: %s", got)
	}
	must(t, db.DeleteOfficer(ctx, adj.ID))
	if got := names(); got != "Pat,Lee" {
		t.Errorf("after the delete: %s", got)
	}
}
