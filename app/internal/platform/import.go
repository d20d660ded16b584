package platform

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/chapterhouse/chapterhouse/internal/hold"
	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
	"github.com/chapterhouse/chapterhouse/tenantdb/sqlitefile"
)

// DefaultMaxImport caps the size of an imported file unless --max-size
// says otherwise: far above a chapter's usual few megabytes of images.
const DefaultMaxImport = 2 << 30

// ImportRequest is what an import, a restore or the receiving end of a
// move asks for.
type ImportRequest struct {
	Slug    string
	Src     string
	Replace bool  // replace the content of existing tenant slug
	MaxSize int64 // bytes
	// For a new tenant: its name (default the imported site's name), the
	// ID to keep if it is free here, its status, and its custom domains.
	Name    string
	ID      string
	Status  string
	Domains []catalog.Domain
	// ExpectDigest, when set, must equal the digest of the imported rows.
	ExpectDigest string
	// Force imports a site bigger than the storage quota of the tenant it
	// becomes (restores and moves do: the site had that room already).
	Force bool
	// EndSessions ends the file's login sessions before it serves (a
	// restore: the logins of the time of the backup must not come back).
	EndSessions bool
}

// ImportResult says what an import did.
type ImportResult struct {
	Tenant  catalog.Tenant
	From    *tenantdb.Imported
	Trashed string // the replaced file's name in DATA/trash/
}

// Import validates the file req.src as hostile, builds a fresh
// Tenant file from its rows and then either adds it as the new tenant
// req.slug or, with req.replace, drains tenant req.slug and swaps the file
// in. Whatever fails, the live tenant is left as it was.
func (p *Platform) Import(ctx context.Context, req ImportRequest) (ImportResult, error) {
	defer p.Metrics.TimeOp("import")()
	var res ImportResult
	if err := tenantdb.ValidateSlug(req.Slug); err != nil {
		return res, err
	}
	existing, exists := p.Catalog.TenantBySlug(req.Slug)
	switch {
	case req.Replace && !exists:
		return res, fmt.Errorf("tenant %q: %w (without --replace, import creates it)", req.Slug, tenantdb.ErrNotFound)
	case !req.Replace && exists:
		return res, fmt.Errorf("tenant %q: %w (use --replace to replace its content)", req.Slug, tenantdb.ErrConflict)
	}
	keys := []string{"slug " + req.Slug}
	if exists {
		keys = append(keys, existing.ID)
	}
	end, err := p.Ops.Begin("an import", keys...)
	if err != nil {
		return res, err
	}
	defer end()
	if req.MaxSize <= 0 {
		req.MaxSize = DefaultMaxImport
	}
	tmp, err := p.TmpDir()
	if err != nil {
		return res, err
	}
	im, err := tenantdb.PrepareImport(ctx, req.Src, tmp, req.MaxSize)
	if err != nil {
		return res, err
	}
	defer im.Discard()
	hold.At("import.prepared")
	res.From = im
	if req.ExpectDigest != "" && im.Digest.Sum() != req.ExpectDigest {
		return res, fmt.Errorf("%w: the rows' digest %s is not the expected %s", tenantdb.ErrRejected, im.Digest.Sum(), req.ExpectDigest)
	}
	if err := p.checkImportQuota(req, existing, exists, im.Path); err != nil {
		return res, err
	}
	// Sessions end in the work file, before it is renamed into place: a
	// crash after the rename must not bring the old logins back.
	if req.EndSessions {
		if err := im.EndSessions(ctx); err != nil {
			return res, err
		}
	}
	// Mail the file brings (a move keeps it) needs the tenant's marker
	// before the file is in place, as a write that queues mail does.
	mailWaiting, err := im.MailWaiting(ctx)
	if err != nil {
		return res, err
	}
	if req.Replace {
		res.Tenant = existing
		if mailWaiting {
			if err := tenantdb.MarkMail(p.Dir, existing.ID); err != nil {
				return res, err
			}
		}
		res.Trashed, err = p.replaceTenantFile(ctx, existing, im.Path, "replaced")
	} else {
		res.Tenant, err = p.adoptTenantFile(ctx, im.Path, req, im.SiteName, mailWaiting)
	}
	if err == nil {
		// The imported file may hold queued mail (a move keeps it).
		p.mailWake(res.Tenant.ID)
	}
	return res, err
}

