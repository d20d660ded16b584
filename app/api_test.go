package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/app/internal/web"
	"github.com/chapterhouse/chapterhouse/app/internal/web/auth"
)

func TestAPIContent(t *testing.T) {
	ls := startLive(t)
	email, password := ls.newTenant(t, "post42")
	tok := ls.login(t, "post42", email, password)
	c := ls.client()
	api := func(method, path string, body any) apiResult {
		return ls.do(t, c, method, ls.url("post42", path), body, bearer(tok)...)
	}

	// Posts: create, read, patch one field, list, delete.
	r := api("POST", "/api/posts", map[string]any{"title": "Fish fry Friday", "body": "**All welcome.**", "published": true})
	if r.status != http.StatusCreated {
		t.Fatalf("POST /api/posts: %d %s", r.status, r.body)
	}
	var post struct {
		ID          int64
		Title, Slug string
		Body        string
		Published   bool
		PublishedAt *time.Time `json:"published_at"`
	}
	r.json(t, &post)
	if post.ID == 0 || post.Slug != "fish-fry-friday" || post.PublishedAt == nil {
		t.Fatalf("created post: %s", r.body)
	}
	postPath := fmt.Sprintf("/api/posts/%d", post.ID)
	r = api("PATCH", postPath, map[string]any{"title": "Fish fry, Friday at 6", "id": 999, "created_at": "2000-01-01T00:00:00Z"})
	r.json(t, &post)
	if r.status != http.StatusOK || post.Title != "Fish fry, Friday at 6" || post.Body != "**All welcome.**" || post.ID == 999 {
		t.Fatalf("PATCH title: %d %s (the body must stay, the id is read-only)", r.status, r.body)
	}
	var posts []map[string]any
	api("GET", "/api/posts", nil).json(t, &posts)
	if len(posts) != 1 {
		t.Errorf("GET /api/posts: %d posts, want 1", len(posts))
	}

	// The public site shows the edit on the next request.
	if body := ls.get(t, "post42", "/news/"+post.Slug); !strings.Contains(body, "Fish fry, Friday at 6") {
		t.Errorf("the public post does not show the new title")
	}
	api("PATCH", "/api/site", map[string]any{"name": "Riverside Post 42", "tagline": "Since 1946"})
	if body := ls.get(t, "post42", "/"); !strings.Contains(body, "Riverside Post 42") || !strings.Contains(body, "Since 1946") {
		t.Errorf("the home page does not show the new name and tagline")
	}
	api("PATCH", postPath, map[string]any{"published": false})
	if code, _ := ls.getStatus(t, "post42", "/news/"+post.Slug); code != http.StatusNotFound {
		t.Errorf("an unpublished post is still public: %d", code)
	}

	bad := []struct {
		name, method, path string
		body               any
		status             int
		field              string
	}{
		{"missing title", "POST", "/api/posts", map[string]any{"body": "x"}, 422, "title"},
		{"unknown field", "POST", "/api/posts", map[string]any{"title": "x", "titel": "y"}, 422, "titel"},
		{"wrong type", "PATCH", postPath, map[string]any{"published": "yes"}, 422, "published"},
		{"bad slug", "PATCH", postPath, map[string]any{"slug": "Not A Slug"}, 422, "slug"},
		{"bad time", "PATCH", postPath, map[string]any{"published_at": "tomorrow"}, 422, "time"},
		{"malformed JSON", "POST", "/api/posts", `{"title": `, 400, ""},
		{"two values", "POST", "/api/posts", `{"title": "a"} {}`, 400, ""},
		{"empty body", "POST", "/api/posts", "", 400, ""},
		{"unknown id", "GET", "/api/posts/424242", nil, 404, ""},
		{"not an id", "GET", "/api/posts/abc", nil, 404, ""},
		{"patch unknown id", "PATCH", "/api/posts/424242", map[string]any{"title": "x"}, 404, ""},
		{"delete unknown id", "DELETE", "/api/posts/424242", nil, 404, ""},
		{"body too large", "POST", "/api/posts", `{"title": "big", "body": "` + strings.Repeat("x", 2<<20) + `"}`, 413, ""},
		{"bad accent", "PATCH", "/api/site", map[string]any{"accent_color": "red"}, 422, "accent_color"},
		{"unknown logo", "PATCH", "/api/site", map[string]any{"logo_id": "nope"}, 422, "logo_id"},
		{"event without times", "POST", "/api/events", map[string]any{"title": "Meeting"}, 422, "starts_at"},
		{"event with a bad rule", "POST", "/api/events", map[string]any{"title": "Meeting", "starts_at": "2030-06-11T19:00:00-05:00",
			"ends_at": "2030-06-11T20:30:00-05:00", "rrule": "FREQ=DAILY"}, 422, "rrule"},
		{"officer without role", "POST", "/api/officers", map[string]any{"name": "Maria"}, 422, "role"},
		{"page slug taken", "POST", "/api/pages", map[string]any{"title": "Hall", "slug": "hall"}, 0, ""},
		{"page slug taken again", "POST", "/api/pages", map[string]any{"title": "Hall 2", "slug": "hall"}, 409, ""},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			r := ls.do(t, c, tc.method, ls.url("post42", tc.path), tc.body, bearer(tok)...)
			if tc.status == 0 {
				return
			}
			var e struct{ Error, Field string }
			r.json(t, &e)
			if r.status != tc.status || e.Field != tc.field || e.Error == "" {
				t.Errorf("got %d %s, want %d with field %q", r.status, r.body, tc.status, tc.field)
			}
		})
	}
	// Nothing refused above changed the post.
	api("GET", postPath, nil).json(t, &post)
	if post.Title != "Fish fry, Friday at 6" || post.Slug != "fish-fry-friday" {
		t.Errorf("a refused change changed the post: %+v", post)
	}
	if r := ls.do(t, c, "POST", ls.url("post42", "/api/posts"), nil, "Authorization", "Bearer "+tok, "Content-Type", "text/plain"); r.status != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain body: %d, want 415", r.status)
	}

	// Events take the site's time zone by default and keep a recurrence.
	start := time.Now().Add(7 * 24 * time.Hour).Truncate(time.Hour)
	r = api("POST", "/api/events", map[string]any{"title": "Monthly meeting", "starts_at": start,
		"ends_at": start.Add(90 * time.Minute), "rrule": "FREQ=MONTHLY;BYDAY=2TU", "location": "The hall"})
	var ev struct {
		ID       int64
		Timezone string
		RRule    string `json:"rrule"`
	}
	r.json(t, &ev)
	if r.status != http.StatusCreated || ev.Timezone != "America/New_York" || ev.RRule != "FREQ=MONTHLY;BYDAY=2TU" {
		t.Fatalf("POST /api/events: %d %s", r.status, r.body)
	}
	if body := ls.get(t, "post42", "/events"); !strings.Contains(body, "Monthly meeting") {
		t.Error("the new event is not on /events")
	}
	r = api("POST", "/api/officers", map[string]any{"name": "Maria Delgado", "role": "Commander", "position": 1})
	if r.status != http.StatusCreated {
		t.Fatalf("POST /api/officers: %d %s", r.status, r.body)
	}
	if body := ls.get(t, "post42", "/about"); !strings.Contains(body, "Maria Delgado") {
		t.Error("the new officer is not on /about")
	}
	r = api("POST", "/api/pages", map[string]any{"title": "Our History", "body": "Chartered in 1946.", "published": true, "show_in_nav": true})
	if r.status != http.StatusCreated {
		t.Fatalf("POST /api/pages: %d %s", r.status, r.body)
	}
	if body := ls.get(t, "post42", "/p/our-history"); !strings.Contains(body, "Chartered in 1946.") {
		t.Error("the new page is not at /p/our-history")
	}
	for _, path := range []string{"/api/events", "/api/officers", "/api/pages"} {
		var items []struct{ ID int64 }
		api("GET", path, nil).json(t, &items)
		if len(items) == 0 {
			t.Fatalf("GET %s: empty", path)
		}
		del := fmt.Sprintf("%s/%d", path, items[0].ID)
		if r := api("DELETE", del, nil); r.status != http.StatusNoContent {
			t.Errorf("DELETE %s: %d", del, r.status)
		}
		if r := api("GET", del, nil); r.status != http.StatusNotFound {
			t.Errorf("GET %s after delete: %d, want 404", del, r.status)
		}
	}
	if r := api("DELETE", postPath, nil); r.status != http.StatusNoContent {
		t.Errorf("DELETE post: %d", r.status)
	}

	// Messages come from the public contact form.
	form := url.Values{"name": {"Karen Miller"}, "email": {"karen@example.com"}, "subject": {"Hall"}, "body": {"Is the hall free in October?"}}
	resp, err := c.PostForm(ls.url("post42", "/contact"), form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var msgs []struct {
		ID   int64
		Body string
		Read bool
	}
	api("GET", "/api/messages", nil).json(t, &msgs)
	if len(msgs) != 1 || msgs[0].Body != "Is the hall free in October?" || msgs[0].Read {
		t.Fatalf("GET /api/messages: %+v", msgs)
	}
	msgPath := fmt.Sprintf("/api/messages/%d", msgs[0].ID)
	if r := api("PATCH", msgPath, map[string]any{"read": true}); r.status != http.StatusOK || !strings.Contains(string(r.body), `"read":true`) {
		t.Errorf("PATCH read: %d %s", r.status, r.body)
	}
	if r := api("DELETE", msgPath, nil); r.status != http.StatusNoContent {
		t.Errorf("DELETE message: %d", r.status)
	}
	if r := api("DELETE", msgPath, nil); r.status != http.StatusNotFound {
		t.Errorf("DELETE message again: %d, want 404", r.status)
	}
}

