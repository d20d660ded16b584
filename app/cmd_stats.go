package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// tenantStats is what `tenant stats` tells about one tenant. Request
// counts live in the memory of the running server; without one they are
// absent.
type tenantStats struct {
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
}

func cmdTenantStats(ctx context.Context, e *cmdEnv, args []string) error {
	fs := e.flags()
	asJSON := fs.Bool("json", false, "print JSON")
	t, _, err := e.parseTenant(fs, args, 1)
	if err != nil {
		return err
	}
	st, err := e.p.tenantStats(ctx, t)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, st)
	}
	when := func(t *time.Time) string {
		if t == nil {
			return "never"
		}
		return fmt.Sprintf("%s (%s ago)", t.UTC().Format(time.RFC3339), e.p.now().Sub(*t).Round(time.Second))
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "tenant:\t%s (id %s, %s)\n", st.Slug, st.ID, st.Status)
	fmt.Fprintf(tw, "file:\t%s\n", st.File)
	fmt.Fprintf(tw, "size on disk:\t%s (database %s, WAL %s, shared memory %s)\n",
		humanSize(st.SizeBytes), humanSize(st.DBBytes), humanSize(st.WALBytes), humanSize(st.SHMBytes))
	fmt.Fprintf(tw, "last written:\t%s\n", when(st.Modified))
	open := "no"
	if st.Open {
		open = "yes"
	}
	fmt.Fprintf(tw, "open now:\t%s\n", open)
	if st.Serving {
		fmt.Fprintf(tw, "requests:\t%d since the server started %s\n", st.Requests, st.Since.UTC().Format(time.RFC3339))
		fmt.Fprintf(tw, "last request:\t%s\n", when(st.LastRequest))
	} else {
		fmt.Fprintf(tw, "requests:\tnot known: no server is running (the server counts them in memory)\n")
	}
	domains := "none"
	if len(st.Domains) > 0 {
		domains = strings.Join(st.Domains, ", ")
	}
	fmt.Fprintf(tw, "custom domains:\t%s\n", domains)
	return tw.Flush()
}

// tenantStats gathers what is known about tenant t without opening it.
func (p *platform) tenantStats(ctx context.Context, t tenantdb.Tenant) (tenantStats, error) {
	st := tenantStats{Slug: t.Slug, ID: t.ID, Status: t.Status, File: tenantdb.TenantPath(p.dir, t.ID), Domains: []string{}}
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
	st.Open, _ = p.pool.IsOpen(t.ID)
	if !p.started.IsZero() {
		st.Serving = true
		since := p.started
		st.Since = &since
		n, last := p.metrics.Tenants.Get(t.ID)
		st.Requests = n
		if !last.IsZero() {
			st.LastRequest = &last
		}
	}
	ds, err := p.catalog.Domains(ctx, t.ID)
	if err != nil {
		return st, err
	}
	for _, d := range ds {
		st.Domains = append(st.Domains, fmt.Sprintf("%s (%s)", d.Host, d.Status))
	}
	return st, nil
}
