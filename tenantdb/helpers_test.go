package tenantdb

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// migrationVersions are the versions of the tenant schema's migrations,
// in order: the numbers need not be consecutive (each branch of work is
// given its own).
func migrationVersions(t testing.TB) []int64 {
	t.Helper()
	names, err := fs.Glob(tenantSchema.FS, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	var vs []int64
	for _, n := range names {
		v, err := strconv.ParseInt(strings.SplitN(n, "_", 2)[0], 10, 64)
		if err != nil {
			t.Fatalf("migration %s: %v", n, err)
		}
		vs = append(vs, v)
	}
	return vs
}

// newTenant creates a migrated tenant file in a temp data dir and returns
// the dir and the tenant's id.
func newTenant(t testing.TB) (dir, id string) {
	t.Helper()
	dir = t.TempDir()
	id = NewTenantID()
	db, err := Create(context.Background(), dir, id)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, id
}

// openTenant opens a fresh migrated tenant database for a storage test.
func openTenant(t testing.TB) *DB {
	t.Helper()
	dir, id := newTenant(t)
	db, err := Open(context.Background(), dir, id)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// emptyTenantFile makes a zero-length tenant file: a valid, unmigrated
// SQLite database.
func emptyTenantFile(t *testing.T, dir string) string {
	t.Helper()
	id := NewTenantID()
	if err := os.MkdirAll(filepath.Join(dir, "tenants"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(TenantPath(dir, id), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return id
}

func countFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return nil
	})
	return n
}