func TestAPIAdmins(t *testing.T) {
	ls := startLive(t)
	email, password := ls.newTenant(t, "lodge7")
	owner := ls.login(t, "lodge7", email, password)
	c := ls.client()
	url := ls.url("lodge7", "/api/admins")

	r := ls.do(t, c, "POST", url, map[string]any{"email": "editor@lodge7.example.org", "role": "editor"}, bearer(owner)...)
	var added struct {
		ID       int64
		Password string
	}
	r.json(t, &added)
	if r.status != http.StatusCreated || added.Password == "" {
		t.Fatalf("POST /api/admins: %d %s", r.status, r.body)
	}
	if r := ls.do(t, c, "POST", url, map[string]any{"email": "EDITOR@lodge7.example.org"}, bearer(owner)...); r.status != http.StatusConflict {
		t.Errorf("the same email again: %d, want 409", r.status)
	}
	if r := ls.do(t, c, "POST", url, map[string]any{"email": "weak@lodge7.example.org", "password": "short"}, bearer(owner)...); r.status != 422 {
		t.Errorf("a short password: %d, want 422", r.status)
	}
	editor := ls.login(t, "lodge7", "editor@lodge7.example.org", added.Password)
	for _, tc := range []struct{ method, path string }{
		{"GET", "/api/admins"}, {"POST", "/api/admins"}, {"DELETE", "/api/admins/1"},
	} {
		if r := ls.do(t, c, tc.method, ls.url("lodge7", tc.path), map[string]any{"email": "x@lodge7.example.org"}, bearer(editor)...); r.status != http.StatusForbidden {
			t.Errorf("editor %s %s: %d, want 403", tc.method, tc.path, r.status)
		}
	}
	// An editor edits content.
	if r := ls.do(t, c, "PATCH", ls.url("lodge7", "/api/site"), map[string]any{"tagline": "Edited by the editor"}, bearer(editor)...); r.status != http.StatusOK {
		t.Errorf("editor PATCH /api/site: %d", r.status)
	}
	var admins []struct {
		ID    int64
		Email string
		Role  string
	}
	ls.do(t, c, "GET", url, nil, bearer(owner)...).json(t, &admins)
	if len(admins) != 2 {
		t.Fatalf("GET /api/admins: %+v", admins)
	}
	var ownerID int64
	for _, a := range admins {
		if a.Role == "owner" {
			ownerID = a.ID
		}
	}
	if r := ls.do(t, c, "DELETE", fmt.Sprintf("%s/%d", url, ownerID), nil, bearer(owner)...); r.status != 422 {
		t.Errorf("deleting the last owner: %d %s, want 422", r.status, r.body)
	}
	if r := ls.do(t, c, "DELETE", fmt.Sprintf("%s/%d", url, added.ID), nil, bearer(owner)...); r.status != http.StatusNoContent {
		t.Errorf("deleting the editor: %d", r.status)
	}
	if r := ls.do(t, c, "GET", ls.url("lodge7", "/api/me"), nil, bearer(editor)...); r.status != http.StatusUnauthorized {
		t.Errorf("a deleted admin's token: %d, want 401", r.status)
	}
}

