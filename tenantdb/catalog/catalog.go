// Package catalog is the platform's catalog: the tenants (id, slug, name,
// status) and their custom domains, kept in memory as the host map every
// request is routed by, and the trash and audit log. On a single node it
// is catalog.db (Open): any process may open it; the server that owns the
// data dir writes it. In cluster mode it is a set of JetStream KV buckets
// (OpenJetStream) that every node writes by compare-and-set and watches.
package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/sqlitefile"
)

// Tenant statuses.
const (
	StatusActive    = "active"
	StatusSuspended = "suspended" // the site shows a 503 page
	StatusFrozen    = "frozen"    // read-only: reads are served, writes get 503
)

// Tenant is one chapter's entry in the catalog.
type Tenant struct {
	ID        string    `json:"id"`
	Slug      string    `json:"slug"`
	Name      string    `json:"name"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
	// Quota is the tenant's own storage quota in bytes (0: unlimited);
	// nil: the server's default applies.
	Quota *int64 `json:"quota_bytes"`
}

// Domain statuses.
const (
	DomainPending       = "pending"
	DomainVerified      = "verified"
	DomainMisconfigured = "misconfigured" // was verified, its TXT record went away
)

// Domain is a custom host name of a tenant. Verified says whether it
// routes: a verified domain does, and so does a misconfigured one during
// its grace period (see RecordDomainCheck).
type Domain struct {
	Host       string     `json:"host"`
	TenantID   string     `json:"tenant_id"`
	Slug       string     `json:"tenant"`
	Status     string     `json:"status"`
	Verified   bool       `json:"verified"`
	Token      string     `json:"token"`
	CreatedAt  time.Time  `json:"created_at"`
	VerifiedAt *time.Time `json:"verified_at,omitempty"`
	CheckedAt  *time.Time `json:"checked_at,omitempty"`
	// MisconfiguredSince is when a verified domain's record was first
	// found missing; nil while its checks pass.
	MisconfiguredSince *time.Time `json:"misconfigured_since,omitempty"`
}

// Catalog is the tenants, their custom domains, the trash and the audit
// log, in DATA/catalog.db or in JetStream (see store). Host routing is
// answered from memory; every change through the Catalog updates that view
// before it returns, and in cluster mode the changes of other nodes reach
// it through a watch.
type Catalog struct {
	dir string
	st  store
	db  *sql.DB // catalog.db; nil in cluster mode
	now func() time.Time

	// dmu serialises the changes of domains, each with its update of
	// byHost, so that a removal is never undone by a check that read the
	// domain before it.
	dmu sync.Mutex

	mu     sync.RWMutex
	bySlug map[string]Tenant
	byID   map[string]Tenant
	byHost map[string]string // verified custom host -> tenant id
}

// Path is the catalog file of data dir dir.
func Path(dir string) string { return filepath.Join(dir, "catalog.db") }

// Open opens (creating and migrating if needed) the catalog of data
// dir dir, creating the directory too.
func Open(ctx context.Context, dir string) (*Catalog, error) {
	for _, d := range []string{dir, filepath.Join(dir, "tenants"), filepath.Join(dir, "trash")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	db, err := sqlitefile.OpenWriter(catalogSchema, Path(dir), "rwc")
	if err != nil {
		return nil, err
	}
	if _, err := sqlitefile.Migrate(ctx, db, db, catalogSchema, dir, "catalog"); err != nil {
		db.Close()
		return nil, fmt.Errorf("catalog: %w", err)
	}
	c := &Catalog{dir: dir, db: db, now: time.Now}
	c.st = sqliteStore{c}
	if err := c.load(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return c, nil
}

// Dir is the data dir of the catalog.
func (c *Catalog) Dir() string { return c.dir }

// Close closes the catalog file, or stops the watches of a catalog in
// JetStream (the caller closes its NATS connection).
func (c *Catalog) Close() error { return c.st.close() }

func (c *Catalog) load(ctx context.Context) error {
	tenants, err := c.Tenants(ctx)
	if err != nil {
		return err
	}
	bySlug := make(map[string]Tenant, len(tenants))
	byID := make(map[string]Tenant, len(tenants))
	for _, t := range tenants {
		bySlug[t.Slug] = t
		byID[t.ID] = t
	}
	byHost := make(map[string]string)
	rows, err := c.db.QueryContext(ctx, `SELECT host, tenant_id FROM domains WHERE verified = 1`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var host, id string
		if err := rows.Scan(&host, &id); err != nil {
			return err
		}
		byHost[host] = id
	}
	if err := rows.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.bySlug, c.byID, c.byHost = bySlug, byID, byHost
	c.mu.Unlock()
	return nil
}

// TenantBySlug looks a tenant up in memory.
func (c *Catalog) TenantBySlug(slug string) (Tenant, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	t, ok := c.bySlug[slug]
	return t, ok
}

// TenantByID looks a tenant up in memory.
func (c *Catalog) TenantByID(id string) (Tenant, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	t, ok := c.byID[id]
	return t, ok
}

// TenantByHost returns the tenant a verified custom domain routes to. host
// must be normalised.
func (c *Catalog) TenantByHost(host string) (Tenant, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	id, ok := c.byHost[host]
	if !ok {
		return Tenant{}, false
	}
	t, ok := c.byID[id]
	return t, ok
}

// Tenant returns the tenant with the given slug, or ErrNotFound.
func (c *Catalog) Tenant(slug string) (Tenant, error) {
	t, ok := c.TenantBySlug(slug)
	if !ok {
		return Tenant{}, fmt.Errorf("tenant %q: %w", slug, tenantdb.ErrNotFound)
	}
	return t, nil
}

const tenantColumns = `id, slug, name, status, created_at`

func scanTenant(s interface{ Scan(...any) error }) (Tenant, error) {
	var t Tenant
	var created string
	var quota sql.NullInt64
	if err := s.Scan(&t.ID, &t.Slug, &t.Name, &t.Status, &created, &quota); err != nil {
		return t, err
	}
	t.CreatedAt = sqlitefile.ParseTime(created)
	if quota.Valid {
		t.Quota = &quota.Int64
	}
	return t, nil
}

// tenants is Catalog.Tenants in catalog.db.
func (c sqliteStore) tenants(ctx context.Context) ([]Tenant, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT `+tenantColumns+`, quota_bytes FROM tenants ORDER BY slug`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ts []Tenant
	for rows.Next() {
		t, err := scanTenant(rows)
		if err != nil {
			return nil, err
		}
		ts = append(ts, t)
	}
	return ts, rows.Err()
}

