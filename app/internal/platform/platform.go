// Package platform is a data dir opened for work: its catalog and its pool
// of tenant databases, and every operation on tenants that the CLI, the
// control socket and the HTTP interfaces share: create, suspend, freeze,
// delete and the trash, export, import, backup, restore, move, custom
// domains and their DNS checks, admins and image uploads. It knows no HTTP.
package platform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
	"github.com/chapterhouse/chapterhouse/tenantdb/pool"
	"github.com/chapterhouse/chapterhouse/tenantdb/replica"
	"github.com/chapterhouse/chapterhouse/tenantdb/sqlitefile"

	"github.com/chapterhouse/chapterhouse/app/internal/imaging"
	"github.com/chapterhouse/chapterhouse/app/internal/metrics"
	"github.com/chapterhouse/chapterhouse/app/internal/password"
	"github.com/chapterhouse/chapterhouse/app/internal/ratelimit"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// Platform is a data dir opened for work: its catalog and its pool of
// Tenant databases. The server holds one for as long as it runs; an
// operator command run without a server opens its own.
type Platform struct {
	Dir     string
	Catalog *catalog.Catalog
	Pool    *pool.Pool
	Log     *slog.Logger
	Now     func() time.Time
	// Passwords hashes admin passwords, with one bound on concurrent
	// hashes for the server's logins and the commands it runs.
	Passwords *password.Hasher
	// Base is the platform domain and portSuffix the ":8080" of the
	// public address, for printing site URLs.
	Base       string
	PortSuffix string
	// Ops keeps two data operations off one tenant at once.
	Ops Ops
	// Resolver checks the TXT records of custom domains; publicIPs are
	// shown as their A/AAAA records; domainGrace is how long a verified
	// domain whose record vanished keeps routing.
	Resolver    *net.Resolver
	PublicIPs   []netip.Addr
	DomainGrace time.Duration
	Metrics     *metrics.Metrics
	// domainChecks bounds the DNS checks each tenant's admins run.
	domainChecks *ratelimit.Limiter
	// Images is the memory that decoding uploaded images may hold at
	// once, shared by every tenant (see imaging.Budget).
	Images *imaging.Budget
	// DefaultQuota is a tenant's storage quota in bytes unless the catalog
	// gives it its own (0: unlimited); quota is the room kept in memory.
	DefaultQuota int64
	quota        quotaState
	// Mail is how the mail worker sends; its Sender is nil when mail is
	// off (no --smtp) or no worker runs (an operator command).
	Mail   MailConfig
	mailer atomic.Pointer[Mailer]
	// Started is when this process began serving; zero in an operator
	// command run without a server.
	Started time.Time
	// Replica streams the catalog and the open tenants to --replica;
	// nil without one (StartReplication).
	Replica *replica.Replicator
	// Cluster is this node's part in a cluster (JoinCluster); nil on a
	// single node.
	Cluster *Cluster
	onClose []func()
}

func Open(ctx context.Context, dir string, maxOpen int, idle time.Duration, log *slog.Logger) (*Platform, error) {
	fresh := !fileExists(catalog.Path(dir))
	cat, err := catalog.Open(ctx, dir)
	if err != nil {
		return nil, err
	}
	if fresh {
		// A new data dir: every mail it will hold gets its marker, so the
		// mail worker's start never needs to look at every tenant.
		if err := tenantdb.MarkMailComplete(dir); err != nil {
			cat.Close()
			return nil, err
		}
	}
	return OpenWith(ctx, dir, cat, maxOpen, idle, log)
}

// OpenWith is Open with a catalog opened already: a cluster's, in
// JetStream (catalog.OpenJetStream). The platform closes it.
func OpenWith(ctx context.Context, dir string, cat *catalog.Catalog, maxOpen int, idle time.Duration, log *slog.Logger) (*Platform, error) {
	pool := pool.New(dir, maxOpen, idle)
	p := &Platform{
		Dir:     dir,
		Catalog: cat,
		Pool:    pool,
		Metrics: metrics.New(pool),
		Log:     log,
		Now:     time.Now,

		Passwords: password.NewHasher(),

		Resolver:    net.DefaultResolver,
		DomainGrace: 24 * time.Hour,

		domainChecks: ratelimit.New(domainCheckBurst, domainCheckEvery, 100_000),
		Images:       imaging.NewBudget(imaging.DefaultBudget),
		DefaultQuota: DefaultQuota,
		quota:        newQuotaState(),
	}
	p.cleanTmp()
	p.cleanWorkBeside()
	if err := p.dropLiveLinks(); err != nil {
		log.Error("removing second names of live tenant files from the trash", "err", err)
	}
	if err := p.trashOrphans(ctx); err != nil {
		log.Error("moving unrecorded tenant files to the trash", "err", err)
	}
	return p, nil
}