// TestCrossTenantEveryRoute sends tenant A's token to tenant B on every API
// route the server has (including those added later), and checks that
// nothing is let through and nothing of B changes.
func TestCrossTenantEveryRoute(t *testing.T) {
	ls := startLive(t)
	aEmail, aPassword := ls.newTenant(t, "alpha")
	bEmail, bPassword := ls.newTenant(t, "beta")
	aTok := ls.login(t, "alpha", aEmail, aPassword)
	bTok := ls.login(t, "beta", bEmail, bPassword)
	c := ls.client()
	ls.do(t, c, "POST", ls.url("beta", "/api/posts"), map[string]any{"title": "Beta news", "published": true}, bearer(bTok)...)
	snapshot := func() string {
		var b strings.Builder
		for _, p := range []string{"/api/site", "/api/posts", "/api/events", "/api/officers", "/api/pages", "/api/media", "/api/messages", "/api/admins"} {
			b.Write(ls.do(t, c, "GET", ls.url("beta", p), nil, bearer(bTok)...).body)
		}
		return b.String()
	}
	before := snapshot()

	routes := apiRoutes(t)
	if len(routes) < 30 {
		t.Fatalf("only %d API routes found", len(routes))
	}
	for _, rt := range routes {
		path := strings.NewReplacer(":id", "1", ":host", "beta.example.org", "*", "x").Replace(rt.path)
		body := map[string]any{"title": "pwned", "name": "pwned"}
		if rt.path == "/api/login" {
			body = map[string]any{"email": aEmail, "password": aPassword}
		}
		name := rt.method + " " + rt.path
		t.Run(name+" with A's token", func(t *testing.T) {
			r := ls.do(t, c, rt.method, ls.url("beta", path), body, bearer(aTok)...)
			if r.status != http.StatusUnauthorized {
				t.Errorf("got %d %s, want 401", r.status, r.body)
			}
		})
		t.Run(name+" with A's cookie", func(t *testing.T) {
			r := ls.do(t, c, rt.method, ls.url("beta", path), body, "Cookie", auth.SessionCookie+"="+aTok)
			if r.status != http.StatusUnauthorized {
				t.Errorf("got %d %s, want 401", r.status, r.body)
			}
		})
	}
	if after := snapshot(); after != before {
		t.Errorf("tenant B changed:\nbefore %s\nafter  %s", before, after)
	}
	// A's own token on A's host works: the 401s above are about B.
	if r := ls.do(t, c, "GET", ls.url("alpha", "/api/site"), nil, bearer(aTok)...); r.status != http.StatusOK {
		t.Errorf("A's token on A: %d", r.status)
	}
}

