package main

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
)

// minutesPDF is a PDF that runs JavaScript when a viewer opens it: the
// site must still only ever offer it as a download.
const minutesPDF = "%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R /OpenAction 3 0 R >> endobj\n" +
	"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n" +
	"3 0 obj << /S /JavaScript /JS (app.alert\\('minutes'\\)) >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"

// TestBrowserLibraryOnAPhone drives headless Chromium through the
// dashboard: upload a PDF to the document library, make an album and
// upload photos to it, write a post with the editor's "insert picture"
// (its live preview showing the picture); then opens the documents page,
// the album and the home page at phone width (360 px): nothing scrolls
// sideways, the photos load, and a phone is sent a smaller copy, not the
// original. Screenshots go to the artifacts dir.
func TestBrowserLibraryOnAPhone(t *testing.T) {
	chromium := chromiumPath(t)
	ls := startLive(t)
	email, password := ls.newTenant(t, "riverside")
	site := func(path string) string { return ls.SiteURL("riverside", path) }

	dir := t.TempDir()
	pdf := filepath.Join(dir, "May minutes.pdf")
	writeFile(t, pdf, minutesPDF)
	photos := []string{filepath.Join(dir, "parade.jpg"), filepath.Join(dir, "colors.jpg")}
	writeFile(t, photos[0], string(webtest.JPEG(1800, 1200)))
	writeFile(t, photos[1], string(webtest.JPEG(1200, 1600)))
	inline := filepath.Join(dir, "wreath.png")
	writeFile(t, inline, string(webtest.PNG(640, 480)))

	b := startBrowser(t, chromium, ls.base, 1280, 1000)
	browser, do, screenshot := b.ctx, b.do, b.screenshot
	eval := func(step, js string) bool {
		t.Helper()
		ctx, cancel := context.WithTimeout(browser, time.Minute)
		defer cancel()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		return v
	}
	poll := func(step, js string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(browser, time.Minute)
		defer cancel()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](js)); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}

	do("log in",
		chromedp.Navigate(site("/admin/login")),
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitVisible(chromedp.CSS("nav.side")),
	)

	do("upload a PDF",
		chromedp.Navigate(site("/admin/documents")),
		chromedp.WaitVisible(chromedp.ID("file")),
		chromedp.SetUploadFiles(chromedp.ID("file"), []string{pdf}),
		chromedp.SendKeys(chromedp.ID("title"), "Minutes of the May meeting"),
		chromedp.SetValue(chromedp.ID("category"), "minutes"),
		chromedp.SetValue(chromedp.ID("dated"), "2026-05-12"),
		chromedp.Submit(chromedp.ID("title")),
		chromedp.WaitVisible(chromedp.CSS(".banner.ok")),
	)

	do("make an album",
		chromedp.Navigate(site("/admin/albums/new")),
		chromedp.WaitVisible(chromedp.ID("title")),
		chromedp.SendKeys(chromedp.ID("title"), "Veterans Day parade"),
		chromedp.SetValue(chromedp.ID("dated"), "2026-11-11"),
		chromedp.Submit(chromedp.ID("title")),
		chromedp.WaitVisible(chromedp.ID("files")),
	)
	do("upload photos to it",
		chromedp.SetUploadFiles(chromedp.ID("files"), photos),
		chromedp.Submit(chromedp.ID("files")),
		chromedp.WaitVisible(chromedp.CSS(".banner.ok")),
		chromedp.WaitVisible(chromedp.CSS(".album-photos img")),
	)
	do("caption the first photo",
		chromedp.SendKeys(chromedp.CSS(".album-photos li:first-child input[name^=caption]"), "The post's color guard"),
		// The upload's banner is on this page already: remove it, so that
		// the wait below is for the page the caption's form answers with
		// (else the next navigation aborts that one).
		chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('.banner.ok').forEach(e => e.remove())`),
		chromedp.Click(chromedp.CSS(`form[action$="/photos"] .actions button`)),
		chromedp.WaitVisible(chromedp.CSS(".banner.ok")),
	)

	do("open the editor", chromedp.Navigate(site("/admin/posts/new")), chromedp.WaitVisible(chromedp.CSS(`.editor-toolbar button[data-command="picture"]`)))
	do("write with the buttons",
		chromedp.SendKeys(chromedp.ID("title"), "Parade photos are up"),
		chromedp.SendKeys(chromedp.ID("body"), "Thank you all"),
		chromedp.Evaluate[chromedp.Void](`(() => { const t = document.getElementById('body'); t.setSelectionRange(0, 9); })()`),
		chromedp.Click(chromedp.CSS(`.editor-toolbar button[data-command="bold"]`)),
	)
	poll("the live preview shows the bold text", `!!document.querySelector('.live-preview strong') && document.querySelector('.live-preview strong').textContent === 'Thank you'`)
	do("insert a picture from the library",
		chromedp.Click(chromedp.CSS(`.editor-toolbar button[data-command="picture"]`)),
		chromedp.WaitVisible(chromedp.CSS(".picker-list .pick")),
		chromedp.Click(chromedp.CSS(".picker-list li:first-child .pick")),
	)
	poll("the text has the picture", `/!\[[^\]]*\]\(\/media\/[a-z2-7]+\)/.test(document.getElementById('body').value)`)
	poll("the live preview shows the picture", `(() => { const i = document.querySelector('.live-preview img'); return !!i && i.complete && i.naturalWidth > 0; })()`)
	do("upload a picture from the editor",
		chromedp.Click(chromedp.CSS(`.editor-toolbar button[data-command="picture"]`)),
		chromedp.WaitVisible(chromedp.CSS(".picker-upload input[type=file]")),
		chromedp.SetUploadFiles(chromedp.CSS(".picker-upload input[type=file]"), []string{inline}),
		chromedp.SendKeys(chromedp.CSS(".picker-upload input[type=text]"), "The memorial wreath"),
		chromedp.Click(chromedp.CSS(".picker-upload button")),
	)
	poll("the uploaded picture is in the text", `document.getElementById('body').value.includes('![The memorial wreath](/media/')`)
	screenshot("library-editor.png")
	do("save the post",
		chromedp.Click(chromedp.CSS(`button[value="save"]`)),
		chromedp.WaitVisible(chromedp.CSS(".banner.ok")),
	)

	do("phone width", chromedp.EmulateViewport(360, 740))
	noSideways := func(page string) {
		t.Helper()
		if eval(page+" width", `document.documentElement.scrollWidth > window.innerWidth`) {
			t.Errorf("at 360 px, %s scrolls sideways", page)
		}
	}
	do("open the minutes", chromedp.Navigate(site("/documents/minutes")), chromedp.WaitVisible(chromedp.CSS(".docs a")))
	if !eval("the download link", `(() => { const a = document.querySelector('.docs a'); return a.hasAttribute('download') && /^\/files\/[a-z2-7]+$/.test(a.getAttribute('href')) && a.textContent === 'Minutes of the May meeting'; })()`) {
		t.Error("the minutes page has no download link to the PDF")
	}
	noSideways("/documents/minutes")
	screenshot("phone-documents.png")
	link, err := chromedp.Run(browser, chromedp.AttributeValue(chromedp.CSS(".docs a"), "href"))
	if err != nil {
		t.Fatal(err)
	}
	r := ls.Call(t, ls.Browser(), "GET", site(link.Value), nil)
	if r.Status != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Disposition"), "attachment") || !strings.Contains(r.Header.Get("Content-Security-Policy"), "sandbox") {
		t.Errorf("the PDF: %d, Content-Disposition %q, CSP %q", r.Status, r.Header.Get("Content-Disposition"), r.Header.Get("Content-Security-Policy"))
	}

	do("open the album", chromedp.Navigate(site("/albums/veterans-day-parade")), chromedp.WaitVisible(chromedp.CSS(".photos img")))
	poll("the photos load", `[...document.querySelectorAll('.photos img')].every(i => i.complete && i.naturalWidth > 0)`)
	if !eval("a phone gets a copy", `[...document.querySelectorAll('.photos img')].every(i => /\/media\/[a-z2-7]+\/(small|medium)$/.test(new URL(i.currentSrc).pathname))`) {
		srcs, _ := chromedp.Run(browser, chromedp.Evaluate[[]string](`[...document.querySelectorAll('.photos img')].map(i => i.currentSrc)`))
		t.Errorf("at 360 px the album loads %v, want the small or medium copies", srcs)
	}
	if !eval("the caption", `[...document.querySelectorAll('figcaption')].some(f => f.textContent === "The post's color guard")`) {
		t.Error("the album page lacks the caption")
	}
	noSideways("the album")
	screenshot("phone-album.png")

	do("open the home page", chromedp.Navigate(site("/")), chromedp.WaitVisible(chromedp.CSS(".strip img")))
	poll("the strip loads", `[...document.querySelectorAll('.strip img')].every(i => i.complete && i.naturalWidth > 0)`)
	noSideways("the home page")
	screenshot("phone-home.png")
	do("open the news", chromedp.Navigate(site("/news/parade-photos-are-up")), chromedp.WaitVisible(chromedp.CSS("main img")))
	if !eval("the post's pictures", `[...document.querySelectorAll('main img')].length === 2`) {
		t.Error("the post does not show the two pictures the editor inserted")
	}
	if !eval("the post's bold text", `[...document.querySelectorAll('main strong')].some(s => s.textContent === 'Thank you')`) {
		t.Error("the post lost the text made bold before the pictures were inserted")
	}
	noSideways("the post")
}
