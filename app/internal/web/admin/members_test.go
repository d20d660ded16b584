package admin_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// TestRosterImportErrorsChangeNothing: a roster with bad lines is refused
// as a whole, every bad line named with its number and field, and the
// tenant's file is as it was (same digest); a good one adds and updates.
func TestRosterImportErrorsChangeNothing(t *testing.T) {
	ls := webtest.NewEmpty(t)
	email, pw := ls.NewTenant(t, "lodge")
	host := webtest.Host("lodge")
	c := ls.Browser()
	csrf := ls.DashLogin(t, c, host, email, pw)
	db := ls.DB("lodge")
	ctx := context.Background()
	webtest.Must(t, db.SaveMember(ctx, &tenantdb.Member{Email: "ann@example.org", Name: "Ann", Status: tenantdb.MemberLapsed}))
	before, err := db.Digest(ctx)
	webtest.Must(t, err)

	importCSV := func(text string) webtest.Page {
		t.Helper()
		return ls.Form(t, c, host, "/admin/members/import", url.Values{"csrf_token": {csrf}, "csv": {text}})
	}
	bad := []struct{ name, csv, want string }{
		{"bad lines", "email,name,status,renewal_date\n" +
			"bob@example.org,Bob,active,2027-01-31\n" +
			"not-an-email,Cal,active,\n" +
			"BOB@example.org,Bob again,active,\n" +
			"dee@example.org,Dee,honorary,\n" +
			"eve@example.org,Eve,active,31/01/2027\n" +
			"ann@example.org,,active,\n",
			"Line 3, email|Line 4, email: BOB@example.org is also on line 2|Line 5, status|Line 6, renewal_date|Line 7, name"},
		{"unknown column", "email,name,password\nbob@example.org,Bob,x\n", "Line 1, password: is not a column"},
		{"no name column", "email\nbob@example.org\n", "Line 1, name: the column is required"},
		{"ragged line", "email,name\nbob@example.org,Bob,extra\n", "Line 2"},
		{"empty", "\n", "choose a CSV file"},
	}
	for _, tc := range bad {
		p := importCSV(tc.csv)
		if p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Body, "Nothing was imported") {
			t.Errorf("%s: %d, want 422 saying nothing was imported", tc.name, p.Status)
		}
		for _, want := range strings.Split(tc.want, "|") {
			if !strings.Contains(p.Body, want) {
				t.Errorf("%s: the page does not say %q", tc.name, want)
			}
		}
	}
	after, err := db.Digest(ctx)
	webtest.Must(t, err)
	if diff := before.Diff(after); len(diff) != 0 {
		t.Fatalf("refused imports changed tables %v", diff)
	}

	p := importCSV("name,email,renewal_date,status\nBob,bob@example.org,2027-01-31,\nAnn Again,ANN@example.org,,active\n")
	if p.Status != http.StatusOK || !strings.Contains(p.Body, "1 added, 1 updated") {
		t.Fatalf("a good import: %d", p.Status)
	}
	ann, err := db.MemberByEmail(ctx, "ann@example.org")
	webtest.Must(t, err)
	if ann.Name != "Ann Again" || ann.Status != tenantdb.MemberActive || ann.Email != "ANN@example.org" {
		t.Errorf("ann after the import: %+v", ann)
	}

	// Export: the roster, with cells a spreadsheet would run as formulas
	// defused; it imports back unchanged.
	webtest.Must(t, db.SaveMember(ctx, &tenantdb.Member{Email: "x@example.org", Name: "=HYPERLINK(\"http://evil\")"}))
	exp := ls.Form(t, c, host, "/admin/members.csv", nil)
	if exp.Status != http.StatusOK || !strings.HasPrefix(exp.Header.Get("Content-Type"), "text/csv") ||
		!strings.HasPrefix(exp.Body, "email,name,phone,address,qualification,status,renewal_date\n") ||
		!strings.Contains(exp.Body, `'=HYPERLINK(""http://evil"")`) {
		t.Fatalf("export: %d %q", exp.Status, exp.Body)
	}
	if p := importCSV(exp.Body); p.Status != http.StatusOK || !strings.Contains(p.Body, "0 added, 3 updated") {
		t.Errorf("re-importing the export: %d", p.Status)
	}
	x, _ := db.MemberByEmail(ctx, "x@example.org")
	if x.Name != "=HYPERLINK(\"http://evil\")" {
		t.Errorf("the name came back as %q", x.Name)
	}
}

