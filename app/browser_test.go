package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
	"github.com/chromedp/chromedp"
)

// chromiumPath finds a Chromium to drive; in CI its absence is a failure
// (.ci/run installs it), elsewhere the test is skipped.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("CI: no chromium on PATH; .ci/run installs the Debian package chromium")
	}
	t.Skip("no chromium on PATH (apt-get install chromium): the browser test needs a real browser")
	return ""
}

// artifactsDir is where screenshots go: $CHAPTERHOUSE_ARTIFACTS, else
// artifacts/ at the top of the repository (ignored by git).
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("CHAPTERHOUSE_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestBrowserAdminFlow drives headless Chromium through the dashboard: log
// in, write a news post (with a preview), upload an image, attach it, see
// both on the public site, log out.
func TestBrowserAdminFlow(t *testing.T) {
	chromium := chromiumPath(t)
	ls := startLive(t)
	email, password := ls.newTenant(t, "riverside")
	art := artifactsDir(t)

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("host-resolver-rules", "MAP *."+ls.base+" 127.0.0.1"),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	defer cancelBrowser()

	site := func(path string) string { return ls.SiteURL("riverside", path) }
	img := filepath.Join(t.TempDir(), "emblem.png")
	writeFile(t, img, string(webtest.PNG(120, 90)))
	// The first run starts the browser and must not carry a deadline; each
	// later step gets one, so a hung browser fails the test instead of
	// hanging it. Nothing is asserted about speed.
	if err := chromedp.Do(browser, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	do := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		ctx, cancel := context.WithTimeout(browser, time.Minute)
		defer cancel()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(browser, time.Minute)
		defer cancel()
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return v
	}
	location := func() string {
		t.Helper()
		v, err := chromedp.Run(browser, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	screenshot := func(name string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(browser, time.Minute)
		defer cancel()
		shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		writeFile(t, filepath.Join(art, name), string(shot))
	}

	do("open the dashboard", chromedp.Navigate(site("/admin")), chromedp.WaitVisible(chromedp.ID("email")))
	if loc := location(); !strings.Contains(loc, "/admin/login") {
		t.Fatalf("logged out /admin went to %s", loc)
	}
	do("log in",
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitVisible(chromedp.CSS("nav.side")),
	)
	if h := text("h1"); h != "Dashboard" {
		t.Fatalf("after login the page is %q", h)
	}

	do("write a post and preview it",
		chromedp.Navigate(site("/admin/posts/new")),
		chromedp.WaitVisible(chromedp.ID("title")),
		chromedp.SendKeys(chromedp.ID("title"), "Pancake breakfast Saturday"),
		chromedp.SendKeys(chromedp.ID("body"), "Pancakes from **8 AM**, all welcome."),
		chromedp.Click(chromedp.CSS(`button[value="preview"]`)),
		chromedp.WaitVisible(chromedp.CSS("section.preview strong")),
	)
	if b := text("section.preview strong"); b != "8 AM" {
		t.Errorf("the preview shows %q in bold, want 8 AM", b)
	}
	do("save the post",
		chromedp.Click(chromedp.CSS(`button[value="save"]`)),
		chromedp.WaitVisible(chromedp.CSS(".banner.ok")),
	)
	postEdit := strings.Split(location(), "?")[0]

	do("upload an image",
		chromedp.Navigate(site("/admin/media")),
		chromedp.WaitVisible(chromedp.ID("file")),
		chromedp.SetUploadFiles(chromedp.ID("file"), []string{img}),
		chromedp.SendKeys(chromedp.ID("alt"), "The post emblem"),
		chromedp.Submit(chromedp.ID("alt")),
		chromedp.WaitVisible(chromedp.CSS(".gallery img")),
	)
	attr, err := chromedp.Run(browser, chromedp.AttributeValue(chromedp.CSS(".gallery img"), "src"))
	if err != nil {
		t.Fatal(err)
	}
	id := regexp.MustCompile(`^/media/([a-z2-7]+)$`).FindStringSubmatch(attr.Value)
	if id == nil {
		t.Fatalf("the uploaded image is shown from %q", attr.Value)
	}
	do("attach the image to the post",
		chromedp.Navigate(postEdit),
		chromedp.WaitVisible(chromedp.ID("image_id")),
		chromedp.SetValue(chromedp.ID("image_id"), id[1]),
		chromedp.Click(chromedp.CSS(`button[value="save"]`)),
		chromedp.WaitVisible(chromedp.CSS(".banner.ok")),
	)
	do("open the dashboard", chromedp.Navigate(site("/admin")), chromedp.WaitVisible(chromedp.CSS(".tiles")))
	screenshot("dashboard.png")

	imgSel := `main img[src="/media/` + id[1] + `"]`
	do("open the public post", chromedp.Navigate(site("/news/pancake-breakfast-saturday")), chromedp.WaitVisible(chromedp.CSS(imgSel)))
	title, body := text("main h1"), text("main")
	// The image may still be on its way when the tag is visible: wait
	// for it to load (a broken source never does).
	loaded, err := chromedp.Run(browser, chromedp.Poll[bool](`(() => { const i = document.querySelector('`+imgSel+`'); return i.complete && i.naturalWidth === 120; })()`,
		chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil && !errors.Is(err, chromedp.ErrPollingTimeout) {
		t.Fatal(err)
	}
	screenshot("public-post.png")
	if title != "Pancake breakfast Saturday" || !strings.Contains(body, "Pancakes from 8 AM") {
		t.Errorf("public post: title %q, body %q", title, body)
	}
	if !loaded {
		t.Error("the image did not load on the public page")
	}
	do("open the home page", chromedp.Navigate(site("/")), chromedp.WaitVisible(chromedp.CSS("main")))
	if body := text("main"); !strings.Contains(body, "Pancake breakfast Saturday") {
		t.Error("the home page does not list the new post")
	}

	do("log out",
		chromedp.Navigate(site("/admin")),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/admin/logout"] button`)),
		chromedp.Click(chromedp.CSS(`form[action="/admin/logout"] button`)),
		chromedp.WaitVisible(chromedp.ID("email")),
	)
	if msg := text(".banner.ok"); !strings.Contains(msg, "logged out") {
		t.Errorf("after logout the page says %q", msg)
	}
	do("the dashboard is closed again", chromedp.Navigate(site("/admin/posts")), chromedp.WaitVisible(chromedp.ID("email")))
	if loc := location(); !strings.Contains(loc, "/admin/login") {
		t.Errorf("after logout /admin/posts is at %s", loc)
	}
}
