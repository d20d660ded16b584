package tenantdb

import (
	"context"
	"testing"
)

func TestNavPagesListsPublishedMenuPagesInOrder(t *testing.T) {
	db := openTenant(t)
	ctx := context.Background()
	pages := []Page{
		{Title: "Second", Position: 2, Published: true, ShowInNav: true, Body: "b"},
		{Title: "First", Position: 1, Published: true, ShowInNav: true, Body: "a"},
		{Title: "Draft", Position: 0, Published: false, ShowInNav: true},
		{Title: "Hidden", Position: 0, Published: true, ShowInNav: false},
	}
	for i := range pages {
		if err := db.SavePage(ctx, &pages[i]); err != nil {
			t.Fatal(err)
		}
	}
	nav, err := db.NavPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range nav {
		got = append(got, p.Slug)
		if p.Body != "" {
			t.Errorf("NavPages returned the body of %q", p.Slug)
		}
	}
	if len(got) != 2 || got[0] != "first" || got[1] != "second" {
		t.Errorf("NavPages = %v, want [first second]", got)
	}
}
