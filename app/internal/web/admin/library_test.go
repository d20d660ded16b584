package admin_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	_ "image/jpeg"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// pdfWithJavaScript is a PDF that runs JavaScript when a viewer opens it.
const pdfWithJavaScript = "%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R /OpenAction 3 0 R >> endobj\n" +
	"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n" +
	"3 0 obj << /S /JavaScript /JS (app.alert\\('hello'\\)) >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"

// uploadFiles posts files (field name -> list of name, data pairs) and
// fields as multipart to path on slug's host.
func uploadFiles(t *testing.T, ts *webtest.Server, c *http.Client, slug, path, field string, fields map[string]string, files ...any) webtest.Page {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	for i := 0; i+1 < len(files); i += 2 {
		fw, _ := mw.CreateFormFile(field, files[i].(string))
		fw.Write(files[i+1].([]byte))
	}
	mw.Close()
	req, _ := http.NewRequest("POST", ts.SiteURL(slug, path), &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return webtest.Page{Status: resp.StatusCode, Location: resp.Header.Get("Location"), Body: string(b), Header: resp.Header}
}

func documentCount(t *testing.T, ts *webtest.Server, slug string) int64 {
	t.Helper()
	return ts.Space(t, slug).DocumentCount
}

// TestDocumentUploadsAndServing uploads documents through the dashboard:
// a PDF with JavaScript is stored and served only as a download with a
// sandboxing policy; HTML named .pdf, an oversized file and a file over
// the quota are refused with the reason and store nothing; a
// members-only document stays off the public site.
func TestDocumentUploadsAndServing(t *testing.T) {
	ts := webtest.NewEmpty(t)
	email, password := ts.NewTenant(t, "lodge")
	c := ts.Browser()
	host := webtest.Host("lodge")
	csrf := ts.DashLogin(t, c, host, email, password)
	fields := func(title, category, visibility string) map[string]string {
		return map[string]string{"csrf_token": csrf, "title": title, "category": category, "dated": "2026-05-12", "visibility": visibility}
	}

	up := uploadFiles(t, ts, c, "lodge", "/admin/documents", "file", fields("May minutes", "minutes", "public"), "may minutes.pdf", []byte(pdfWithJavaScript))
	if up.Status != http.StatusSeeOther || up.Location != "/admin/documents?done=uploaded" {
		t.Fatalf("upload a PDF: %d %q\n%.500s", up.Status, up.Location, up.Body)
	}
	list := ts.Form(t, c, host, "/admin/documents", nil)
	id := regexp.MustCompile(`href="/admin/documents/([a-z2-7]+)">May minutes<`).FindStringSubmatch(list.Body)
	if id == nil {
		t.Fatalf("the dashboard does not list the document:\n%s", list.Body)
	}
	shelf := ts.Get(host, "/documents/minutes")
	if shelf.Status != 200 || !strings.Contains(shelf.Body, `href="/files/`+id[1]+`"`) || !strings.Contains(shelf.Body, "May 12, 2026") {
		t.Errorf("/documents/minutes: %d, does not list the document\n%s", shelf.Status, shelf.Body)
	}
	if home := ts.Get(host, "/"); !strings.Contains(home.Body, `href="/documents"`) {
		t.Error("the menu has no Documents link once there is a document")
	}
	file := ts.Get(host, "/files/"+id[1])
	disp, params, _ := mime.ParseMediaType(file.Header.Get("Content-Disposition"))
	if file.Status != 200 || file.Body != pdfWithJavaScript || file.Header.Get("Content-Type") != "application/pdf" {
		t.Errorf("the PDF is served as %d %q", file.Status, file.Header.Get("Content-Type"))
	}
	if disp != "attachment" || params["filename"] != "may minutes.pdf" {
		t.Errorf("Content-Disposition %q, want an attachment named may minutes.pdf", file.Header.Get("Content-Disposition"))
	}
	if csp := file.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "sandbox") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q, want a sandbox that loads nothing", csp)
	}
	if file.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Error("no nosniff on a document")
	}

	before := documentCount(t, ts, "lodge")
	html := uploadFiles(t, ts, c, "lodge", "/admin/documents", "file", fields("Form", "forms", "public"), "form.pdf",
		[]byte("<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"))
	if html.Status != http.StatusUnprocessableEntity || !strings.Contains(html.Body, "it looks like text/html") {
		t.Errorf("HTML named .pdf: %d, want 422 saying it is HTML\n%.800s", html.Status, html.Body)
	}
	big := uploadFiles(t, ts, c, "lodge", "/admin/documents", "file", fields("Big", "forms", "public"), "big.pdf",
		append([]byte("%PDF-1.4\n"), make([]byte, tenantdb.MaxDocumentSize)...))
	if big.Status != http.StatusRequestEntityTooLarge || !strings.Contains(big.Body, "larger than 10 MB") {
		t.Errorf("an 10 MB PDF: %d, want 413 saying the limit\n%.800s", big.Status, big.Body)
	}
	if n := documentCount(t, ts, "lodge"); n != before {
		t.Errorf("refused uploads stored documents: %d, want %d", n, before)
	}

	up = uploadFiles(t, ts, c, "lodge", "/admin/documents", "file", fields("Treasurer's report", "minutes", "members"), "report.pdf", []byte(pdfWithJavaScript))
	if up.Status != http.StatusSeeOther {
		t.Fatalf("upload a members-only PDF: %d\n%.500s", up.Status, up.Body)
	}
	list = ts.Form(t, c, host, "/admin/documents", nil)
	priv := regexp.MustCompile(`href="/admin/documents/([a-z2-7]+)">Treasurer&#39;s report<`).FindStringSubmatch(list.Body)
	if priv == nil {
		t.Fatalf("the dashboard does not list the members' document:\n%s", list.Body)
	}
	if shelf := ts.Get(host, "/documents/minutes"); strings.Contains(shelf.Body, "Treasurer") {
		t.Error("the public shelf lists a members-only document")
	}
	if got := ts.Get(host, "/files/"+priv[1]); got.Status != http.StatusNotFound {
		t.Errorf("a members-only file for the public: %d, want 404", got.Status)
	}

	ts.SetQuota(t, "lodge", ts.Space(t, "lodge").Used()+1000)
	full := uploadFiles(t, ts, c, "lodge", "/admin/documents", "file", fields("Newsletter", "newsletters", "public"), "news.pdf",
		append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte("x"), 50_000)...))
	if full.Status != http.StatusInsufficientStorage || !strings.Contains(full.Body, "old documents") {
		t.Errorf("a document over the quota: %d, want 507 saying what to delete\n%.800s", full.Status, full.Body)
	}
	if n := documentCount(t, ts, "lodge"); n != before+1 {
		t.Errorf("%d documents after the quota refusal, want %d", n, before+1)
	}
	ts.SetQuota(t, "lodge", 0)

	edit := ts.Form(t, c, host, "/admin/documents/"+priv[1], url.Values{"csrf_token": {csrf}, "title": {"Treasurer's report"},
		"category": {"minutes"}, "dated": {"2026-05-12"}, "visibility": {"public"}})
	if edit.Status != http.StatusSeeOther {
		t.Fatalf("make it public: %d\n%.500s", edit.Status, edit.Body)
	}
	if got := ts.Get(host, "/files/"+priv[1]); got.Status != 200 {
		t.Errorf("the document made public: %d", got.Status)
	}
	if del := ts.Form(t, c, host, "/admin/documents/"+priv[1]+"/delete", url.Values{"csrf_token": {csrf}}); del.Status != http.StatusSeeOther {
		t.Errorf("delete: %d", del.Status)
	}
	if got := ts.Get(host, "/files/"+priv[1]); got.Status != http.StatusNotFound {
		t.Errorf("a deleted document: %d", got.Status)
	}
}

