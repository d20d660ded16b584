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

// AddTrash records a tenant file kept in DATA/trash/ (a replaced or moved
// tenant's old file).
func (c *Catalog) AddTrash(ctx context.Context, e TrashEntry) error {
	_, err := c.db.ExecContext(ctx, `INSERT INTO trash (file, tenant_id, slug, name, deleted_at) VALUES (?, ?, ?, ?, ?)`,
		e.File, e.TenantID, e.Slug, e.Name, sqlitefile.FormatTime(e.DeletedAt))
	if sqlitefile.IsUnique(err) {
		return fmt.Errorf("trash file %s: %w", e.File, tenantdb.ErrConflict)
	}
	return err
}

// TrashEntry returns the trash entry of file, or ErrNotFound.
func (c *Catalog) TrashEntry(ctx context.Context, file string) (TrashEntry, error) {
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

// PutDomains records custom domains of tenant t as they were elsewhere:
// with their verification token and status, so a moved tenant's verified
// domains route at once. All or none: a host another tenant has is
// ErrConflict and nothing is added.
func (c *Catalog) PutDomains(ctx context.Context, t Tenant, ds []Domain) error {
	if len(ds) == 0 {
		return nil
	}
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, d := range ds {
		switch d.Status {
		case DomainPending, DomainVerified, DomainMisconfigured:
		default:
			return invalid("status", "%q is not a domain status", d.Status)
		}
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
	ts, err := c.Tenants(ctx)
	if err != nil {
		return nil, nil, err
	}
	ds, err := c.Domains(ctx, "")
	return ts, ds, err
}

// Export writes a consistent snapshot of the catalog to the new file dst,
// as DB.Export does for a tenant.
func (c *Catalog) Export(ctx context.Context, dst string) (sqlitefile.FileInfo, error) {
	return sqlitefile.Export(ctx, Path(c.dir), dst, catalogSchema)
}

// CheckFile checks a catalog file (a snapshot) as sqlitefile.Check does.
func CheckFile(ctx context.Context, path string) (sqlitefile.FileInfo, error) {
	return sqlitefile.Check(ctx, path, catalogSchema, false)
}

// Check runs integrity_check on the catalog's file.
func (c *Catalog) Check(ctx context.Context) error {
	return sqlitefile.IntegrityCheck(ctx, c.db)
}

// catalogSchema is the catalog's kind of database: the default VFS, since
// any process may open the catalog.
var catalogSchema = sqlitefile.NewSchema("catalog", migrations.Catalog(), "")