// ValidateName checks a tenant's display name.
func ValidateName(name string) error {
	if name == "" || len(name) > 200 {
		return invalid("name", "must be 1-200 characters")
	}
	return nil
}

// addTenant is Catalog.AddTenant in catalog.db.
func (c sqliteStore) addTenant(ctx context.Context, t Tenant) error {
	_, err := c.db.ExecContext(ctx, `INSERT INTO tenants (`+tenantColumns+`, quota_bytes) VALUES (?, ?, ?, ?, ?, ?)`,
		t.ID, t.Slug, t.Name, t.Status, sqlitefile.FormatTime(t.CreatedAt), t.Quota)
	if sqlitefile.IsUnique(err) {
		return fmt.Errorf("tenant %q: %w", t.Slug, tenantdb.ErrConflict)
	}
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.bySlug[t.Slug] = t
	c.byID[t.ID] = t
	c.mu.Unlock()
	return nil
}

// setStatus is Catalog.SetStatus in catalog.db.
func (c sqliteStore) setStatus(ctx context.Context, slug, status string) (Tenant, error) {
	t, err := c.Tenant(slug)
	if err != nil {
		return t, err
	}
	if _, err := c.db.ExecContext(ctx, `UPDATE tenants SET status = ? WHERE id = ?`, status, t.ID); err != nil {
		return t, err
	}
	t.Status = status
	c.mu.Lock()
	c.bySlug[t.Slug] = t
	c.byID[t.ID] = t
	c.mu.Unlock()
	return t, nil
}