// adoptTenantFile makes the finished tenant file at path the new tenant
// req.slug: it is renamed into DATA/tenants/ and then recorded in the
// Catalog with its domains, which makes it routable.
// With mail, the tenant's mail marker is made first.
func (p *Platform) adoptTenantFile(ctx context.Context, path string, req ImportRequest, siteName string, mail bool) (catalog.Tenant, error) {
	t := catalog.Tenant{
		ID:        req.ID,
		Slug:      req.Slug,
		Name:      req.Name,
		Status:    req.Status,
		CreatedAt: p.Now().UTC(),
	}
	if t.Name == "" {
		t.Name = siteName
	}
	if t.Name == "" {
		t.Name = req.Slug
	}
	switch t.Status {
	case "":
		t.Status = catalog.StatusActive
	case catalog.StatusActive, catalog.StatusSuspended, catalog.StatusFrozen:
	default:
		return t, &tenantdb.ValidationError{Field: "status", Message: fmt.Sprintf("%q is not one of active, suspended, frozen", t.Status)}
	}
	if err := catalog.ValidateName(t.Name); err != nil {
		return t, err
	}
	if _, taken := p.Catalog.TenantByID(t.ID); !tenantdb.ValidTenantID(t.ID) || taken || fileExists(tenantdb.TenantPath(p.Dir, t.ID)) {
		t.ID = tenantdb.NewTenantID()
	}
	dst := tenantdb.TenantPath(p.Dir, t.ID)
	if mail {
		if err := tenantdb.MarkMail(p.Dir, t.ID); err != nil {
			return t, err
		}
	}
	if err := sqlitefile.RenameNoReplace(path, dst); err != nil {
		return t, err
	}
	hold.At("import.adopted")
	err := sqlitefile.SyncDir(filepath.Dir(dst))
	if err == nil && p.Cluster != nil {
		err = p.Cluster.claimNew(ctx, t.ID) // owned here before it routes
	}
	if err == nil {
		err = p.Catalog.AddTenant(ctx, t)
	}
	if err == nil {
		if err = p.Catalog.PutDomains(ctx, t, req.Domains); err != nil {
			p.Catalog.RemoveTenant(ctx, t, "")
		}
	}
	if err != nil {
		sqlitefile.RemoveFiles(dst)
		return t, err
	}
	return t, nil
}

func fileExists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// replaceTenantFile drains tenant t (its in-flight requests finish, new
// ones wait), keeps its current file in DATA/trash/, renames the finished
// file at path over it and lets requests through again: they reopen the
// new file. The rename is atomic: a crash leaves the old or the new file
// in place, never neither.
func (p *Platform) replaceTenantFile(ctx context.Context, t catalog.Tenant, path, why string) (string, error) {
	now := p.Now().UTC()
	name := trashName(t, now, why)
	trashed := filepath.Join(p.Dir, "trash", name)
	live := tenantdb.TenantPath(p.Dir, t.ID)
	err := p.Pool.Drain(ctx, t.ID, func() error {
		if err := tenantdb.SettleWAL(live); err != nil {
			return err
		}
		if err := os.Link(live, trashed); err != nil {
			return fmt.Errorf("keeping the old file: %w", err)
		}
		if err := sqlitefile.SyncDir(filepath.Dir(trashed)); err != nil {
			return err
		}
		hold.At("import.linked")
		if err := os.Rename(path, live); err != nil {
			os.Remove(trashed)
			return err
		}
		hold.At("import.renamed")
		return sqlitefile.SyncDir(filepath.Dir(live))
	})
	if err != nil {
		return "", err
	}
	if err := p.Catalog.AddTrash(ctx, catalog.TrashEntry{File: name, TenantID: t.ID, Slug: t.Slug, Name: t.Name, DeletedAt: now}); err != nil {
		return name, fmt.Errorf("the new file is in place, but recording the old one in the trash failed: %w", err)
	}
	return name, nil
}
