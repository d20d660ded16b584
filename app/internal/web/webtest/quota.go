package webtest

import (
	"context"
	"testing"

	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// SetQuota gives tenant slug its own storage quota in bytes, as
// `tenant set --quota` does.
func (ts *Server) SetQuota(t testing.TB, slug string, quota int64) {
	t.Helper()
	if _, err := ts.Platform.Catalog.SetQuota(context.Background(), slug, &quota); err != nil {
		t.Fatal(err)
	}
}

// Space measures tenant slug's file as the server has it open.
func (ts *Server) Space(t testing.TB, slug string) tenantdb.Space {
	t.Helper()
	sp, err := ts.DB(slug).Space(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return sp
}
