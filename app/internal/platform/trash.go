package platform

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
	"github.com/chapterhouse/chapterhouse/tenantdb/sqlitefile"
)

// TrashItem is a trash entry with what is on disk for it.
type TrashItem struct {
	catalog.TrashEntry
	Size     int64 `json:"size"`
	Missing  bool  `json:"missing,omitempty"` // recorded, but the file is gone
	Recorded bool  `json:"recorded"`          // in the catalog's trash table
	Orphan   bool  `json:"orphan,omitempty"`  // a file in trash/ nobody recorded
}

// TrashItems lists the recorded trash entries and the unrecorded files in
// DATA/trash/ (left by an operation interrupted between its steps).
func (p *Platform) TrashItems(ctx context.Context) ([]TrashItem, error) {
	entries, err := p.Catalog.Trash(ctx)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(p.Dir, "trash")
	seen := map[string]bool{}
	var items []TrashItem
	for _, e := range entries {
		it := TrashItem{TrashEntry: e, Recorded: true}
		seen[e.File] = true
		if fi, err := os.Stat(filepath.Join(dir, e.File)); err == nil {
			it.Size = fi.Size()
		} else {
			it.Missing = true
		}
		items = append(items, it)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.db"))
	for _, f := range files {
		name := filepath.Base(f)
		if seen[name] {
			continue
		}
		fi, err := os.Stat(f)
		if err != nil {
			continue
		}
		items = append(items, TrashItem{TrashEntry: catalog.TrashEntry{File: name, DeletedAt: fi.ModTime().UTC()}, Size: fi.Size(), Orphan: true})
	}
	return items, nil
}

// RestoreTrash makes the trashed file of entry the tenant slug again, with
// its old id when that is free. The file was ours; it is checked and then
// moved (not copied) back into DATA/tenants/, and opens migrated. Its
// sessions are ended before it routes: the tokens its admins held when
// it was deleted (signed with the key of the same id) stay dead. In a
// cluster this node claims it before it routes, so the other nodes
// forward its requests here; its old id counts as taken while a record
// names another live node (ownedElsewhere).
func (p *Platform) RestoreTrash(ctx context.Context, entry catalog.TrashEntry, slug string) (catalog.Tenant, error) {
	if err := tenantdb.ValidateSlug(slug); err != nil {
		return catalog.Tenant{}, err
	}
	if _, taken := p.Catalog.TenantBySlug(slug); taken {
		return catalog.Tenant{}, fmt.Errorf("tenant %q: %w (restore under another name with --slug)", slug, tenantdb.ErrConflict)
	}
	end, err := p.Ops.Begin("a trash restore", "slug "+slug, "trash "+entry.File)
	if err != nil {
		return catalog.Tenant{}, err
	}
	defer end()
	src := filepath.Join(p.Dir, "trash", entry.File)
	if err := tenantdb.SettleWAL(src); err != nil {
		return catalog.Tenant{}, err
	}
	if _, err := tenantdb.CheckClosedTenantFile(ctx, src); err != nil {
		return catalog.Tenant{}, fmt.Errorf("the trashed file fails its check: %w", err)
	}
	t := catalog.Tenant{ID: entry.TenantID, Slug: slug, Name: entry.Name, Status: catalog.StatusActive, CreatedAt: p.Now().UTC()}
	if _, taken := p.Catalog.TenantByID(t.ID); taken || !tenantdb.ValidTenantID(t.ID) || fileExists(tenantdb.TenantPath(p.Dir, t.ID)) ||
		p.ownedElsewhere(t.ID) {
		t.ID = tenantdb.NewTenantID()
	}
	if catalog.ValidateName(t.Name) != nil {
		t.Name = slug
	}
	dst := tenantdb.TenantPath(p.Dir, t.ID)
	if p.Cluster != nil {
		// Owned here before it is written (its sessions end) and routes;
		// its record went with the deletion.
		if err := p.Cluster.claimNew(ctx, t.ID); err != nil {
			return t, err
		}
	}
	// The file may hold mail it had queued: its marker goes first (the
	// mail worker removes it if no mail waits).
	if err := tenantdb.MarkMail(p.Dir, t.ID); err != nil {
		return t, err
	}
	if err := sqlitefile.RenameNoReplace(src, dst); err != nil {
		return t, err
	}
	// Before it routes: the logins it had when deleted end.
	if err := p.endSessions(ctx, t.ID); err != nil {
		os.Rename(dst, src)
		return t, err
	}
	if err := p.Catalog.AddTenant(ctx, t); err != nil {
		os.Rename(dst, src)
		return t, err
	}
	sqlitefile.SyncDir(filepath.Dir(dst))
	p.mailWake(t.ID)
	if err := p.Catalog.RemoveTrash(ctx, entry.File); err != nil {
		return t, fmt.Errorf("the tenant is back, but its trash entry stays: %w", err)
	}
	return t, nil
}

// ownedElsewhere reports whether tenant id's ownership record names
// another live node: a record the chapter's deletion left behind (its
// release failed, or a takeover took it since). That node has no file
// for it, so a chapter restored from the trash here takes a new id
// rather than be routed there.
func (p *Platform) ownedElsewhere(id string) bool {
	if p.Cluster == nil {
		return false
	}
	o, ok := p.Cluster.Node.Owner(id)
	return ok && o.Live && o.Node != p.Cluster.Node.ID()
}

// PurgeTrash deletes for good what was trashed longer ago than age,
// calling purged for each file it deleted. It returns those and how many
// files are left in the trash; a file it could not delete is an error and
// stays listed.
func (p *Platform) PurgeTrash(ctx context.Context, age time.Duration, purged func(TrashItem)) (done []TrashItem, left int, err error) {
	items, err := p.TrashItems(ctx)
	if err != nil {
		return nil, 0, err
	}
	cutoff := p.Now().Add(-age)
	dir := filepath.Join(p.Dir, "trash")
	var errs []error
	for _, it := range items {
		if it.DeletedAt.After(cutoff) {
			continue
		}
		path := filepath.Join(dir, it.File)
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		sqlitefile.RemoveFiles(path)
		if it.Recorded {
			if err := p.Catalog.RemoveTrash(ctx, it.File); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		done = append(done, it)
		purged(it)
	}
	return done, len(items) - len(done), errors.Join(errs...)
}

// endSessions ends every login session in the file of tenant id, which
// nothing serves yet (it is not in the catalog, or is drained).
func (p *Platform) endSessions(ctx context.Context, id string) error {
	db, err := tenantdb.Open(ctx, p.Dir, id)
	if err != nil {
		return err
	}
	err = db.EndAllSessions(ctx)
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("ending the sessions of tenant %s: %w", id, err)
	}
	return nil
}