type route struct{ method, path string }

// apiRoutes lists the /api/ routes of a server, as routes() declares them.
func apiRoutes(t *testing.T) []route {
	t.Helper()
	var out []route
	for _, r := range serverRoutes(t) {
		if strings.HasPrefix(r.path, "/api/") {
			out = append(out, r)
		}
	}
	return out
}

// serverRoutes lists the tenant-site routes of a server.
func serverRoutes(t *testing.T) []route {
	t.Helper()
	p, err := platform.Open(context.Background(), t.TempDir(), 4, 0, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	s, err := web.New(web.Config{BaseDomain: liveBase, AcquireTimeout: time.Second, MaxBody: 1 << 20}, p, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	var out []route
	for _, r := range s.Routes() {
		switch r.Method {
		case "GET", "POST", "PUT", "PATCH", "DELETE":
		default:
			continue
		}
		out = append(out, route{r.Method, r.Path})
	}
	return out
}

func TestAPIFrozenTenant(t *testing.T) {
	ls := startLive(t)
	email, password := ls.newTenant(t, "cold")
	tok := ls.login(t, "cold", email, password)
	c := ls.client()
	if _, errOut, err := ls.cli(t, "", "tenant", "freeze", "cold"); err != nil {
		t.Fatalf("tenant freeze: %v %s", err, errOut)
	}
	r := ls.do(t, c, "PATCH", ls.url("cold", "/api/site"), map[string]any{"name": "Changed"}, bearer(tok)...)
	if msg, _ := r.errField(t); r.status != http.StatusServiceUnavailable || !strings.Contains(msg, "read-only") {
		t.Errorf("PATCH on a frozen tenant: %d %s, want 503 read-only", r.status, r.body)
	}
	if r := ls.do(t, c, "GET", ls.url("cold", "/api/site"), nil, bearer(tok)...); r.status != http.StatusOK || strings.Contains(string(r.body), "Changed") {
		t.Errorf("GET on a frozen tenant: %d %s", r.status, r.body)
	}
}

// Images for the upload tests.

func testPNG(w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(x * 7), uint8(y * 5), 0x80, 0xff})
		}
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	return b.Bytes()
}

