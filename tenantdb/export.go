package tenantdb

import (
	"context"

	"github.com/chapterhouse/chapterhouse/tenantdb/sqlitefile"
)

// Export writes a consistent snapshot of the tenant to the new file dst,
// while other connections keep reading and writing: every transaction that
// committed before Export began is in the file. The snapshot is written
// with VACUUM INTO to a temporary file next to dst, synced, checked with
// integrity_check and then renamed to dst, so dst either does not exist or
// is complete. The file is a single self-contained database (not in WAL
// mode). Export never overwrites dst: an existing dst is ErrConflict.
func (db *DB) Export(ctx context.Context, dst string) (sqlitefile.FileInfo, error) {
	return sqlitefile.Export(ctx, db.path, dst, tenantSchema)
}

// CheckTenantFile is CheckFile for a tenant's file.
func CheckTenantFile(ctx context.Context, path string) (sqlitefile.FileInfo, error) {
	return sqlitefile.Check(ctx, path, tenantSchema, false)
}

// CheckClosedTenantFile is CheckTenantFile for a tenant file that was in
// service (in WAL mode) and is now closed with its WAL settled (SettleWAL):
// one kept in the trash, say.
func CheckClosedTenantFile(ctx context.Context, path string) (sqlitefile.FileInfo, error) {
	return sqlitefile.Check(ctx, path, tenantSchema, true)
}

// Check runs integrity_check on the tenant's file as it is now.
func (db *DB) Check(ctx context.Context) error {
	return sqlitefile.IntegrityCheck(ctx, db.r)
}

// SettleWAL makes sure the closed tenant database at path keeps nothing
// in a WAL file, so the file alone is the whole database and can be
// renamed, linked or replaced. A WAL left by a crash is checkpointed into
// it.
func SettleWAL(path string) error { return sqlitefile.SettleWAL(tenantSchema, path) }
