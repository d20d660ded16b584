package sqlitefile

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/migrations"
)

// migrated makes a file of the catalog schema at path with one row
// written, and returns its writer, still open.
func migrated(t *testing.T, path string) (*Schema, *sql.DB) {
	t.Helper()
	ctx := context.Background()
	s := NewSchema("catalog", migrations.Catalog(), "")
	w, err := OpenWriter(s, path, "rwc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	ran, err := Migrate(ctx, w, w, s, filepath.Dir(path), "catalog")
	if err != nil || !ran {
		t.Fatalf("Migrate: %v %v", ran, err)
	}
	if ran, err := Migrate(ctx, w, w, s, filepath.Dir(path), "catalog"); err != nil || ran {
		t.Fatalf("a second Migrate ran again: %v %v", ran, err)
	}
	if _, err := w.ExecContext(ctx, `INSERT INTO audit_log (at, actor, action, tenant_id, detail) VALUES ('2026-01-01T00:00:00.000Z', 'test', 'x', '', '')`); err != nil {
		t.Fatal(err)
	}
	return s, w
}

// TestExportAndCheck snapshots a file in use and checks the snapshot: a
// self-contained file of the right kind and version whose sha256 and size
// are reported; the export never overwrites and leaves nothing on failure.
func TestExportAndCheck(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "catalog.db")
	s, w := migrated(t, src)
	dst := filepath.Join(dir, "out", "snap.db")
	if _, err := Export(ctx, src, dst, s); err == nil || !strings.Contains(err.Error(), "export directory") {
		t.Errorf("export into a missing directory: %v", err)
	}
	if err := os.Mkdir(filepath.Dir(dst), 0o700); err != nil {
		t.Fatal(err)
	}
	info, err := Export(ctx, src, dst, s)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	if info.Path != dst || info.Size != int64(len(b)) || info.SHA256 != hex.EncodeToString(sum[:]) || info.Version != s.Latest {
		t.Errorf("Export reported %+v for a file of %d bytes", info, len(b))
	}
	if again, err := Check(ctx, dst, s, false); err != nil || again.SHA256 != info.SHA256 {
		t.Errorf("Check of the export: %+v %v", again, err)
	}
	// The snapshot holds the rows of the file in use, its WAL included.
	snap, err := OpenImmutable(dst)
	if err != nil {
		t.Fatal(err)
	}
	var actor string
	var rows int
	err = snap.QueryRow(`SELECT count(*), max(actor) FROM audit_log`).Scan(&rows, &actor)
	snap.Close()
	if err != nil || rows != 1 || actor != "test" {
		t.Errorf("the export holds %d audit rows (%q, %v), want the source's one", rows, actor, err)
	}
	if _, err := Export(ctx, src, dst, s); !errors.Is(err, ErrExists) {
		t.Errorf("an export over an existing file: %v, want ErrExists", err)
	}
	if after, _ := os.ReadFile(dst); string(after) != string(b) {
		t.Error("a refused export changed the existing file")
	}
	notDir := filepath.Join(dir, "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Export(ctx, src, filepath.Join(notDir, "x.db"), s); err == nil {
		t.Error("an export under a file that is not a directory succeeded")
	}
	entries, _ := os.ReadDir(filepath.Dir(dst))
	if len(entries) != 1 {
		t.Errorf("the export directory holds %d entries, want only the export (no temporary files)", len(entries))
	}

	// A file that was in service is in WAL mode: a check for a
	// self-contained file refuses it, the check of a closed file in
	// service allows it.
	w.Close()
	if _, err := Check(ctx, src, s, false); err == nil || !strings.Contains(err.Error(), "WAL") {
		t.Errorf("Check of a WAL file: %v", err)
	}
	if _, err := Check(ctx, src, s, true); err != nil {
		t.Errorf("Check of a WAL file, allowed: %v", err)
	}
	other := NewSchema("tenant", migrations.Tenant(), "")
	if _, err := Check(ctx, dst, &Schema{Name: "old", FS: other.FS, Latest: 0}, false); err == nil || !strings.Contains(err.Error(), "schema version") {
		t.Errorf("Check against a schema that knows no version: %v", err)
	}
	junk := filepath.Join(dir, "junk.db")
	if err := os.WriteFile(junk, []byte(strings.Repeat("not sqlite ", 20)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Check(ctx, junk, s, false); err == nil || !strings.Contains(err.Error(), "not a SQLite database") {
		t.Errorf("Check of junk: %v", err)
	}
	if _, err := Check(ctx, filepath.Join(dir, "nosuch.db"), s, false); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Check of a missing file: %v", err)
	}
}

// TestSettleWAL checkpoints a closed file's WAL into it, so that the file
// alone holds everything, and removes the WAL and shared-memory files.
func TestSettleWAL(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "catalog.db")
	s, w := migrated(t, path)
	if err := SettleWAL(s, filepath.Join(dir, "none.db")); err != nil {
		t.Errorf("SettleWAL without a WAL: %v", err)
	}
	// Keep the WAL: copy the file and its WAL while the writer holds them.
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(path + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "copy.db"+suffix), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	cp := filepath.Join(dir, "copy.db")
	if fi, err := os.Stat(cp + "-wal"); err != nil || fi.Size() == 0 {
		t.Fatalf("the copy has no WAL to settle: %v", err)
	}
	if err := SettleWAL(s, cp); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(cp + "-wal"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the WAL is still there: %v", err)
	}
	db, err := OpenImmutable(cp)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM audit_log`).Scan(&n); err != nil || n != 1 {
		t.Errorf("the settled file holds %d audit rows (%v), want the one in the WAL", n, err)
	}
	if err := IntegrityCheck(ctx, db); err != nil {
		t.Error(err)
	}
}

func TestRenameNoReplace(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	for _, p := range []string{a, b} {
		if err := os.WriteFile(p, []byte(p), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := RenameNoReplace(a, b); !errors.Is(err, fs.ErrExist) {
		t.Errorf("rename over an existing file: %v, want fs.ErrExist", err)
	}
	if got, _ := os.ReadFile(b); string(got) != b {
		t.Error("a refused rename replaced the file")
	}
	c := filepath.Join(dir, "c")
	if err := RenameNoReplace(a, c); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(a); !errors.Is(err, fs.ErrNotExist) {
		t.Error("the renamed file is still at its old name")
	}
	if err := SyncDir(dir); err != nil {
		t.Error(err)
	}
	RemoveFiles(c)
	if _, err := os.Stat(c); !errors.Is(err, fs.ErrNotExist) {
		t.Error("RemoveFiles left the file")
	}
}

func TestStoredTimes(t *testing.T) {
	at := time.Date(2026, 6, 9, 19, 0, 0, 123e6, time.FixedZone("CDT", -5*3600))
	s := FormatTime(at)
	if s != "2026-06-10T00:00:00.123Z" {
		t.Errorf("FormatTime = %q", s)
	}
	if got := ParseTime(s); !got.Equal(at) {
		t.Errorf("ParseTime(%q) = %v, want %v", s, got, at)
	}
	if !ParseTime("garbage").IsZero() {
		t.Error("ParseTime of garbage is not the zero time")
	}
	if n := NullTime(nil); n.Valid {
		t.Error("NullTime(nil) is not NULL")
	}
	if n := NullTime(&at); !n.Valid || n.String != s {
		t.Errorf("NullTime = %+v", n)
	}
	if ParseNullTime(sql.NullString{}) != nil {
		t.Error("ParseNullTime of NULL is not nil")
	}
	if p := ParseNullTime(sql.NullString{String: s, Valid: true}); p == nil || !p.Equal(at) {
		t.Errorf("ParseNullTime = %v", p)
	}
}
