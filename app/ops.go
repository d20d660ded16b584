package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// tenantOps lets one data operation (import, restore, move, ...) at a time
// work on a tenant; a second one is refused rather than queued, since the
// operator who started it should decide what happens next.
type tenantOps struct {
	mu   sync.Mutex
	busy map[string]string // tenant id or slug -> what runs
}

// begin claims the keys (tenant ids and slugs) for op, or says who has one.
func (o *tenantOps) begin(op string, keys ...string) (end func(), err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.busy == nil {
		o.busy = map[string]string{}
	}
	for _, k := range keys {
		if other, ok := o.busy[k]; ok {
			return nil, fmt.Errorf("%s: %s is running on it; try again when it has finished", k, other)
		}
	}
	for _, k := range keys {
		o.busy[k] = op
	}
	return func() {
		o.mu.Lock()
		defer o.mu.Unlock()
		for _, k := range keys {
			delete(o.busy, k)
		}
	}, nil
}

// tmpDir is DATA/tmp: work files of imports, downloads and moves. It is on
// the same file system as DATA/tenants, so a finished file is renamed into
// place atomically.
func (p *platform) tmpDir() (string, error) {
	dir := filepath.Join(p.dir, "tmp")
	return dir, os.MkdirAll(dir, 0o700)
}

// cleanTmp removes what an interrupted operation left in DATA/tmp. Only the
// owner of the data dir calls it, before any operation can run.
func (p *platform) cleanTmp() {
	os.RemoveAll(filepath.Join(p.dir, "tmp"))
}

// exportTenant writes a consistent snapshot of tenant t to the new file
// dst while the tenant keeps being served. It holds the tenant open, so a
// drain (replace, move, delete) waits for it.
func (p *platform) exportTenant(ctx context.Context, t tenantdb.Tenant, dst string) (tenantdb.FileInfo, error) {
	h, err := p.pool.Acquire(ctx, t.ID)
	if err != nil {
		return tenantdb.FileInfo{}, err
	}
	defer h.Release()
	return h.Export(ctx, dst)
}

// tenantDigest is the logical digest of tenant t's rows as they are now.
func (p *platform) tenantDigest(ctx context.Context, t tenantdb.Tenant) (tenantdb.Digest, error) {
	h, err := p.pool.Acquire(ctx, t.ID)
	if err != nil {
		return tenantdb.Digest{}, err
	}
	defer h.Release()
	return h.Digest(ctx)
}

// humanSize prints a byte count for people: "1.4 MiB".
func humanSize(n int64) string {
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
