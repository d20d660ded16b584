package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb"
)

func cmdBackup(ctx context.Context, e *cmdEnv, args []string) error {
	fs := e.flags()
	jobs := fs.Int("jobs", 4, "tenants to back up at once")
	pos, err := e.parse(fs, args, 1)
	if err != nil {
		return err
	}
	if *jobs < 1 {
		return &usageError{"backup: --jobs must be at least 1"}
	}
	dir := e.path(pos[0])
	start := time.Now()
	m, failed, err := e.p.backup(ctx, dir, *jobs, newProgressFor(e))
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	var total int64 = m.Catalog.Size
	for _, t := range m.Tenants {
		total += t.Size
	}
	e.audit(ctx, "backup", "", fmt.Sprintf("%d tenants to %s (%d bytes, %d failed)", len(m.Tenants), dir, total, len(failed)))
	e.printf("backed up %d tenants and the catalog to %s: %s in %s\n", len(m.Tenants), dir, humanSize(total), time.Since(start).Round(time.Millisecond))
	if len(failed) > 0 {
		return fmt.Errorf("%d tenants could not be backed up: %s", len(failed), strings.Join(failed, ", "))
	}
	return nil
}

// newProgressFor is the progress report of a batch command: a bar on a
// terminal, plain lines otherwise.
func newProgressFor(e *cmdEnv) func(label string, total int) *progress {
	return func(label string, total int) *progress { return newProgress(e.stdout, e.tty, label, total) }
}

func cmdBackupVerify(ctx context.Context, e *cmdEnv, args []string) error {
	pos, err := e.parse(e.flags(), args, 1)
	if err != nil {
		return err
	}
	dir := e.path(pos[0])
	m, err := readManifest(dir)
	if err != nil {
		return err
	}
	type check struct {
		file backupFile
		name string
		cat  bool
	}
	checks := []check{{m.Catalog, "catalog", true}}
	for _, t := range m.Tenants {
		checks = append(checks, check{t.backupFile, "tenant " + t.Slug, false})
	}
	bar := newProgress(e.stdout, e.tty, "verify", len(checks))
	bad := 0
	listed := map[string]bool{}
	for _, c := range checks {
		listed[filepath.Clean(c.file.File)] = true
		if err := verifyBackupFile(ctx, dir, c.file, c.cat); err != nil {
			bad++
			bar.step(fmt.Sprintf("BAD %s (%s): %v", c.file.File, c.name, err))
			continue
		}
		bar.step("")
	}
	extra, _ := filepath.Glob(filepath.Join(dir, "tenants", "*"))
	for _, f := range extra {
		if rel, _ := filepath.Rel(dir, f); !listed[rel] {
			e.printf("note: %s is not in the manifest\n", rel)
		}
	}
	if bad > 0 {
		e.printf("%d of %d files are damaged or missing\n", bad, len(checks))
		return errSilent
	}
	e.printf("backup %s is sound: %d files match the manifest of %s and pass integrity_check\n", dir, len(checks), m.CreatedAt.Format(time.RFC3339))
	return nil
}

func cmdRestore(ctx context.Context, e *cmdEnv, args []string) error {
	fs := e.flags()
	from := fs.String("from", "", "the backup directory")
	maxSize := fs.Int64("max-size", defaultMaxImport, "largest file to accept, in bytes")
	pos, err := e.parse(fs, args, 1)
	if err != nil {
		return err
	}
	if *from == "" {
		return &usageError{"restore: --from DIR is required"}
	}
	slug, dir := pos[0], e.path(*from)
	m, err := readManifest(dir)
	if err != nil {
		return err
	}
	var entry *backupEntry
	var slugs []string
	for i, t := range m.Tenants {
		slugs = append(slugs, t.Slug)
		if t.Slug == slug {
			entry = &m.Tenants[i]
		}
	}
	if entry == nil {
		return fmt.Errorf("backup %s has no tenant %q (it has: %s)", dir, slug, strings.Join(slugs, ", "))
	}
	src := filepath.Join(dir, entry.File)
	if size, sum, err := hashFile(src); err != nil {
		return err
	} else if size != entry.Size || sum != entry.SHA256 {
		return fmt.Errorf("%w: backup file %s does not match the manifest (sha256 %s, manifest says %s)", tenantdb.ErrRejected, entry.File, sum, entry.SHA256)
	}
	_, exists := e.p.catalog.TenantBySlug(slug)
	req := importRequest{slug: slug, src: src, replace: exists, maxSize: *maxSize}
	var domains []tenantdb.Domain
	if !exists {
		req.id, req.name, req.status = entry.ID, entry.Name, entry.Status
		if req.status == tenantdb.StatusFrozen {
			req.status = tenantdb.StatusActive
		}
		// A tenant deleted since gets back the custom domains it had,
		// when no other tenant took them meanwhile.
		_, all, err := tenantdb.ReadCatalogFile(ctx, filepath.Join(dir, m.Catalog.File))
		if err == nil {
			for _, d := range all {
				if d.TenantID != entry.ID {
					continue
				}
				if _, err := e.p.catalog.Domain(ctx, d.Host); err == nil {
					e.printf("note: domain %s now belongs to another tenant; not restored\n", d.Host)
					continue
				}
				domains = append(domains, d)
			}
		}
		req.domains = domains
	}
	res, err := e.p.importTenant(ctx, req)
	if err != nil {
		return fmt.Errorf("restore %s: %w", slug, err)
	}
	t := res.tenant
	e.audit(ctx, "tenant.restore", t.ID, fmt.Sprintf("%s from %s (backup of %s, sha256 %s)", t.Slug, dir, entry.Time.Format(time.RFC3339), entry.SHA256))
	e.printf("restored tenant %s from the backup of %s\n", t.Slug, entry.Time.Format(time.RFC3339))
	if res.trashed != "" {
		e.printf("its content before the restore is kept in the trash as %s\n", res.trashed)
	}
	for _, d := range domains {
		e.printf("domain %s restored (%s)\n", d.Host, d.Status)
	}
	e.printf("rows:   %s\n", rowSummary(res.from.Digest))
	e.printf("digest: %s\n", res.from.Digest.Sum())
	return nil
}
