package tenantdb

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/chapterhouse/chapterhouse/tenantdb/tenanttest"
)

// litestreamDDL is what Litestream runs in a file it replicates.
const litestreamDDL = `CREATE TABLE IF NOT EXISTS _litestream_seq (id INTEGER PRIMARY KEY, seq INTEGER);
	CREATE TABLE IF NOT EXISTS _litestream_lock (id INTEGER);
	INSERT INTO _litestream_seq (id, seq) VALUES (1, 7)`

// A file with Litestream's two tables (one restored from a replica) is
// imported, without them; they change no digest and an export drops
// them. The same names with another definition are refused.
func TestLitestreamTables(t *testing.T) {
	ctx := context.Background()
	valid := validExport(t)
	with := tenanttest.Alter(t, valid, litestreamDDL)

	im, err := PrepareImport(ctx, with, t.TempDir(), 1<<30)
	if err != nil {
		t.Fatalf("a file with Litestream's tables: %v", err)
	}
	defer im.Discard()
	plain, err := FileDigest(ctx, valid)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := FileDigest(ctx, with); err != nil || got.Sum() != plain.Sum() {
		t.Errorf("Litestream's tables changed the digest (%v): %v", err, got.Diff(plain))
	}
	if im.Digest.Sum() != plain.Sum() {
		t.Errorf("the import's digest %v differs from the plain file's", im.Digest.Diff(plain))
	}
	if _, ok := im.Digest.Rows["_litestream_seq"]; ok {
		t.Errorf("the digest counts _litestream_seq")
	}

	// An export of a live file that has them leaves them out.
	dir, id := newTenant(t)
	db, err := Open(ctx, dir, id)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	site, _ := db.Site(ctx)
	site.Name = "Litestream chapter"
	if err := db.UpdateSite(ctx, &site); err != nil {
		t.Fatal(err)
	}
	if _, err := db.w.ExecContext(ctx, litestreamDDL); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir() + "/export.db"
	if _, err := db.Export(ctx, out); err != nil {
		t.Fatal(err)
	}
	im2, err := PrepareImport(ctx, out, t.TempDir(), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	im2.Discard()
	src, err := openUntrusted(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var n int
	if err := src.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE name LIKE '\_litestream%' ESCAPE '\'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("the export has %d of Litestream's tables (%v), want none", n, err)
	}

	bad := tenanttest.Alter(t, valid, `CREATE TABLE _litestream_seq (id INTEGER PRIMARY KEY, seq INTEGER, payload BLOB)`)
	if im, err := PrepareImport(ctx, bad, t.TempDir(), 1<<30); err == nil {
		im.Discard()
		t.Error("a _litestream_seq table unlike Litestream's was accepted")
	} else if !errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), "_litestream_seq") {
		t.Errorf("a _litestream_seq unlike Litestream's: %v, want a rejection naming it", err)
	}
}
