package tenantdb

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"
)

// linkFor issues a magic link of purpose for member id, as the mail
// senders do, and returns its secret.
func linkFor(t *testing.T, db *DB, id int64, purpose string) string {
	t.Helper()
	var secret string
	must(t, db.write(context.Background(), func(tx *sql.Tx) (err error) {
		secret, err = issueLink(context.Background(), tx, id, purpose, db.now().UTC())
		return err
	}))
	return secret
}

// TestMagicLinkIsSingleUseAndExpires: a login link logs in once, before
// it expires, and only a member who may log in; the session it starts
// ends at its own expiry.
func TestMagicLinkIsSingleUseAndExpires(t *testing.T) {
	ctx := context.Background()
	db := openTenant(t)
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	db.now = func() time.Time { return now }
	m := &Member{Email: "Sam@Example.org", Name: "Sam", Status: MemberInvited}
	must(t, db.SaveMember(ctx, m))

	invite := linkFor(t, db, m.ID, "invite")
	got, sess, err := db.UseMemberLink(ctx, invite)
	if err != nil || got.ID != m.ID || got.Status != MemberActive {
		t.Fatalf("first use of the invitation: %+v, %v; want member %d, now active", got, err, m.ID)
	}
	if _, _, err := db.UseMemberLink(ctx, invite); !errors.Is(err, ErrLinkInvalid) {
		t.Errorf("second use of the invitation: %v, want ErrLinkInvalid", err)
	}
	if who, err := db.MemberBySession(ctx, sess.Secret); err != nil || who.ID != m.ID {
		t.Errorf("session of the link: %+v, %v", who, err)
	}
	if stored, _ := db.Member(ctx, m.ID); stored.Status != MemberActive {
		t.Errorf("status after the invitation is used: %q, want active", stored.Status)
	}

	login := linkFor(t, db, m.ID, "login")
	now = now.Add(LoginLinkTTL)
	if _, _, err := db.UseMemberLink(ctx, login); !errors.Is(err, ErrLinkInvalid) {
		t.Errorf("a login link at its expiry: %v, want ErrLinkInvalid", err)
	}
	login = linkFor(t, db, m.ID, "login")
	now = now.Add(LoginLinkTTL - time.Second)
	if _, _, err := db.UseMemberLink(ctx, login); err != nil {
		t.Errorf("a login link a second before its expiry: %v", err)
	}
	if _, _, err := db.UseMemberLink(ctx, "nonsense"); !errors.Is(err, ErrLinkInvalid) {
		t.Errorf("a made-up link: %v, want ErrLinkInvalid", err)
	}

	// A lapsed member's links and sessions stop working.
	login = linkFor(t, db, m.ID, "login")
	m.Status = MemberLapsed
	must(t, db.SaveMember(ctx, m))
	if _, _, err := db.UseMemberLink(ctx, login); !errors.Is(err, ErrLinkInvalid) {
		t.Errorf("a lapsed member's link: %v, want ErrLinkInvalid", err)
	}
	if _, err := db.MemberBySession(ctx, sess.Secret); !errors.Is(err, ErrNotFound) {
		t.Errorf("a lapsed member's session: %v, want ErrNotFound", err)
	}
	m.Status = MemberActive
	must(t, db.SaveMember(ctx, m))
	login = linkFor(t, db, m.ID, "login")
	m.Status = MemberResigned
	must(t, db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE members SET status = 'resigned' WHERE id = ?`, m.ID)
		return err
	}))
	if _, _, err := db.UseMemberLink(ctx, login); !errors.Is(err, ErrLinkInvalid) {
		t.Errorf("a resigned member's link: %v, want ErrLinkInvalid", err)
	}

	// A session ends at its expiry, and at logout.
	must(t, db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE members SET status = 'active' WHERE id = ?`, m.ID)
		return err
	}))
	_, sess, err = db.UseMemberLink(ctx, linkFor(t, db, m.ID, "login"))
	must(t, err)
	now = now.Add(MemberSessionTTL - time.Second)
	if _, err := db.MemberBySession(ctx, sess.Secret); err != nil {
		t.Errorf("a session a second before its expiry: %v", err)
	}
	now = now.Add(time.Second)
	if _, err := db.MemberBySession(ctx, sess.Secret); !errors.Is(err, ErrNotFound) {
		t.Errorf("a session at its expiry: %v, want ErrNotFound", err)
	}
	_, sess, err = db.UseMemberLink(ctx, linkFor(t, db, m.ID, "login"))
	must(t, err)
	must(t, db.EndMemberSession(ctx, sess.Secret))
	if _, err := db.MemberBySession(ctx, sess.Secret); !errors.Is(err, ErrNotFound) {
		t.Errorf("a session after logout: %v, want ErrNotFound", err)
	}
	// Only hashes are stored.
	var n int
	must(t, db.r.QueryRowContext(ctx, `SELECT count(*) FROM member_tokens WHERE hash = ?`, login).Scan(&n))
	if n != 0 {
		t.Error("a link's secret is stored as it is")
	}
}

