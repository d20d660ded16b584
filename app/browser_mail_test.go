package main

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/chapterhouse/chapterhouse/app/internal/mailpit"
)

// TestBrowserPasswordReset drives headless Chromium through the
// self-service password reset against the real binary and a real SMTP
// server: ask for a link from the login page, the mail arrives, its link
// sets a new password, every older session ends (the browser's own and
// another client's), the new password logs in, and the link is dead.
func TestBrowserPasswordReset(t *testing.T) {
	chromium := chromiumPath(t)
	mp := mailpit.Start(t)
	ls := startLive(t, "--smtp", mp.URL(), "--mail-from", "chapters@"+liveBase)
	email, oldPW := ls.newTenant(t, "riverside")
	host := "riverside." + ls.base

	other := ls.Browser()
	ls.DashLogin(t, other, host, email, oldPW)

	b := startBrowser(t, chromium, ls.base, 0, 0)
	do, text := b.do, b.text
	site := func(path string) string { return ls.SiteURL("riverside", path) }

	do("log in with the old password",
		chromedp.Navigate(site("/admin/login")), chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), email), chromedp.SendKeys(chromedp.ID("password"), oldPW),
		chromedp.Submit(chromedp.ID("password")), chromedp.WaitVisible(chromedp.CSS("nav.side")))
	// The login page links to the reset (a logged-in browser is sent on
	// from it, so this one opens the link's address).
	if p := ls.Form(t, ls.Browser(), host, "/admin/login", nil); !strings.Contains(p.Body, `href="/admin/forgot"`) {
		t.Error("the login page does not link to the reset")
	}
	do("ask for a reset link",
		chromedp.Navigate(site("/admin/forgot")), chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), email), chromedp.Submit(chromedp.ID("email")),
		chromedp.WaitVisible(chromedp.CSS(".banner.ok")))
	if msg := text(".banner.ok"); !strings.Contains(msg, "If "+email+" is the address of an admin") {
		t.Errorf("after asking, the page says %q", msg)
	}

	m := mp.WaitFor(t, email)
	link := regexp.MustCompile(`http://\S+/admin/reset\?token=[a-z2-7]+`).FindString(m.Text)
	if link == "" || !strings.HasPrefix(link, site("/admin/reset")) {
		t.Fatalf("no link to this site in the mail:\n%s", m.Text)
	}
	newPW := "violet hammock under seven moons"
	do("set the new password from the link",
		chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("new_password")),
		chromedp.SendKeys(chromedp.ID("new_password"), newPW), chromedp.SendKeys(chromedp.ID("confirm_password"), newPW),
		chromedp.Submit(chromedp.ID("confirm_password")), chromedp.WaitVisible(chromedp.CSS(".banner.ok")))
	if msg := text(".banner.ok"); !strings.Contains(msg, "every session of your account has ended") {
		t.Errorf("after the reset, the page says %q", msg)
	}
	do("the browser's old session has ended",
		chromedp.Navigate(site("/admin/posts")), chromedp.WaitVisible(chromedp.ID("password")))
	if p := ls.Form(t, other, host, "/admin", nil); p.Status != http.StatusSeeOther {
		t.Errorf("another client's session from before the reset: %d, want a redirect to the login", p.Status)
	}
	do("log in with the new password",
		chromedp.Navigate(site("/admin/login")), chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), email), chromedp.SendKeys(chromedp.ID("password"), newPW),
		chromedp.Submit(chromedp.ID("password")), chromedp.WaitVisible(chromedp.CSS("nav.side")))
	do("the link again", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS(".banner.err")))
	if msg := text(".banner.err"); !strings.Contains(msg, "not valid") {
		t.Errorf("the used link says %q", msg)
	}
	if n := len(mp.Messages(t)); n != 1 {
		t.Errorf("%d mails, want 1", n)
	}
}
