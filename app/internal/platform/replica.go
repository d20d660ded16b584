package platform

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/metrics"
	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
	"github.com/chapterhouse/chapterhouse/tenantdb/replica"
	"github.com/chapterhouse/chapterhouse/tenantdb/sqlitefile"
)

// ReplicaFailLimit is how long a replica may fail before /readyz says so.
const ReplicaFailLimit = time.Minute

// StartReplication streams the catalog, and from now on every tenant the
// pool opens, to target (see docs/replication.md). Call it before serving.
func (p *Platform) StartReplication(ctx context.Context, target *replica.Target, opt replica.Options) error {
	opt.Log = p.Log
	if c := p.Cluster; c != nil {
		// A node uploads a tenant's replica only while it may write it.
		opt.Fence = c.CheckWrite
	}
	r, err := replica.New(ctx, target, filepath.Join(p.Dir, "litestream"), opt)
	if err != nil {
		return err
	}
	// A cluster's catalog is in JetStream, replicated there.
	if p.Cluster == nil {
		if err := r.Register(ctx, replica.CatalogName, catalog.Path(p.Dir)); err != nil {
			r.Close(ctx)
			return fmt.Errorf("replicating the catalog: %w", err)
		}
	}
	p.Replica = r
	p.Pool.Replicate(r)
	m := metrics.Replica{
		Registered: func() int { return len(r.Registered()) },
		Failing:    func() int { return len(r.Failing(0, time.Now())) },
		Bytes:      r.Stats.Bytes.Load,
		SyncErrors: r.Stats.SyncErrors.Load,
		Lists:      r.Stats.Lists.Load,
		Registers:  r.Stats.Registers.Load,
		Deferred:   r.Stats.Deferred.Load,
		ObserveLag: r.ObserveLag,
	}
	if target.Scheme() == "nats" {
		m.BucketLists, m.IndexedFiles = target.BucketLists, target.IndexedFiles
		m.IncompleteObjects = target.IncompleteObjects
	}
	p.Metrics.WatchReplica(m)
	return nil
}

// ReplicaProblem says why the replica is not healthy: a database whose
// replica has failed for longer than ReplicaFailLimit. Empty: healthy, or
// no replica.
func (p *Platform) ReplicaProblem() string {
	if p.Replica == nil {
		return ""
	}
	names := p.Replica.Failing(ReplicaFailLimit, time.Now())
	if len(names) == 0 {
		return ""
	}
	return fmt.Sprintf("replica %s failing for over %s for %d database(s)", p.Replica.Target(), ReplicaFailLimit, len(names))
}

// ParseTime reads a restore's point in time: RFC 3339, or "2h ago" (any
// Go duration, or days: "3d ago").
func ParseTime(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if ago, ok := strings.CutSuffix(s, " ago"); ok {
		ago = strings.TrimSpace(ago)
		var d time.Duration
		var err error
		if days, ok := strings.CutSuffix(ago, "d"); ok && !strings.ContainsAny(days, "hms") {
			var n float64
			if _, err = fmt.Sscanf(days, "%g", &n); err == nil {
				d = time.Duration(n * 24 * float64(time.Hour))
			}
		} else {
			d, err = time.ParseDuration(ago)
		}
		if err != nil || d < 0 {
			return time.Time{}, fmt.Errorf("%q: want RFC 3339 (2026-01-02T15:04:05Z) or a duration ago (\"2h ago\", \"90m ago\", \"3d ago\")", s)
		}
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: want RFC 3339 (2026-01-02T15:04:05Z) or a duration ago (\"2h ago\", \"90m ago\", \"3d ago\")", s)
	}
	if t.After(now) {
		return time.Time{}, fmt.Errorf("%s is in the future", t.Format(time.RFC3339))
	}
	return t, nil
}

// ReplicaTarget is the replica this platform streams to, else the one
// named by url ("": none).
func (p *Platform) ReplicaTarget(url string) (*replica.Target, error) {
	if url != "" {
		return replica.ParseURL(url)
	}
	if p.Replica != nil {
		return p.Replica.Target(), nil
	}
	return nil, errors.New("no replica: the server runs without --replica, and none was named (--replica URL or CHAPTERHOUSE_REPLICA)")
}

