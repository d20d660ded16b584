package tenantdb

import (
	"context"
	"testing"

	"github.com/chapterhouse/chapterhouse/tenantdb/tenanttest"
)

// TestImportAcceptsAnalyzedFiles: ANALYZE (and PRAGMA optimize, which a
// long-lived file may have run) adds SQLite's statistics tables. They hold
// no content: such a file imports, with the same rows, and the statistics
// are not carried over.
func TestImportAcceptsAnalyzedFiles(t *testing.T) {
	ctx := context.Background()
	valid := validExport(t)
	want, err := FileDigest(ctx, valid)
	if err != nil {
		t.Fatal(err)
	}
	for _, stmts := range [][]string{{"ANALYZE"}, {"PRAGMA optimize=0x10002"}} {
		analyzed := tenanttest.Alter(t, valid, stmts...)
		im, err := PrepareImport(ctx, analyzed, t.TempDir(), 1<<30)
		if err != nil {
			t.Fatalf("%s: the import refused it: %v", stmts[0], err)
		}
		if im.Digest.Sum() != want.Sum() {
			t.Errorf("%s: the imported rows differ", stmts[0])
		}
		if _, ok := im.Digest.Rows["sqlite_stat1"]; ok {
			t.Errorf("%s: the statistics were carried over", stmts[0])
		}
		im.Discard()
	}
}
