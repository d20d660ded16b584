package site_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// addPosts gives tenant slug n published posts, "Post 01" the oldest.
func addPosts(t *testing.T, ts *webtest.Server, slug string, n int) {
	t.Helper()
	ts.AddTenant(slug, "Club "+slug, func(db *tenantdb.DB) {
		base := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
		for i := 1; i <= n; i++ {
			at := base.Add(time.Duration(i) * time.Hour)
			webtest.Must(t, db.SavePost(context.Background(), &tenantdb.Post{Title: fmt.Sprintf("Post %02d", i), Published: true, PublishedAt: &at}))
		}
	})
}

// TestNewsPagesEndExactly checks the news pages at the edges of a page:
// exactly 10 posts make one page with no next link and no page 2; 11 make
// a page 2 of one post; 20 make two full pages, the second without a next
// link. The sitemap lists exactly the pages that exist, and page 2's
// title and canonical URL name it.
func TestNewsPagesEndExactly(t *testing.T) {
	ts := webtest.NewEmpty(t)
	for _, tc := range []struct {
		slug  string
		posts int
		pages int
	}{{"ten", 10, 1}, {"eleven", 11, 2}, {"twenty", 20, 2}, {"none", 0, 1}} {
		addPosts(t, ts, tc.slug, tc.posts)
		h := webtest.Host(tc.slug)
		for page := 1; page <= tc.pages; page++ {
			path := "/news"
			if page > 1 {
				path = fmt.Sprintf("/news?page=%d", page)
			}
			r := ts.Get(h, path)
			if r.Status != 200 {
				t.Fatalf("%s: GET %s: %d", tc.slug, path, r.Status)
			}
			want := min(10, tc.posts-(page-1)*10)
			if n := strings.Count(r.Body, `<h2><a href="/news/`); n != want {
				t.Errorf("%s: GET %s lists %d posts, want %d", tc.slug, path, n, want)
			}
			if hasNext := strings.Contains(r.Body, `rel="next"`); hasNext != (page < tc.pages) {
				t.Errorf("%s: GET %s: next link %v, want %v", tc.slug, path, hasNext, page < tc.pages)
			}
			if hasPrev := strings.Contains(r.Body, `rel="prev"`); hasPrev != (page > 1) {
				t.Errorf("%s: GET %s: prev link %v", tc.slug, path, hasPrev)
			}
			if page == 2 {
				if !strings.Contains(r.Body, "<title>News, page 2 · Club "+tc.slug+"</title>") {
					t.Errorf("%s: GET %s: title is not page 2's", tc.slug, path)
				}
				if !strings.Contains(r.Body, `<link rel="canonical" href="http://`+h+`/news?page=2">`) {
					t.Errorf("%s: GET %s: canonical is not page 2's", tc.slug, path)
				}
			}
			if page == 1 && !strings.Contains(r.Body, "<title>News · Club "+tc.slug+"</title>") {
				t.Errorf("%s: GET /news: title is not News", tc.slug)
			}
		}
		past := fmt.Sprintf("/news?page=%d", tc.pages+1)
		if r := ts.Get(h, past); r.Status != 404 {
			t.Errorf("%s: GET %s: %d, want 404 (past the last page)", tc.slug, past, r.Status)
		}
		sm := ts.Get(h, "/sitemap.xml").Body
		if n := strings.Count(sm, "/news?page="); n != tc.pages-1 {
			t.Errorf("%s: the sitemap lists %d news pages after the first, want %d", tc.slug, n, tc.pages-1)
		}
		if n := strings.Count(sm, "<loc>http://"+h+"/news/"); n != tc.posts {
			t.Errorf("%s: the sitemap lists %d posts, want %d", tc.slug, n, tc.posts)
		}
	}
	// Page 3 of 25 links back to page 2, not to /news.
	addPosts(t, ts, "many", 25)
	r := ts.Get(webtest.Host("many"), "/news?page=3")
	if !strings.Contains(r.Body, `rel="prev" href="/news?page=2"`) || strings.Contains(r.Body, `rel="next"`) {
		t.Errorf("GET /news?page=3 of 25: links wrong")
	}
	for _, bad := range []string{"/news?page=-1", "/news?page=+2", "/news?page=02", "/news?page=2&page=2", "/news?page=1.5", "/news?page="} {
		if r := ts.Get(webtest.Host("many"), bad); r.Status != 404 {
			t.Errorf("GET %s: %d, want 404", bad, r.Status)
		}
	}
}