// RestoreAt puts tenant slug back as it was at at, from target: in place
// like import --replace (drained, swapped, the old file to the trash), or
// with as set as a new tenant beside it. The replica's file is restored to
// DATA/tmp and then imported as untrusted: a damaged replica is refused
// and nothing live changes. Login sessions are those of the restored
// file: a session made after at is gone, one of then is honoured.
func (p *Platform) RestoreAt(ctx context.Context, target *replica.Target, slug string, at time.Time, as string) (ImportResult, error) {
	done := p.Metrics.TimeOp("replica_restore") // counts restores that finish
	var res ImportResult
	t, err := p.Catalog.Tenant(slug)
	if err != nil {
		return res, err
	}
	if as != "" {
		if err := tenantdb.ValidateSlug(as); err != nil {
			return res, err
		}
		if _, taken := p.Catalog.TenantBySlug(as); taken {
			return res, fmt.Errorf("--as %s: %w", as, tenantdb.ErrConflict)
		}
	}
	if p.Replica != nil && target == p.Replica.Target() {
		// What the tenant has committed reaches the replica first, so
		// that a time a second ago finds it.
		if open, _ := p.Pool.IsOpen(t.ID); open {
			p.Replica.Sync(ctx, t.ID)
		}
	}
	work, err := os.MkdirTemp(p.tmpDir(), "pitr-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(work)
	out := filepath.Join(work, t.ID+".db")
	if err := target.Restore(ctx, t.ID, out, at); err != nil {
		if errors.Is(err, replica.ErrNotAvailable) {
			return res, fmt.Errorf("tenant %s: %w", slug, err)
		}
		return res, fmt.Errorf("tenant %s: %w: %w", slug, tenantdb.ErrRejected, err)
	}
	req := ImportRequest{Slug: slug, Src: out, Replace: true, MaxSize: DefaultMaxImport, Force: true}
	if as != "" {
		req = ImportRequest{Slug: as, Src: out, MaxSize: DefaultMaxImport, Force: true, Status: catalog.StatusActive}
	}
	if res, err = p.Import(ctx, req); err != nil {
		return res, fmt.Errorf("restore %s at %s: %w", slug, at.UTC().Format(time.RFC3339), err)
	}
	done()
	return res, nil
}

func (p *Platform) tmpDir() string {
	d := filepath.Join(p.Dir, "tmp")
	os.MkdirAll(d, 0o700)
	return d
}

// RestoreAllResult is what a disaster recovery brought back.
type RestoreAllResult struct {
	Tenants  int      // restored
	Bytes    int64    // of the restored tenant files
	Failed   []string // "slug: why"
	Duration time.Duration
}

// RestoreAll rebuilds the data dir dir, which must hold no catalog, from
// target alone: the catalog at its newest state, then every tenant it
// lists, jobs at a time, each checked as an untrusted import. A tenant
// that fails is named in Failed; the others are in place.
func RestoreAll(ctx context.Context, target *replica.Target, dir string, jobs int, prog func(label string, total int) Progress) (RestoreAllResult, error) {
	start := time.Now()
	var res RestoreAllResult
	if _, err := os.Stat(catalog.Path(dir)); err == nil {
		return res, fmt.Errorf("%s holds a catalog already: restore --all rebuilds an empty data dir (move it away first)", dir)
	}
	if jobs < 1 {
		jobs = 1
	}
	tmp := filepath.Join(dir, "tmp")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return res, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "tenants"), 0o700); err != nil {
		return res, err
	}
	work, err := os.MkdirTemp(tmp, "restore-all-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(work)
	catTmp := filepath.Join(work, "catalog.db")
	catSeed, err := target.RestoreSeed(ctx, replica.CatalogName, catTmp, time.Time{})
	if err != nil {
		return res, fmt.Errorf("the catalog: %w", err)
	}
	tenants, _, err := catalog.ReadFile(ctx, catTmp)
	if err != nil {
		return res, fmt.Errorf("the restored catalog: %w", err)
	}
	sort.Slice(tenants, func(i, j int) bool { return tenants[i].Slug < tenants[j].Slug })
	bar := prog("restore", len(tenants))
	var mu sync.Mutex
	sem := make(chan struct{}, jobs)
	var wg sync.WaitGroup
	for _, t := range tenants {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			size, err := restoreOne(ctx, target, dir, work, t)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				res.Failed = append(res.Failed, t.Slug+": "+err.Error())
				bar.Step("FAILED " + t.Slug + ": " + err.Error())
				return
			}
			res.Tenants++
			res.Bytes += size
			bar.Step("")
		}()
	}
	wg.Wait()
	// The catalog goes in last: a data dir with a catalog is a finished
	// restore (a second run refuses), one without is not begun.
	if err := sqlitefile.SyncDir(filepath.Join(dir, "tenants")); err != nil {
		return res, err
	}
	if catSeed != nil {
		if err := catSeed.Write(filepath.Join(dir, "litestream")); err != nil {
			return res, err
		}
	}
	if err := os.Rename(catTmp, catalog.Path(dir)); err != nil {
		return res, err
	}
	if err := sqlitefile.SyncDir(dir); err != nil {
		return res, err
	}
	res.Duration = time.Since(start)
	return res, nil
}

