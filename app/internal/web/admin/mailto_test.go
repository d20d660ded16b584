package admin_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"testing"

	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
)

// TestContactEmailCannotInjectMailtoFields: the contact form refuses an
// email that carries a query, a display name, a second address or a line
// break (422, nothing stored), and an address that is legal but full of
// URL characters gets reply links that keep it one recipient with no
// header field but the subject.
func TestContactEmailCannotInjectMailtoFields(t *testing.T) {
	ls := webtest.NewEmpty(t)
	email, password := ls.NewTenant(t, "post")
	host := webtest.Host("post")
	send := func(addr string) webtest.Page {
		return ls.Form(t, ls.Browser(), host, "/contact", url.Values{"name": {"Karen"}, "email": {addr},
			"subject": {"Hall & bar?"}, "body": {"Is it free?"}})
	}
	const odd = "k?bcc=evil%40example.net&body=hi@example.com"
	if p := send(odd); p.Status != http.StatusSeeOther {
		t.Fatalf("contact email %q (legal): %d %s", odd, p.Status, p.Body)
	}
	for _, bad := range []string{
		"karen@example.com?bcc=evil@example.net&body=hi",
		"karen@example.com?bcc=evil%40example.net&body=Send%20money",
		"Karen <karen@example.com>",
		"karen@example.com\r\nBcc: evil@example.net",
	} {
		if p := send(bad); p.Status != http.StatusUnprocessableEntity {
			t.Errorf("contact email %q: %d, want 422", bad, p.Status)
		}
	}
	ms, err := ls.DB("post").Messages(context.Background())
	webtest.Must(t, err)
	if len(ms) != 1 {
		t.Fatalf("refused messages were stored: %+v", ms)
	}

	c := ls.Browser()
	csrf := ls.DashLogin(t, c, host, email, password)
	p := ls.Form(t, c, host, "/admin/messages/"+strconv.FormatInt(ms[0].ID, 10)+"/read", url.Values{"csrf_token": {csrf}})
	p = ls.Form(t, c, host, p.Location, nil)
	links := regexp.MustCompile(`href="(mailto:[^"]*)"`).FindAllStringSubmatch(p.Body, -1)
	if len(links) != 2 {
		t.Fatalf("message page has %d mailto links, want 2:\n%s", len(links), p.Body)
	}
	for _, l := range links {
		u, err := url.Parse(html.UnescapeString(l[1]))
		if err != nil {
			t.Fatalf("mailto link %q: %v", l[1], err)
		}
		to, err := url.PathUnescape(u.Opaque)
		if err != nil || to != odd {
			t.Errorf("mailto link %q is addressed to %q, want %q", l[1], to, odd)
		}
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			t.Fatalf("mailto link %q: %v", l[1], err)
		}
		for k := range q {
			if k != "subject" {
				t.Errorf("mailto link %q has the header field %q", l[1], k)
			}
		}
		if s := q.Get("subject"); u.RawQuery != "" && s != "Re: Hall & bar?" {
			t.Errorf("mailto link %q: subject %q", l[1], s)
		}
	}
}
