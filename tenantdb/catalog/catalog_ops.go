package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/chapterhouse/chapterhouse/migrations"
	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/sqlitefile"
)

// addTrash is Catalog.AddTrash in catalog.db.
func (c sqliteStore) addTrash(ctx context.Context, e TrashEntry) error {
	_, err := c.db.ExecContext(ctx, `INSERT INTO trash (file, tenant_id, slug, name, deleted_at) VALUES (?, ?, ?, ?, ?)`,
		e.File, e.TenantID, e.Slug, e.Name, sqlitefile.FormatTime(e.DeletedAt))
	if sqlitefile.IsUnique(err) {
		return fmt.Errorf("trash file %s: %w", e.File, tenantdb.ErrConflict)
	}
	return err
}

// trashEntry is Catalog.TrashEntry in catalog.db.
func (c sqliteStore) trashEntry(ctx context.Context, file string) (TrashEntry, error) {
	var e TrashEntry
	var at string
	err := c.db.QueryRowContext(ctx, `SELECT file, tenant_id, slug, name, deleted_at FROM trash WHERE file = ?`, file).
		Scan(&e.File, &e.TenantID, &e.Slug, &e.Name, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return e, fmt.Errorf("trash entry %q: %w (see `chapterhouse trash list`)", file, tenantdb.ErrNotFound)
	}
	e.DeletedAt = sqlitefile.ParseTime(at)
	return e, err
}

// putDomains is Catalog.PutDomains in catalog.db.
func (c sqliteStore) putDomains(ctx context.Context, t Tenant, ds []Domain) error {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, d := range ds {
		_, err := tx.ExecContext(ctx, `INSERT INTO domains (host, tenant_id, verified, token, status, created_at, verified_at, checked_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, d.Host, t.ID, d.Status == DomainVerified, d.Token, d.Status,
			sqlitefile.FormatTime(d.CreatedAt), sqlitefile.NullTime(d.VerifiedAt), sqlitefile.NullTime(d.CheckedAt))
		if sqlitefile.IsUnique(err) {
			return fmt.Errorf("domain %s: %w", d.Host, tenantdb.ErrConflict)
		}
		if err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	c.mu.Lock()
	for _, d := range ds {
		if d.Status == DomainVerified {
			c.byHost[d.Host] = t.ID
		}
	}
	c.mu.Unlock()
	return nil
}

// ReadFile reads the tenants and custom domains of a catalog file
// that nothing writes (a backup's catalog.db).
func ReadFile(ctx context.Context, path string) ([]Tenant, []Domain, error) {
	db, err := sqlitefile.OpenImmutable(path)
	if err != nil {
		return nil, nil, err
	}
	defer db.Close()
	c := &Catalog{db: db}
	c.st = sqliteStore{c}
	ts, err := c.Tenants(ctx)
	if err != nil {
		return nil, nil, err
	}
	ds, err := c.Domains(ctx, "")
	return ts, ds, err
}

// export is Catalog.Export in catalog.db.
func (c sqliteStore) export(ctx context.Context, dst string) (sqlitefile.FileInfo, error) {
	return sqlitefile.Export(ctx, Path(c.dir), dst, catalogSchema)
}

// CheckFile checks a catalog file (a snapshot) as sqlitefile.Check does.
func CheckFile(ctx context.Context, path string) (sqlitefile.FileInfo, error) {
	return sqlitefile.Check(ctx, path, catalogSchema, false)
}

// check is Catalog.Check in catalog.db.
func (c sqliteStore) check(ctx context.Context) error {
	return sqlitefile.IntegrityCheck(ctx, c.db)
}

// catalogSchema is the catalog's kind of database: the default VFS, since
// any process may open the catalog.
var catalogSchema = sqlitefile.NewSchema("catalog", migrations.Catalog(), "")