func restoreOne(ctx context.Context, target *replica.Target, dir, work string, t catalog.Tenant) (int64, error) {
	out := filepath.Join(work, t.ID+".db")
	seed, err := target.RestoreSeed(ctx, t.ID, out, time.Time{})
	if err != nil {
		return 0, fmt.Errorf("tenant %s: %w", t.ID, err)
	}
	defer os.Remove(out)
	im, err := tenantdb.PrepareImport(ctx, out, work, DefaultMaxImport)
	if err != nil {
		return 0, err
	}
	defer im.Discard()
	if err := os.Rename(im.Path, tenantdb.TenantPath(dir, t.ID)); err != nil {
		return 0, err
	}
	// Its first open registers it without listing the replica.
	if seed != nil {
		if err := seed.Write(filepath.Join(dir, "litestream")); err != nil {
			return 0, err
		}
	}
	return im.Size, nil
}

// VerifyReplica restores tenant t's newest state from target to a temp
// file, checks it as an untrusted import would (integrity_check, schema,
// every row) and compares its digest with the live file's at the same
// position: the tenant's pending writes are synced first, and a write
// that lands in between makes it try again (three times).
func (p *Platform) VerifyReplica(ctx context.Context, target *replica.Target, t catalog.Tenant) error {
	work, err := os.MkdirTemp(p.tmpDir(), "verify-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	var last error
	for try := range 3 {
		h, err := p.Pool.Acquire(ctx, t.ID)
		if err != nil {
			return err
		}
		gen := h.Generation()
		if p.Replica != nil && target == p.Replica.Target() {
			if err := p.Replica.Sync(ctx, t.ID); err != nil {
				h.Release()
				return fmt.Errorf("syncing to the replica: %w", err)
			}
		}
		live, err := h.Digest(ctx)
		h.Release()
		if err != nil {
			return err
		}
		out := filepath.Join(work, fmt.Sprintf("%s-%d.db", t.ID, try))
		if err := target.Restore(ctx, t.ID, out, time.Time{}); err != nil {
			return err
		}
		im, err := tenantdb.PrepareImport(ctx, out, work, DefaultMaxImport)
		if err != nil {
			return err
		}
		got := im.Digest
		im.Discard()
		if got.Sum() == live.Sum() {
			return nil
		}
		last = fmt.Errorf("the replica's rows differ from the live file's in %v", live.Diff(got))
		if h2, err := p.Pool.Acquire(ctx, t.ID); err == nil {
			changed := h2.Generation() != gen
			h2.Release()
			if !changed {
				return last // nothing was written meanwhile: a real difference
			}
		}
	}
	return last
}

// RestorePreview is what an undo would bring back: row counts of the
// tenant's content now and at the chosen moment, by table.
type RestorePreview struct {
	At        time.Time
	Now, Then map[string]int64
}

// PreviewRestore restores tenant t as it was at at from target into a
// temp file, checks it as an import does, and counts its rows beside the
// live file's. Nothing live changes.
func (p *Platform) PreviewRestore(ctx context.Context, target *replica.Target, t catalog.Tenant, at time.Time) (RestorePreview, error) {
	pv := RestorePreview{At: at}
	work, err := os.MkdirTemp(p.tmpDir(), "preview-")
	if err != nil {
		return pv, err
	}
	defer os.RemoveAll(work)
	out := filepath.Join(work, t.ID+".db")
	if err := target.Restore(ctx, t.ID, out, at); err != nil {
		return pv, err
	}
	im, err := tenantdb.PrepareImport(ctx, out, work, DefaultMaxImport)
	if err != nil {
		return pv, err
	}
	pv.Then = im.Digest.Rows
	im.Discard()
	h, err := p.Pool.Acquire(ctx, t.ID)
	if err != nil {
		return pv, err
	}
	defer h.Release()
	live, err := h.Digest(ctx)
	if err != nil {
		return pv, err
	}
	pv.Now = live.Rows
	return pv, nil
}
