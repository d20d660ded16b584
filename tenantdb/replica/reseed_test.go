package replica

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// A tenant file replaced by another lineage (restore --all rebuilds every
// file; an in-place restore imports one) keeps a restorable replica when
// it is replicated again, with or without Litestream's local state.
func TestReplacedFileStaysRestorable(t *testing.T) {
	for _, keepState := range []bool{false, true} {
		t.Run(map[bool]string{false: "state lost", true: "state kept"}[keepState], func(t *testing.T) {
			ctx := context.Background()
			dir, id := testTenant(t)
			r := newFileReplicator(t, dir, Options{})
			cycle := func(title string) {
				db, err := openPinned(ctx, dir, id)
				if err != nil {
					t.Fatal(err)
				}
				if err := r.Register(ctx, id, db.Path()); err != nil {
					t.Fatal(err)
				}
				for i := 0; i < 30; i++ {
					post(t, db, title+string(rune('a'+i%26))+time.Now().String())
				}
				if err := r.Sync(ctx, id); err != nil {
					t.Fatal(err)
				}
				db.Close()
				if err := r.Unregister(ctx, id); err != nil {
					t.Fatal(err)
				}
			}
			cycle("one ")
			// Replace the file by a rebuilt copy (as an import does).
			src := filepath.Join(t.TempDir(), "src.db")
			if err := r.Target().Restore(ctx, id, src, time.Time{}); err != nil {
				t.Fatal(err)
			}
			im, err := tenantdb.PrepareImport(ctx, src, t.TempDir(), 1<<30)
			if err != nil {
				t.Fatal(err)
			}
			path := tenantdb.TenantPath(dir, id)
			os.Remove(path + "-wal")
			if err := os.Rename(im.Path, path); err != nil {
				t.Fatal(err)
			}
			if !keepState {
				os.RemoveAll(filepath.Join(dir, "litestream", id))
			}
			cycle("two ")
			cycle("three ")
			out := filepath.Join(t.TempDir(), "out.db")
			if err := r.Target().Restore(ctx, id, out, time.Time{}); err != nil {
				t.Fatalf("restore after the file was replaced: %v", err)
			}
		})
	}
}
