package platform

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

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