// TestDirectoryShowsWhatEachMemberChose: the directory lists only the
// members who chose to be listed and may log in, with only the fields
// each chose to show.
func TestDirectoryShowsWhatEachMemberChose(t *testing.T) {
	ctx := context.Background()
	db := openTenant(t)
	add := func(name, status string, p DirectoryPrefs) *Member {
		m := &Member{Email: name + "@example.org", Name: name, Phone: "555-0100 " + name, Address: "1 Main St " + name, Status: status}
		must(t, db.SaveMember(ctx, m))
		must(t, db.SetDirectoryPrefs(ctx, m.ID, p))
		return m
	}
	add("ann", MemberActive, DirectoryPrefs{Listed: true, Email: true})
	add("bob", MemberActive, DirectoryPrefs{Listed: true, Phone: true, Address: true})
	add("cat", MemberActive, DirectoryPrefs{Email: true}) // not listed
	add("dan", MemberLapsed, DirectoryPrefs{Listed: true, Email: true})
	dir, err := db.Directory(ctx)
	must(t, err)
	if len(dir) != 2 || dir[0].Name != "ann" || dir[1].Name != "bob" {
		t.Fatalf("directory = %+v, want ann and bob", dir)
	}
	if dir[0].Email != "ann@example.org" || dir[0].Phone != "" || dir[0].Address != "" {
		t.Errorf("ann shows %+v, want her email only", dir[0])
	}
	if dir[1].Email != "" || dir[1].Phone == "" || dir[1].Address == "" {
		t.Errorf("bob shows %+v, want his phone and address only", dir[1])
	}
	// An admin's edit keeps the member's own choices.
	bob, err := db.MemberByEmail(ctx, "BOB@example.org")
	must(t, err)
	bob.Name = "Bob"
	must(t, db.SaveMember(ctx, &bob))
	if again, _ := db.Member(ctx, bob.ID); again.Directory != (DirectoryPrefs{Listed: true, Phone: true, Address: true}) {
		t.Errorf("after an admin's edit, bob's choices are %+v", again.Directory)
	}
}

func TestMemberValidation(t *testing.T) {
	tests := []struct {
		name  string
		m     Member
		field string
	}{
		{"valid", Member{Email: "a@example.org", Name: "A", RenewalDate: "2027-01-31"}, ""},
		{"no email", Member{Name: "A"}, "email"},
		{"bad email", Member{Email: "a@", Name: "A"}, "email"},
		{"no name", Member{Email: "a@example.org"}, "name"},
		{"two-line phone", Member{Email: "a@example.org", Name: "A", Phone: "1\r\nBcc: x"}, "phone"},
		{"unknown status", Member{Email: "a@example.org", Name: "A", Status: "honorary"}, "status"},
		{"bad date", Member{Email: "a@example.org", Name: "A", RenewalDate: "2027-02-30"}, "renewal_date"},
	}
	for _, tc := range tests {
		err := tc.m.Validate()
		if got := field(err); got != tc.field || (tc.field == "" && err != nil) {
			t.Errorf("%s: %v, want a refusal on %q", tc.name, err, tc.field)
		}
	}
}