// setQuota is Catalog.SetQuota in catalog.db.
func (c sqliteStore) setQuota(ctx context.Context, slug string, quota *int64) (Tenant, error) {
	t, err := c.Tenant(slug)
	if err != nil {
		return t, err
	}
	if _, err := c.db.ExecContext(ctx, `UPDATE tenants SET quota_bytes = ? WHERE id = ?`, quota, t.ID); err != nil {
		return t, err
	}
	t.Quota = nil
	if quota != nil {
		q := *quota
		t.Quota = &q
	}
	c.mu.Lock()
	c.bySlug[t.Slug] = t
	c.byID[t.ID] = t
	c.mu.Unlock()
	return t, nil
}

// removeTenant is Catalog.RemoveTenant in catalog.db.
func (c sqliteStore) removeTenant(ctx context.Context, t Tenant, trashFile string) error {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `DELETE FROM tenants WHERE id = ?`, t.ID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("tenant %q: %w", t.Slug, tenantdb.ErrNotFound)
	}
	if trashFile != "" {
		if _, err := tx.ExecContext(ctx, `INSERT INTO trash (file, tenant_id, slug, name, deleted_at) VALUES (?, ?, ?, ?, ?)`,
			trashFile, t.ID, t.Slug, t.Name, sqlitefile.FormatTime(c.now())); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	c.mu.Lock()
	delete(c.bySlug, t.Slug)
	delete(c.byID, t.ID)
	for host, id := range c.byHost {
		if id == t.ID {
			delete(c.byHost, host)
		}
	}
	c.mu.Unlock()
	return nil
}

const domainColumns = `d.host, d.tenant_id, t.slug, d.status, d.verified, d.token, d.created_at, d.verified_at, d.checked_at, d.misconfigured_since`

func scanDomain(s interface{ Scan(...any) error }) (Domain, error) {
	var d Domain
	var created string
	var verifiedAt, checkedAt, misSince sql.NullString
	if err := s.Scan(&d.Host, &d.TenantID, &d.Slug, &d.Status, &d.Verified, &d.Token, &created, &verifiedAt, &checkedAt, &misSince); err != nil {
		return d, err
	}
	d.CreatedAt = sqlitefile.ParseTime(created)
	d.VerifiedAt = sqlitefile.ParseNullTime(verifiedAt)
	d.CheckedAt = sqlitefile.ParseNullTime(checkedAt)
	d.MisconfiguredSince = sqlitefile.ParseNullTime(misSince)
	return d, nil
}

// domains is Catalog.Domains in catalog.db.
func (c sqliteStore) domains(ctx context.Context, tenantID string) ([]Domain, error) {
	return queryDomains(ctx, c.db, `? = '' OR d.tenant_id = ?`, tenantID, tenantID)
}

// Custom domains are claims: a tenant claims a host (pending, with a
// token) and proves it by publishing the token in DNS (verified). Several
// tenants may claim a host while none has proven it; the first to prove it
// owns it, and its proof removes the other claims. A host has at most one
// claim that is not pending (the unique index domains_owner), and only a
// claim that routes (Verified) is in the host map.

// queryDomains runs a SELECT of domainColumns (with the tenants joined as
// t) filtered by where.
func queryDomains(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, where string, args ...any) ([]Domain, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+domainColumns+` FROM domains d JOIN tenants t ON t.id = d.tenant_id
		WHERE `+where+` ORDER BY d.host, d.status = 'pending', d.created_at`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ds []Domain
	for rows.Next() {
		d, err := scanDomain(rows)
		if err != nil {
			return nil, err
		}
		ds = append(ds, d)
	}
	return ds, rows.Err()
}

