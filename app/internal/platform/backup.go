package platform

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

	"github.com/chapterhouse/chapterhouse/internal/hold"
	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
	"github.com/chapterhouse/chapterhouse/tenantdb/sqlitefile"
)

// Progress hears of each finished step of a long operation: a bar on a
// terminal, plain lines otherwise (the CLI's).
type Progress interface {
	Step(note string)
}

// ManifestFile lists what a backup holds; it is written last, so a backup
// without one is incomplete.
const ManifestFile = "manifest.json"

// Manifest is DIR/manifest.json.
type Manifest struct {
	Format    int           `json:"format"`
	CreatedAt time.Time     `json:"created_at"`
	Source    string        `json:"source"` // the data dir backed up
	Catalog   BackupFile    `json:"catalog"`
	Tenants   []BackupEntry `json:"tenants"`
}

// BackupFile is one file of a backup: its path relative to the backup dir.
type BackupFile struct {
	File          string    `json:"file"`
	Size          int64     `json:"size"`
	SHA256        string    `json:"sha256"`
	SchemaVersion int64     `json:"schema_version"`
	Time          time.Time `json:"time"` // when its snapshot was taken
}

type BackupEntry struct {
	ID     string `json:"id"`
	Slug   string `json:"slug"`
	Name   string `json:"name"`
	Status string `json:"status"`
	BackupFile
}

// Backup writes a consistent snapshot of the catalog and of every tenant
// it lists into the new directory dir, jobs tenants at a time, while the
// tenants keep being served, and then the manifest. It returns the slugs
// it could not back up. The backup is built in a hidden directory beside
// dir and renamed to dir when its manifest is written: a backup
// interrupted midway leaves no dir (only that hidden one, .DIR.*.tmp).
func (p *Platform) Backup(ctx context.Context, dir string, jobs int, prog func(label string, total int) Progress) (m Manifest, failed []string, err error) {
	defer p.Metrics.TimeOp("backup")()
	m = Manifest{Format: 1, CreatedAt: p.Now().UTC(), Source: p.Dir}
	final := filepath.Clean(dir)
	if err := checkEmptyDir(final); err != nil {
		return m, nil, err
	}
	done, err := p.workBeside(final)
	if err != nil {
		return m, nil, err
	}
	defer done()
	dir, err = os.MkdirTemp(filepath.Dir(final), "."+filepath.Base(final)+".*.tmp")
	if err != nil {
		return m, nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	if err := os.Mkdir(filepath.Join(dir, "tenants"), 0o700); err != nil {
		return m, nil, err
	}
	at := p.Now().UTC()
	info, err := p.Catalog.Export(ctx, filepath.Join(dir, "catalog.db"))
	if err != nil {
		return m, nil, fmt.Errorf("catalog: %w", err)
	}
	hold.At("backup.catalog")
	m.Catalog = BackupFile{File: "catalog.db", Size: info.Size, SHA256: info.SHA256, SchemaVersion: info.Version, Time: at}
	// The tenants are those of the catalog snapshot, so that the manifest
	// and the catalog in the backup agree.
	tenants, _, err := catalog.ReadFile(ctx, filepath.Join(dir, "catalog.db"))
	if err != nil {
		return m, nil, err
	}
	bar := prog("backup", len(tenants))
	var (
		mu  sync.Mutex
		wg  sync.WaitGroup
		sem = make(chan struct{}, jobs)
	)
	for _, t := range tenants {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			file := filepath.Join("tenants", t.ID+".db")
			at := p.Now().UTC()
			info, err := p.Export(ctx, t, filepath.Join(dir, file))
			hold.At("backup.tenant")
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed = append(failed, t.Slug)
				bar.Step(fmt.Sprintf("FAILED %s: %v", t.Slug, err))
				return
			}
			m.Tenants = append(m.Tenants, BackupEntry{ID: t.ID, Slug: t.Slug, Name: t.Name, Status: t.Status,
				BackupFile: BackupFile{File: file, Size: info.Size, SHA256: info.SHA256, SchemaVersion: info.Version, Time: at}})
			bar.Step("")
		}()
	}
	wg.Wait()
	sort.Slice(m.Tenants, func(i, j int) bool { return m.Tenants[i].Slug < m.Tenants[j].Slug })
	sort.Strings(failed)
	hold.At("backup.manifest")
	if err := WriteFileAtomic(filepath.Join(dir, ManifestFile), m); err != nil {
		return m, failed, err
	}
	// An empty dir already at final (checkEmptyDir accepts one) goes
	// first: os.Rename refuses to replace any directory. os.Remove fails
	// on a dir that gained files meanwhile, and so does the rename.
	if err := os.Remove(final); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return m, failed, fmt.Errorf("putting the backup in place: %w", err)
	}
	if err := os.Rename(dir, final); err != nil {
		return m, failed, fmt.Errorf("putting the backup in place: %w", err)
	}
	hold.At("backup.renamed")
	return m, failed, sqlitefile.SyncDir(filepath.Dir(final))
}

