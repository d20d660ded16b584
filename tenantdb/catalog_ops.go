package tenantdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
)

// AddTrash records a tenant file kept in DATA/trash/ (a replaced or moved
// tenant's old file).
func (c *Catalog) AddTrash(ctx context.Context, e TrashEntry) error {
	_, err := c.db.ExecContext(ctx, `INSERT INTO trash (file, tenant_id, slug, name, deleted_at) VALUES (?, ?, ?, ?, ?)`,
		e.File, e.TenantID, e.Slug, e.Name, formatTime(e.DeletedAt))
	if isUnique(err) {
		return fmt.Errorf("trash file %s: %w", e.File, ErrConflict)
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
		return e, fmt.Errorf("trash entry %q: %w (see `chapterhouse trash list`)", file, ErrNotFound)
	}
	e.DeletedAt = parseTime(at)
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
			formatTime(d.CreatedAt), nullTime(d.VerifiedAt), nullTime(d.CheckedAt))
		if isUnique(err) {
			return fmt.Errorf("domain %s: %w", d.Host, ErrConflict)
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

// SettleWAL makes sure the closed tenant database at path keeps nothing
// in a WAL file, so the file alone is the whole database and can be
// renamed, linked or replaced. A WAL left by a crash is checkpointed into
// it.
func SettleWAL(path string) error {
	fi, err := os.Stat(path + "-wal")
	if errors.Is(err, os.ErrNotExist) {
		os.Remove(path + "-shm")
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Size() > 0 {
		db, err := sql.Open("sqlite", dsn(tenantSchema, path, "rw"))
		if err != nil {
			return err
		}
		var busy, logFrames, done int
		err = db.QueryRow("PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logFrames, &done)
		err = errors.Join(err, db.Close())
		if err != nil {
			return fmt.Errorf("checkpointing %s: %w", path, err)
		}
		if busy != 0 {
			return fmt.Errorf("%s is held open by another process; stop it and try again", path)
		}
	}
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > 0 {
		return fmt.Errorf("%s is held open by another process; stop it and try again", path)
	}
	os.Remove(path + "-wal")
	os.Remove(path + "-shm")
	return nil
}

// ReadCatalogFile reads the tenants and custom domains of a catalog file
// that nothing writes (a backup's catalog.db).
func ReadCatalogFile(ctx context.Context, path string) ([]Tenant, []Domain, error) {
	db, err := sql.Open("sqlite", "file:"+escapePath(path)+"?mode=ro&immutable=1&_pragma=trusted_schema(0)")
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
