package tenantdb

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chapterhouse/chapterhouse/tenantdb/tenanttest"
)

// TestImportTakesADocumentOfExactlyTheLimit: a document of exactly
// MaxDocumentSize bytes imports; one a byte larger, its size and sha256
// recorded, is refused naming the sizes.
func TestImportTakesADocumentOfExactlyTheLimit(t *testing.T) {
	ctx := context.Background()
	db := openTenant(t)
	fillTenant(t, db)
	pdf := make([]byte, MaxDocumentSize)
	copy(pdf, testPDF)
	must(t, db.AddDocument(ctx, &Document{Title: "Big", Category: "other", Dated: "2026-01-01"}, pdf))
	path := filepath.Join(t.TempDir(), "export.db")
	if _, err := db.Export(ctx, path); err != nil {
		t.Fatal(err)
	}
	im, err := PrepareImport(ctx, path, t.TempDir(), 1<<30)
	if err != nil {
		t.Fatalf("a document of exactly %d bytes: %v", MaxDocumentSize, err)
	}
	im.Discard()
	n := MaxDocumentSize + 1
	sum := sha256.Sum256(make([]byte, n))
	over := tenanttest.Alter(t, path, fmt.Sprintf(`UPDATE documents SET data = zeroblob(%d), size = %d, sha256 = '%s' WHERE title = 'Big'`,
		n, n, hex.EncodeToString(sum[:])))
	_, err = PrepareImport(ctx, over, t.TempDir(), 1<<30)
	if want := fmt.Sprintf("document of %d bytes", n); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("a document a byte over the limit: %v, want %q", err, want)
	}
}

// TestImportedMailWaiting: a prepared file with mail queued says so, one
// without says not, and the look leaves no WAL beside the file (it is
// renamed into place alone).
func TestImportedMailWaiting(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		waiting bool
	}{{"queued mail", true}, {"all mail sent", false}} {
		t.Run(tc.name, func(t *testing.T) {
			db := openTenant(t)
			fillTenant(t, db)
			if !tc.waiting {
				must(t, db.write(ctx, func(tx *sql.Tx) error {
					_, err := tx.ExecContext(ctx, `UPDATE outbox SET status = 'sent', sent_at = created_at`)
					return err
				}))
			}
			path := filepath.Join(t.TempDir(), "export.db")
			if _, err := db.Export(ctx, path); err != nil {
				t.Fatal(err)
			}
			im, err := PrepareImport(ctx, path, t.TempDir(), 1<<30)
			must(t, err)
			defer im.Discard()
			waiting, err := im.MailWaiting(ctx)
			if err != nil || waiting != tc.waiting {
				t.Errorf("MailWaiting = %v, %v; want %v", waiting, err, tc.waiting)
			}
			if _, err := os.Stat(im.Path + "-wal"); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("after the look the file has a WAL beside it: %v", err)
			}
		})
	}
}

// TestUnmarkMailReportsAMarkerItCannotRemove: a marker of a tenant whose
// file is gone that cannot be removed is an error, not a silent success;
// a tenant id that is not one is refused.
func TestUnmarkMailReportsAMarkerItCannotRemove(t *testing.T) {
	dir := t.TempDir()
	id := "t" + strings.Repeat("a", 15)
	if !ValidTenantID(id) {
		t.Fatalf("%s is not a tenant id; pick another", id)
	}
	must(t, os.MkdirAll(filepath.Join(MailMarkDir(dir), id, "stuck"), 0o700))
	if err := UnmarkMail(dir, id); err == nil {
		t.Error("UnmarkMail of a marker it could not remove reported success")
	}
	if err := UnmarkMail(dir, "../x"); err == nil {
		t.Error("UnmarkMail of a bad id reported success")
	}
	must(t, os.RemoveAll(filepath.Join(MailMarkDir(dir), id)))
	if err := UnmarkMail(dir, id); err != nil {
		t.Errorf("UnmarkMail of a marker already gone: %v", err)
	}
}