// TestVisibilityFilters: the public-only queries leave members-only posts
// out of lists, counts and the latest posts; a stored item keeps its
// visibility; an unknown visibility is refused.
func TestVisibilityFilters(t *testing.T) {
	ctx := context.Background()
	db := openTenant(t)
	for i, v := range []Visibility{Public, Members, "", Members} {
		must(t, db.SavePost(ctx, &Post{Title: "Post " + string(rune('a'+i)), Published: true, Visibility: v}))
	}
	all, total, err := db.Posts(ctx, PostQuery{PublishedOnly: true})
	must(t, err)
	pub, pubTotal, err := db.Posts(ctx, PostQuery{PublishedOnly: true, PublicOnly: true})
	must(t, err)
	if len(all) != 4 || total != 4 || len(pub) != 2 || pubTotal != 2 {
		t.Errorf("posts: %d of %d in all, %d of %d public; want 4 of 4 and 2 of 2", len(all), total, len(pub), pubTotal)
	}
	for _, p := range pub {
		if p.Visibility != Public {
			t.Errorf("public list holds %q (%s)", p.Title, p.Visibility)
		}
	}
	latest, err := db.LatestPosts(ctx, 10, true)
	must(t, err)
	if len(latest) != 2 {
		t.Errorf("latest public posts: %d, want 2", len(latest))
	}
	if err := db.SavePost(ctx, &Post{Title: "x", Visibility: "secret"}); field(err) != "visibility" {
		t.Errorf("unknown visibility: %v, want a refusal on visibility", err)
	}
	page := &Page{Title: "Minutes", Published: true, ShowInNav: true, Visibility: Members}
	must(t, db.SavePage(ctx, page))
	nav, err := db.NavPages(ctx)
	must(t, err)
	if len(nav) != 1 || nav[0].Visibility != Members {
		t.Errorf("nav pages: %+v, want the members-only page marked so", nav)
	}
	start := time.Date(2027, 1, 5, 19, 0, 0, 0, time.UTC)
	e := &Event{Title: "Closed meeting", StartsAt: start, EndsAt: start.Add(time.Hour), Timezone: "UTC", Visibility: Members}
	must(t, db.SaveEvent(ctx, e))
	if got, _ := db.Event(ctx, e.ID); got.Visibility != Members {
		t.Errorf("stored event visibility %q", got.Visibility)
	}
	if Visibility("").VisibleTo(false) || !Public.VisibleTo(false) || Members.VisibleTo(false) || !Members.VisibleTo(true) {
		t.Error("VisibleTo answers wrongly")
	}
}

// outbox returns the mails queued in db, oldest first.
func outbox(t *testing.T, db *DB) []Outgoing {
	t.Helper()
	all, err := db.Outbox(context.Background(), Window{})
	must(t, err)
	for i, j := 0, len(all)-1; i < j; i, j = i+1, j-1 {
		all[i], all[j] = all[j], all[i]
	}
	if len(all) > 1 && all[0].ID > all[1].ID {
		t.Fatal("outbox order unknown")
	}
	return all
}

// TestMemberLoginMails: a login link is mailed to a member who may log
// in, and to nobody else, at most a few open at once; the link in the
// mail logs in.
func TestMemberLoginMails(t *testing.T) {
	ctx := context.Background()
	db := openTenant(t)
	must(t, db.UpdateSite(ctx, &Site{Name: "Post 42", Email: "post42@example.org", AccentColor: DefaultAccent, Timezone: "UTC"}))
	m := &Member{Email: "sam@example.org", Name: "Sam"}
	must(t, db.SaveMember(ctx, m))
	lapsed := &Member{Email: "old@example.org", Name: "Old", Status: MemberLapsed}
	must(t, db.SaveMember(ctx, lapsed))
	for _, email := range []string{"nobody@example.org", "old@example.org"} {
		must(t, db.SendMemberLogin(ctx, email, "https://post42.example"))
	}
	if got := outbox(t, db); len(got) != 0 {
		t.Fatalf("mails to a stranger or a lapsed member: %+v", got)
	}
	for range maxOpenLoginLinks + 2 {
		must(t, db.SendMemberLogin(ctx, "SAM@example.org", "https://post42.example"))
	}
	got := outbox(t, db)
	if len(got) != maxOpenLoginLinks {
		t.Fatalf("%d mails queued, want %d", len(got), maxOpenLoginLinks)
	}
	mail := got[0]
	if mail.To != "sam@example.org" || mail.ReplyTo != "post42@example.org" || mail.Kind != MailMemberLogin ||
		!strings.Contains(mail.Subject, "Post 42") {
		t.Errorf("mail %+v", mail)
	}
	_, link, ok := strings.Cut(mail.Text, "https://post42.example/members/login/")
	if !ok {
		t.Fatalf("no link in %q", mail.Text)
	}
	link, _, _ = strings.Cut(link, "\n")
	if who, _, err := db.UseMemberLink(ctx, link); err != nil || who.ID != m.ID {
		t.Errorf("the mailed link: %+v, %v", who, err)
	}
	if !strings.Contains(mail.HTML, `href="https://post42.example/members/login/`+link+`"`) {
		t.Errorf("the HTML has no link: %q", mail.HTML)
	}
}