// Domain returns the claim of host that decides it: the owner's (verified
// or misconfigured) if there is one, else the oldest pending claim; or
// ErrNotFound. Claims lists them all.
func (c *Catalog) Domain(ctx context.Context, host string) (Domain, error) {
	ds, err := c.Claims(ctx, host)
	if err != nil {
		return Domain{}, err
	}
	if len(ds) == 0 {
		return Domain{}, fmt.Errorf("domain %s: %w", host, tenantdb.ErrNotFound)
	}
	return ds[0], nil
}

// claims is Catalog.Claims in catalog.db.
func (c sqliteStore) claims(ctx context.Context, host string) ([]Domain, error) {
	return queryDomains(ctx, c.db, `d.host = ?`, host)
}

// tenantDomain is Catalog.TenantDomain in catalog.db.
func (c sqliteStore) tenantDomain(ctx context.Context, tenantID, host string) (Domain, error) {
	d, err := scanDomain(c.db.QueryRowContext(ctx, `SELECT `+domainColumns+` FROM domains d JOIN tenants t ON t.id = d.tenant_id
		WHERE d.host = ? AND d.tenant_id = ?`, host, tenantID))
	if errors.Is(err, sql.ErrNoRows) {
		return d, fmt.Errorf("domain %s: %w", host, tenantdb.ErrNotFound)
	}
	return d, err
}

// ErrDomainOwned is a claim of a host that another tenant has proven
// (it routes there). It wraps ErrConflict.
var ErrDomainOwned = fmt.Errorf("the domain serves another site: %w", tenantdb.ErrConflict)

// addDomain is Catalog.AddDomain in catalog.db.
func (c sqliteStore) addDomain(ctx context.Context, t Tenant, host string, pendingTTL time.Duration) (Domain, error) {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	now := c.now()
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return Domain{}, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM domains WHERE host = ? AND status = 'pending' AND created_at < ?`,
		host, sqlitefile.FormatTime(now.Add(-pendingTTL))); err != nil {
		return Domain{}, err
	}
	ds, err := queryDomains(ctx, tx, `d.host = ?`, host)
	if err != nil {
		return Domain{}, err
	}
	for _, d := range ds {
		switch {
		case d.TenantID == t.ID:
			return d, fmt.Errorf("domain %s: %w", host, tenantdb.ErrConflict)
		case d.Verified:
			return Domain{}, fmt.Errorf("domain %s: %w", host, ErrDomainOwned)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO domains (host, tenant_id, token, created_at) VALUES (?, ?, ?, ?)`,
		host, t.ID, "chapterhouse-verify="+tenantdb.NewToken(), sqlitefile.FormatTime(now)); err != nil {
		if sqlitefile.IsUnique(err) {
			return Domain{}, fmt.Errorf("domain %s: %w", host, tenantdb.ErrConflict)
		}
		return Domain{}, err
	}
	if err := tx.Commit(); err != nil {
		return Domain{}, err
	}
	return c.TenantDomain(ctx, t.ID, host)
}

// removeDomain is Catalog.RemoveDomain in catalog.db.
func (c sqliteStore) removeDomain(ctx context.Context, host string) ([]Domain, error) {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	ds, err := c.Claims(ctx, host)
	if err != nil {
		return nil, err
	}
	if len(ds) == 0 {
		return nil, fmt.Errorf("domain %s: %w", host, tenantdb.ErrNotFound)
	}
	if _, err := c.db.ExecContext(ctx, `DELETE FROM domains WHERE host = ?`, host); err != nil {
		return nil, err
	}
	c.mu.Lock()
	delete(c.byHost, host)
	c.mu.Unlock()
	return ds, nil
}

