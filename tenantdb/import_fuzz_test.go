package tenantdb

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/chapterhouse/chapterhouse/tenantdb/sqlitefile"
)

// FuzzImport feeds PrepareImport valid exports with bytes overwritten at
// an offset. It must never panic, and whatever it accepts must be a sound
// tenant file: integrity_check, Chapterhouse's id, the latest version, the
// reference schema, the rows of a source that itself passes the checks.
// The seed corpus is in testdata/fuzz/FuzzImport.
func FuzzImport(f *testing.F) {
	ctx := context.Background()
	valid := validExport(f)
	orig, err := os.ReadFile(valid)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint32(0), []byte{})
	f.Add(uint32(18), []byte{2, 2})
	f.Add(uint32(4096*2+8), []byte{0xff, 0xff})
	f.Fuzz(func(t *testing.T, offset uint32, patch []byte) {
		b := append([]byte(nil), orig...)
		for i, c := range patch {
			b[(int(offset)+i)%len(b)] = c
		}
		dir := t.TempDir()
		src := filepath.Join(dir, "mutated.db")
		if err := os.WriteFile(src, b, 0o600); err != nil {
			t.Fatal(err)
		}
		im, err := PrepareImport(ctx, src, filepath.Join(dir, "work"), int64(len(orig)))
		if err != nil {
			if !errors.Is(err, ErrRejected) {
				t.Logf("not a rejection: %v", err) // e.g. goose failing to migrate; still refused
			}
			return
		}
		defer im.Discard()
		assertSound(t, src, LatestVersion(), im.SourceVersion)
		assertSound(t, im.Path, LatestVersion(), LatestVersion())
		got, err := FileDigest(ctx, im.Path)
		if err != nil {
			t.Fatal(err)
		}
		if im.SourceVersion == LatestVersion() && got.Sum() != im.Digest.Sum() {
			t.Errorf("accepted file's rows differ from the source's in %v", got.Diff(im.Digest))
		}
	})
}

// assertSound checks a database file independently of PrepareImport.
func assertSound(t *testing.T, path string, latest, version int64) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlitefile.OpenImmutable(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := sqlitefile.IntegrityCheck(ctx, db); err != nil {
		t.Fatalf("accepted %s: %v", filepath.Base(path), err)
	}
	var appID, uv int64
	if err := db.QueryRow("PRAGMA application_id").Scan(&appID); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow("PRAGMA user_version").Scan(&uv); err != nil {
		t.Fatal(err)
	}
	if appID != sqlitefile.ApplicationID || uv != version || uv > latest {
		t.Fatalf("accepted %s: application_id %#x, version %d", filepath.Base(path), appID, uv)
	}
	got, err := readSchema(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	want, err := referenceSchema(ctx, version)
	if err != nil {
		t.Fatal(err)
	}
	if err := compareSchema(got, want); err != nil {
		t.Fatalf("accepted %s: %v", filepath.Base(path), err)
	}
}
