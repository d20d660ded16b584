package api_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"math/rand/v2"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/web/auth"
	"github.com/chapterhouse/chapterhouse/app/internal/web/httpx"
	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

func TestAPIContent(t *testing.T) {
	ls := webtest.NewEmpty(t)
	email, password := ls.NewTenant(t, "post42")
	tok := ls.Login(t, "post42", email, password)
	c := ls.Browser()
	api := func(method, path string, body any) webtest.APIResult {
		return ls.Call(t, c, method, ls.SiteURL("post42", path), body, webtest.Bearer(tok)...)
	}

	// Posts: create, read, patch one field, list, delete.
	r := api("POST", "/api/posts", map[string]any{"title": "Fish fry Friday", "body": "**All welcome.**", "published": true})
	if r.Status != http.StatusCreated {
		t.Fatalf("POST /api/posts: %d %s", r.Status, r.Body)
	}
	var post struct {
		ID          int64
		Title, Slug string
		Body        string
		Published   bool
		PublishedAt *time.Time `json:"published_at"`
	}
	r.JSON(t, &post)
	if post.ID == 0 || post.Slug != "fish-fry-friday" || post.PublishedAt == nil {
		t.Fatalf("created post: %s", r.Body)
	}
	postPath := fmt.Sprintf("/api/posts/%d", post.ID)
	r = api("PATCH", postPath, map[string]any{"title": "Fish fry, Friday at 6", "id": 999, "created_at": "2000-01-01T00:00:00Z"})
	r.JSON(t, &post)
	if r.Status != http.StatusOK || post.Title != "Fish fry, Friday at 6" || post.Body != "**All welcome.**" || post.ID == 999 {
		t.Fatalf("PATCH title: %d %s (the body must stay, the id is read-only)", r.Status, r.Body)
	}
	var posts []map[string]any
	api("GET", "/api/posts", nil).JSON(t, &posts)
	if len(posts) != 1 {
		t.Errorf("GET /api/posts: %d posts, want 1", len(posts))
	}

	// The public site shows the edit on the next request.
	if body := ls.Text(t, "post42", "/news/"+post.Slug); !strings.Contains(body, "Fish fry, Friday at 6") {
		t.Errorf("the public post does not show the new title")
	}
	api("PATCH", "/api/site", map[string]any{"name": "Riverside Post 42", "tagline": "Since 1946"})
	if r := api("PATCH", "/api/site", map[string]any{"banner": "Hall closed Saturday", "banner_until": "2030-01-01T06:00:00Z",
		"officers_change": "07-01"}); r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"banner_until":"2030-01-01T06:00:00Z"`) ||
		!strings.Contains(string(r.Body), `"officers_change":"07-01"`) {
		t.Errorf("PATCH the banner: %d %s", r.Status, r.Body)
	}
	if body := ls.Text(t, "post42", "/"); !strings.Contains(body, "Riverside Post 42") || !strings.Contains(body, "Since 1946") {
		t.Errorf("the home page does not show the new name and tagline")
	}
	api("PATCH", postPath, map[string]any{"published": false})
	if code, _ := ls.Fetch(t, "post42", "/news/"+post.Slug); code != http.StatusNotFound {
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
		{"term ending before it starts", "POST", "/api/officers", map[string]any{"name": "Maria", "role": "Commander",
			"term_from": "2026-07-01", "term_to": "2026-06-30"}, 422, "term_to"},
		{"term not a date", "POST", "/api/officers", map[string]any{"name": "Maria", "role": "Commander", "term_from": "July 1"}, 422, "term_from"},
		{"negative capacity", "POST", "/api/events", map[string]any{"title": "Dinner", "starts_at": "2030-06-11T19:00:00-05:00",
			"ends_at": "2030-06-11T20:30:00-05:00", "rsvp": true, "capacity": -1}, 422, "capacity"},
		{"banner of two lines", "PATCH", "/api/site", map[string]any{"banner": "Hall closed\nSaturday"}, 422, "banner"},
		{"changeover not a day", "PATCH", "/api/site", map[string]any{"officers_change": "02-30"}, 422, "officers_change"},
		{"banner end without a banner", "PATCH", "/api/site", map[string]any{"banner": "", "banner_until": "2030-01-01T00:00:00Z"}, 422, "banner_until"},
		{"page slug taken", "POST", "/api/pages", map[string]any{"title": "Hall", "slug": "hall"}, 0, ""},
		{"page slug taken again", "POST", "/api/pages", map[string]any{"title": "Hall 2", "slug": "hall"}, 409, ""},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			r := ls.Call(t, c, tc.method, ls.SiteURL("post42", tc.path), tc.body, webtest.Bearer(tok)...)
			if tc.status == 0 {
				return
			}
			var e struct{ Error, Field string }
			r.JSON(t, &e)
			if r.Status != tc.status || e.Field != tc.field || e.Error == "" {
				t.Errorf("got %d %s, want %d with field %q", r.Status, r.Body, tc.status, tc.field)
			}
		})
	}
	// Nothing refused above changed the post.
	api("GET", postPath, nil).JSON(t, &post)
	if post.Title != "Fish fry, Friday at 6" || post.Slug != "fish-fry-friday" {
		t.Errorf("a refused change changed the post: %+v", post)
	}
	if r := ls.Call(t, c, "POST", ls.SiteURL("post42", "/api/posts"), nil, "Authorization", "Bearer "+tok, "Content-Type", "text/plain"); r.Status != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain body: %d, want 415", r.Status)
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
	r.JSON(t, &ev)
	if r.Status != http.StatusCreated || ev.Timezone != "America/New_York" || ev.RRule != "FREQ=MONTHLY;BYDAY=2TU" {
		t.Fatalf("POST /api/events: %d %s", r.Status, r.Body)
	}
	if body := ls.Text(t, "post42", "/events"); !strings.Contains(body, "Monthly meeting") {
		t.Error("the new event is not on /events")
	}
	r = api("POST", "/api/officers", map[string]any{"name": "Maria Delgado", "role": "Commander", "position": 1})
	if r.Status != http.StatusCreated {
		t.Fatalf("POST /api/officers: %d %s", r.Status, r.Body)
	}
	if body := ls.Text(t, "post42", "/about"); !strings.Contains(body, "Maria Delgado") {
		t.Error("the new officer is not on /about")
	}
	r = api("POST", "/api/pages", map[string]any{"title": "Our History", "body": "Chartered in 1946.", "published": true, "show_in_nav": true})
	if r.Status != http.StatusCreated {
		t.Fatalf("POST /api/pages: %d %s", r.Status, r.Body)
	}
	if body := ls.Text(t, "post42", "/p/our-history"); !strings.Contains(body, "Chartered in 1946.") {
		t.Error("the new page is not at /p/our-history")
	}
	for _, path := range []string{"/api/events", "/api/officers", "/api/pages"} {
		var items []struct{ ID int64 }
		api("GET", path, nil).JSON(t, &items)
		if len(items) == 0 {
			t.Fatalf("GET %s: empty", path)
		}
		del := fmt.Sprintf("%s/%d", path, items[0].ID)
		if r := api("DELETE", del, nil); r.Status != http.StatusNoContent {
			t.Errorf("DELETE %s: %d", del, r.Status)
		}
		if r := api("GET", del, nil); r.Status != http.StatusNotFound {
			t.Errorf("GET %s after delete: %d, want 404", del, r.Status)
		}
	}
	if r := api("DELETE", postPath, nil); r.Status != http.StatusNoContent {
		t.Errorf("DELETE post: %d", r.Status)
	}

	// Messages come from the public contact form.
	form := url.Values{"name": {"Karen Miller"}, "email": {"karen@example.com"}, "subject": {"Hall"}, "body": {"Is the hall free in October?"}}
	resp, err := c.PostForm(ls.SiteURL("post42", "/contact"), form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var msgs []struct {
		ID   int64
		Body string
		Read bool
	}
	api("GET", "/api/messages", nil).JSON(t, &msgs)
	if len(msgs) != 1 || msgs[0].Body != "Is the hall free in October?" || msgs[0].Read {
		t.Fatalf("GET /api/messages: %+v", msgs)
	}
	msgPath := fmt.Sprintf("/api/messages/%d", msgs[0].ID)
	if r := api("PATCH", msgPath, map[string]any{"read": true}); r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"read":true`) {
		t.Errorf("PATCH read: %d %s", r.Status, r.Body)
	}
	if r := api("DELETE", msgPath, nil); r.Status != http.StatusNoContent {
		t.Errorf("DELETE message: %d", r.Status)
	}
	if r := api("DELETE", msgPath, nil); r.Status != http.StatusNotFound {
		t.Errorf("DELETE message again: %d, want 404", r.Status)
	}
}

