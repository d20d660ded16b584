package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
)

// TestAPIVisibility: the API sets and keeps a post's visibility; a
// visibility that is neither public nor members is a 422 naming it; the
// public site hides the members-only post.
func TestAPIVisibility(t *testing.T) {
	ls := webtest.NewEmpty(t)
	email, password := ls.NewTenant(t, "post42")
	tok := ls.Login(t, "post42", email, password)
	c := ls.Browser()
	api := func(method, path string, body any) webtest.APIResult {
		return ls.Call(t, c, method, ls.SiteURL("post42", path), body, webtest.Bearer(tok)...)
	}
	var post struct {
		ID         int64
		Slug       string
		Visibility string
	}
	r := api("POST", "/api/posts", map[string]any{"title": "Open news", "published": true})
	r.JSON(t, &post)
	if r.Status != http.StatusCreated || post.Visibility != "public" {
		t.Fatalf("a post created without a visibility: %d %s", r.Status, r.Body)
	}
	path := fmt.Sprintf("/api/posts/%d", post.ID)
	if r := api("PATCH", path, map[string]any{"visibility": "members"}); r.Status != http.StatusOK {
		t.Fatalf("PATCH visibility: %d %s", r.Status, r.Body)
	}
	r = api("PATCH", path, map[string]any{"title": "Closed news"})
	r.JSON(t, &post)
	if post.Visibility != "members" {
		t.Errorf("a PATCH without visibility changed it to %q", post.Visibility)
	}
	if r := api("PATCH", path, map[string]any{"visibility": "friends"}); r.Status != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), "visibility") {
		t.Errorf("PATCH visibility friends: %d %s", r.Status, r.Body)
	}
	if status, _ := ls.Fetch(t, "post42", "/news/"+post.Slug); status != http.StatusNotFound {
		t.Errorf("the members-only post on the public site: %d, want 404", status)
	}
}
