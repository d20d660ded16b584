package admin_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/mailpit"
	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/app/internal/web/admin"
	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

var linkPattern = regexp.MustCompile(`https?://[^\s"<>]+/admin/(?:reset|invite)\?token=[a-z2-7]+`)

// mailLink is the reset or invitation link of a delivered mail.
func mailLink(t *testing.T, m mailpit.Mail) string {
	t.Helper()
	link := linkPattern.FindString(m.Text)
	if link == "" {
		t.Fatalf("no link in the mail %q:\n%s", m.Subject, m.Text)
	}
	if !strings.Contains(m.HTML, `href="`+link+`"`) {
		t.Errorf("the HTML part lacks the link %s", link)
	}
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return u.RequestURI()
}

func waitResetJobs() {
	for admin.ResetJobsRunning() > 0 {
		time.Sleep(5 * time.Millisecond)
	}
}

// TestPasswordResetByMail runs the self-service reset over real HTTP and
// a real SMTP server: the answer is the same for an admin's address and
// for any other, only the admin gets a mail, its link sets a new password
// once, ends the admin's sessions, and cannot be used again.
func TestPasswordResetByMail(t *testing.T) {
	ls := webtest.NewEmpty(t)
	email, oldPW := ls.NewTenant(t, "riverside")
	host := webtest.Host("riverside")
	mp := mailpit.Start(t)
	ls.StartMail(t, mp.URL(), platform.MailConfig{}, io.Discard)

	// A logged-in session, which the reset must end.
	old := ls.Browser()
	ls.DashLogin(t, old, host, email, oldPW)

	c := ls.Browser()
	if p := ls.Form(t, c, host, "/admin/login", nil); !strings.Contains(p.Body, `href="/admin/forgot"`) {
		t.Error("the login page does not link to the reset")
	}
	stranger := ls.Form(t, c, host, "/admin/forgot", url.Values{"email": {"nobody@example.org"}})
	known := ls.Form(t, c, host, "/admin/forgot", url.Values{"email": {email}})
	if known.Status != http.StatusOK || stranger.Status != known.Status ||
		strings.ReplaceAll(stranger.Body, "nobody@example.org", email) != known.Body {
		t.Fatalf("the answers differ for an admin's address (%d) and another (%d): account enumeration", known.Status, stranger.Status)
	}
	m := mp.WaitFor(t, email)
	waitResetJobs()
	if got := mp.Messages(t); len(got) != 1 {
		t.Errorf("%d mails delivered, want 1 (none to the stranger)", len(got))
	}
	if m.From.Name != "Chapter riverside" || m.From.Address != webtest.MailFrom {
		t.Errorf("From %+v, want the chapter's name and --mail-from", m.From)
	}
	link := mailLink(t, m)

	if p := ls.Form(t, c, host, link, nil); p.Status != http.StatusOK || !strings.Contains(p.Body, email) {
		t.Fatalf("GET %s: %d", link, p.Status)
	}
	token := strings.TrimPrefix(link, "/admin/reset?token=")
	newPW := "a brand new passphrase for the post"
	p := ls.Form(t, c, host, "/admin/reset", url.Values{"token": {token}, "new_password": {newPW}, "confirm_password": {"something else entirely"}})
	if p.Status != http.StatusUnprocessableEntity {
		t.Errorf("mismatched passwords: %d, want 422", p.Status)
	}
	p = ls.Form(t, c, host, "/admin/reset", url.Values{"token": {token}, "new_password": {newPW}, "confirm_password": {newPW}})
	if p.Status != http.StatusSeeOther || p.Location != "/admin/login?done=reset" {
		t.Fatalf("POST /admin/reset: %d %q %.300s", p.Status, p.Location, p.Body)
	}
	if p := ls.Form(t, old, host, "/admin", nil); p.Status != http.StatusSeeOther {
		t.Errorf("the session from before the reset still works: %d", p.Status)
	}
	ls.DashLogin(t, ls.Browser(), host, email, newPW)
	for _, again := range []webtest.Page{
		ls.Form(t, c, host, link, nil),
		ls.Form(t, c, host, "/admin/reset", url.Values{"token": {token}, "new_password": {"yet another long passphrase"}, "confirm_password": {"yet another long passphrase"}}),
	} {
		if again.Status != http.StatusNotFound || !strings.Contains(again.Body, "not valid") {
			t.Errorf("the used link: %d, want 404 saying it is not valid", again.Status)
		}
	}
	ls.DashLogin(t, ls.Browser(), host, email, newPW)
}

