package platform

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
)

// TenantStats is what `tenant stats` tells about one tenant. Request
// counts live in the memory of the running server; without one they are
// absent.
type TenantStats struct {
	Slug        string     `json:"tenant"`
	ID          string     `json:"id"`
	Status      string     `json:"status"`
	File        string     `json:"file"`
	SizeBytes   int64      `json:"size_bytes"` // database + WAL + shared memory
	DBBytes     int64      `json:"db_bytes"`
	WALBytes    int64      `json:"wal_bytes"`
	SHMBytes    int64      `json:"shm_bytes"`
	Modified    *time.Time `json:"modified,omitempty"` // last change of the database or its WAL
	Open        bool       `json:"open"`
	Serving     bool       `json:"serving"`                  // a server is running and counting
	Since       *time.Time `json:"counting_since,omitempty"` // when it started
	Requests    int64      `json:"requests"`
	LastRequest *time.Time `json:"last_request,omitempty"`
	Domains     []string   `json:"domains"` // "host (status)"
	// Storage is what the tenant's rows use of its quota; nil if its
	// file could not be opened to measure it.
	Storage *Usage `json:"storage"`
}

// TenantStats gathers what is known about tenant t: its files, read
// without opening them, and then its storage, measured in its open file.
func (p *Platform) TenantStats(ctx context.Context, t catalog.Tenant) (TenantStats, error) {
	st := TenantStats{Slug: t.Slug, ID: t.ID, Status: t.Status, File: tenantdb.TenantPath(p.Dir, t.ID), Domains: []string{}}
	for _, f := range []struct {
		suffix string
		size   *int64
	}{{"", &st.DBBytes}, {"-wal", &st.WALBytes}, {"-shm", &st.SHMBytes}} {
		fi, err := os.Stat(st.File + f.suffix)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return st, err
		}
		*f.size = fi.Size()
		if f.suffix != "-shm" && (st.Modified == nil || fi.ModTime().After(*st.Modified)) {
			m := fi.ModTime()
			st.Modified = &m
		}
	}
	st.SizeBytes = st.DBBytes + st.WALBytes + st.SHMBytes
	st.Open, _ = p.Pool.IsOpen(t.ID)
	if !p.Started.IsZero() {
		st.Serving = true
		since := p.Started
		st.Since = &since
		n, last := p.Metrics.Tenants.Get(t.ID)
		st.Requests = n
		if !last.IsZero() {
			st.LastRequest = &last
		}
	}
	if u, err := p.TenantUsage(ctx, t); err == nil {
		st.Storage = &u
	}
	ds, err := p.Catalog.Domains(ctx, t.ID)
	if err != nil {
		return st, err
	}
	for _, d := range ds {
		st.Domains = append(st.Domains, fmt.Sprintf("%s (%s)", d.Host, d.Status))
	}
	return st, nil
}

// TenantUsage opens tenant t (waiting at most a few seconds for it, as
// during a drain) and measures its storage.
func (p *Platform) TenantUsage(ctx context.Context, t catalog.Tenant) (Usage, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	h, err := p.Pool.Acquire(ctx, t.ID)
	if err != nil {
		return Usage{}, err
	}
	defer h.Release()
	return p.Usage(ctx, t, h.DB)
}

// SizeOnDisk is the size of tenant t's database and WAL files, read
// without opening them (0 if they are missing).
func (p *Platform) SizeOnDisk(t catalog.Tenant) int64 {
	var n int64
	for _, suffix := range []string{"", "-wal"} {
		if fi, err := os.Stat(tenantdb.TenantPath(p.Dir, t.ID) + suffix); err == nil {
			n += fi.Size()
		}
	}
	return n
}
