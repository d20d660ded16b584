package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/platform"
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
	m, failed, err := e.p.Backup(ctx, dir, *jobs, newProgressFor(e))
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	var total int64 = m.Catalog.Size
	for _, t := range m.Tenants {
		total += t.Size
	}
	e.audit(ctx, "backup", "", fmt.Sprintf("%d tenants to %s (%d bytes, %d failed)", len(m.Tenants), dir, total, len(failed)))
	e.printf("backed up %d tenants and the catalog to %s: %s in %s\n", len(m.Tenants), dir, platform.HumanSize(total), time.Since(start).Round(time.Millisecond))
	if len(failed) > 0 {
		return fmt.Errorf("%d tenants could not be backed up: %s", len(failed), strings.Join(failed, ", "))
	}
	return nil
}

// newProgressFor is the progress report of a batch command: a bar on a
// terminal, plain lines otherwise.
func newProgressFor(e *cmdEnv) func(label string, total int) platform.Progress {
	return func(label string, total int) platform.Progress { return newProgress(e.stdout, e.tty, label, total) }
}

func cmdBackupVerify(ctx context.Context, e *cmdEnv, args []string) error {
	pos, err := e.parse(e.flags(), args, 1)
	if err != nil {
		return err
	}
	dir := e.path(pos[0])
	m, err := platform.ReadManifest(dir)
	if err != nil {
		return err
	}
	type check struct {
		file platform.BackupFile
		name string
		cat  bool
	}
	checks := []check{{m.Catalog, "catalog", true}}
	for _, t := range m.Tenants {
		checks = append(checks, check{t.BackupFile, "tenant " + t.Slug, false})
	}
	bar := newProgress(e.stdout, e.tty, "verify", len(checks))
	bad := 0
	listed := map[string]bool{}
	for _, c := range checks {
		listed[filepath.Clean(c.file.File)] = true
		if err := platform.VerifyBackupFile(ctx, dir, c.file, c.cat); err != nil {
			bad++
			bar.Step(fmt.Sprintf("BAD %s (%s): %v", c.file.File, c.name, err))
			continue
		}
		bar.Step("")
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

// restoreFromBackup puts tenant slug back from the backup in dir.
func restoreFromBackup(ctx context.Context, e *cmdEnv, slug, dir string, maxSize int64) error {
	res, err := e.p.Restore(ctx, dir, slug, maxSize)
	if err != nil {
		return err
	}
	for _, host := range res.Taken {
		e.printf("note: domain %s now belongs to another tenant; not restored\n", host)
	}
	entry, domains := res.Entry, res.Domains
	t := res.Tenant
	e.audit(ctx, "tenant.restore", t.ID, fmt.Sprintf("%s from %s (backup of %s, sha256 %s)", t.Slug, dir, entry.Time.Format(time.RFC3339), entry.SHA256))
	e.printf("restored tenant %s from the backup of %s\n", t.Slug, entry.Time.Format(time.RFC3339))
	if res.Trashed != "" {
		e.printf("its content before the restore is kept in the trash as %s\n", res.Trashed)
	}
	for _, d := range domains {
		e.printf("domain %s restored (%s)\n", d.Host, d.Status)
	}
	e.printf("rows:   %s\n", rowSummary(res.From.Digest))
	e.printf("digest: %s\n", res.From.Digest.Sum())
	return nil
}