// checkEmptyDir accepts a dir that does not exist or is empty: a Backup
// never mixes with other files.
func checkEmptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return fmt.Errorf("%s is not empty; back up into a new directory", dir)
	}
	return nil
}

// WriteFileAtomic writes v as indented JSON to path through a synced
// temporary file and a rename.
func WriteFileAtomic(path string, v any) error {
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
	return sqlitefile.SyncDir(filepath.Dir(path))
}

// ReadManifest reads DIR/manifest.json and checks that its file names stay
// inside the backup.
func ReadManifest(dir string) (Manifest, error) {
	var m Manifest
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return m, fmt.Errorf("%s has no %s: not a backup, or an incomplete one", dir, ManifestFile)
		}
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%s: %w", ManifestFile, err)
	}
	if m.Format != 1 {
		return m, fmt.Errorf("%s: format %d is not one this Chapterhouse reads", ManifestFile, m.Format)
	}
	files := []string{m.Catalog.File}
	for _, t := range m.Tenants {
		files = append(files, t.File)
	}
	for _, f := range files {
		if f == "" || !filepath.IsLocal(f) {
			return m, fmt.Errorf("%s: file name %q is not inside the backup", ManifestFile, f)
		}
	}
	return m, nil
}

// VerifyBackupFile checks one file of a backup against its manifest entry.
func VerifyBackupFile(ctx context.Context, dir string, want BackupFile, isCatalog bool) error {
	path := filepath.Join(dir, want.File)
	size, sum, err := HashFile(path)
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
	if isCatalog {
		check = catalog.CheckFile
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

func HashFile(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	return n, hex.EncodeToString(h.Sum(nil)), err
}

// RestoreResult says what a restore did.
type RestoreResult struct {
	ImportResult
	Entry   BackupEntry      // the tenant's entry in the manifest
	Domains []catalog.Domain // custom domains given back to a deleted tenant
	Taken   []string         // its domains that another tenant took meanwhile
}

// Restore brings tenant slug back from the backup in dir, through the
// same checks as an import: the file must match the manifest; an existing
// tenant is drained and its file swapped (the current one goes to the
// trash); a deleted one comes back with its id, name and the custom
// domains no other tenant took since. Either way the backup's login
// sessions are ended before it serves: a token revoked since the backup
// (logout, password change) must stay dead.
func (p *Platform) Restore(ctx context.Context, dir, slug string, maxSize int64) (RestoreResult, error) {
	var res RestoreResult
	m, err := ReadManifest(dir)
	if err != nil {
		return res, err
	}
	var entry *BackupEntry
	var slugs []string
	for i, t := range m.Tenants {
		slugs = append(slugs, t.Slug)
		if t.Slug == slug {
			entry = &m.Tenants[i]
		}
	}
	if entry == nil {
		return res, fmt.Errorf("backup %s has no tenant %q (it has: %s)", dir, slug, strings.Join(slugs, ", "))
	}
	res.Entry = *entry
	src := filepath.Join(dir, entry.File)
	if size, sum, err := HashFile(src); err != nil {
		return res, err
	} else if size != entry.Size || sum != entry.SHA256 {
		return res, fmt.Errorf("%w: backup file %s does not match the manifest (sha256 %s, manifest says %s)", tenantdb.ErrRejected, entry.File, sum, entry.SHA256)
	}
	hold.At("restore.checked")
	_, exists := p.Catalog.TenantBySlug(slug)
	req := ImportRequest{Slug: slug, Src: src, Replace: exists, MaxSize: maxSize, Force: true, EndSessions: true}
	if !exists {
		req.ID, req.Name, req.Status = entry.ID, entry.Name, entry.Status
		if req.Status == catalog.StatusFrozen {
			req.Status = catalog.StatusActive
		}
		// A tenant deleted since gets back the custom domains it had,
		// when no other tenant took them meanwhile.
		_, all, err := catalog.ReadFile(ctx, filepath.Join(dir, m.Catalog.File))
		if err == nil {
			for _, d := range all {
				if d.TenantID != entry.ID {
					continue
				}
				// Another site's pending claim is no obstacle (see
				// Catalog.AddDomain); one that was proven is.
				if cur, err := p.Catalog.Domain(ctx, d.Host); err == nil && cur.Status != catalog.DomainPending {
					res.Taken = append(res.Taken, d.Host)
					continue
				}
				res.Domains = append(res.Domains, d)
			}
		}
		req.Domains = res.Domains
	}
	if res.ImportResult, err = p.Import(ctx, req); err != nil {
		return res, fmt.Errorf("restore %s: %w", slug, err)
	}
	return res, nil
}