func testJPEG(w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(x * 3), 0x40, uint8(y * 3), 0xff})
		}
	}
	var b bytes.Buffer
	jpeg.Encode(&b, img, &jpeg.Options{Quality: 90})
	return b.Bytes()
}

// withExif inserts an EXIF segment with an orientation and a GPS latitude
// tag after a JPEG's SOI marker, as a phone camera writes it.
func withExif(jpg []byte, orientation uint16) []byte {
	var tiff bytes.Buffer
	le := binary.LittleEndian
	tiff.WriteString("II")
	binary.Write(&tiff, le, uint16(42))
	binary.Write(&tiff, le, uint32(8))
	binary.Write(&tiff, le, uint16(2)) // two entries
	// Orientation, SHORT, 1, value.
	binary.Write(&tiff, le, []uint16{0x0112, 3})
	binary.Write(&tiff, le, uint32(1))
	binary.Write(&tiff, le, []uint16{orientation, 0})
	// GPSInfo IFD pointer (its content is not needed to be found by a reader of the file).
	binary.Write(&tiff, le, []uint16{0x8825, 4})
	binary.Write(&tiff, le, uint32(1))
	binary.Write(&tiff, le, uint32(0))
	binary.Write(&tiff, le, uint32(0)) // no next IFD
	tiff.WriteString("GPS 48.8584N 2.2945E")
	seg := append([]byte("Exif\x00\x00"), tiff.Bytes()...)
	out := []byte{0xFF, 0xD8, 0xFF, 0xE1, byte((len(seg) + 2) >> 8), byte(len(seg) + 2)}
	out = append(out, seg...)
	return append(out, jpg[2:]...)
}

// pngClaiming is a 1×1 PNG whose header claims w×h, with a valid CRC.
func pngClaiming(w, h uint32) []byte {
	data := testPNG(1, 1)
	ihdr := data[8+8 : 8+8+13]
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	crc := crc32.ChecksumIEEE(data[8+4 : 8+8+13])
	binary.BigEndian.PutUint32(data[8+8+13:], crc)
	return data
}

