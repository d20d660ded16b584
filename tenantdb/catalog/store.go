package catalog

import (
	"context"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/sqlitefile"
)

// store is where a Catalog keeps its data: catalog.db on a single node
// (sqliteStore), JetStream KV buckets in cluster mode (kvStore). The
// Catalog validates the arguments before it calls a store, and the store
// keeps the Catalog's in-memory maps current. Each store returns the same
// sentinel errors for the same refusal (ErrConflict, ErrDomainOwned,
// ErrNotFound), so callers cannot tell them apart.
type store interface {
	close() error
	tenants(ctx context.Context) ([]Tenant, error)
	addTenant(ctx context.Context, t Tenant) error
	setStatus(ctx context.Context, slug, status string) (Tenant, error)
	setQuota(ctx context.Context, slug string, quota *int64) (Tenant, error)
	removeTenant(ctx context.Context, t Tenant, trashFile string) error
	domains(ctx context.Context, tenantID string) ([]Domain, error)
	claims(ctx context.Context, host string) ([]Domain, error)
	tenantDomain(ctx context.Context, tenantID, host string) (Domain, error)
	addDomain(ctx context.Context, t Tenant, host string, pendingTTL time.Duration) (Domain, error)
	removeDomain(ctx context.Context, host string) ([]Domain, error)
	removeTenantDomain(ctx context.Context, tenantID, host string) (Domain, error)
	expirePendingDomains(ctx context.Context, cutoff time.Time) ([]Domain, error)
	setDomainStatus(ctx context.Context, tenantID, host, status string) (Domain, error)
	recordDomainFailure(ctx context.Context, tenantID, host string, grace time.Duration) (Domain, error)
	ping(ctx context.Context) error
	audit(ctx context.Context, actor, action, tenantID, detail string) error
	auditLog(ctx context.Context, limit int) ([]AuditEntry, error)
	trash(ctx context.Context) ([]TrashEntry, error)
	removeTrash(ctx context.Context, file string) error
	addTrash(ctx context.Context, e TrashEntry) error
	trashEntry(ctx context.Context, file string) (TrashEntry, error)
	putDomains(ctx context.Context, t Tenant, ds []Domain) error
	export(ctx context.Context, dst string) (sqlitefile.FileInfo, error)
	check(ctx context.Context) error
}

// sqliteStore is a Catalog's data in catalog.db. It reaches the Catalog's
// file, clock and maps through the embedded pointer.
type sqliteStore struct{ *Catalog }

func (c sqliteStore) close() error { return c.db.Close() }

// validateTenant checks a tenant before it is added.
func validateTenant(t Tenant) error {
	if err := tenantdb.ValidateSlug(t.Slug); err != nil {
		return err
	}
	if err := ValidateName(t.Name); err != nil {
		return err
	}
	if !tenantdb.ValidTenantID(t.ID) {
		return invalid("id", "%q is not a tenant id", t.ID)
	}
	switch t.Status {
	case StatusActive, StatusSuspended, StatusFrozen:
	default:
		return invalid("status", "%q is not one of active, suspended, frozen", t.Status)
	}
	if t.Quota != nil && *t.Quota < 0 {
		return invalid("quota", "must not be negative")
	}
	return nil
}

// validateDomainStatus checks the status of a custom domain.
func validateDomainStatus(status string) error {
	switch status {
	case DomainPending, DomainVerified, DomainMisconfigured:
		return nil
	}
	return invalid("status", "%q is not a domain status", status)
}

// Tenants lists every tenant by slug.
func (c *Catalog) Tenants(ctx context.Context) ([]Tenant, error) {
	return c.st.tenants(ctx)
}

// AddTenant records tenant t, whose file exists already.
func (c *Catalog) AddTenant(ctx context.Context, t Tenant) error {
	if err := validateTenant(t); err != nil {
		return err
	}
	return c.st.addTenant(ctx, t)
}

// SetStatus changes the status of tenant slug.
func (c *Catalog) SetStatus(ctx context.Context, slug, status string) (Tenant, error) {
	switch status {
	case StatusActive, StatusSuspended, StatusFrozen:
	default:
		return Tenant{}, invalid("status", "%q is not one of active, suspended, frozen", status)
	}
	return c.st.setStatus(ctx, slug, status)
}

// SetQuota sets the storage quota of tenant slug in bytes (0: unlimited),
// or with nil clears it, so that the server's default applies. The change
// is in memory at once: the next write is checked against it.
func (c *Catalog) SetQuota(ctx context.Context, slug string, quota *int64) (Tenant, error) {
	if quota != nil && *quota < 0 {
		return Tenant{}, invalid("quota", "must not be negative")
	}
	return c.st.setQuota(ctx, slug, quota)
}

// RemoveTenant deletes tenant t and its domains from the catalog, so it
// stops routing at once, and records its trashed file.
func (c *Catalog) RemoveTenant(ctx context.Context, t Tenant, trashFile string) error {
	return c.st.removeTenant(ctx, t, trashFile)
}

// Domains lists the custom domains, of one tenant if tenantID is not empty.
func (c *Catalog) Domains(ctx context.Context, tenantID string) ([]Domain, error) {
	return c.st.domains(ctx, tenantID)
}

