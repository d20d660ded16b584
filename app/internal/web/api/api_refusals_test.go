package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
)

// TestAPIRefusalsChangeNothing sends each API route a request it must
// refuse and checks the exact status, the field named, and that the
// chapter's rows are exactly as before: the digest of every table is
// unchanged. TestAPIContent checks only the one post after its refusals.
func TestAPIRefusalsChangeNothing(t *testing.T) {
	ls := webtest.NewEmpty(t)
	email, password := ls.NewTenant(t, "post42")
	tok := ls.Login(t, "post42", email, password)
	c := ls.Browser()
	api := func(method, path string, body any) webtest.APIResult {
		return ls.Call(t, c, method, ls.SiteURL("post42", path), body, webtest.Bearer(tok)...)
	}
	tn, _ := ls.Platform.Catalog.TenantBySlug("post42")
	digest := func() string {
		t.Helper()
		d, err := ls.Platform.Digest(context.Background(), tn)
		if err != nil {
			t.Fatal(err)
		}
		return d.Sum()
	}
	if r := api("POST", "/api/pages", map[string]any{"title": "Hall", "slug": "hall"}); r.Status != http.StatusCreated {
		t.Fatalf("POST /api/pages: %d %s", r.Status, r.Body)
	}
	if r := api("POST", "/api/posts", map[string]any{"title": "Kept"}); r.Status != http.StatusCreated {
		t.Fatalf("POST /api/posts: %d %s", r.Status, r.Body)
	}
	var posts []struct{ ID int64 }
	api("GET", "/api/posts", nil).JSON(t, &posts)
	postPath := fmt.Sprintf("/api/posts/%d", posts[0].ID)
	event := map[string]any{"title": "Meeting", "starts_at": "2030-06-11T19:00:00-05:00", "ends_at": "2030-06-11T20:30:00-05:00"}
	with := func(m map[string]any, k string, v any) map[string]any {
		out := map[string]any{}
		for kk, vv := range m {
			out[kk] = vv
		}
		out[k] = v
		return out
	}
	for _, tc := range []struct {
		name, method, path string
		body               any
		status             int
		field              string
	}{
		{"post without a title", "POST", "/api/posts", map[string]any{"body": "x"}, 422, "title"},
		{"post with an unknown field", "POST", "/api/posts", map[string]any{"title": "x", "titel": "y"}, 422, "titel"},
		{"post patched to a bad slug", "PATCH", postPath, map[string]any{"slug": "Not A Slug"}, 422, "slug"},
		{"post patched with a wrong type", "PATCH", postPath, map[string]any{"title": "New", "published": "yes"}, 422, "published"},
		{"post patched to an empty title", "PATCH", postPath, map[string]any{"title": ""}, 422, "title"},
		{"post with malformed JSON", "POST", "/api/posts", `{"title": `, 400, ""},
		{"post of two values", "POST", "/api/posts", `{"title": "a"} {"title": "b"}`, 400, ""},
		{"post too large", "POST", "/api/posts", `{"title": "big", "body": "` + strings.Repeat("x", 2<<20) + `"}`, 413, ""},
		{"site with a bad accent", "PATCH", "/api/site", map[string]any{"name": "Renamed", "accent_color": "red"}, 422, "accent_color"},
		{"site with an unknown logo", "PATCH", "/api/site", map[string]any{"name": "Renamed", "logo_id": "nope"}, 422, "logo_id"},
		{"site in no time zone", "PATCH", "/api/site", map[string]any{"name": "Renamed", "timezone": "Local"}, 422, "timezone"},
		{"event without times", "POST", "/api/events", map[string]any{"title": "Meeting"}, 422, "starts_at"},
		{"event with a daily rule", "POST", "/api/events", with(event, "rrule", "FREQ=DAILY"), 422, "rrule"},
		{"event ending before it starts", "POST", "/api/events", with(event, "ends_at", "2030-06-11T18:00:00-05:00"), 422, "ends_at"},
		{"officer without a role", "POST", "/api/officers", map[string]any{"name": "Maria"}, 422, "role"},
		{"page slug taken", "POST", "/api/pages", map[string]any{"title": "Hall 2", "slug": "hall"}, 409, ""},
		{"admin with a short password", "POST", "/api/admins", map[string]any{"email": "new@example.org", "password": "short", "role": "editor"}, 422, "password"},
		{"delete of an unknown post", "DELETE", "/api/posts/424242", nil, 404, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := digest()
			r := api(tc.method, tc.path, tc.body)
			var e struct{ Error, Field string }
			r.JSON(t, &e)
			if r.Status != tc.status || e.Field != tc.field || e.Error == "" {
				t.Errorf("%s %s: %d %.300s, want %d naming field %q", tc.method, tc.path, r.Status, r.Body, tc.status, tc.field)
			}
			if digest() != before {
				t.Errorf("%s %s was refused but changed the chapter's rows", tc.method, tc.path)
			}
		})
	}
	// The digest does tell a change: else this test could not fail.
	before := digest()
	if r := api("PATCH", postPath, map[string]any{"title": "Changed"}); r.Status != http.StatusOK || digest() == before {
		t.Errorf("a valid PATCH: %d, rows changed %v", r.Status, digest() != before)
	}
}