// TestAlbumsAndPhotoSizes makes an album through the dashboard, uploads
// photos to it, captions and orders them, and reads the album page, the
// albums page, the home page's strip and a photo's sizes; a decompression
// bomb sent to the album is refused before anything is decoded.
func TestAlbumsAndPhotoSizes(t *testing.T) {
	ts := webtest.NewEmpty(t)
	email, password := ts.NewTenant(t, "lodge")
	c := ts.Browser()
	host := webtest.Host("lodge")
	csrf := ts.DashLogin(t, c, host, email, password)

	made := ts.Form(t, c, host, "/admin/albums/new", url.Values{"csrf_token": {csrf}, "title": {"Summer picnic"},
		"dated": {"2026-07-04"}, "published": {"on"}, "visibility": {"public"}})
	if made.Status != http.StatusSeeOther || !strings.HasPrefix(made.Location, "/admin/albums/") {
		t.Fatalf("create an album: %d %q\n%.500s", made.Status, made.Location, made.Body)
	}
	albumPath := strings.Split(made.Location, "?")[0]
	up := uploadFiles(t, ts, c, "lodge", albumPath+"/upload", "files", map[string]string{"csrf_token": csrf},
		"grill.jpg", webtest.JPEG(1800, 1200), "games.png", webtest.PNG(600, 400))
	if up.Status != http.StatusSeeOther {
		t.Fatalf("upload two photos: %d\n%.800s", up.Status, up.Body)
	}
	page := ts.Form(t, c, host, albumPath, nil)
	ids := regexp.MustCompile(`name="caption-([a-z2-7]+)"`).FindAllStringSubmatch(page.Body, -1)
	if len(ids) != 2 {
		t.Fatalf("the album has %d photos, want 2\n%s", len(ids), page.Body)
	}
	grill, games := ids[0][1], ids[1][1]
	saved := ts.Form(t, c, host, albumPath+"/photos", url.Values{"csrf_token": {csrf},
		"caption-" + grill: {"At the grill"}, "position-" + grill: {"5"},
		"caption-" + games: {"Sack race"}, "position-" + games: {"1"}})
	if saved.Status != http.StatusSeeOther {
		t.Fatalf("save captions: %d\n%.500s", saved.Status, saved.Body)
	}

	album := ts.Get(host, "/albums/summer-picnic")
	if album.Status != 200 {
		t.Fatalf("/albums/summer-picnic: %d", album.Status)
	}
	first, second := strings.Index(album.Body, "Sack race"), strings.Index(album.Body, "At the grill")
	if first < 0 || second < 0 || first > second {
		t.Errorf("captions in order: sack race at %d, grill at %d", first, second)
	}
	srcset := fmt.Sprintf(`srcset="/media/%s/small 320w, /media/%s/medium 800w, /media/%s/large 1600w, /media/%s 1800w"`, grill, grill, grill, grill)
	if !strings.Contains(album.Body, srcset) {
		t.Errorf("the album page lacks %s", srcset)
	}
	for _, sz := range []struct {
		name string
		w, h int
	}{{"small", 320, 213}, {"medium", 800, 533}, {"large", 1600, 1067}} {
		r := ts.Get(host, "/media/"+grill+"/"+sz.name)
		cfg, _, err := image.DecodeConfig(strings.NewReader(r.Body))
		if r.Status != 200 || err != nil || cfg.Width != sz.w || cfg.Height != sz.h {
			t.Errorf("%s: %d, %d×%d (%v), want %d×%d", sz.name, r.Status, cfg.Width, cfg.Height, err, sz.w, sz.h)
		}
		if r.Header.Get("Content-Security-Policy") == "" || r.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s copy served without its policy headers", sz.name)
		}
	}
	if r := ts.Get(host, "/media/"+games+"/large"); r.Status != 200 || len(r.Body) == 0 {
		t.Errorf("a size wider than the photo: %d, want the original", r.Status)
	}
	if r := ts.Get(host, "/media/"+grill+"/huge"); r.Status != http.StatusNotFound {
		t.Errorf("an unknown size: %d", r.Status)
	}
	if list := ts.Get(host, "/albums"); !strings.Contains(list.Body, `href="/albums/summer-picnic"`) || !strings.Contains(list.Body, "2 photos") {
		t.Errorf("/albums does not list the album:\n%s", list.Body)
	}
	home := ts.Get(host, "/")
	if !strings.Contains(home.Body, `class="strip"`) || !strings.Contains(home.Body, "/media/"+games) || !strings.Contains(home.Body, `href="/albums"`) {
		t.Errorf("the home page has no strip of the album's photos:\n%s", home.Body)
	}

	hero := ts.Form(t, c, host, "/admin/site", nil)
	form := url.Values{"csrf_token": {csrf}, "name": {"Lodge"}, "timezone": {"America/Chicago"}, "accent_color": {"#1f4e79"}, "hero_id": {grill}}
	if r := ts.Form(t, c, host, "/admin/site", form); r.Status != http.StatusSeeOther || hero.Status != 200 {
		t.Fatalf("set the hero: %d\n%.500s", r.Status, r.Body)
	}
	if home := ts.Get(host, "/"); !strings.Contains(home.Body, `class="hero-photo" src="/media/`+grill+`/large"`) {
		t.Errorf("the home page shows no hero photo:\n%s", home.Body)
	}

	post := ts.Form(t, c, host, "/admin/posts/new", url.Values{"csrf_token": {csrf}, "title": {"Picnic report"}, "body": {"Fun."},
		"published": {"on"}, "image_id": {grill}, "action": {"save"}})
	if post.Status != http.StatusSeeOther {
		t.Fatalf("post: %d\n%.500s", post.Status, post.Body)
	}
	if news := ts.Get(host, "/news"); !strings.Contains(news.Body, `class="thumb" src="/media/`+grill+`/small"`) {
		t.Errorf("the news list does not show the post's picture:\n%s", news.Body)
	}

	_, peakBefore, _ := ts.Platform.Images.Usage()
	bomb := uploadFiles(t, ts, c, "lodge", albumPath+"/upload", "files", map[string]string{"csrf_token": csrf},
		"bomb.png", webtest.PNGClaiming(60000, 60000))
	if bomb.Status != http.StatusUnprocessableEntity || !strings.Contains(bomb.Body, "60000×60000") {
		t.Errorf("a decompression bomb: %d, want 422 naming its size\n%.800s", bomb.Status, bomb.Body)
	}
	if _, peak, _ := ts.Platform.Images.Usage(); peak != peakBefore {
		t.Errorf("the bomb took decode budget: peak %d, was %d", peak, peakBefore)
	}
	db := ts.DB("lodge")
	a, err := db.PublishedAlbum(context.Background(), "summer-picnic", false)
	if err != nil || a.Photos != 2 {
		t.Errorf("after the bomb the album has %d photos (%v), want 2", a.Photos, err)
	}
}
