package tenantdb

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestSiteBannerAndChangeover: the banner shows while it has text and its
// end (if any) is ahead; an end without text is refused; the officers'
// changeover is a day of the year (02-29 included), else refused; a web
// address is http or https with a host, of at most 2,000 bytes.
func TestSiteBannerAndChangeover(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	later, earlier := now.Add(time.Hour), now.Add(-time.Hour)
	for _, tc := range []struct {
		banner string
		until  *time.Time
		shown  bool
	}{{"Fish fry Friday", nil, true}, {"Fish fry Friday", &later, true}, {"Fish fry Friday", &earlier, false}, {"", nil, false}} {
		s := Site{Banner: tc.banner, BannerUntil: tc.until}
		if got := s.BannerShown(now); got != tc.shown {
			t.Errorf("banner %q until %v: shown %v, want %v", tc.banner, tc.until, got, tc.shown)
		}
	}
	ok := Site{Name: "Post 42", AccentColor: DefaultAccent, Timezone: "UTC", Banner: "Closed Monday", BannerUntil: &later,
		OfficersChange: "02-29", SocialLinks: []SocialLink{{Label: "Old site", URL: "http://example.org/" + strings.Repeat("p", 2000-len("http://example.org/"))}}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("a sound site (an http link of 2,000 bytes, changeover 02-29): %v", err)
	}
	for _, tc := range []struct {
		change func(*Site)
		field  string
	}{
		{func(s *Site) { s.Banner = "" }, "banner_until"},
		{func(s *Site) { s.OfficersChange = "02-30" }, "officers_change"},
		{func(s *Site) { s.OfficersChange = "7-1" }, "officers_change"},
		{func(s *Site) { s.OfficersChange = "13-01" }, "officers_change"},
		{func(s *Site) { s.SocialLinks[0].URL += "p" }, "social_links"},
		{func(s *Site) { s.SocialLinks[0].URL = "ftp://example.org/" }, "social_links"},
		{func(s *Site) { s.SocialLinks[0].URL = "https:///path" }, "social_links"},
		{func(s *Site) { s.SocialLinks[0].URL = "https://exa mple.org/%zz" }, "social_links"},
	} {
		s := ok
		s.SocialLinks = []SocialLink{ok.SocialLinks[0]}
		tc.change(&s)
		if f := field(s.Validate()); f != tc.field {
			t.Errorf("%+v: refused on %q, want %q", s, f, tc.field)
		}
	}
	if d, ok := (&Site{OfficersChange: "07-01"}).NextChangeover("2026-06-30"); !ok || d.Format(DateLayout) != "2026-07-01" {
		t.Errorf("next changeover after 2026-06-30: %v %v, want 2026-07-01", d, ok)
	}
}

// TestSiteImagesMustBeInTheLibrary: a hero image that is not in the
// media library is refused and the site stays as it was.
func TestSiteImagesMustBeInTheLibrary(t *testing.T) {
	ctx := context.Background()
	db := openTenant(t)
	s := Site{Name: "Post 42", AccentColor: DefaultAccent, Timezone: "UTC"}
	must(t, db.UpdateSite(ctx, &s))
	s.Name, s.HeroID = "Renamed", "no-such-image"
	if f := field(db.UpdateSite(ctx, &s)); f != "hero_id" {
		t.Errorf("an unknown hero image: refused on %q, want hero_id", f)
	}
	if got, _ := db.Site(ctx); got.Name != "Post 42" {
		t.Errorf("after the refusal the site is named %q", got.Name)
	}
	hero := addImages(t, db, 1)[0]
	s.HeroID = hero
	must(t, db.UpdateSite(ctx, &s))
	if got, _ := db.Site(ctx); got.HeroID != hero || got.Name != "Renamed" {
		t.Errorf("after the update: %+v", got)
	}
}

// TestSpaceUsedIsThePagesInUse: the room used is the pages less the free
// ones, in bytes.
func TestSpaceUsedIsThePagesInUse(t *testing.T) {
	if got := (Space{Pages: 10, FreePages: 3, PageSize: 4096}).Used(); got != 7*4096 {
		t.Errorf("Used = %d, want %d", got, 7*4096)
	}
}