func TestAPIAdmins(t *testing.T) {
	ls := webtest.NewEmpty(t)
	email, password := ls.NewTenant(t, "lodge7")
	owner := ls.Login(t, "lodge7", email, password)
	c := ls.Browser()
	url := ls.SiteURL("lodge7", "/api/admins")

	r := ls.Call(t, c, "POST", url, map[string]any{"email": "editor@lodge7.example.org", "role": "editor"}, webtest.Bearer(owner)...)
	var added struct {
		ID       int64
		Password string
	}
	r.JSON(t, &added)
	if r.Status != http.StatusCreated || added.Password == "" {
		t.Fatalf("POST /api/admins: %d %s", r.Status, r.Body)
	}
	if r := ls.Call(t, c, "POST", url, map[string]any{"email": "EDITOR@lodge7.example.org"}, webtest.Bearer(owner)...); r.Status != http.StatusConflict {
		t.Errorf("the same email again: %d, want 409", r.Status)
	}
	if r := ls.Call(t, c, "POST", url, map[string]any{"email": "weak@lodge7.example.org", "password": "short"}, webtest.Bearer(owner)...); r.Status != 422 {
		t.Errorf("a short password: %d, want 422", r.Status)
	}
	editor := ls.Login(t, "lodge7", "editor@lodge7.example.org", added.Password)
	for _, tc := range []struct{ method, path string }{
		{"GET", "/api/admins"}, {"POST", "/api/admins"}, {"DELETE", "/api/admins/1"},
	} {
		if r := ls.Call(t, c, tc.method, ls.SiteURL("lodge7", tc.path), map[string]any{"email": "x@lodge7.example.org"}, webtest.Bearer(editor)...); r.Status != http.StatusForbidden {
			t.Errorf("editor %s %s: %d, want 403", tc.method, tc.path, r.Status)
		}
	}
	// An editor edits content.
	if r := ls.Call(t, c, "PATCH", ls.SiteURL("lodge7", "/api/site"), map[string]any{"tagline": "Edited by the editor"}, webtest.Bearer(editor)...); r.Status != http.StatusOK {
		t.Errorf("editor PATCH /api/site: %d", r.Status)
	}
	var admins []struct {
		ID    int64
		Email string
		Role  string
	}
	ls.Call(t, c, "GET", url, nil, webtest.Bearer(owner)...).JSON(t, &admins)
	if len(admins) != 2 {
		t.Fatalf("GET /api/admins: %+v", admins)
	}
	var ownerID int64
	for _, a := range admins {
		if a.Role == "owner" {
			ownerID = a.ID
		}
	}
	if r := ls.Call(t, c, "DELETE", fmt.Sprintf("%s/%d", url, ownerID), nil, webtest.Bearer(owner)...); r.Status != 422 {
		t.Errorf("deleting the last owner: %d %s, want 422", r.Status, r.Body)
	}
	if r := ls.Call(t, c, "DELETE", fmt.Sprintf("%s/%d", url, added.ID), nil, webtest.Bearer(owner)...); r.Status != http.StatusNoContent {
		t.Errorf("deleting the editor: %d", r.Status)
	}
	if r := ls.Call(t, c, "GET", ls.SiteURL("lodge7", "/api/me"), nil, webtest.Bearer(editor)...); r.Status != http.StatusUnauthorized {
		t.Errorf("a deleted admin's token: %d, want 401", r.Status)
	}
}