// upload sends data as the multipart field "file".
func (ls *adminLive) upload(t *testing.T, c *http.Client, slug, path, filename string, data []byte, fields map[string]string, headers ...string) apiResult {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	fw, _ := mw.CreateFormFile("file", filename)
	fw.Write(data)
	mw.Close()
	req, _ := http.NewRequest("POST", ls.url(slug, path), &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return apiResult{status: resp.StatusCode, header: resp.Header, body: b}
}

func TestAPIUpload(t *testing.T) {
	ls := startLive(t)
	email, password := ls.newTenant(t, "photos")
	tok := ls.login(t, "photos", email, password)
	c := ls.client()

	good := []struct {
		name, file, wantType string
		data                 []byte
		w, h                 int
	}{
		{"png", "emblem.png", "image/png", testPNG(64, 48), 64, 48},
		{"jpeg", "hall.jpg", "image/jpeg", testJPEG(80, 60), 80, 60},
		{"jpeg turned by EXIF", "phone.jpg", "image/jpeg", withExif(testJPEG(80, 60), 6), 60, 80},
		{"png named .gif", "odd.gif", "image/png", testPNG(10, 10), 10, 10},
	}
	for _, tc := range good {
		t.Run(tc.name, func(t *testing.T) {
			r := ls.upload(t, c, "photos", "/api/media", tc.file, tc.data, map[string]string{"alt": "alt text"}, bearer(tok)...)
			var m struct {
				ID            string
				ContentType   string `json:"content_type"`
				Width, Height int
				Alt           string
			}
			r.json(t, &m)
			if r.status != http.StatusCreated || m.ContentType != tc.wantType || m.Width != tc.w || m.Height != tc.h || m.Alt != "alt text" {
				t.Fatalf("got %d %s, want 201 %s %d×%d", r.status, r.body, tc.wantType, tc.w, tc.h)
			}
			served := ls.do(t, c, "GET", ls.url("photos", "/media/"+m.ID), nil)
			if served.status != http.StatusOK || served.header.Get("Content-Type") != tc.wantType {
				t.Fatalf("GET /media/%s: %d %q", m.ID, served.status, served.header.Get("Content-Type"))
			}
			cfg, format, err := image.DecodeConfig(bytes.NewReader(served.body))
			if err != nil || "image/"+format != tc.wantType || cfg.Width != tc.w || cfg.Height != tc.h {
				t.Errorf("served image: %v %s %d×%d", err, format, cfg.Width, cfg.Height)
			}
			if bytes.Contains(served.body, []byte("Exif")) || bytes.Contains(served.body, []byte("GPS")) {
				t.Error("the served image still has its EXIF data")
			}
		})
	}

	var before []any
	ls.do(t, c, "GET", ls.url("photos", "/api/media"), nil, bearer(tok)...).json(t, &before)
	rejected := []struct {
		name   string
		data   []byte
		status int
	}{
		{"svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(1)</script></svg>`), 422},
		{"svg with xml prolog", []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>`), 422},
		{"html", []byte(`<!doctype html><html><script>alert(document.cookie)</script></html>`), 422},
		{"png with html appended", append(testPNG(8, 8), []byte("<html><script>alert(1)</script></html>")...), 422},
		{"jpeg with script in a comment", jpegWithComment(testJPEG(8, 8), "<script>alert(1)</script>"), 422},
		{"gif", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), 422},
		{"png signature then garbage", append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0}, 100)...), 422},
		{"truncated png", truncated(testPNG(64, 64)), 422},
		{"dimensions too large", pngClaiming(100000, 100000), 422},
		{"too many pixels", pngClaiming(8000, 8000), 422},
		{"empty", nil, 422},
		{"over the size cap", append(testPNG(4, 4), bytes.Repeat([]byte{0}, 5<<20)...), 413},
		{"over the body cap", bytes.Repeat([]byte{0x89}, 6<<20), 413},
	}
	for _, tc := range rejected {
		t.Run("rejects "+tc.name, func(t *testing.T) {
			r := ls.upload(t, c, "photos", "/api/media", "x.png", tc.data, nil, bearer(tok)...)
			if r.status != tc.status {
				t.Errorf("got %d %s, want %d", r.status, r.body, tc.status)
			}
		})
	}
	var after []any
	ls.do(t, c, "GET", ls.url("photos", "/api/media"), nil, bearer(tok)...).json(t, &after)
	if len(after) != len(before) {
		t.Errorf("refused uploads changed the library: %d images, want %d", len(after), len(before))
	}
}

func truncated(b []byte) []byte { return b[:len(b)/2] }

func jpegWithComment(jpg []byte, comment string) []byte {
	out := []byte{0xFF, 0xD8, 0xFF, 0xFE, byte((len(comment) + 2) >> 8), byte(len(comment) + 2)}
	out = append(out, comment...)
	return append(out, jpg[2:]...)
}

// get fetches path on slug's host and returns the body.
func (ls *adminLive) get(t *testing.T, slug, path string) string {
	t.Helper()
	_, body := ls.getStatus(t, slug, path)
	return body
}

func (ls *adminLive) getStatus(t *testing.T, slug, path string) (int, string) {
	t.Helper()
	r := ls.do(t, ls.client(), "GET", ls.url(slug, path), nil)
	return r.status, string(r.body)
}