// dropLiveLinks removes each file in DATA/trash/ that is a second name of
// a live tenant file: the link a replace (import --replace, restore) makes
// to keep the old file, left by a replace killed before its rename. The
// tenant kept that file and writes to it, so the link holds no old
// content, and restoring it would give two tenants one file. Only the
// owner of the data dir calls it, before any operation can run.
func (p *Platform) dropLiveLinks() error {
	trashed, err := filepath.Glob(filepath.Join(p.Dir, "trash", "*.db"))
	if err != nil || len(trashed) == 0 {
		return err
	}
	live, err := filepath.Glob(filepath.Join(p.Dir, "tenants", "*.db"))
	if err != nil {
		return err
	}
	var lives []os.FileInfo
	for _, f := range live {
		if fi, err := os.Stat(f); err == nil {
			lives = append(lives, fi)
		}
	}
	var errs []error
	for _, tf := range trashed {
		ti, err := os.Stat(tf)
		if err != nil {
			continue
		}
		for _, fi := range lives {
			if os.SameFile(ti, fi) {
				errs = append(errs, os.Remove(tf))
				break
			}
		}
	}
	return errors.Join(errs...)
}

// trashOrphans moves to DATA/trash/ each tenant file that no catalog
// entry names: a creation, an import or a trash restore killed between
// renaming the file in and recording it, or a delete killed between the
// two. Nothing is deleted: the trash lists them as orphans (TrashItems)
// and purges them with the rest. Only the owner of the data dir calls it,
// before any operation can run.
func (p *Platform) trashOrphans(ctx context.Context) error {
	files, err := filepath.Glob(filepath.Join(p.Dir, "tenants", "*.db"))
	if err != nil || len(files) == 0 {
		return err
	}
	tenants, err := p.Catalog.Tenants(ctx)
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, t := range tenants {
		known[tenantdb.TenantPath(p.Dir, t.ID)] = true
	}
	trash := filepath.Join(p.Dir, "trash")
	if err := os.MkdirAll(trash, 0o700); err != nil {
		return err
	}
	var errs []error
	for _, f := range files {
		if known[f] {
			continue
		}
		id := strings.TrimSuffix(filepath.Base(f), ".db")
		name := trashName(catalog.Tenant{ID: id}, p.Now(), "orphan")
		if err := moveTenantFiles(f, filepath.Join(trash, name)); err != nil {
			errs = append(errs, err)
			continue
		}
		p.Log.Warn("a tenant file no catalog entry names (an operation was interrupted) is in the trash", "file", name)
	}
	errs = append(errs, sqlitefile.SyncDir(trash), sqlitefile.SyncDir(filepath.Join(p.Dir, "tenants")))
	return errors.Join(errs...)
}

// Settings are what the operator says about the platform beyond its
// data dir.
type Settings struct {
	BaseDomain  string        // tenants are at <slug>.<BaseDomain>
	ListenAddr  string        // the public listener, for printing site URLs
	Resolver    *net.Resolver // for custom domains' TXT checks; nil: the system's
	PublicIPs   []netip.Addr  // shown as custom domains' A/AAAA records
	DomainGrace time.Duration // how long a verified domain whose record vanished keeps routing
	Quota       int64         // a tenant's storage quota in bytes unless it has its own; 0: unlimited
}

// Configure applies s.
func (p *Platform) Configure(s Settings) {
	p.Base, p.PortSuffix = s.BaseDomain, PortSuffix(s.ListenAddr)
	if s.Resolver != nil {
		p.Resolver = s.Resolver
	}
	p.PublicIPs = s.PublicIPs
	p.DomainGrace = s.DomainGrace
	p.DefaultQuota = s.Quota
}

// PortSuffix is ":PORT" of a listen address, or "" for port 80.
func PortSuffix(addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil || port == "80" || port == "" {
		return ""
	}
	return ":" + port
}

// Close closes every open tenant and the catalog.
func (p *Platform) Close() error {
	err := p.Pool.Close() // with a replica: each tenant's final sync
	if p.Replica != nil {
		// The catalog's last writes are shipped before it closes.
		err = errors.Join(err, p.Replica.Close(context.Background()))
	}
	err = errors.Join(err, p.Catalog.Close())
	for _, fn := range p.onClose {
		fn()
	}
	return err
}

// OnClose has fn run when the platform has closed (a cluster catalog's
// NATS connection, which outlives the catalog's watches).
func (p *Platform) OnClose(fn func()) { p.onClose = append(p.onClose, fn) }

// WithTenant runs fn on the open database of tenant slug.
func (p *Platform) WithTenant(ctx context.Context, slug string, fn func(t catalog.Tenant, db *pool.Handle) error) error {
	t, err := p.Catalog.Tenant(slug)
	if err != nil {
		return err
	}
	h, err := p.Pool.Acquire(ctx, t.ID)
	if err != nil {
		return err
	}
	defer h.Release()
	return fn(t, h)
}

