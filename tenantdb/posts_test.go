package tenantdb

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestPostsWithoutBody lists posts without reading their bodies (a
// sitemap of thousands of long posts reads none of them), and with
// everything else as a full listing has it.
func TestPostsWithoutBody(t *testing.T) {
	db := openTenant(t)
	ctx := context.Background()
	now := time.Now().UTC()
	p := &Post{Title: "Long", Body: strings.Repeat("word ", 1000), Published: true, PublishedAt: &now}
	if err := db.SavePost(ctx, p); err != nil {
		t.Fatal(err)
	}
	full, _, err := db.Posts(ctx, PostQuery{PublishedOnly: true})
	if err != nil || len(full) != 1 || full[0].Body != p.Body {
		t.Fatalf("Posts: %d posts, %v", len(full), err)
	}
	bare, total, err := db.Posts(ctx, PostQuery{PublishedOnly: true, WithoutBody: true})
	if err != nil || total != 1 || len(bare) != 1 {
		t.Fatalf("Posts without body: %d of %d, %v", len(bare), total, err)
	}
	want := full[0]
	want.Body = ""
	if got := bare[0]; got.Body != "" || got.Slug != want.Slug || got.Title != want.Title || !got.UpdatedAt.Equal(want.UpdatedAt) ||
		got.ID != want.ID || !got.PublishedAt.Equal(*want.PublishedAt) {
		t.Errorf("Posts without body = %+v, want %+v", got, want)
	}
}
