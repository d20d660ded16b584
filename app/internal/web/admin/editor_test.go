package admin_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
)

// TestEditorEndpoints: the picker lists the media library and takes an
// upload (as JSON), the preview renders Markdown as the site does; both
// writes need the session's CSRF token. The dashboard allows our own
// script only, and the public site none at all.
func TestEditorEndpoints(t *testing.T) {
	ts := webtest.NewEmpty(t)
	email, password := ts.NewTenant(t, "lodge")
	c := ts.Browser()
	host := webtest.Host("lodge")
	csrf := ts.DashLogin(t, c, host, email, password)

	up := ts.Upload(t, c, "lodge", "/admin/media/picker", "flag.jpg", webtest.JPEG(900, 600), map[string]string{"alt": "The [new] flag"},
		"X-CSRF-Token", csrf)
	var item struct{ ID, Thumb, Markdown string }
	if err := json.Unmarshal(up.Body, &item); err != nil || up.Status != http.StatusCreated {
		t.Fatalf("upload from the editor: %d %s", up.Status, up.Body)
	}
	if item.Thumb != "/media/"+item.ID+"/small" || item.Markdown != `![The \[new\] flag](/media/`+item.ID+`)` {
		t.Errorf("picker item %+v", item)
	}
	bad := ts.Upload(t, c, "lodge", "/admin/media/picker", "page.jpg", []byte("<html>not an image</html>"), nil, "X-CSRF-Token", csrf)
	if bad.Status != http.StatusUnprocessableEntity || !strings.Contains(string(bad.Body), `"error"`) {
		t.Errorf("a bad upload from the editor: %d %s, want 422 with the reason as JSON", bad.Status, bad.Body)
	}
	if forged := ts.Upload(t, c, "lodge", "/admin/media/picker", "flag.jpg", webtest.JPEG(90, 60), nil); forged.Status != http.StatusForbidden {
		t.Errorf("an upload without the CSRF token: %d, want 403", forged.Status)
	}

	list := ts.Form(t, c, host, "/admin/media/picker", nil)
	if list.Status != 200 || !strings.Contains(list.Body, `"id":"`+item.ID+`"`) || strings.Contains(list.Body, "page.jpg") {
		t.Errorf("picker list: %d %s", list.Status, list.Body)
	}

	pv := ts.Form(t, c, host, "/admin/preview", url.Values{"csrf_token": {csrf}, "text": {"## Hello\n\n**bold** ![x](/media/" + item.ID + ")\n\n<script>alert(1)</script>"}})
	if pv.Status != 200 || !strings.Contains(pv.Body, "<h2") || !strings.Contains(pv.Body, "<strong>bold</strong>") ||
		!strings.Contains(pv.Body, `src="/media/`+item.ID+`"`) || strings.Contains(pv.Body, "<script") {
		t.Errorf("preview: %d %s", pv.Status, pv.Body)
	}
	if pv := ts.Form(t, c, host, "/admin/preview", url.Values{"text": {"x"}}); pv.Status != http.StatusForbidden {
		t.Errorf("a preview without the CSRF token: %d, want 403", pv.Status)
	}

	edit := ts.Form(t, c, host, "/admin/posts/new", nil)
	csp := edit.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") ||
		!strings.Contains(edit.Body, `<script src="/static/editor.js" defer></script>`) || !strings.Contains(edit.Body, `data-editor`) {
		t.Errorf("the post editor: CSP %q, script tag or data-editor missing", csp)
	}
	if js := ts.Get(host, "/static/editor.js"); js.Status != 200 || !strings.Contains(js.Header.Get("Content-Type"), "javascript") {
		t.Errorf("/static/editor.js: %d %q", js.Status, js.Header.Get("Content-Type"))
	}
	for _, path := range []string{"/", "/news", "/albums", "/documents"} {
		r := ts.Get(host, path)
		if strings.Contains(r.Body, "<script") || strings.Contains(r.Header.Get("Content-Security-Policy"), "script-src") {
			t.Errorf("public %s carries script or allows it", path)
		}
	}
}
