package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// manifestFile lists what a backup holds; it is written last, so a backup
// without one is incomplete.
const manifestFile = "manifest.json"

// backupManifest is DIR/manifest.json.
type backupManifest struct {
	Format    int           `json:"format"`
	CreatedAt time.Time     `json:"created_at"`
	Source    string        `json:"source"` // the data dir backed up
	Catalog   backupFile    `json:"catalog"`
	Tenants   []backupEntry `json:"tenants"`
}

// backupFile is one file of a backup: its path relative to the backup dir.
type backupFile struct {
	File          string    `json:"file"`
	Size          int64     `json:"size"`
	SHA256        string    `json:"sha256"`
	SchemaVersion int64     `json:"schema_version"`
	Time          time.Time `json:"time"` // when its snapshot was taken
}

type backupEntry struct {
	ID     string `json:"id"`
	Slug   string `json:"slug"`
	Name   string `json:"name"`
	Status string `json:"status"`
	backupFile
}

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

// backup writes a consistent snapshot of the catalog and of every tenant
// it lists into the new directory dir, jobs tenants at a time, while the
// tenants keep being served, and then the manifest. It returns the slugs
// it could not back up.
func (p *platform) backup(ctx context.Context, dir string, jobs int, prog func(string, int) *progress) (backupManifest, []string, error) {
	defer p.metrics.TimeOp("backup")()
	m := backupManifest{Format: 1, CreatedAt: p.now().UTC(), Source: p.dir}
	if err := makeEmptyDir(dir); err != nil {
		return m, nil, err
	}
	if err := os.Mkdir(filepath.Join(dir, "tenants"), 0o700); err != nil {
		return m, nil, err
	}
	at := p.now().UTC()
	info, err := p.catalog.Export(ctx, filepath.Join(dir, "catalog.db"))
	if err != nil {
		return m, nil, fmt.Errorf("catalog: %w", err)
	}
	m.Catalog = backupFile{File: "catalog.db", Size: info.Size, SHA256: info.SHA256, SchemaVersion: info.Version, Time: at}
	// The tenants are those of the catalog snapshot, so that the manifest
	// and the catalog in the backup agree.
	tenants, _, err := tenantdb.ReadCatalogFile(ctx, filepath.Join(dir, "catalog.db"))
	if err != nil {
		return m, nil, err
	}
	bar := prog("backup", len(tenants))
	var (
		mu     sync.Mutex
		failed []string
		wg     sync.WaitGroup
		sem    = make(chan struct{}, jobs)
	)
	for _, t := range tenants {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			file := filepath.Join("tenants", t.ID+".db")
			at := p.now().UTC()
			info, err := p.exportTenant(ctx, t, filepath.Join(dir, file))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed = append(failed, t.Slug)
				bar.step(fmt.Sprintf("FAILED %s: %v", t.Slug, err))
				return
			}
			m.Tenants = append(m.Tenants, backupEntry{ID: t.ID, Slug: t.Slug, Name: t.Name, Status: t.Status,
				backupFile: backupFile{File: file, Size: info.Size, SHA256: info.SHA256, SchemaVersion: info.Version, Time: at}})
			bar.step("")
		}()
	}
	wg.Wait()
	sort.Slice(m.Tenants, func(i, j int) bool { return m.Tenants[i].Slug < m.Tenants[j].Slug })
	sort.Strings(failed)
	if err := writeFileAtomic(filepath.Join(dir, manifestFile), m); err != nil {
		return m, failed, err
	}
	return m, failed, nil
}

// makeEmptyDir creates dir, or accepts it if it exists and is empty: a
// backup never mixes with other files.
func makeEmptyDir(dir string) error {
	err := os.Mkdir(dir, 0o700)
	if err == nil || !errors.Is(err, fs.ErrExist) {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return fmt.Errorf("%s is not empty; back up into a new directory", dir)
	}
	return nil
}

// writeFileAtomic writes v as indented JSON to path through a synced
// temporary file and a rename.
func writeFileAtomic(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return tenantdb.SyncDir(filepath.Dir(path))
}

// readManifest reads DIR/manifest.json and checks that its file names stay
// inside the backup.
func readManifest(dir string) (backupManifest, error) {
	var m backupManifest
	b, err := os.ReadFile(filepath.Join(dir, manifestFile))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return m, fmt.Errorf("%s has no %s: not a backup, or an incomplete one", dir, manifestFile)
		}
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%s: %w", manifestFile, err)
	}
	if m.Format != 1 {
		return m, fmt.Errorf("%s: format %d is not one this Chapterhouse reads", manifestFile, m.Format)
	}
	files := []string{m.Catalog.File}
	for _, t := range m.Tenants {
		files = append(files, t.File)
	}
	for _, f := range files {
		if f == "" || !filepath.IsLocal(f) {
			return m, fmt.Errorf("%s: file name %q is not inside the backup", manifestFile, f)
		}
	}
	return m, nil
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

// verifyBackupFile checks one file of a backup against its manifest entry.
func verifyBackupFile(ctx context.Context, dir string, want backupFile, catalog bool) error {
	path := filepath.Join(dir, want.File)
	size, sum, err := hashFile(path)
	if err != nil {
		return err
	}
	if size != want.Size {
		return fmt.Errorf("size %d, manifest says %d", size, want.Size)
	}
	if sum != want.SHA256 {
		return fmt.Errorf("sha256 %s, manifest says %s", sum, want.SHA256)
	}
	check := tenantdb.CheckTenantFile
	if catalog {
		check = tenantdb.CheckCatalogFile
	}
	info, err := check(ctx, path)
	if err != nil {
		return err
	}
	if info.Version != want.SchemaVersion {
		return fmt.Errorf("schema version %d, manifest says %d", info.Version, want.SchemaVersion)
	}
	return nil
}

func hashFile(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	return n, hex.EncodeToString(h.Sum(nil)), err
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
