package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserUndo drives headless Chromium as an owner who undoes a
// mistake from the dashboard ("Undo changes: restore the site as it was
// at ..."): a post kept, the moment noted, a post written by mistake;
// the preview shows the counts now and then, the confirm restores the
// site, and the public news page has the kept post and not the other.
// Screenshots of the preview and of the news after the undo go to the
// artifacts.
func TestBrowserUndo(t *testing.T) {
	chromium := chromiumPath(t)
	ls := startLive(t, "--replica", "file://"+filepath.Join(t.TempDir(), "replica"))
	email, pw := ls.newTenant(t, "alpha")
	api := ls.Browser()
	token := ls.Login(t, "alpha", email, pw)
	before := ls.replicaStatus(t, "alpha").Local
	ls.post(t, api, token, "alpha", "Kept post")
	pos := ls.awaitReplicated(t, "alpha", before)
	// The position read before may predate the login's own write, which
	// then satisfies the wait: ship everything now, as the HTTP test does.
	ls.syncReplica(t)
	at := time.Now()
	time.Sleep(2 * time.Millisecond) // the replica's times are in ms
	ls.post(t, api, token, "alpha", "Mistaken post")
	ls.awaitReplicated(t, "alpha", pos)

	b := startBrowser(t, chromium, ls.base, 1024, 900)
	do, text, screenshot := b.do, b.text, b.screenshot
	site := func(path string) string { return ls.SiteURL("alpha", path) }
	do("log in and open Undo changes from the dashboard's home",
		chromedp.Navigate(site("/admin/login")), chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), email), chromedp.SendKeys(chromedp.ID("password"), pw),
		chromedp.Submit(chromedp.ID("password")), chromedp.WaitVisible(chromedp.CSS("nav.side")),
		chromedp.Navigate(site("/admin")), chromedp.WaitVisible(chromedp.CSS(`a[href="/admin/undo"]`)),
		chromedp.Click(chromedp.CSS(`a[href="/admin/undo"]`)), chromedp.WaitVisible(chromedp.ID("when")),
	)
	do("preview the site as it was between the two posts",
		chromedp.SendKeys(chromedp.ID("when"), at.UTC().Format(time.RFC3339Nano)),
		chromedp.Submit(chromedp.ID("when")), chromedp.WaitVisible(chromedp.ID("undo-confirm")),
	)
	preview := text("#undo-confirm table")
	if !strings.Contains(preview, "News posts\t2\t1") && !strings.Contains(preview, "News posts 2 1") {
		t.Errorf("the preview's table: %q, want News posts 2 now and 1 then", preview)
	}
	screenshot("undo-preview.png")
	if got := ls.postTitles(t, "alpha"); !strings.Contains(got, "Mistaken post") {
		t.Fatalf("the preview changed the site: %s", got)
	}
	// The dashboard session is younger than the moment: the restored
	// file does not have it, so the owner lands on the login page.
	do("confirm the restore",
		chromedp.Click(chromedp.CSS(`#undo-confirm button[type="submit"]`)), chromedp.WaitVisible(chromedp.ID("email")),
	)
	do("the public news page", chromedp.Navigate(site("/news")), chromedp.WaitVisible(chromedp.CSS("main")))
	if news := text("main"); !strings.Contains(news, "Kept post") || strings.Contains(news, "Mistaken post") {
		t.Errorf("the news page after the undo: %q, want the kept post and not the mistaken one", news)
	}
	screenshot("undo-done-news.png")
	if got := ls.postTitles(t, "alpha"); !strings.Contains(got, "Kept post") || strings.Contains(got, "Mistaken post") {
		t.Errorf("after the undo: posts %s, want the kept post only", got)
	}
}
