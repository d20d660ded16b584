package tenantdb

import (
	"context"
	"os"
	"testing"
)

// TestImportedEndSessionsEmptiesSessionsOnly: a restore ends the imported
// file's sessions (admins' and members', and members' magic links) in the work file, before any rename puts it in place:
// afterwards it holds no session, every other row as imported, and no WAL
// (the rename moves the main file alone).
func TestImportedEndSessionsEmptiesSessionsOnly(t *testing.T) {
	ctx := context.Background()
	im, err := PrepareImport(ctx, validExport(t), t.TempDir(), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	defer im.Discard()
	before, err := FileDigest(ctx, im.Path)
	if err != nil {
		t.Fatal(err)
	}
	ended := map[string]bool{"sessions": true, "member_sessions": true, "member_tokens": true}
	for table := range ended {
		if before.Rows[table] == 0 {
			t.Fatalf("the fixture has no row in %s to end", table)
		}
	}
	if err := im.EndSessions(ctx); err != nil {
		t.Fatal(err)
	}
	after, err := FileDigest(ctx, im.Path)
	if err != nil {
		t.Fatal(err)
	}
	for table, n := range before.Rows {
		want := n
		if ended[table] {
			want = 0
		}
		if after.Rows[table] != want {
			t.Errorf("table %s has %d rows after ending the sessions, want %d", table, after.Rows[table], want)
		}
	}
	if diff := before.Diff(after); len(diff) != len(ended) {
		t.Errorf("tables changed: %v, want only %v", diff, ended)
	}
	if fi, err := os.Stat(im.Path + "-wal"); err == nil && fi.Size() > 0 {
		t.Errorf("the work file keeps %d bytes in its WAL", fi.Size())
	}
	if _, err := CheckClosedTenantFile(ctx, im.Path); err != nil {
		t.Errorf("the work file fails its check: %v", err)
	}
}
