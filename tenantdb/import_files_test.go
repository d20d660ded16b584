package tenantdb

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/chapterhouse/chapterhouse/tenantdb/tenanttest"
)

// openFilesUnder lists this process's open files whose path holds dir.
func openFilesUnder(t *testing.T, dir string) []string {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd (not Linux): %v", err)
	}
	var out []string
	for _, fd := range fds {
		if target, err := os.Readlink("/proc/self/fd/" + fd.Name()); err == nil && strings.Contains(target, dir) {
			out = append(out, target)
		}
	}
	return out
}

// TestImportClosesWhatItOpens: once PrepareImport returns, accepted or
// refused, it holds no file of its work dir open (the private copy of
// the source is closed, not only removed), and after Discard the work
// dir is empty.
func TestImportClosesWhatItOpens(t *testing.T) {
	ctx := context.Background()
	valid := validExport(t)
	work := t.TempDir()
	im, err := PrepareImport(ctx, valid, work, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	if open := openFilesUnder(t, work); len(open) != 0 {
		t.Errorf("an accepted import holds open: %v", open)
	}
	im.Discard()
	hostile := tenanttest.Alter(t, valid, `CREATE VIEW v AS SELECT * FROM admins`)
	if _, err := PrepareImport(ctx, hostile, work, 1<<30); err == nil {
		t.Fatal("an extra view was imported")
	}
	if open := openFilesUnder(t, work); len(open) != 0 {
		t.Errorf("a refused import holds open: %v", open)
	}
	if left, _ := os.ReadDir(work); len(left) != 0 {
		t.Errorf("the work dir holds %d entries", len(left))
	}
}
