package main

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserRSVP drives headless Chromium as an admin who makes an event
// with two places taking RSVPs, then as two visitors who answer it: the
// first gets the places, the second joins the waitlist; the dashboard
// lists both. Screenshots of the RSVP form and the answer at phone width
// go to the artifacts.
func TestBrowserRSVP(t *testing.T) {
	chromium := chromiumPath(t)
	ls := startLive(t)
	email, password := ls.newTenant(t, "fishfry")
	b := startBrowser(t, chromium, ls.base, 390, 844)
	browser, do, text, screenshot := b.ctx, b.do, b.text, b.screenshot
	site := func(path string) string { return ls.SiteURL("fishfry", path) }

	start := time.Now().Add(10 * 24 * time.Hour).UTC()
	do("log in and make an event taking RSVPs",
		chromedp.Navigate(site("/admin/login")), chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), email), chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Submit(chromedp.ID("password")), chromedp.WaitVisible(chromedp.CSS("nav.side")),
		chromedp.Navigate(site("/admin/events/new")), chromedp.WaitVisible(chromedp.ID("title")),
		chromedp.SendKeys(chromedp.ID("title"), "Fish fry"),
		chromedp.SetValue(chromedp.ID("timezone"), "UTC"),
		chromedp.SetValue(chromedp.ID("starts_at"), start.Format("2006-01-02")+"T18:00"),
		chromedp.SetValue(chromedp.ID("ends_at"), start.Format("2006-01-02")+"T20:00"),
		chromedp.Click(chromedp.CSS(`input[name="rsvp"]`)),
		chromedp.SetValue(chromedp.ID("capacity"), "2"),
		chromedp.Click(chromedp.CSS(`button[value="save"]`)), chromedp.WaitVisible(chromedp.CSS(".banner.ok")),
	)
	loc, err := chromedp.Run(browser, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`/admin/events/(\d+)`).FindStringSubmatch(loc)
	if m == nil {
		t.Fatalf("after saving the event: %s", loc)
	}
	event := "/events/" + m[1]
	do("log out", chromedp.Click(chromedp.CSS(`form[action="/admin/logout"] button`)), chromedp.WaitVisible(chromedp.ID("email")))

	answer := func(who, mail, party string) {
		t.Helper()
		do("answer as "+who,
			chromedp.Navigate(site(event)), chromedp.WaitVisible(chromedp.CSS("section.rsvp a.button")),
			chromedp.Click(chromedp.CSS("section.rsvp a.button")), chromedp.WaitVisible(chromedp.ID("f-name")),
			chromedp.SendKeys(chromedp.ID("f-name"), who), chromedp.SendKeys(chromedp.ID("f-email"), mail),
			chromedp.SetValue(chromedp.ID("f-party_size"), party),
		)
	}
	answer("Ann Lee", "ann@example.org", "2")
	screenshot("rsvp-form-phone.png")
	// The form's page has a main h1 of its own: the answer's page is
	// there once the form is gone.
	do("send it", chromedp.Submit(chromedp.ID("f-name")), chromedp.WaitNotPresent(chromedp.ID("f-name")), chromedp.WaitVisible(chromedp.CSS("main h1")))
	if h := text("main h1"); h != "You are on the list" {
		t.Fatalf("after the RSVP the page says %q", h)
	}
	screenshot("rsvp-done-phone.png")
	do("the event page", chromedp.Navigate(site(event)), chromedp.WaitVisible(chromedp.CSS("section.rsvp")))
	if s := text("section.rsvp"); !strings.Contains(s, "2 going") || !strings.Contains(s, "full") || !strings.Contains(s, "Join the waitlist") {
		t.Errorf("the event page after the RSVP: %q", s)
	}
	answer("Bo Diaz", "bo@example.org", "1")
	do("send the second", chromedp.Submit(chromedp.ID("f-name")), chromedp.WaitNotPresent(chromedp.ID("f-name")), chromedp.WaitVisible(chromedp.CSS("main h1")))
	if h := text("main h1"); h != "You are on the waitlist" {
		t.Errorf("the second answer's page says %q", h)
	}
	do("the admins' list",
		chromedp.Navigate(site("/admin/login")), chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), email), chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Submit(chromedp.ID("password")), chromedp.WaitVisible(chromedp.CSS("nav.side")),
		chromedp.Navigate(site("/admin"+event+"/rsvps")), chromedp.WaitVisible(chromedp.CSS("main table")),
	)
	if s := text("main"); !strings.Contains(s, "Ann Lee") || !strings.Contains(s, "Bo Diaz") || !strings.Contains(s, "2 going, 1 waiting") {
		t.Errorf("the dashboard's RSVP list: %q", s)
	}
}