// removeTenantDomain is Catalog.RemoveTenantDomain in catalog.db.
func (c sqliteStore) removeTenantDomain(ctx context.Context, tenantID, host string) (Domain, error) {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	d, err := c.TenantDomain(ctx, tenantID, host)
	if err != nil {
		return d, err
	}
	if _, err := c.db.ExecContext(ctx, `DELETE FROM domains WHERE host = ? AND tenant_id = ?`, host, tenantID); err != nil {
		return d, err
	}
	c.mu.Lock()
	if c.byHost[host] == tenantID {
		delete(c.byHost, host)
	}
	c.mu.Unlock()
	return d, nil
}

// expirePendingDomains is Catalog.ExpirePendingDomains in catalog.db.
func (c sqliteStore) expirePendingDomains(ctx context.Context, cutoff time.Time) ([]Domain, error) {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	at := sqlitefile.FormatTime(cutoff)
	ds, err := queryDomains(ctx, c.db, `d.status = 'pending' AND d.created_at < ?`, at)
	if err != nil || len(ds) == 0 {
		return nil, err
	}
	if _, err := c.db.ExecContext(ctx, `DELETE FROM domains WHERE status = 'pending' AND created_at < ?`, at); err != nil {
		return nil, err
	}
	return ds, nil
}

// setDomainStatus is Catalog.SetDomainStatus in catalog.db.
func (c sqliteStore) setDomainStatus(ctx context.Context, tenantID, host, status string) (Domain, error) {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return Domain{}, err
	}
	defer tx.Rollback()
	now := sqlitefile.FormatTime(c.now())
	verified := status == DomainVerified
	if verified {
		var routed int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM domains WHERE host = ? AND tenant_id <> ? AND verified = 1`,
			host, tenantID).Scan(&routed); err != nil {
			return Domain{}, err
		}
		if routed > 0 {
			return Domain{}, fmt.Errorf("domain %s: %w", host, ErrDomainOwned)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM domains WHERE host = ? AND tenant_id <> ?`, host, tenantID); err != nil {
			return Domain{}, err
		}
	}
	res, err := tx.ExecContext(ctx, `UPDATE domains SET status = ?, verified = ?, checked_at = ?,
		verified_at = CASE WHEN ? THEN coalesce(verified_at, ?) ELSE verified_at END,
		misconfigured_since = CASE WHEN ? THEN NULL ELSE misconfigured_since END WHERE host = ? AND tenant_id = ?`,
		status, verified, now, verified, now, verified, host, tenantID)
	if sqlitefile.IsUnique(err) {
		return Domain{}, fmt.Errorf("domain %s: %w", host, ErrDomainOwned)
	}
	if err != nil {
		return Domain{}, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return Domain{}, fmt.Errorf("domain %s: %w", host, tenantdb.ErrNotFound)
	}
	if err := tx.Commit(); err != nil {
		return Domain{}, err
	}
	d, err := c.TenantDomain(ctx, tenantID, host)
	if err != nil {
		return d, err
	}
	c.route(d)
	return d, nil
}

// route brings the in-memory routing of d's host in line with d.
func (c *Catalog) route(d Domain) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d.Verified {
		c.byHost[d.Host] = d.TenantID
	} else if c.byHost[d.Host] == d.TenantID {
		delete(c.byHost, d.Host)
	}
}

