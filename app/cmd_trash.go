package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// trashItem is a trash entry with what is on disk for it.
type trashItem struct {
	tenantdb.TrashEntry
	Size     int64 `json:"size"`
	Missing  bool  `json:"missing,omitempty"` // recorded, but the file is gone
	Recorded bool  `json:"recorded"`          // in the catalog's trash table
	Orphan   bool  `json:"orphan,omitempty"`  // a file in trash/ nobody recorded
}

// trashItems lists the recorded trash entries and the unrecorded files in
// DATA/trash/ (left by an operation interrupted between its steps).
func (p *platform) trashItems(ctx context.Context) ([]trashItem, error) {
	entries, err := p.catalog.Trash(ctx)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(p.dir, "trash")
	seen := map[string]bool{}
	var items []trashItem
	for _, e := range entries {
		it := trashItem{TrashEntry: e, Recorded: true}
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
		items = append(items, trashItem{TrashEntry: tenantdb.TrashEntry{File: name, DeletedAt: fi.ModTime().UTC()}, Size: fi.Size(), Orphan: true})
	}
	return items, nil
}

func cmdTrashList(ctx context.Context, e *cmdEnv, args []string) error {
	fs := e.flags()
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := e.parse(fs, args, 0); err != nil {
		return err
	}
	items, err := e.p.trashItems(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, nonNil(items))
	}
	if len(items) == 0 {
		e.printf("the trash is empty\n")
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FILE\tSLUG\tNAME\tTRASHED\tSIZE")
	for _, it := range items {
		size := humanSize(it.Size)
		switch {
		case it.Missing:
			size = "missing"
		case it.Orphan:
			size += " (not recorded)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", it.File, it.Slug, it.Name, it.DeletedAt.Format(time.RFC3339), size)
	}
	return tw.Flush()
}

func cmdTrashRestore(ctx context.Context, e *cmdEnv, args []string) error {
	fs := e.flags()
	slug := fs.String("slug", "", "slug to restore the tenant as (default: the one it had)")
	pos, err := e.parse(fs, args, 1)
	if err != nil {
		return err
	}
	file := pos[0]
	if file != filepath.Base(file) || !strings.HasSuffix(file, ".db") {
		return &usageError{fmt.Sprintf("trash restore: %q is not a trash file name; see `chapterhouse trash list`", file)}
	}
	entry, err := e.p.catalog.TrashEntry(ctx, file)
	if err != nil {
		return err
	}
	if *slug == "" {
		*slug = entry.Slug
	}
	t, err := e.p.restoreTrash(ctx, entry, *slug)
	if err != nil {
		return fmt.Errorf("trash restore %s: %w", file, err)
	}
	e.audit(ctx, "trash.restore", t.ID, fmt.Sprintf("%s as %s", file, t.Slug))
	e.printf("restored %s as tenant %s (id %s)\n", file, t.Slug, t.ID)
	e.printf("site: %s\n", e.p.siteURL(t.Slug))
	return nil
}

// restoreTrash makes the trashed file of entry the tenant slug again, with
// its old id when that is free. The file was ours; it is checked and then
// moved (not copied) back into DATA/tenants/, and opens migrated.
func (p *platform) restoreTrash(ctx context.Context, entry tenantdb.TrashEntry, slug string) (tenantdb.Tenant, error) {
	if err := tenantdb.ValidateSlug(slug); err != nil {
		return tenantdb.Tenant{}, err
	}
	if _, taken := p.catalog.TenantBySlug(slug); taken {
		return tenantdb.Tenant{}, fmt.Errorf("tenant %q: %w (restore under another name with --slug)", slug, tenantdb.ErrConflict)
	}
	end, err := p.ops.begin("a trash restore", "slug "+slug, "trash "+entry.File)
	if err != nil {
		return tenantdb.Tenant{}, err
	}
	defer end()
	src := filepath.Join(p.dir, "trash", entry.File)
	if err := tenantdb.SettleWAL(src); err != nil {
		return tenantdb.Tenant{}, err
	}
	if _, err := tenantdb.CheckClosedTenantFile(ctx, src); err != nil {
		return tenantdb.Tenant{}, fmt.Errorf("the trashed file fails its check: %w", err)
	}
	t := tenantdb.Tenant{ID: entry.TenantID, Slug: slug, Name: entry.Name, Status: tenantdb.StatusActive, CreatedAt: p.now().UTC()}
	if _, taken := p.catalog.TenantByID(t.ID); taken || !tenantdb.ValidTenantID(t.ID) || fileExists(tenantdb.TenantPath(p.dir, t.ID)) {
		t.ID = tenantdb.NewTenantID()
	}
	if tenantdb.ValidateName(t.Name) != nil {
		t.Name = slug
	}
	dst := tenantdb.TenantPath(p.dir, t.ID)
	if err := tenantdb.RenameNoReplace(src, dst); err != nil {
		return t, err
	}
	if err := p.catalog.AddTenant(ctx, t); err != nil {
		os.Rename(dst, src)
		return t, err
	}
	tenantdb.SyncDir(filepath.Dir(dst))
	if err := p.catalog.RemoveTrash(ctx, entry.File); err != nil {
		return t, fmt.Errorf("the tenant is back, but its trash entry stays: %w", err)
	}
	return t, nil
}

func cmdTrashPurge(ctx context.Context, e *cmdEnv, args []string) error {
	fs := e.flags()
	olderThan := fs.String("older-than", "", "purge what was trashed longer ago than this, e.g. 30d, 12h")
	if _, err := e.parse(fs, args, 0); err != nil {
		return err
	}
	if *olderThan == "" {
		return &usageError{"trash purge: --older-than DURATION is required, e.g. --older-than 30d (0s purges everything)"}
	}
	age, err := parseAge(*olderThan)
	if err != nil {
		return &usageError{"trash purge: " + err.Error()}
	}
	items, err := e.p.trashItems(ctx)
	if err != nil {
		return err
	}
	cutoff := e.p.now().Add(-age)
	dir := filepath.Join(e.p.dir, "trash")
	var purged int
	var freed int64
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
		os.Remove(path + "-wal")
		os.Remove(path + "-shm")
		if it.Recorded {
			if err := e.p.catalog.RemoveTrash(ctx, it.File); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		purged++
		freed += it.Size
		e.printf("purged %s (%s, trashed %s)\n", it.File, it.Slug, it.DeletedAt.Format(time.RFC3339))
		e.audit(ctx, "trash.purge", it.TenantID, it.File)
	}
	e.printf("purged %d files, %s freed; %d left in the trash\n", purged, humanSize(freed), len(items)-purged)
	return errors.Join(errs...)
}

// parseAge reads a duration as Go writes it (36h, 90m) or in days (30d).
func parseAge(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseFloat(d, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%q is not a duration like 30d or 12h", s)
		}
		return time.Duration(n * 24 * float64(time.Hour)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration like 30d or 12h", s)
	}
	return d, nil
}