// TestRosterInvitationsAndApplications: an owner invites a member (an
// invitation is queued, the roster says invited) and approves an
// application (a member is made, the application goes, a welcome is
// queued); editors cannot see the roster.
func TestRosterInvitationsAndApplications(t *testing.T) {
	ls := webtest.NewEmpty(t)
	email, pw := ls.NewTenant(t, "lodge")
	host := webtest.Host("lodge")
	c := ls.Browser()
	csrf := ls.DashLogin(t, c, host, email, pw)
	db := ls.DB("lodge")
	ctx := context.Background()

	p := ls.Form(t, c, host, "/admin/members/invite", url.Values{"csrf_token": {csrf}, "name": {"Bob"}, "email": {"bob@example.org"}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("invite: %d %s", p.Status, p.Body)
	}
	if p := ls.Form(t, c, host, "/admin/members/invite", url.Values{"csrf_token": {csrf}, "name": {"Bob"}, "email": {"BOB@example.org"}}); p.Status != http.StatusUnprocessableEntity ||
		!strings.Contains(p.Body, "already a member") {
		t.Errorf("inviting a member twice: %d", p.Status)
	}
	mails, err := db.Outbox(ctx, tenantdb.Window{})
	webtest.Must(t, err)
	if len(mails) != 1 || mails[0].To != "bob@example.org" || mails[0].Kind != tenantdb.MailMemberInvite ||
		!strings.Contains(mails[0].Text, "http://"+host+":"+ls.Port()+"/members/login/") {
		t.Fatalf("outbox after an invitation: %+v", mails)
	}
	if roster := ls.Form(t, c, host, "/admin/members", nil); !strings.Contains(roster.Body, "bob@example.org") || !strings.Contains(roster.Body, "invited") {
		t.Errorf("roster: %d", roster.Status)
	}

	a := &tenantdb.Application{Name: "Cal", Email: "cal@example.org", Qualification: "Served 2001-2005"}
	webtest.Must(t, db.AddApplication(ctx, a))
	p = ls.Form(t, c, host, "/admin/applications/"+strconv.FormatInt(a.ID, 10)+"/approve", url.Values{"csrf_token": {csrf}, "renewal_date": {"2027-06-30"}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("approve: %d", p.Status)
	}
	cal, err := db.MemberByEmail(ctx, "cal@example.org")
	if err != nil || cal.RenewalDate != "2027-06-30" || cal.Qualification != "Served 2001-2005" || cal.Status != tenantdb.MemberActive {
		t.Errorf("cal: %+v, %v", cal, err)
	}
	if apps, _ := db.Applications(ctx); len(apps) != 0 {
		t.Errorf("applications left: %+v", apps)
	}
	if mails, _ := db.Outbox(ctx, tenantdb.Window{}); len(mails) != 2 || mails[0].To != "cal@example.org" {
		t.Errorf("no welcome for cal: %+v", mails)
	}

	ls.AddAdmin(t, "lodge", "ed@example.org", "editor", "a long editor password")
	ed := ls.Browser()
	ls.DashLogin(t, ed, host, "ed@example.org", "a long editor password")
	for _, path := range []string{"/admin/members", "/admin/members.csv"} {
		if p := ls.Form(t, ed, host, path, nil); p.Status != http.StatusForbidden {
			t.Errorf("an editor GET %s: %d, want 403", path, p.Status)
		}
	}
}

// TestMembersOnlyBox: the forms' "Members only" box stores the visibility,
// the lists mark such items, and an edit without the box makes it public.
func TestMembersOnlyBox(t *testing.T) {
	ls := webtest.NewEmpty(t)
	email, pw := ls.NewTenant(t, "lodge")
	host := webtest.Host("lodge")
	c := ls.Browser()
	csrf := ls.DashLogin(t, c, host, email, pw)
	db := ls.DB("lodge")
	p := ls.Form(t, c, host, "/admin/posts/new", url.Values{"csrf_token": {csrf}, "title": {"Minutes"}, "body": {"x"},
		"published": {"on"}, "members_only": {"on"}, "action": {"save"}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("saving a post: %d %s", p.Status, p.Body)
	}
	posts, _, err := db.Posts(context.Background(), tenantdb.PostQuery{})
	webtest.Must(t, err)
	if len(posts) != 1 || posts[0].Visibility != tenantdb.Members {
		t.Fatalf("stored posts %+v", posts)
	}
	if list := ls.Form(t, c, host, "/admin/posts", nil); !strings.Contains(list.Body, "Members only") {
		t.Error("the list does not mark the members-only post")
	}
	if edit := ls.Form(t, c, host, "/admin/posts/"+strconv.FormatInt(posts[0].ID, 10), nil); !strings.Contains(edit.Body, `name="members_only" checked`) {
		t.Error("the edit form does not show the box checked")
	}
	p = ls.Form(t, c, host, "/admin/posts/"+strconv.FormatInt(posts[0].ID, 10), url.Values{"csrf_token": {csrf}, "title": {"Minutes"},
		"body": {"x"}, "published": {"on"}, "action": {"save"}})
	if again, _ := db.Post(context.Background(), posts[0].ID); p.Status != http.StatusSeeOther || again.Visibility != tenantdb.Public {
		t.Errorf("after unchecking the box: %d, %q", p.Status, again.Visibility)
	}
}