// CreateTenant makes a tenant's file, migrated and named, with its first
// admins (password hashes ready), and then records it in the catalog,
// which makes it routable.
func (p *Platform) CreateTenant(ctx context.Context, slug, name string, admins ...tenantdb.Admin) (catalog.Tenant, error) {
	if err := tenantdb.ValidateSlug(slug); err != nil {
		return catalog.Tenant{}, err
	}
	if err := catalog.ValidateName(name); err != nil {
		return catalog.Tenant{}, err
	}
	if _, taken := p.Catalog.TenantBySlug(slug); taken {
		return catalog.Tenant{}, fmt.Errorf("tenant %q: %w", slug, tenantdb.ErrConflict)
	}
	t := catalog.Tenant{
		ID:        tenantdb.NewTenantID(),
		Slug:      slug,
		Name:      name,
		Status:    catalog.StatusActive,
		CreatedAt: p.Now().UTC(),
	}
	create := tenantdb.Create
	if p.Replica != nil {
		create = tenantdb.CreateForReplica // with Litestream's tables: two commits fewer at its first open
	}
	db, err := create(ctx, p.Dir, t.ID)
	if err != nil {
		return t, err
	}
	site, err := db.Site(ctx)
	if err == nil {
		site.Name = name
		err = db.UpdateSite(ctx, &site)
	}
	for i := 0; err == nil && i < len(admins); i++ {
		err = db.AddAdmin(ctx, &admins[i])
	}
	err = errors.Join(err, db.Close())
	if err == nil && p.Cluster != nil {
		err = p.Cluster.claimNew(ctx, t.ID) // owned before it routes
	}
	if err == nil {
		err = p.Catalog.AddTenant(ctx, t)
	}
	if err != nil {
		sqlitefile.RemoveFiles(tenantdb.TenantPath(p.Dir, t.ID))
		return t, err
	}
	return t, nil
}

// DeleteTenant stops routing to tenant slug at once, lets its in-flight
// requests finish, closes it and moves its file to DATA/trash/.
func (p *Platform) DeleteTenant(ctx context.Context, slug string) (string, error) {
	t, err := p.Catalog.Tenant(slug)
	if err != nil {
		return "", err
	}
	name, err := p.retire(ctx, t, "")
	if err == nil && p.Cluster != nil {
		// Its ownership record goes too: a record without a chapter
		// routes nothing, but it would count in the node's load.
		if rerr := p.Cluster.Node.Release(ctx, t.ID); rerr != nil {
			err = fmt.Errorf("tenant %s is deleted, but its ownership record stays (it routes nothing): %w", t.Slug, rerr)
		}
	}
	return filepath.Join(p.Dir, "trash", name), err
}

// retire takes tenant t out of service for good (deleted, or moved to
// another data dir): it stops routing at once, the catalog records its
// file in the trash, its requests in flight finish, and its file (its WAL
// checkpointed) goes to DATA/trash/<name>.
func (p *Platform) retire(ctx context.Context, t catalog.Tenant, why string) (name string, err error) {
	name = trashName(t, p.Now(), why)
	if err := p.Catalog.RemoveTenant(ctx, t, name); err != nil {
		return "", err
	}
	p.Metrics.Tenants.Forget(t.ID)
	err = p.Pool.Drain(ctx, t.ID, func() error {
		live := tenantdb.TenantPath(p.Dir, t.ID)
		if err := tenantdb.SettleWAL(live); err != nil {
			return err
		}
		return moveTenantFiles(live, filepath.Join(p.Dir, "trash", name))
	})
	return name, err
}

// trashName is the name in DATA/trash/ of tenant t's file retired at now:
// <id>-<time>.db, or <id>-<time>-<why>.db (why: moved, replaced).
func trashName(t catalog.Tenant, now time.Time, why string) string {
	name := t.ID + "-" + now.UTC().Format("20060102T150405.000Z")
	if why != "" {
		name += "-" + why
	}
	return name + ".db"
}

// moveTenantFiles renames a closed database file to dst, with its WAL if
// one was left behind (a clean close leaves none), so nothing is lost.
func moveTenantFiles(src, dst string) error {
	if err := os.Rename(src, dst); err != nil {
		return err
	}
	if err := os.Rename(src+"-wal", dst+"-wal"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	os.Remove(src + "-shm")
	return nil
}

// SiteURL is where tenant slug's site is, on the platform domain.
func (p *Platform) SiteURL(slug string) string {
	return "http://" + slug + "." + p.Base + p.PortSuffix
}

// Freeze makes tenant t read-only: its pages are served, every change
// gets 503 until Thaw. A suspended tenant cannot be frozen.
func (p *Platform) Freeze(ctx context.Context, t catalog.Tenant) (catalog.Tenant, error) {
	if t.Status == catalog.StatusSuspended {
		return t, fmt.Errorf("tenant %s is suspended (its site is offline); resume it before freezing it", t.Slug)
	}
	return p.Catalog.SetStatus(ctx, t.Slug, catalog.StatusFrozen)
}

// Thaw ends a freeze of tenant t.
func (p *Platform) Thaw(ctx context.Context, t catalog.Tenant) (catalog.Tenant, error) {
	if t.Status != catalog.StatusFrozen {
		return t, fmt.Errorf("tenant %s is %s, not frozen", t.Slug, t.Status)
	}
	return p.Catalog.SetStatus(ctx, t.Slug, catalog.StatusActive)
}
