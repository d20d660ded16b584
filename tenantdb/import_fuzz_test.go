package tenantdb

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chapterhouse/chapterhouse/tenantdb/sqlitefile"
	"github.com/chapterhouse/chapterhouse/tenantdb/tenanttest"
)

// FuzzImport feeds PrepareImport a base file with bytes overwritten at an
// offset. Base 0 is a valid export; every other base is a file of one
// hostile kind the import refuses (hostileFiles and invalidRows, the
// tables of TestImportRejectsHostileFiles and
// TestImportValidatesEveryTable), seeded unpatched, so the run starts
// from every refusal path. The properties: nothing panics; a hostile
// base unpatched is refused for its own reason; a refused import leaves
// nothing in its work dir; an accepted one is a sound tenant file
// (integrity_check, Chapterhouse's id, the latest version, the reference
// schema, the rows of a source that itself passes the checks) that
// exports again to the same digest. The patches of the valid export are
// in testdata/fuzz/FuzzImport.
func FuzzImport(f *testing.F) {
	ctx := context.Background()
	valid := validExport(f)
	type base struct {
		name, want string
		bytes      []byte
	}
	read := func(name, path, want string) base {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		return base{name, want, b}
	}
	bases := []base{read("valid export", valid, "")}
	for _, k := range hostileFiles(f, valid) {
		bases = append(bases, read(k.name, k.path, k.want))
	}
	for _, r := range invalidRows() {
		bases = append(bases, read(r.table+" "+r.name, tenanttest.Alter(f, valid, r.stmt), r.want))
	}
	if len(bases) > 256 {
		f.Fatalf("%d bases do not fit the fuzz input's uint8", len(bases))
	}
	for i := range bases {
		f.Add(uint8(i), uint32(0), []byte{})
	}
	f.Add(uint8(0), uint32(18), []byte{2, 2})
	f.Add(uint8(0), uint32(4096*2+8), []byte{0xff, 0xff})
	f.Fuzz(func(t *testing.T, kind uint8, offset uint32, patch []byte) {
		base := bases[int(kind)%len(bases)]
		b := append([]byte(nil), base.bytes...)
		if len(b) == 0 {
			b = append(b, patch...)
		} else {
			for i, c := range patch {
				b[(int(offset)+i)%len(b)] = c
			}
		}
		hostile := base.want != "" && len(patch) == 0
		dir := t.TempDir()
		src := filepath.Join(dir, "mutated.db")
		if err := os.WriteFile(src, b, 0o600); err != nil {
			t.Fatal(err)
		}
		work := filepath.Join(dir, "work")
		im, err := PrepareImport(ctx, src, work, int64(len(b))+1)
		if err != nil {
			if hostile && (!errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), base.want)) {
				t.Errorf("%s: refused with %q, want a rejection saying %q", base.name, err, base.want)
			}
			if !errors.Is(err, ErrRejected) {
				t.Logf("not a rejection: %v", err) // e.g. goose failing to migrate; still refused
			}
			if entries, _ := os.ReadDir(work); len(entries) != 0 {
				t.Errorf("%s: the refused import left %d entries in its work dir", base.name, len(entries))
			}
			return
		}
		defer im.Discard()
		if hostile {
			t.Fatalf("%s: accepted, want a rejection saying %q", base.name, base.want)
		}
		assertSound(t, src, LatestVersion(), im.SourceVersion)
		assertSound(t, im.Path, LatestVersion(), LatestVersion())
		got, err := FileDigest(ctx, im.Path)
		if err != nil {
			t.Fatal(err)
		}
		if im.SourceVersion == LatestVersion() && got.Sum() != im.Digest.Sum() {
			t.Errorf("accepted file's rows differ from the source's in %v", got.Diff(im.Digest))
		}
		// What was accepted exports again, to the same rows.
		db, err := openFile(ctx, im.Path, "fuzz", "rw", false, false)
		if err != nil {
			t.Fatalf("the accepted file does not open: %v", err)
		}
		again := filepath.Join(dir, "again.db")
		_, err = db.Export(ctx, again)
		if cerr := db.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatalf("the accepted file does not export: %v", err)
		}
		if re, err := FileDigest(ctx, again); err != nil || re.Sum() != got.Sum() {
			t.Errorf("the accepted file exports to other rows (%v): %v", err, re.Diff(got))
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
	want, err := referenceSchema(ctx, version, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := compareSchema(got, want); err != nil {
		t.Fatalf("accepted %s: %v", filepath.Base(path), err)
	}
}
