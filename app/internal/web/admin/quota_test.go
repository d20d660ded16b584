package admin_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
)

// TestDashboardShowsStorage reads the dashboard's home: the storage used of
// the quota, what takes it, a warning from 80%; and when full, an upload
// answered on the media library (where images are deleted) and a save on
// a page that says what to delete.
func TestDashboardShowsStorage(t *testing.T) {
	ls := webtest.NewEmpty(t)
	email, password := ls.NewTenant(t, "lodge")
	c := ls.Browser()
	host := webtest.Host("lodge")
	csrf := ls.DashLogin(t, c, host, email, password)
	ls.SetQuota(t, "lodge", 200_000_000)

	home := ls.Form(t, c, host, "/admin", nil)
	for _, want := range []string{"Storage: <strong>", " of 200 MB (0%)", "images 0 B", "pages, news and the rest"} {
		if !strings.Contains(home.Body, want) {
			t.Errorf("dashboard lacks %q", want)
		}
	}
	if strings.Contains(home.Body, "almost full") {
		t.Error("dashboard warns at 0%")
	}

	used := ls.Space(t, "lodge").Used()
	ls.SetQuota(t, "lodge", used*100/85) // 85% used
	if home := ls.Form(t, c, host, "/admin", nil); !strings.Contains(home.Body, "Storage almost full") || !strings.Contains(home.Body, "(85%)") {
		t.Errorf("dashboard at 85%% does not warn:\n%s", home.Body)
	}

	ls.SetQuota(t, "lodge", used)
	home = ls.Form(t, c, host, "/admin", nil)
	if !strings.Contains(home.Body, "Storage full") || !strings.Contains(home.Body, "(100%)") {
		t.Errorf("dashboard at 100%% does not say it is full:\n%s", home.Body)
	}
	up := ls.Upload(t, c, "lodge", "/admin/media", "dot.png", webtest.PNG(4, 4), map[string]string{"csrf_token": csrf})
	if up.Status != http.StatusInsufficientStorage || !strings.Contains(string(up.Body), "storage is full") || !strings.Contains(string(up.Body), "Media library") {
		t.Errorf("dashboard upload when full: %d, want 507 on the media library saying why\n%.500s", up.Status, up.Body)
	}
	saved := ls.Form(t, c, host, "/admin/posts/new", url.Values{"csrf_token": {csrf}, "title": {"News"}, "body": {"Text"}})
	if saved.Status != http.StatusInsufficientStorage || !strings.Contains(saved.Body, "Delete images you no longer use") {
		t.Errorf("dashboard save when full: %d, want 507 saying what to delete\n%.500s", saved.Status, saved.Body)
	}
}