// Claims lists every claim of host, the owner's first, then the pending
// ones oldest first.
func (c *Catalog) Claims(ctx context.Context, host string) ([]Domain, error) {
	return c.st.claims(ctx, host)
}

// TenantDomain returns tenant tenantID's claim of host, or ErrNotFound.
func (c *Catalog) TenantDomain(ctx context.Context, tenantID, host string) (Domain, error) {
	return c.st.tenantDomain(ctx, tenantID, host)
}

// AddDomain records a pending claim of tenant t on host. Pending claims
// older than pendingTTL (of any tenant) are dropped first, as if gone. A
// claim t has already is ErrConflict; a host another tenant has proven
// and routes is ErrDomainOwned; another tenant's pending claim is no
// obstacle: both are pending, the first to verify wins.
func (c *Catalog) AddDomain(ctx context.Context, t Tenant, host string, pendingTTL time.Duration) (Domain, error) {
	return c.st.addDomain(ctx, t, host, pendingTTL)
}

// RemoveDomain deletes every claim of host (the operator's command); it
// stops routing at once. It returns the claims removed.
func (c *Catalog) RemoveDomain(ctx context.Context, host string) ([]Domain, error) {
	return c.st.removeDomain(ctx, host)
}

// RemoveTenantDomain deletes tenant tenantID's claim of host; if it
// routed, it stops at once.
func (c *Catalog) RemoveTenantDomain(ctx context.Context, tenantID, host string) (Domain, error) {
	return c.st.removeTenantDomain(ctx, tenantID, host)
}

// ExpirePendingDomains deletes the pending claims created before cutoff
// and returns them.
func (c *Catalog) ExpirePendingDomains(ctx context.Context, cutoff time.Time) ([]Domain, error) {
	return c.st.expirePendingDomains(ctx, cutoff)
}

// SetDomainStatus records the outcome of a verification of tenant
// tenantID's claim of host. Only verified domains route. Verifying a claim
// removes the other tenants' claims of the host that do not route; it is
// ErrDomainOwned while another tenant's claim routes.
func (c *Catalog) SetDomainStatus(ctx context.Context, tenantID, host, status string) (Domain, error) {
	if err := validateDomainStatus(status); err != nil {
		return Domain{}, err
	}
	return c.st.setDomainStatus(ctx, tenantID, host, status)
}

// RecordDomainCheck records the outcome of a DNS check of tenant
// tenantID's claim of host: passed when its TXT record holds its token. A
// pass verifies the claim (it routes at once; see SetDomainStatus). A
// failure leaves a pending claim pending; it turns a verified domain
// misconfigured, which keeps routing until grace has passed since the
// first failure and then stops (at once if grace is 0), until a check
// passes again.
func (c *Catalog) RecordDomainCheck(ctx context.Context, tenantID, host string, passed bool, grace time.Duration) (Domain, error) {
	if passed {
		return c.SetDomainStatus(ctx, tenantID, host, DomainVerified)
	}
	return c.st.recordDomainFailure(ctx, tenantID, host, grace)
}

// Ping checks that the catalog file answers queries.
func (c *Catalog) Ping(ctx context.Context) error {
	return c.st.ping(ctx)
}

// Audit appends an entry to the audit log.
func (c *Catalog) Audit(ctx context.Context, actor, action, tenantID, detail string) error {
	return c.st.audit(ctx, actor, action, tenantID, detail)
}

// AuditLog returns the newest limit entries, newest first.
func (c *Catalog) AuditLog(ctx context.Context, limit int) ([]AuditEntry, error) {
	return c.st.auditLog(ctx, limit)
}

// Trash lists the trashed tenant files, oldest first.
func (c *Catalog) Trash(ctx context.Context) ([]TrashEntry, error) {
	return c.st.trash(ctx)
}

// RemoveTrash forgets a trash entry (after its file was restored or purged).
func (c *Catalog) RemoveTrash(ctx context.Context, file string) error {
	return c.st.removeTrash(ctx, file)
}

// AddTrash records a tenant file kept in DATA/trash/ (a replaced or moved
// tenant's old file).
func (c *Catalog) AddTrash(ctx context.Context, e TrashEntry) error {
	return c.st.addTrash(ctx, e)
}

// TrashEntry returns the trash entry of file, or ErrNotFound.
func (c *Catalog) TrashEntry(ctx context.Context, file string) (TrashEntry, error) {
	return c.st.trashEntry(ctx, file)
}

// PutDomains records custom domains of tenant t as they were elsewhere:
// with their verification token and status, so a moved tenant's verified
// domains route at once. All or none: a host another tenant has is
// ErrConflict and nothing is added.
func (c *Catalog) PutDomains(ctx context.Context, t Tenant, ds []Domain) error {
	for _, d := range ds {
		if err := validateDomainStatus(d.Status); err != nil {
			return err
		}
	}
	if len(ds) == 0 {
		return nil
	}
	return c.st.putDomains(ctx, t, ds)
}

// Export writes a consistent snapshot of the catalog to the new file dst,
// as DB.Export does for a tenant.
func (c *Catalog) Export(ctx context.Context, dst string) (sqlitefile.FileInfo, error) {
	return c.st.export(ctx, dst)
}

// Check runs integrity_check on the catalog's file.
func (c *Catalog) Check(ctx context.Context) error {
	return c.st.check(ctx)
}