// TestInviteAdminByMail: the owner invites an address, the invitee sets
// their own password from the link and logs in with the invited role.
func TestInviteAdminByMail(t *testing.T) {
	ls := webtest.NewEmpty(t)
	email, pw := ls.NewTenant(t, "riverside")
	host := webtest.Host("riverside")
	mp := mailpit.Start(t)
	ls.StartMail(t, mp.URL(), platform.MailConfig{}, io.Discard)
	owner := ls.Browser()
	csrf := ls.DashLogin(t, owner, host, email, pw)

	p := ls.Form(t, owner, host, "/admin/admins/invite", url.Values{"csrf_token": {csrf}, "email": {"new.editor@example.net"}, "role": {"editor"}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("invite: %d %.300s", p.Status, p.Body)
	}
	if p := ls.Form(t, owner, host, "/admin/admins/invite", url.Values{"csrf_token": {csrf}, "email": {email}, "role": {"editor"}}); p.Status != http.StatusUnprocessableEntity {
		t.Errorf("inviting an admin's address: %d, want 422", p.Status)
	}
	if p := ls.Form(t, owner, host, "/admin/admins/invite", url.Values{"csrf_token": {csrf}, "email": {"x@example.net\r\nBcc: y@example.net"}, "role": {"editor"}}); p.Status != http.StatusUnprocessableEntity {
		t.Errorf("inviting a header injection: %d, want 422", p.Status)
	}
	m := mp.WaitFor(t, "new.editor@example.net")
	link := mailLink(t, m)
	c := ls.Browser()
	if p := ls.Form(t, c, host, link, nil); p.Status != http.StatusOK || !strings.Contains(p.Body, "new.editor@example.net") {
		t.Fatalf("GET %s: %d", link, p.Status)
	}
	token := strings.TrimPrefix(link, "/admin/invite?token=")
	chosen := "the editor's own long passphrase"
	p = ls.Form(t, c, host, "/admin/invite", url.Values{"token": {token}, "new_password": {chosen}, "confirm_password": {chosen}})
	if p.Status != http.StatusSeeOther || p.Location != "/admin/login?done=joined" {
		t.Fatalf("accepting: %d %q %.300s", p.Status, p.Location, p.Body)
	}
	ls.DashLogin(t, c, host, "new.editor@example.net", chosen)
	a, err := ls.DB("riverside").AdminByEmail(context.Background(), "new.editor@example.net")
	if err != nil || a.Role != tenantdb.RoleEditor {
		t.Errorf("the new admin: %+v, %v; want an editor", a, err)
	}
	if p := ls.Form(t, c, host, "/admin/invite", url.Values{"token": {token}, "new_password": {chosen}, "confirm_password": {chosen}}); p.Status != http.StatusNotFound {
		t.Errorf("the used invitation: %d, want 404", p.Status)
	}
}

// TestContactNoticeByMail: an admin who opted in gets a mail per contact
// message, with the visitor as Reply-To; a line break the visitor put in
// the subject adds no header; an admin who did not opt in gets nothing.
// The owner's outbox shows the mail as sent.
func TestContactNoticeByMail(t *testing.T) {
	ls := webtest.NewEmpty(t)
	email, pw := ls.NewTenant(t, "riverside")
	ls.AddAdmin(t, "riverside", "quiet@example.org", tenantdb.RoleEditor, "a quiet editor's passphrase")
	host := webtest.Host("riverside")
	mp := mailpit.Start(t)
	ls.StartMail(t, mp.URL(), platform.MailConfig{}, io.Discard)
	c := ls.Browser()
	csrf := ls.DashLogin(t, c, host, email, pw)
	if p := ls.Form(t, c, host, "/admin/notify", url.Values{"csrf_token": {csrf}, "notify": {"on"}}); p.Status != http.StatusSeeOther {
		t.Fatalf("opt in: %d", p.Status)
	}
	if p := ls.Form(t, c, host, "/admin/messages", nil); !strings.Contains(p.Body, `value="on" checked`) {
		t.Error("the messages page does not show the opt-in as on")
	}
	r := ls.Post(host, "/contact", url.Values{"name": {"Pat Jones"}, "email": {"pat@example.com"},
		"subject": {"Hall\r\nBcc: victim@example.net"}, "body": {"Is the hall free on June 6?"}, "website": {""}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("contact: %d %s", r.Status, r.Body)
	}
	m := mp.WaitFor(t, email)
	if len(m.ReplyTo) != 1 || m.ReplyTo[0].Address != "pat@example.com" {
		t.Errorf("Reply-To %+v, want the visitor", m.ReplyTo)
	}
	if m.Subject != "New message: Hall Bcc: victim@example.net" || !strings.Contains(m.Text, "Is the hall free on June 6?") {
		t.Errorf("subject %q, text %q", m.Subject, m.Text)
	}
	h := mp.Headers(t, m.ID)
	if len(h["Bcc"]) != 0 || len(h["To"]) != 1 {
		t.Errorf("headers To %q Bcc %q: the visitor's line break made a header", h["To"], h["Bcc"])
	}
	for _, s := range mp.Messages(t) {
		for _, to := range s.To {
			if to.Address != email {
				t.Errorf("a mail to %s, who did not opt in", to.Address)
			}
		}
	}
	p := ls.Form(t, c, host, "/admin/outbox", nil)
	if p.Status != http.StatusOK || !strings.Contains(p.Body, email) || !strings.Contains(p.Body, ">sent<") {
		t.Errorf("outbox page: %d, want the sent mail listed", p.Status)
	}
	editor := ls.Browser()
	ls.DashLogin(t, editor, host, "quiet@example.org", "a quiet editor's passphrase")
	if p := ls.Form(t, editor, host, "/admin/outbox", nil); p.Status != http.StatusForbidden {
		t.Errorf("an editor on the outbox: %d, want 403", p.Status)
	}
}

// TestMailOffSaysSo: without --smtp the dashboard says mail is off, the
// reset page says it cannot mail, and an invitation's link is shown to
// the owner once instead.
func TestMailOffSaysSo(t *testing.T) {
	ls := webtest.NewEmpty(t)
	email, pw := ls.NewTenant(t, "riverside")
	host := webtest.Host("riverside")
	c := ls.Browser()
	csrf := ls.DashLogin(t, c, host, email, pw)
	if p := ls.Form(t, c, host, "/admin", nil); !strings.Contains(p.Body, "Mail is off.") {
		t.Error("the dashboard does not say mail is off")
	}
	anon := ls.Browser()
	if p := ls.Form(t, anon, host, "/admin/forgot", url.Values{"email": {email}}); p.Status != http.StatusOK || !strings.Contains(p.Body, "sends no mail") {
		t.Errorf("reset with mail off: %d", p.Status)
	}
	p := ls.Form(t, c, host, "/admin/admins/invite", url.Values{"csrf_token": {csrf}, "email": {"new@example.net"}, "role": {"owner"}})
	if p.Status != http.StatusOK || !linkPattern.MatchString(p.Body) {
		t.Fatalf("invite with mail off: %d, want the link shown", p.Status)
	}
}