// TestCrossTenantEveryRoute sends tenant A's token to tenant B on every API
// route the server has (including those added later), and checks that
// nothing is let through and nothing of B changes.
func TestCrossTenantEveryRoute(t *testing.T) {
	ls := webtest.NewEmpty(t)
	aEmail, aPassword := ls.NewTenant(t, "alpha")
	bEmail, bPassword := ls.NewTenant(t, "beta")
	aTok := ls.Login(t, "alpha", aEmail, aPassword)
	bTok := ls.Login(t, "beta", bEmail, bPassword)
	c := ls.Browser()
	ls.Call(t, c, "POST", ls.SiteURL("beta", "/api/posts"), map[string]any{"title": "Beta news", "published": true}, webtest.Bearer(bTok)...)
	snapshot := func() string {
		var b strings.Builder
		for _, p := range []string{"/api/site", "/api/posts", "/api/events", "/api/officers", "/api/pages", "/api/media", "/api/messages", "/api/admins"} {
			b.Write(ls.Call(t, c, "GET", ls.SiteURL("beta", p), nil, webtest.Bearer(bTok)...).Body)
		}
		return b.String()
	}
	before := snapshot()

	routes := apiRoutes(ls)
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
			r := ls.Call(t, c, rt.method, ls.SiteURL("beta", path), body, webtest.Bearer(aTok)...)
			if r.Status != http.StatusUnauthorized {
				t.Errorf("got %d %s, want 401", r.Status, r.Body)
			}
		})
		t.Run(name+" with A's cookie", func(t *testing.T) {
			r := ls.Call(t, c, rt.method, ls.SiteURL("beta", path), body, "Cookie", auth.SessionCookie+"="+aTok)
			if r.Status != http.StatusUnauthorized {
				t.Errorf("got %d %s, want 401", r.Status, r.Body)
			}
		})
	}
	if after := snapshot(); after != before {
		t.Errorf("tenant B changed:\nbefore %s\nafter  %s", before, after)
	}
	// A's own token on A's host works: the 401s above are about B.
	if r := ls.Call(t, c, "GET", ls.SiteURL("alpha", "/api/site"), nil, webtest.Bearer(aTok)...); r.Status != http.StatusOK {
		t.Errorf("A's token on A: %d", r.Status)
	}
}

