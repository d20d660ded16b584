package tenantdb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/chapterhouse/chapterhouse/tenantdb/sqlitefile"
)

// An import builds its fresh database from a copy of the first one its
// process migrated (a takeover's check of a chapter cost half as much),
// and that copy is the same database as a migrated one: same schema,
// same rows, same pragmas.
func TestFreshDatabaseFromTemplate(t *testing.T) {
	ctx := context.Background()
	v := LatestVersion()
	dir := t.TempDir()
	first, err := freshAt(ctx, filepath.Join(dir, "first.db"), v)
	if err != nil {
		t.Fatal(err)
	}
	first.Close()
	before := freshMigrations.Load()
	for i, name := range []string{"a.db", "b.db", "c.db"} {
		w, err := freshAt(ctx, filepath.Join(dir, name), v)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.ExecContext(ctx, "CREATE TABLE scratch(x)"); err != nil && i == 0 {
			t.Fatalf("the copy is not writable: %v", err)
		}
		w.Close()
	}
	if n := freshMigrations.Load() - before; n != 0 {
		t.Errorf("3 fresh databases ran the migrations %d times, want 0 (a copy of the first)", n)
	}
	migrated, err := migrateFresh(ctx, filepath.Join(dir, "migrated.db"), v)
	if err != nil {
		t.Fatal(err)
	}
	migrated.Close()
	copied, err := freshAt(ctx, filepath.Join(dir, "copied.db"), v)
	if err != nil {
		t.Fatal(err)
	}
	copied.Close()
	var schemas []map[string]schemaEntry
	var digests []Digest
	var pragmas [][2]int64
	for _, name := range []string{"migrated.db", "copied.db"} {
		u, err := openUntrusted(ctx, filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		s, err := readSchema(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		var p [2]int64
		if err := u.QueryRowContext(ctx, "SELECT * FROM pragma_application_id, pragma_user_version").Scan(&p[0], &p[1]); err != nil {
			t.Fatal(err)
		}
		u.Close()
		d, err := FileDigest(ctx, filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		schemas, digests, pragmas = append(schemas, s), append(digests, d), append(pragmas, p)
	}
	if !reflect.DeepEqual(schemas[0], schemas[1]) {
		t.Errorf("the copy's schema differs from a migrated database's")
	}
	if diff := digests[0].Diff(digests[1]); len(diff) > 0 {
		t.Errorf("the copy's rows differ from a migrated database's in %v", diff)
	}
	if pragmas[0] != pragmas[1] || pragmas[0][1] != v {
		t.Errorf("application_id, user_version: copy %v, migrated %v (want version %d)", pragmas[1], pragmas[0], v)
	}
}

// A tenant's create copies the fresh database its process migrated once:
// after the first, creates run no migration, and each new file is at
// the newest version, marked as ours, passes its integrity check and
// takes writes of its own. The temp dir the copy was made in is gone.
func TestCreateCopiesAFreshDatabase(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	first, err := Create(ctx, dir, NewTenantID())
	if err != nil {
		t.Fatal(err)
	}
	first.Close()
	before := freshMigrations.Load()
	var dbs []*DB
	for range 3 {
		db, err := Create(ctx, dir, NewTenantID())
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		dbs = append(dbs, db)
	}
	if n := freshMigrations.Load() - before; n != 0 {
		t.Errorf("3 creates ran the migrations %d times, want 0 (copies)", n)
	}
	for i, db := range dbs {
		if db.Migrated {
			t.Errorf("%s: its open migrated a copy of a migrated file", db.ID)
		}
		var appID, version int64
		var check string
		if err := db.r.QueryRowContext(ctx, "SELECT * FROM pragma_application_id, pragma_user_version, pragma_integrity_check").Scan(&appID, &version, &check); err != nil {
			t.Fatal(err)
		}
		if appID != sqlitefile.ApplicationID || version != LatestVersion() || check != "ok" {
			t.Errorf("%s: application_id %x, user_version %d, integrity %q", db.ID, appID, version, check)
		}
		site, err := db.Site(ctx)
		if err != nil {
			t.Fatal(err)
		}
		site.Name = fmt.Sprintf("Chapter %d", i)
		if err := db.UpdateSite(ctx, &site); err != nil {
			t.Fatal(err)
		}
	}
	for i, db := range dbs {
		if site, _ := db.Site(ctx); site.Name != fmt.Sprintf("Chapter %d", i) {
			t.Errorf("%s: site name %q, want its own", db.ID, site.Name)
		}
	}
	if left, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(left) != 0 {
		t.Errorf("the create left %d entries in DATA/tmp", len(left))
	}
	if _, err := Create(ctx, dir, dbs[0].ID); !errors.Is(err, ErrConflict) {
		t.Errorf("a create over an existing tenant: %v, want ErrConflict", err)
	}
}

// A tenant created for a replica has Litestream's two tables exactly as
// Litestream makes them (an import allows them as litestreamTables
// spells them) and nothing else more than a plain create; its digest,
// which leaves them out, is a plain create's.
func TestCreateForReplicaHasLitestreamsTables(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	plain, err := Create(ctx, dir, NewTenantID())
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	repl, err := CreateForReplica(ctx, dir, NewTenantID())
	if err != nil {
		t.Fatal(err)
	}
	defer repl.Close()
	tables := func(db *DB) map[string]string {
		rows, err := db.r.QueryContext(ctx, "SELECT name, sql FROM sqlite_schema WHERE type = 'table'")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		m := map[string]string{}
		for rows.Next() {
			var name, sql string
			if err := rows.Scan(&name, &sql); err != nil {
				t.Fatal(err)
			}
			m[name] = sql
		}
		return m
	}
	p, r := tables(plain), tables(repl)
	for name, sql := range litestreamTables {
		if r[name] != sql {
			t.Errorf("%s: %q, want %q", name, r[name], sql)
		}
		delete(r, name)
	}
	if !reflect.DeepEqual(p, r) {
		t.Errorf("a create for a replica differs from a plain one beyond Litestream's tables:\n%v\n%v", r, p)
	}
	dp, err := plain.Digest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dr, err := repl.Digest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(dp, dr) {
		t.Errorf("digests differ: %v and %v", dp, dr)
	}
}