// recordDomainFailure is a failed Catalog.RecordDomainCheck in catalog.db.
func (c sqliteStore) recordDomainFailure(ctx context.Context, tenantID, host string, grace time.Duration) (Domain, error) {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	now := c.now()
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return Domain{}, err
	}
	defer tx.Rollback()
	d, err := scanDomain(tx.QueryRowContext(ctx, `SELECT `+domainColumns+` FROM domains d JOIN tenants t ON t.id = d.tenant_id
		WHERE d.host = ? AND d.tenant_id = ?`, host, tenantID))
	if errors.Is(err, sql.ErrNoRows) {
		return d, fmt.Errorf("domain %s: %w", host, tenantdb.ErrNotFound)
	}
	if err != nil {
		return d, err
	}
	switch d.Status {
	case DomainVerified:
		d.Status, d.MisconfiguredSince = DomainMisconfigured, &now
		d.Verified = grace > 0
	case DomainMisconfigured:
		if d.MisconfiguredSince == nil {
			d.MisconfiguredSince = &now
		}
		d.Verified = d.Verified && now.Before(d.MisconfiguredSince.Add(grace))
	}
	d.CheckedAt = &now
	var since any
	if d.MisconfiguredSince != nil {
		since = sqlitefile.FormatTime(*d.MisconfiguredSince)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE domains SET status = ?, verified = ?, checked_at = ?, misconfigured_since = ? WHERE host = ? AND tenant_id = ?`,
		d.Status, d.Verified, sqlitefile.FormatTime(now), since, host, tenantID); err != nil {
		return d, err
	}
	if err := tx.Commit(); err != nil {
		return d, err
	}
	c.route(d)
	return d, nil
}

// ping is Catalog.Ping in catalog.db.
func (c sqliteStore) ping(ctx context.Context) error {
	var n int
	return c.db.QueryRowContext(ctx, `SELECT count(*) FROM tenants WHERE 0`).Scan(&n)
}

// audit is Catalog.Audit in catalog.db.
func (c sqliteStore) audit(ctx context.Context, actor, action, tenantID, detail string) error {
	_, err := c.db.ExecContext(ctx, `INSERT INTO audit_log (at, actor, action, tenant_id, detail) VALUES (?, ?, ?, ?, ?)`,
		sqlitefile.FormatTime(c.now()), actor, action, tenantID, detail)
	return err
}

// AuditEntry is one line of the audit log.
type AuditEntry struct {
	At       time.Time `json:"at"`
	Actor    string    `json:"actor"`
	Action   string    `json:"action"`
	TenantID string    `json:"tenant_id,omitempty"`
	Detail   string    `json:"detail,omitempty"`
}

// auditLog is Catalog.AuditLog in catalog.db.
func (c sqliteStore) auditLog(ctx context.Context, limit int) ([]AuditEntry, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT at, actor, action, tenant_id, detail FROM audit_log ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var es []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var at string
		if err := rows.Scan(&at, &e.Actor, &e.Action, &e.TenantID, &e.Detail); err != nil {
			return nil, err
		}
		e.At = sqlitefile.ParseTime(at)
		es = append(es, e)
	}
	return es, rows.Err()
}

// TrashEntry is a deleted tenant's file kept in DATA/trash/.
type TrashEntry struct {
	File      string    `json:"file"`
	TenantID  string    `json:"tenant_id"`
	Slug      string    `json:"slug"`
	Name      string    `json:"name"`
	DeletedAt time.Time `json:"deleted_at"`
}

// trash is Catalog.Trash in catalog.db.
func (c sqliteStore) trash(ctx context.Context) ([]TrashEntry, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT file, tenant_id, slug, name, deleted_at FROM trash ORDER BY deleted_at, file`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var es []TrashEntry
	for rows.Next() {
		var e TrashEntry
		var at string
		if err := rows.Scan(&e.File, &e.TenantID, &e.Slug, &e.Name, &at); err != nil {
			return nil, err
		}
		e.DeletedAt = sqlitefile.ParseTime(at)
		es = append(es, e)
	}
	sort.SliceStable(es, func(i, j int) bool { return es[i].DeletedAt.Before(es[j].DeletedAt) })
	return es, rows.Err()
}

// removeTrash is Catalog.RemoveTrash in catalog.db.
func (c sqliteStore) removeTrash(ctx context.Context, file string) error {
	_, err := c.db.ExecContext(ctx, `DELETE FROM trash WHERE file = ?`, file)
	return err
}

// invalid is a validation error of field.
func invalid(field, format string, args ...any) error {
	return &tenantdb.ValidationError{Field: field, Message: fmt.Sprintf(format, args...)}
}
