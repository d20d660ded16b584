package site_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chapterhouse/chapterhouse/app/internal/mail"
	"github.com/chapterhouse/chapterhouse/app/internal/mailpit"
	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/app/internal/web/site"
	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// TestMemberLoginThroughRealMail: a member asks for a login link on the
// chapter's site, the mail worker delivers it to a real SMTP server
// (Mailpit), and the link in the delivered mail logs the member in once,
// after which the members-only post is theirs to read.
func TestMemberLoginThroughRealMail(t *testing.T) {
	mp := mailpit.Start(t)
	ts := webtest.NewEmpty(t)
	sender, err := mail.New(mail.Config{URL: mp.URL(), From: "chapters@chapters.test"}, io.Discard)
	webtest.Must(t, err)
	mailer := ts.Platform.NewMailer(platform.MailConfig{Sender: sender, From: "chapters@chapters.test"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		mailer.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	var slug string
	ts.AddTenant("lodge", "Lodge 7", func(db *tenantdb.DB) {
		c := context.Background()
		site, err := db.Site(c)
		webtest.Must(t, err)
		site.Email = "secretary@lodge7.example"
		webtest.Must(t, db.UpdateSite(c, &site))
		webtest.Must(t, db.SaveMember(c, &tenantdb.Member{Email: "ann@example.org", Name: "Ann Member"}))
		p := &tenantdb.Post{Title: "Minutes " + marker, Body: marker, Published: true, Visibility: tenantdb.Members}
		webtest.Must(t, db.SavePost(c, p))
		slug = p.Slug
	})
	host := webtest.Host("lodge")
	if r := ts.Get(host, "/members/login"); strings.Contains(r.Body, "cannot send mail") {
		t.Error("the login page says mail is off while it is on")
	}
	if r := ts.Post(host, "/members/login", url.Values{"email": {"ANN@example.org"}}); r.Status != http.StatusOK {
		t.Fatalf("asking for a link: %d", r.Status)
	}
	m := mp.WaitFor(t, "ann@example.org")
	if !strings.Contains(m.Subject, "Lodge 7") {
		t.Errorf("subject %q", m.Subject)
	}
	base := "http://" + host
	_, rest, ok := strings.Cut(m.Text, base+"/members/login/")
	if !ok {
		t.Fatalf("no link to %s in the delivered mail: %q", base, m.Text)
	}
	token, _, _ := strings.Cut(rest, "\n")
	path := "/members/login/" + strings.TrimSpace(token)
	r := ts.Post(host, path, url.Values{})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("the mailed link: %d", r.Status)
	}
	var cookie string
	for _, ck := range (&http.Response{Header: r.Header}).Cookies() {
		if ck.Name == site.MemberCookie {
			cookie = ck.Name + "=" + ck.Value
		}
	}
	if r := ts.Get(host, "/news/"+slug, "Cookie: "+cookie); r.Status != http.StatusOK || !strings.Contains(r.Body, marker) {
		t.Errorf("the members-only post for the member: %d", r.Status)
	}
	if r := ts.Get(host, "/news/"+slug); r.Status != http.StatusNotFound {
		t.Errorf("the members-only post anonymously: %d, want 404", r.Status)
	}
	if r := ts.Post(host, path, url.Values{}); r.Status != http.StatusGone {
		t.Errorf("the mailed link a second time: %d, want 410", r.Status)
	}
}