type route struct{ method, path string }

// apiRoutes lists the /api/ routes of the server, as they were
// registered.
func apiRoutes(ts *webtest.Server) []route {
	var out []route
	for _, r := range ts.Web.Routes() {
		switch r.Method {
		case "GET", "POST", "PUT", "PATCH", "DELETE":
		default:
			continue
		}
		if strings.HasPrefix(r.Path, "/api/") {
			out = append(out, route{r.Method, r.Path})
		}
	}
	return out
}

// freeze makes tenant slug read-only, as `tenant freeze` does.
func freeze(t *testing.T, ts *webtest.Server, slug string) {
	t.Helper()
	tn, err := ts.Platform.Catalog.Tenant(slug)
	if err == nil {
		_, err = ts.Platform.Freeze(context.Background(), tn)
	}
	if err != nil {
		t.Fatalf("freeze %s: %v", slug, err)
	}
}

func TestAPIFrozenTenant(t *testing.T) {
	ls := webtest.NewEmpty(t)
	email, password := ls.NewTenant(t, "cold")
	tok := ls.Login(t, "cold", email, password)
	c := ls.Browser()
	freeze(t, ls, "cold")
	r := ls.Call(t, c, "PATCH", ls.SiteURL("cold", "/api/site"), map[string]any{"name": "Changed"}, webtest.Bearer(tok)...)
	if msg, _ := r.ErrField(t); r.Status != http.StatusServiceUnavailable || !strings.Contains(msg, "read-only") {
		t.Errorf("PATCH on a frozen tenant: %d %s, want 503 read-only", r.Status, r.Body)
	}
	if r := ls.Call(t, c, "GET", ls.SiteURL("cold", "/api/site"), nil, webtest.Bearer(tok)...); r.Status != http.StatusOK || strings.Contains(string(r.Body), "Changed") {
		t.Errorf("GET on a frozen tenant: %d %s", r.Status, r.Body)
	}
}

