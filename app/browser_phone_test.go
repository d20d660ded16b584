package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
	"github.com/chromedp/chromedp"
)

// TestOfficerCardsHoldLongEmailsOnAPhone adds officers with long email
// addresses and opens the about page in headless Chromium at phone width
// (360 px): no officer card is wider inside than its box, and the page
// does not scroll sideways.
func TestOfficerCardsHoldLongEmailsOnAPhone(t *testing.T) {
	chromium := chromiumPath(t)
	ls := startLive(t)
	email, password := ls.newTenant(t, "riverside")
	token := ls.Login(t, "riverside", email, password)
	for _, o := range []map[string]any{
		{"name": "Alexandra Montgomery-Fitzgerald", "role": "Recording Secretary", "email": "recording.secretary.and.historian@riverside-veterans-post-42.example.org"},
		{"name": "Sam Lee", "role": "Commander", "email": "commander@riverside.example.org"},
	} {
		if r := ls.Call(t, ls.Browser(), "POST", ls.SiteURL("riverside", "/api/officers"), o, webtest.Bearer(token)...); r.Status != http.StatusCreated {
			t.Fatalf("add officer: %d %s", r.Status, r.Body)
		}
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("host-resolver-rules", "MAP *."+ls.base+" 127.0.0.1"))
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	defer cancelBrowser()
	if err := chromedp.Do(browser, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	ctx, cancel := context.WithTimeout(browser, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx,
		chromedp.EmulateViewport(360, 740),
		chromedp.Navigate(ls.SiteURL("riverside", "/about")),
		chromedp.WaitVisible(chromedp.CSS(".officers")),
	); err != nil {
		t.Fatal(err)
	}
	overflowing, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('.officers li')]
		.filter(li => li.scrollWidth > li.clientWidth).map(li => li.querySelector('h3').textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	if len(overflowing) > 0 {
		t.Errorf("at 360 px, these officers' cards overflow: %s", strings.Join(overflowing, ", "))
	}
	wide, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
	if err != nil {
		t.Fatal(err)
	}
	if wide {
		t.Error("at 360 px, the about page scrolls sideways")
	}
}
