package platform

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
	"github.com/chapterhouse/chapterhouse/tenantdb/sqlitefile"
)

// TmpDir is DATA/tmp: work files of imports, downloads and moves. It is on
// the same file system as DATA/tenants, so a finished file is renamed into
// place atomically.
func (p *Platform) TmpDir() (string, error) {
	dir := filepath.Join(p.Dir, "tmp")
	return dir, os.MkdirAll(dir, 0o700)
}

// cleanTmp removes what an interrupted operation left in DATA/tmp. Only the
// owner of the data dir calls it, before any operation can run.
func (p *Platform) cleanTmp() {
	os.RemoveAll(filepath.Join(p.Dir, "tmp"))
}

// Export writes a consistent snapshot of tenant t to the new file
// dst while the tenant keeps being served. It holds the tenant open, so a
// drain (replace, move, delete) waits for it.
func (p *Platform) Export(ctx context.Context, t catalog.Tenant, dst string) (sqlitefile.FileInfo, error) {
	defer p.Metrics.TimeOp("export")()
	done, err := p.workBeside(dst)
	if err != nil {
		return sqlitefile.FileInfo{}, err
	}
	defer done()
	h, err := p.Pool.Acquire(ctx, t.ID)
	if err != nil {
		return sqlitefile.FileInfo{}, err
	}
	defer h.Release()
	return h.Export(ctx, dst)
}

// Digest is the logical digest of tenant t's rows as they are now.
func (p *Platform) Digest(ctx context.Context, t catalog.Tenant) (tenantdb.Digest, error) {
	h, err := p.Pool.Acquire(ctx, t.ID)
	if err != nil {
		return tenantdb.Digest{}, err
	}
	defer h.Release()
	return h.Digest(ctx)
}

// HumanSize prints a byte count for people: "1.4 MiB".
func HumanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// workBeside records in DATA/work/ that an export or a backup writes its
// work file beside dst (.BASE.*.tmp, renamed to dst when complete), so
// that if the process dies first the next start removes it
// (cleanWorkBeside): outside the data dir, nothing else would. done
// forgets the record.
func (p *Platform) workBeside(dst string) (done func(), err error) {
	dir := filepath.Join(p.Dir, "work")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dst)
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, "*.json")
	if err != nil {
		return nil, err
	}
	record := f.Name()
	f.Close()
	if err := WriteFileAtomic(record, workRecord{Pattern: workPattern(abs)}); err != nil {
		os.Remove(record)
		return nil, fmt.Errorf("recording the work file: %w", err)
	}
	return func() { os.Remove(record) }, nil
}

// workRecord is a file of DATA/work/: the glob of the work files of one
// export or backup.
type workRecord struct {
	Pattern string `json:"pattern"`
}

// workPattern is the glob of the work files beside dst, as
// sqlitefile.Export and Backup name them.
func workPattern(dst string) string {
	return filepath.Join(filepath.Dir(dst), "."+filepath.Base(dst)+".*.tmp")
}

// cleanWorkBeside removes the work files of the exports and backups that
// an interrupted process recorded in DATA/work/, and the records. Only
// the owner of the data dir calls it, before any operation can run.
func (p *Platform) cleanWorkBeside() {
	dir := filepath.Join(p.Dir, "work")
	removeUnwrittenRecords(dir)
	records, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	for _, r := range records {
		var rec workRecord
		if b, err := os.ReadFile(r); err == nil && json.Unmarshal(b, &rec) == nil && strings.HasSuffix(rec.Pattern, ".*.tmp") {
			left, _ := filepath.Glob(rec.Pattern)
			for _, f := range left {
				os.RemoveAll(f)
				p.Log.Warn("removed the work file of an export or backup that was interrupted", "file", f)
			}
		}
		os.Remove(r)
	}
}

// removeUnwrittenRecords removes from dir the .tmp files that
// WriteFileAtomic left when the process died before its rename: the
// record it was writing (or rewriting) never took effect.
func removeUnwrittenRecords(dir string) {
	left, _ := filepath.Glob(filepath.Join(dir, "*.json.tmp"))
	for _, f := range left {
		os.Remove(f)
	}
}
