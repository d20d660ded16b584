package api_test

import (
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
	ch := newChapter(t, webtest.NewEmpty(t), "post42")
	api, digest := ch.api, ch.digest
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
	checkRefusals(t, ch, []refusal{
		ch.refuses("post without a title", ch.tok, "POST", "/api/posts", map[string]any{"body": "x"}, 422, "title"),
		ch.refuses("post with an unknown field", ch.tok, "POST", "/api/posts", map[string]any{"title": "x", "titel": "y"}, 422, "titel"),
		ch.refuses("post patched to a bad slug", ch.tok, "PATCH", postPath, map[string]any{"slug": "Not A Slug"}, 422, "slug"),
		ch.refuses("post patched with a wrong type", ch.tok, "PATCH", postPath, map[string]any{"title": "New", "published": "yes"}, 422, "published"),
		ch.refuses("post patched to an empty title", ch.tok, "PATCH", postPath, map[string]any{"title": ""}, 422, "title"),
		ch.refuses("post with malformed JSON", ch.tok, "POST", "/api/posts", `{"title": `, 400, ""),
		ch.refuses("post of two values", ch.tok, "POST", "/api/posts", `{"title": "a"} {"title": "b"}`, 400, ""),
		ch.refuses("post too large", ch.tok, "POST", "/api/posts", `{"title": "big", "body": "`+strings.Repeat("x", 2<<20)+`"}`, 413, ""),
		ch.refuses("site with a bad accent", ch.tok, "PATCH", "/api/site", map[string]any{"name": "Renamed", "accent_color": "red"}, 422, "accent_color"),
		ch.refuses("site with an unknown logo", ch.tok, "PATCH", "/api/site", map[string]any{"name": "Renamed", "logo_id": "nope"}, 422, "logo_id"),
		ch.refuses("site in no time zone", ch.tok, "PATCH", "/api/site", map[string]any{"name": "Renamed", "timezone": "Local"}, 422, "timezone"),
		ch.refuses("event without times", ch.tok, "POST", "/api/events", map[string]any{"title": "Meeting"}, 422, "starts_at"),
		ch.refuses("event with a daily rule", ch.tok, "POST", "/api/events", with(event, "rrule", "FREQ=DAILY"), 422, "rrule"),
		ch.refuses("event ending before it starts", ch.tok, "POST", "/api/events", with(event, "ends_at", "2030-06-11T18:00:00-05:00"), 422, "ends_at"),
		ch.refuses("officer without a role", ch.tok, "POST", "/api/officers", map[string]any{"name": "Maria"}, 422, "role"),
		ch.refuses("page slug taken", ch.tok, "POST", "/api/pages", map[string]any{"title": "Hall 2", "slug": "hall"}, 409, ""),
		ch.refuses("admin with a short password", ch.tok, "POST", "/api/admins", map[string]any{"email": "new@example.org", "password": "short", "role": "editor"}, 422, "password"),
		ch.refuses("delete of an unknown post", ch.tok, "DELETE", "/api/posts/424242", nil, 404, ""),
	})
	// The digest does tell a change: else this test could not fail.
	before := digest()
	if r := api("PATCH", postPath, map[string]any{"title": "Changed"}); r.Status != http.StatusOK || digest() == before {
		t.Errorf("a valid PATCH: %d, rows changed %v", r.Status, digest() != before)
	}
}