func TestAPIUpload(t *testing.T) {
	ls := webtest.NewEmpty(t)
	email, password := ls.NewTenant(t, "photos")
	tok := ls.Login(t, "photos", email, password)
	c := ls.Browser()

	good := []struct {
		name, file, wantType string
		data                 []byte
		w, h                 int
	}{
		{"png", "emblem.png", "image/png", webtest.PNG(64, 48), 64, 48},
		{"jpeg", "hall.jpg", "image/jpeg", webtest.JPEG(80, 60), 80, 60},
		{"jpeg turned by EXIF", "phone.jpg", "image/jpeg", webtest.WithExif(webtest.JPEG(80, 60), 6), 60, 80},
		{"png named .gif", "odd.gif", "image/png", webtest.PNG(10, 10), 10, 10},
	}
	for _, tc := range good {
		t.Run(tc.name, func(t *testing.T) {
			r := ls.Upload(t, c, "photos", "/api/media", tc.file, tc.data, map[string]string{"alt": "alt text"}, webtest.Bearer(tok)...)
			var m struct {
				ID            string
				ContentType   string `json:"content_type"`
				Width, Height int
				Alt           string
			}
			r.JSON(t, &m)
			if r.Status != http.StatusCreated || m.ContentType != tc.wantType || m.Width != tc.w || m.Height != tc.h || m.Alt != "alt text" {
				t.Fatalf("got %d %s, want 201 %s %d×%d", r.Status, r.Body, tc.wantType, tc.w, tc.h)
			}
			served := ls.Call(t, c, "GET", ls.SiteURL("photos", "/media/"+m.ID), nil)
			if served.Status != http.StatusOK || served.Header.Get("Content-Type") != tc.wantType {
				t.Fatalf("GET /media/%s: %d %q", m.ID, served.Status, served.Header.Get("Content-Type"))
			}
			cfg, format, err := image.DecodeConfig(bytes.NewReader(served.Body))
			if err != nil || "image/"+format != tc.wantType || cfg.Width != tc.w || cfg.Height != tc.h {
				t.Errorf("served image: %v %s %d×%d", err, format, cfg.Width, cfg.Height)
			}
			if bytes.Contains(served.Body, []byte("Exif")) || bytes.Contains(served.Body, []byte("GPS")) {
				t.Error("the served image still has its EXIF data")
			}
		})
	}

	var before []any
	ls.Call(t, c, "GET", ls.SiteURL("photos", "/api/media"), nil, webtest.Bearer(tok)...).JSON(t, &before)
	rejected := []struct {
		name   string
		data   []byte
		status int
	}{
		{"svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(1)</script></svg>`), 422},
		{"svg with xml prolog", []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>`), 422},
		{"html", []byte(`<!doctype html><html><script>alert(document.cookie)</script></html>`), 422},
		{"png with html appended", append(webtest.PNG(8, 8), []byte("<html><script>alert(1)</script></html>")...), 422},
		{"jpeg with script in a comment", webtest.JPEGWithComment(webtest.JPEG(8, 8), "<script>alert(1)</script>"), 422},
		{"gif", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), 422},
		{"png signature then garbage", append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0}, 100)...), 422},
		{"truncated png", webtest.Truncated(webtest.PNG(64, 64)), 422},
		{"dimensions too large", webtest.PNGClaiming(100000, 100000), 422},
		{"too many pixels", webtest.PNGClaiming(8000, 8000), 422},
		{"empty", nil, 422},
		{"over the size cap", append(webtest.PNG(4, 4), bytes.Repeat([]byte{0}, 5<<20)...), 413},
		{"over the body cap", bytes.Repeat([]byte{0x89}, 6<<20), 413},
	}
	for _, tc := range rejected {
		t.Run("rejects "+tc.name, func(t *testing.T) {
			r := ls.Upload(t, c, "photos", "/api/media", "x.png", tc.data, nil, webtest.Bearer(tok)...)
			if r.Status != tc.status {
				t.Errorf("got %d %s, want %d", r.Status, r.Body, tc.status)
			}
		})
	}
	var after []any
	ls.Call(t, c, "GET", ls.SiteURL("photos", "/api/media"), nil, webtest.Bearer(tok)...).JSON(t, &after)
	if len(after) != len(before) {
		t.Errorf("refused uploads changed the library: %d images, want %d", len(after), len(before))
	}
}

// TestUploadsDecodeWithinTheImageBudget: small files that decode to 40
// megapixels at 8 bytes a pixel (16-bit PNG) or 15 (progressive JPEG)
// are refused with a 413 naming their dimensions, and four uploads at
// once share the platform's decode budget instead of adding up.
func TestUploadsDecodeWithinTheImageBudget(t *testing.T) {
	ls := webtest.NewEmpty(t)
	email, password := ls.NewTenant(t, "photos")
	tok := ls.Login(t, "photos", email, password)
	c := ls.Browser()
	for name, data := range map[string][]byte{
		"png16.png":       webtest.PNG16(6000, 6666),
		"progressive.jpg": webtest.ProgressiveJPEG(6000, 6666),
	} {
		r := ls.Upload(t, c, "photos", "/api/media", name, data, nil, webtest.Bearer(tok)...)
		if msg, _ := r.ErrField(t); r.Status != http.StatusRequestEntityTooLarge || !strings.Contains(msg, "6000×6666") {
			t.Errorf("upload of %s (%d bytes, 40 megapixels): %d %s, want 413 naming 6000×6666", name, len(data), r.Status, r.Body)
		}
	}
	budget := ls.Platform.Images
	if held, peak, _ := budget.Usage(); held != 0 || peak != 0 {
		t.Errorf("refused images took %d bytes of the budget (peak %d), want none", held, peak)
	}
	// 8.4 megapixels, progressive: over 128 MB each, so that two never fit
	// in the budget at once.
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			img := webtest.ProgressiveJPEG(2800+i, 3000)
			if r := ls.Upload(t, c, "photos", "/api/media", "p.jpg", img, nil, webtest.Bearer(tok)...); r.Status != http.StatusCreated {
				t.Errorf("upload %d: %d %s", i, r.Status, r.Body)
			}
		})
	}
	wg.Wait()
	held, peak, _ := budget.Usage()
	if held != 0 || peak <= budget.Size()/2 || peak > budget.Size() {
		t.Errorf("after four uploads the budget holds %d bytes, peak %d; want 0, and a peak of one image (over half of its %d)", held, peak, budget.Size())
	}
}

// TestAPIListsArePaged asks every list route of the API for 100,000
// items of a site with more than a page of each: it answers at most
// httpx.MaxPageSize and a Link to the next page, the pages together hold
// every item once, and a bad ?limit= or ?page= is a 422 naming it.
func TestAPIListsArePaged(t *testing.T) {
	ls := webtest.NewEmpty(t)
	email, password := ls.NewTenant(t, "big")
	const n = httpx.MaxPageSize + 1
	webtest.FillLists(t, ls.DB("big").DB, n)
	tok := ls.Login(t, "big", email, password)
	c := ls.Browser()
	tenant, _ := ls.Platform.Catalog.TenantBySlug("big")
	for _, host := range []string{"big.example.org", "www.big.example.org"} {
		if _, err := ls.Platform.AddTenantDomain(context.Background(), tenant, host, "test"); err != nil {
			t.Fatal(err)
		}
	}
	next := regexp.MustCompile(`^<(/api/[a-z]+\?[^>]+)>; rel="next"$`)
	type listCase struct {
		path, limit string
		total       int
	}
	cases := []listCase{
		{"/api/posts", "100000", n}, {"/api/events", "100000", n}, {"/api/officers", "100000", n}, {"/api/pages", "100000", n},
		{"/api/media", "100000", n}, {"/api/messages", "100000", n}, {"/api/admins", "100000", n + 1}, // and the owner
		{"/api/domains", "1", 2}, {"/api/members", "100000", n}, {"/api/outbox", "100000", n},
		{"/api/documents", "100000", n}, {"/api/albums", "100000", n},
	}
	// Every GET route of the API without a parameter is a list, but for
	// these: a new list must be added above.
	notLists := map[string]bool{"/api/site": true, "/api/export": true, "/api/me": true}
	for _, r := range ls.Web.Routes() {
		if r.Method != http.MethodGet || !strings.HasPrefix(r.Path, "/api/") || strings.Contains(r.Path, ":") || notLists[r.Path] {
			continue
		}
		if !slices.ContainsFunc(cases, func(tc listCase) bool { return tc.path == r.Path }) {
			t.Errorf("GET %s is not checked for paging here", r.Path)
		}
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			seen := map[string]bool{}
			url := tc.path + "?limit=" + tc.limit
			for pages := 0; url != ""; pages++ {
				if pages > 10 {
					t.Fatal("more than 10 pages")
				}
				r := ls.Call(t, c, "GET", ls.SiteURL("big", url), nil, webtest.Bearer(tok)...)
				var items []map[string]any
				r.JSON(t, &items)
				want := min(httpx.MaxPageSize, tc.total-len(seen))
				if tc.limit == "1" {
					want = 1
				}
				if r.Status != http.StatusOK || len(items) != want {
					t.Fatalf("GET %s: %d, %d items, want 200 and %d", url, r.Status, len(items), want)
				}
				for _, it := range items {
					id := fmt.Sprint(it["id"], it["host"])
					if seen[id] {
						t.Fatalf("GET %s: item %s was on an earlier page", url, id)
					}
					seen[id] = true
				}
				url = ""
				if link := r.Header.Get("Link"); link != "" {
					m := next.FindStringSubmatch(link)
					if m == nil {
						t.Fatalf("GET %s: Link %q is not a next link", tc.path, link)
					}
					url = m[1]
				}
			}
			if len(seen) != tc.total {
				t.Errorf("the pages of %s held %d items, want %d", tc.path, len(seen), tc.total)
			}
			for _, bad := range []string{"limit=0", "limit=-5", "limit=ten", "page=0", "page=x", "page=99999999999"} {
				r := ls.Call(t, c, "GET", ls.SiteURL("big", tc.path+"?"+bad), nil, webtest.Bearer(tok)...)
				if _, field := r.ErrField(t); r.Status != http.StatusUnprocessableEntity || field != strings.Split(bad, "=")[0] {
					t.Errorf("GET %s?%s: %d %s, want 422 naming %s", tc.path, bad, r.Status, r.Body, strings.Split(bad, "=")[0])
				}
			}
		})
	}
}

// TestUploadsLeaveNoTempFiles uploads an image large enough to be spooled
// to the temp dir, accepted (201) and refused (413), over the API and the
// dashboard, and checks that the temp dir keeps none of it.
func TestUploadsLeaveNoTempFiles(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // where mime/multipart spools large parts
	ls := webtest.NewEmpty(t)
	email, password := ls.NewTenant(t, "photos")
	tok := ls.Login(t, "photos", email, password)
	big := noisePNG(800, 600) // over the 1 MB kept in memory
	if len(big) < 1<<20 {
		t.Fatalf("the test image is %d bytes, too small to be spooled", len(big))
	}
	tooBig := bytes.Repeat([]byte("x"), tenantdb.MaxMediaSize+100<<10) // under the body limit, over the image limit
	c := ls.Browser()
	if r := ls.Upload(t, c, "photos", "/api/media", "big.png", big, nil, webtest.Bearer(tok)...); r.Status != http.StatusCreated {
		t.Fatalf("API upload of %d bytes: %d %s", len(big), r.Status, r.Body)
	}
	if r := ls.Upload(t, c, "photos", "/api/media", "huge.png", tooBig, nil, webtest.Bearer(tok)...); r.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("API upload of %d bytes: %d, want 413", len(tooBig), r.Status)
	}
	csrf := ls.DashLogin(t, c, webtest.Host("photos"), email, password)
	if r := ls.Upload(t, c, "photos", "/admin/media", "big.png", big, map[string]string{"csrf_token": csrf}); r.Status != http.StatusSeeOther {
		t.Fatalf("dashboard upload: %d %.300s", r.Status, r.Body)
	}
	if r := ls.Upload(t, c, "photos", "/admin/media", "huge.png", tooBig, map[string]string{"csrf_token": csrf}); r.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("dashboard upload of %d bytes: %d, want 413", len(tooBig), r.Status)
	}
	left, err := filepath.Glob(filepath.Join(tmp, "multipart-*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("uploads left %d temporary files: %v", len(left), left)
	}
}

// noisePNG is a w×h PNG of random pixels: it does not compress.
func noisePNG(w, h int) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	// A fixed seed: random bytes may by chance spell "<svg" or "<html",
	// which imaging refuses as a polyglot; these seeds do not.
	rng := rand.NewChaCha8([32]byte{'n', 'o', 'i', 's', 'e'})
	rng.Read(img.Pix)
	for i := 3; i < len(img.Pix); i += 4 {
		img.Pix[i] = 0xff
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	return b.Bytes()
}

// TestAPIMediaLibrary reads, renames and deletes an image over the API,
// with the refusals: unknown fields, a name out of bounds, unknown ids.
func TestAPIMediaLibrary(t *testing.T) {
	ls := webtest.NewEmpty(t)
	email, password := ls.NewTenant(t, "photos")
	tok := ls.Login(t, "photos", email, password)
	c := ls.Browser()
	call := func(method, path string, body any) webtest.APIResult {
		t.Helper()
		return ls.Call(t, c, method, ls.SiteURL("photos", path), body, webtest.Bearer(tok)...)
	}
	up := ls.Upload(t, c, "photos", "/api/media", "hall.png", webtest.PNG(20, 10), map[string]string{"alt": "The hall"}, webtest.Bearer(tok)...)
	var m tenantdb.Media
	up.JSON(t, &m)
	if up.Status != http.StatusCreated || m.ID == "" || m.Width != 20 || m.Height != 10 || m.Alt != "The hall" {
		t.Fatalf("upload: %d %s", up.Status, up.Body)
	}
	var got tenantdb.Media
	r := call("GET", "/api/media/"+m.ID, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("GET: %d %s", r.Status, r.Body)
	}
	if r.JSON(t, &got); got.SHA256 != m.SHA256 || got.Name != m.Name {
		t.Errorf("GET gave %+v, want %+v", got, m)
	}
	var list []tenantdb.Media
	r = call("GET", "/api/media", nil)
	if r.JSON(t, &list); r.Status != http.StatusOK || len(list) != 1 || list[0].ID != m.ID {
		t.Errorf("list: %d %+v", r.Status, list)
	}
	r = call("PATCH", "/api/media/"+m.ID, map[string]any{"name": "Main hall", "alt": "The main hall", "size": 1})
	var patched tenantdb.Media
	if r.JSON(t, &patched); r.Status != http.StatusOK || patched.Name != "Main hall" || patched.Alt != "The main hall" || patched.Size != m.Size {
		t.Fatalf("PATCH: %d %s (size is read-only)", r.Status, r.Body)
	}
	for name, tc := range map[string]struct {
		body  any
		field string
	}{
		"unknown field": {map[string]any{"caption": "x"}, "caption"},
		"empty name":    {map[string]any{"name": ""}, "name"},
		"long alt":      {map[string]any{"alt": strings.Repeat("a", 501)}, "alt"},
	} {
		r := call("PATCH", "/api/media/"+m.ID, tc.body)
		if _, field := r.ErrField(t); r.Status != http.StatusUnprocessableEntity || field != tc.field {
			t.Errorf("PATCH %s: %d %s, want 422 on %q", name, r.Status, r.Body, tc.field)
		}
	}
	call("GET", "/api/media/"+m.ID, nil).JSON(t, &got)
	if got.Name != "Main hall" {
		t.Errorf("refused PATCHes changed the image: %+v", got)
	}
	if code, body := ls.Fetch(t, "photos", "/media/"+m.ID); code != http.StatusOK || len(body) != int(m.Size) {
		t.Errorf("the public image: %d, %d bytes, want %d", code, len(body), m.Size)
	}
	if r := call("DELETE", "/api/media/"+m.ID, nil); r.Status != http.StatusNoContent {
		t.Fatalf("DELETE: %d", r.Status)
	}
	for _, rq := range []struct{ method, path string }{
		{"GET", "/api/media/" + m.ID}, {"DELETE", "/api/media/" + m.ID}, {"PATCH", "/api/media/nosuch"},
	} {
		if r := call(rq.method, rq.path, map[string]any{"name": "x"}); r.Status != http.StatusNotFound {
			t.Errorf("%s %s: %d, want 404", rq.method, rq.path, r.Status)
		}
	}
	if code, _ := ls.Fetch(t, "photos", "/media/"+m.ID); code != http.StatusNotFound {
		t.Errorf("a deleted image is still served: %d", code)
	}
}
