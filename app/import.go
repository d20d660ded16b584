package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// defaultMaxImport caps the size of an imported file unless --max-size
// says otherwise: far above a chapter's usual few megabytes of images.
const defaultMaxImport = 2 << 30

// importRequest is what an import, a restore or the receiving end of a
// move asks for.
type importRequest struct {
	slug    string
	src     string
	replace bool  // replace the content of existing tenant slug
	maxSize int64 // bytes
	// For a new tenant: its name (default the imported site's name), the
	// id to keep if it is free here, its status, and its custom domains.
	name    string
	id      string
	status  string
	domains []tenantdb.Domain
	// expectDigest, when set, must equal the digest of the imported rows.
	expectDigest string
}

// importResult says what an import did.
type importResult struct {
	tenant  tenantdb.Tenant
	from    *tenantdb.Imported
	trashed string // the replaced file's name in DATA/trash/
}

// importTenant validates the file req.src as hostile, builds a fresh
// tenant file from its rows and then either adds it as the new tenant
// req.slug or, with req.replace, drains tenant req.slug and swaps the file
// in. Whatever fails, the live tenant is left as it was.
func (p *platform) importTenant(ctx context.Context, req importRequest) (importResult, error) {
	defer p.metrics.TimeOp("import")()
	var res importResult
	if err := tenantdb.ValidateSlug(req.slug); err != nil {
		return res, err
	}
	existing, exists := p.catalog.TenantBySlug(req.slug)
	switch {
	case req.replace && !exists:
		return res, fmt.Errorf("tenant %q: %w (without --replace, import creates it)", req.slug, tenantdb.ErrNotFound)
	case !req.replace && exists:
		return res, fmt.Errorf("tenant %q: %w (use --replace to replace its content)", req.slug, tenantdb.ErrConflict)
	}
	keys := []string{"slug " + req.slug}
	if exists {
		keys = append(keys, existing.ID)
	}
	end, err := p.ops.begin("an import", keys...)
	if err != nil {
		return res, err
	}
	defer end()
	if req.maxSize <= 0 {
		req.maxSize = defaultMaxImport
	}
	tmp, err := p.tmpDir()
	if err != nil {
		return res, err
	}
	im, err := tenantdb.PrepareImport(ctx, req.src, tmp, req.maxSize)
	if err != nil {
		return res, err
	}
	defer im.Discard()
	res.from = im
	if req.expectDigest != "" && im.Digest.Sum() != req.expectDigest {
		return res, fmt.Errorf("%w: the rows' digest %s is not the expected %s", tenantdb.ErrRejected, im.Digest.Sum(), req.expectDigest)
	}
	if req.replace {
		res.tenant = existing
		res.trashed, err = p.replaceTenantFile(ctx, existing, im.Path, "replaced")
		return res, err
	}
	res.tenant, err = p.adoptTenantFile(ctx, im.Path, req, im.SiteName)
	return res, err
}

// adoptTenantFile makes the finished tenant file at path the new tenant
// req.slug: it is renamed into DATA/tenants/ and then recorded in the
// catalog with its domains, which makes it routable.
func (p *platform) adoptTenantFile(ctx context.Context, path string, req importRequest, siteName string) (tenantdb.Tenant, error) {
	t := tenantdb.Tenant{
		ID:        req.id,
		Slug:      req.slug,
		Name:      req.name,
		Status:    req.status,
		CreatedAt: p.now().UTC(),
	}
	if t.Name == "" {
		t.Name = siteName
	}
	if t.Name == "" {
		t.Name = req.slug
	}
	switch t.Status {
	case "":
		t.Status = tenantdb.StatusActive
	case tenantdb.StatusActive, tenantdb.StatusSuspended, tenantdb.StatusFrozen:
	default:
		return t, &tenantdb.ValidationError{Field: "status", Message: fmt.Sprintf("%q is not one of active, suspended, frozen", t.Status)}
	}
	if err := tenantdb.ValidateName(t.Name); err != nil {
		return t, err
	}
	if _, taken := p.catalog.TenantByID(t.ID); !tenantdb.ValidTenantID(t.ID) || taken || fileExists(tenantdb.TenantPath(p.dir, t.ID)) {
		t.ID = tenantdb.NewTenantID()
	}
	dst := tenantdb.TenantPath(p.dir, t.ID)
	if err := tenantdb.RenameNoReplace(path, dst); err != nil {
		return t, err
	}
	err := tenantdb.SyncDir(filepath.Dir(dst))
	if err == nil {
		err = p.catalog.AddTenant(ctx, t)
	}
	if err == nil {
		if err = p.catalog.PutDomains(ctx, t, req.domains); err != nil {
			p.catalog.RemoveTenant(ctx, t, "")
		}
	}
	if err != nil {
		removeTenantFiles(dst)
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
func (p *platform) replaceTenantFile(ctx context.Context, t tenantdb.Tenant, path, why string) (string, error) {
	now := p.now().UTC()
	name := fmt.Sprintf("%s-%s-%s.db", t.ID, now.Format("20060102T150405.000Z"), why)
	trashed := filepath.Join(p.dir, "trash", name)
	live := tenantdb.TenantPath(p.dir, t.ID)
	err := p.pool.Drain(ctx, t.ID, func() error {
		if err := tenantdb.SettleWAL(live); err != nil {
			return err
		}
		if err := os.Link(live, trashed); err != nil {
			return fmt.Errorf("keeping the old file: %w", err)
		}
		if err := tenantdb.SyncDir(filepath.Dir(trashed)); err != nil {
			return err
		}
		if err := os.Rename(path, live); err != nil {
			os.Remove(trashed)
			return err
		}
		return tenantdb.SyncDir(filepath.Dir(live))
	})
	if err != nil {
		return "", err
	}
	if err := p.catalog.AddTrash(ctx, tenantdb.TrashEntry{File: name, TenantID: t.ID, Slug: t.Slug, Name: t.Name, DeletedAt: now}); err != nil {
		return name, fmt.Errorf("the new file is in place, but recording the old one in the trash failed: %w", err)
	}
	return name, nil
}