// TestQueryOnlyReads: the operator's statement reads and reports, at most
// maxRows rows (More says some were left); whatever would change the
// file is refused naming what, and the file is as it was.
func TestQueryOnlyReads(t *testing.T) {
	ctx := context.Background()
	db := openTenant(t)
	fillTenant(t, db)
	before, err := db.Digest(ctx)
	must(t, err)

	res, err := db.Query(ctx, `SELECT title FROM posts ORDER BY title`, 2)
	must(t, err)
	if len(res.Columns) != 1 || res.Columns[0] != "title" || len(res.Rows) != 2 || !res.More || res.Rows[0][0] != "News 0" {
		t.Errorf("2 of 5 posts: %+v", res)
	}
	res, err = db.Query(ctx, `SELECT count(*) AS n FROM posts`, 1)
	must(t, err)
	if len(res.Rows) != 1 || res.More || res.Rows[0][0] != int64(5) {
		t.Errorf("exactly maxRows rows: %+v", res)
	}
	res, err = db.Query(ctx, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 3) SELECT i FROM n`, 10)
	must(t, err)
	if len(res.Rows) != 3 || res.More {
		t.Errorf("a recursive query: %+v", res)
	}
	for _, q := range []string{`PRAGMA user_version`, `PRAGMA table_info(posts)`, `PRAGMA integrity_check`} {
		if _, err := db.Query(ctx, q, 10); err != nil {
			t.Errorf("%s: %v", q, err)
		}
	}
	for _, tc := range []struct{ query, says string }{
		{`PRAGMA user_version = 5`, "PRAGMA user_version = 5"},
		{`PRAGMA journal_mode = DELETE`, "PRAGMA journal_mode = DELETE"},
		{`PRAGMA writable_schema`, "PRAGMA writable_schema"},
		{`INSERT INTO officers (name, role, position, created_at, updated_at) VALUES ('x', 'y', 0, '', '')`, "INSERT into officers"},
		{`UPDATE posts SET title = 'x'`, "UPDATE of posts"},
		{`DELETE FROM posts`, "DELETE from posts"},
		{`ATTACH DATABASE ':memory:' AS m`, "ATTACH"},
		{`DETACH DATABASE m`, "DETACH"},
		{`BEGIN`, "a transaction (BEGIN)"},
		{`SAVEPOINT s`, "a transaction"},
		{`CREATE TABLE x (a)`, "INSERT into sqlite_master"},
		{`DROP TABLE posts`, "DELETE from sqlite_master"},
		{`ANALYZE`, "a change to the schema or the file"},
		{`REINDEX`, "a change to the schema or the file"},
	} {
		_, err := db.Query(ctx, tc.query, 10)
		if !errors.Is(err, ErrNotRead) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: %v, want a refusal naming %q", tc.query, err, tc.says)
		}
	}
	if _, err := db.Query(ctx, `SELEKT 1`, 10); err == nil || errors.Is(err, ErrNotRead) {
		t.Errorf("a syntax error: %v, want SQLite's error", err)
	}
	after, err := db.Digest(ctx)
	must(t, err)
	if d := before.Diff(after); len(d) > 0 {
		t.Errorf("the refused statements changed tables %v", d)
	}
}

// TestPagesAndPostsByIDAndSlug: pages are listed all or published only,
// by position; a page or a post is found by id, and by slug only when it
// is published.
func TestPagesAndPostsByIDAndSlug(t *testing.T) {
	ctx := context.Background()
	db := openTenant(t)
	draft := &Page{Title: "Draft", Body: "x", Position: 1}
	about := &Page{Title: "About us", Body: "x", Position: 2, Published: true}
	for _, p := range []*Page{about, draft} {
		must(t, db.SavePage(ctx, p))
	}
	all, err := db.Pages(ctx, false)
	must(t, err)
	published, err := db.Pages(ctx, true)
	must(t, err)
	if len(all) != 2 || all[0].ID != draft.ID || len(published) != 1 || published[0].ID != about.ID {
		t.Errorf("pages %+v, published %+v", all, published)
	}
	if p, err := db.PublishedPage(ctx, about.Slug); err != nil || p.ID != about.ID {
		t.Errorf("published page %q: %+v, %v", about.Slug, p, err)
	}
	if _, err := db.PublishedPage(ctx, draft.Slug); !errors.Is(err, ErrNotFound) {
		t.Errorf("a draft page by slug: %v, want not found", err)
	}
	post := &Post{Title: "Fish fry", Body: "Friday"}
	must(t, db.SavePost(ctx, post))
	if p, err := db.Post(ctx, post.ID); err != nil || p.Title != "Fish fry" {
		t.Errorf("post by id: %+v, %v", p, err)
	}
	if _, err := db.PublishedPost(ctx, post.Slug); !errors.Is(err, ErrNotFound) {
		t.Errorf("a draft post by slug: %v, want not found", err)
	}
	post.Published = true
	must(t, db.SavePost(ctx, post))
	if p, err := db.PublishedPost(ctx, post.Slug); err != nil || p.ID != post.ID {
		t.Errorf("published post %q: %+v, %v", post.Slug, p, err)
	}
	if _, err := db.Post(ctx, post.ID+100); !errors.Is(err, ErrNotFound) {
		t.Errorf("no post: %v, want not found", err)
	}
	m := Member{Email: "pat@example.org"}
	if e := m.AddressTaken(true); e.Field != "email" || !strings.Contains(e.Message, "already a member") {
		t.Errorf("taken by an invited member: %+v", e)
	}
	if e := m.AddressTaken(false); e.Field != "email" || !strings.Contains(e.Message, "another member's address") {
		t.Errorf("taken by another member: %+v", e)
	}
}