// TestRenewalRemindersOncePerPeriod: a reminder goes out once the renewal
// date is within the lead, once per renewal date, to active members only;
// a new date gets its own.
func TestRenewalRemindersOncePerPeriod(t *testing.T) {
	ctx := context.Background()
	db := openTenant(t)
	must(t, db.UpdateSite(ctx, &Site{Name: "Post 42", AccentColor: DefaultAccent, Timezone: "UTC"}))
	due := &Member{Email: "due@example.org", Name: "Due", RenewalDate: "2027-01-31"}
	later := &Member{Email: "later@example.org", Name: "Later", RenewalDate: "2027-03-31"}
	lapsed := &Member{Email: "lapsed@example.org", Name: "Lapsed", RenewalDate: "2027-01-15", Status: MemberLapsed}
	none := &Member{Email: "none@example.org", Name: "None"}
	for _, m := range []*Member{due, later, lapsed, none} {
		must(t, db.SaveMember(ctx, m))
	}
	day := func(s string) time.Time {
		d, err := time.Parse(time.DateOnly, s)
		must(t, err)
		return d
	}
	sweep := func(today string, want int) {
		t.Helper()
		n, err := db.QueueRenewalReminders(ctx, day(today))
		if err != nil || n != want {
			t.Errorf("sweep on %s: %d reminders, %v; want %d", today, n, err, want)
		}
	}
	sweep("2026-12-31", 0) // 31 days before
	gen := db.Generation()
	sweep("2026-12-31", 0)
	if db.Generation() != gen {
		t.Error("a sweep with nothing to do moved the generation (and dropped the page cache)")
	}
	sweep("2027-01-01", 1) // 30 days before
	sweep("2027-01-02", 0)
	sweep("2027-01-31", 0)
	got := outbox(t, db)
	if len(got) != 1 || got[0].To != "due@example.org" || got[0].Kind != MailRenewalRemind ||
		!strings.Contains(got[0].Text, "January 31, 2027") {
		t.Fatalf("outbox %+v", got)
	}
	// Renewed: the next period's date gets its own reminder.
	due.RenewalDate = "2028-01-31"
	must(t, db.SaveMember(ctx, due))
	sweep("2027-02-01", 0)
	sweep("2027-03-01", 1) // later's date, 30 days ahead
	sweep("2028-01-10", 1) // due's new date
	if got := outbox(t, db); len(got) != 3 || got[2].To != "due@example.org" {
		t.Errorf("outbox after a year: %+v", got)
	}
}

// TestApplicationNoticeToOwnersWhoOptedIn: a new application is stored
// with a notice to each owner who takes contact notices (editors cannot
// approve); the applicant's text never reaches a header.
func TestApplicationNoticeToOwnersWhoOptedIn(t *testing.T) {
	ctx := context.Background()
	db := openTenant(t)
	must(t, db.UpdateSite(ctx, &Site{Name: "Post 42", AccentColor: DefaultAccent, Timezone: "UTC"}))
	for _, a := range []*Admin{
		{Email: "owner@example.org", Role: RoleOwner, PasswordHash: testHash},
		{Email: "quiet@example.org", Role: RoleOwner, PasswordHash: testHash},
		{Email: "editor@example.org", Role: RoleEditor, PasswordHash: testHash},
		{Email: "second@example.org", Role: RoleOwner, PasswordHash: testHash},
	} {
		must(t, db.AddAdmin(ctx, a))
		if a.Email != "quiet@example.org" {
			must(t, db.SetNotifyMessages(ctx, a.ID, true))
		}
	}
	bad := &Application{Name: "Eve\r\nBcc: x@example.org", Email: "eve@example.org", Qualification: "x"}
	if err := db.ReceiveApplication(ctx, bad, "https://post42.example"); field(err) != "name" {
		t.Errorf("a two-line name: %v, want a refusal on name", err)
	}
	a := &Application{Name: "Cal", Email: "cal@example.org", Qualification: "Served 2001-2005"}
	must(t, db.ReceiveApplication(ctx, a, "https://post42.example"))
	got := outbox(t, db)
	if len(got) != 2 || got[0].To != "owner@example.org" || got[0].ReplyTo != "cal@example.org" || got[0].Kind != MailApplication ||
		!strings.Contains(got[0].Text, "Served 2001-2005") || !strings.Contains(got[0].Text, "https://post42.example/admin/members") ||
		got[1].To != "second@example.org" {
		t.Errorf("notices (want one to each owner who opted in, in order): %+v", got)
	}
	if apps, _ := db.Applications(ctx); len(apps) != 1 {
		t.Errorf("%d applications stored, want 1", len(apps))
	}
}
