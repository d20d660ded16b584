package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/metrics"
	"github.com/chapterhouse/chapterhouse/app/internal/password"
	"github.com/chapterhouse/chapterhouse/app/internal/ratelimit"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// platform is a data dir opened for work: its catalog and its pool of
// tenant databases. The server holds one for as long as it runs; an
// operator command run without a server opens its own.
type platform struct {
	dir     string
	catalog *tenantdb.Catalog
	pool    *tenantdb.Pool
	log     *slog.Logger
	now     func() time.Time
	// passwords hashes admin passwords, with one bound on concurrent
	// hashes for the server's logins and the commands it runs.
	passwords *password.Hasher
	// base is the platform domain and portSuffix the ":8080" of the
	// public address, for printing site URLs.
	base       string
	portSuffix string
	// ops keeps two data operations off one tenant at once.
	ops tenantOps
	// resolver checks the TXT records of custom domains; publicIPs are
	// shown as their A/AAAA records; domainGrace is how long a verified
	// domain whose record vanished keeps routing.
	resolver    *net.Resolver
	publicIPs   []netip.Addr
	domainGrace time.Duration
	metrics     *metrics.Metrics
	// domainChecks bounds the DNS checks each tenant's admins run.
	domainChecks *ratelimit.Limiter
	// started is when this process began serving; zero in an operator
	// command run without a server.
	started time.Time
}

func openPlatform(ctx context.Context, dir string, maxOpen int, idle time.Duration, log *slog.Logger) (*platform, error) {
	cat, err := tenantdb.OpenCatalog(ctx, dir)
	if err != nil {
		return nil, err
	}
	pool := tenantdb.NewPool(dir, maxOpen, idle)
	p := &platform{
		dir:     dir,
		catalog: cat,
		pool:    pool,
		metrics: metrics.New(pool),
		log:     log,
		now:     time.Now,

		passwords: password.NewHasher(),

		resolver:    net.DefaultResolver,
		domainGrace: 24 * time.Hour,

		domainChecks: ratelimit.New(domainCheckBurst, domainCheckEvery, 100_000),
	}
	p.cleanTmp()
	return p, nil
}

// configure applies what serve's flags say about the platform.
func (p *platform) configure(cfg *config, listenAddr string) {
	p.base, p.portSuffix = cfg.baseDomain, portSuffix(listenAddr)
	if cfg.resolver != nil {
		p.resolver = cfg.resolver
	}
	p.publicIPs = cfg.publicIPs
	p.domainGrace = cfg.domainGrace
}

func (p *platform) Close() error {
	return errors.Join(p.pool.Close(), p.catalog.Close())
}

// withTenant runs fn on the open database of tenant slug.
func (p *platform) withTenant(ctx context.Context, slug string, fn func(t tenantdb.Tenant, db *tenantdb.Handle) error) error {
	t, err := p.catalog.Tenant(slug)
	if err != nil {
		return err
	}
	h, err := p.pool.Acquire(ctx, t.ID)
	if err != nil {
		return err
	}
	defer h.Release()
	return fn(t, h)
}

// createTenant makes a tenant's file, migrated and named, with its first
// admins (password hashes ready), and then records it in the catalog,
// which makes it routable.
func (p *platform) createTenant(ctx context.Context, slug, name string, admins ...tenantdb.Admin) (tenantdb.Tenant, error) {
	if err := tenantdb.ValidateSlug(slug); err != nil {
		return tenantdb.Tenant{}, err
	}
	if err := tenantdb.ValidateName(name); err != nil {
		return tenantdb.Tenant{}, err
	}
	if _, taken := p.catalog.TenantBySlug(slug); taken {
		return tenantdb.Tenant{}, fmt.Errorf("tenant %q: %w", slug, tenantdb.ErrConflict)
	}
	t := tenantdb.Tenant{
		ID:        tenantdb.NewTenantID(),
		Slug:      slug,
		Name:      name,
		Status:    tenantdb.StatusActive,
		CreatedAt: p.now().UTC(),
	}
	db, err := tenantdb.Create(ctx, p.dir, t.ID)
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
	if err == nil {
		err = p.catalog.AddTenant(ctx, t)
	}
	if err != nil {
		removeTenantFiles(tenantdb.TenantPath(p.dir, t.ID))
		return t, err
	}
	return t, nil
}

// deleteTenant stops routing to tenant slug at once, lets its in-flight
// requests finish, closes it and moves its file to DATA/trash/.
func (p *platform) deleteTenant(ctx context.Context, slug string) (string, error) {
	t, err := p.catalog.Tenant(slug)
	if err != nil {
		return "", err
	}
	name := fmt.Sprintf("%s-%s.db", t.ID, p.now().UTC().Format("20060102T150405Z"))
	trashed := filepath.Join(p.dir, "trash", name)
	if err := p.catalog.RemoveTenant(ctx, t, name); err != nil {
		return "", err
	}
	p.metrics.Tenants.Forget(t.ID)
	err = p.pool.Drain(ctx, t.ID, func() error {
		return moveTenantFiles(tenantdb.TenantPath(p.dir, t.ID), trashed)
	})
	return trashed, err
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

func removeTenantFiles(path string) {
	for _, s := range []string{"", "-wal", "-shm"} {
		os.Remove(path + s)
	}
}

// siteURL is where tenant slug's site is, on the platform domain.
func (p *platform) siteURL(slug string) string {
	return "http://" + slug + "." + p.base + p.portSuffix
}
