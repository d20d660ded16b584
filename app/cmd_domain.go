package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// checkCustomHost validates a custom domain typed by an operator or admin.
func (p *platform) checkCustomHost(raw string) (string, error) {
	host, err := normalizeHost(raw)
	if err != nil || strings.ContainsRune(raw, ':') || !strings.Contains(host, ".") {
		return "", &tenantdb.ValidationError{Field: "host", Message: fmt.Sprintf("%q is not a host name like www.example.org", raw)}
	}
	if host == p.base || strings.HasSuffix(host, "."+p.base) {
		return "", &tenantdb.ValidationError{Field: "host", Message: fmt.Sprintf("%q is under the platform domain %s; tenants get their subdomain automatically", raw, p.base)}
	}
	return host, nil
}

func cmdDomainAdd(ctx context.Context, e *cmdEnv, args []string) error {
	pos, err := e.parse(e.flags(), args, 2)
	if err != nil {
		return err
	}
	t, err := e.p.catalog.Tenant(pos[0])
	if err != nil {
		return err
	}
	host, err := e.p.checkCustomHost(pos[1])
	if err != nil {
		return err
	}
	d, err := e.p.catalog.AddDomain(ctx, t, host)
	if err != nil {
		return err
	}
	e.audit(ctx, "domain.add", t.ID, host)
	e.printf("added %s to tenant %s (pending verification)\n", d.Host, t.Slug)
	e.printf("create these DNS records, then run: chapterhouse domain verify %s\n", d.Host)
	e.printf("  _chapterhouse.%s  TXT    %q\n", d.Host, d.Token)
	e.printf("  %s  CNAME  %s\n", d.Host, t.Slug+"."+e.p.base)
	return nil
}

func cmdDomainRemove(ctx context.Context, e *cmdEnv, args []string) error {
	pos, err := e.parse(e.flags(), args, 1)
	if err != nil {
		return err
	}
	host, err := normalizeHost(pos[0])
	if err != nil {
		return &tenantdb.ValidationError{Field: "host", Message: fmt.Sprintf("%q is not a host name", pos[0])}
	}
	d, err := e.p.catalog.RemoveDomain(ctx, host)
	if err != nil {
		return err
	}
	e.audit(ctx, "domain.remove", d.TenantID, host)
	e.printf("removed %s from tenant %s\n", d.Host, d.Slug)
	return nil
}

func cmdDomainList(ctx context.Context, e *cmdEnv, args []string) error {
	fs := e.flags()
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := e.parse(fs, args, 0); err != nil {
		return err
	}
	ds, err := e.p.catalog.Domains(ctx, "")
	if err != nil {
		return err
	}
	if *asJSON {
		if ds == nil {
			ds = []tenantdb.Domain{}
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(ds)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tTENANT\tSTATUS\tTOKEN")
	for _, d := range ds {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", d.Host, d.Slug, d.Status, d.Token)
	}
	return tw.Flush()
}

func cmdDomainVerify(ctx context.Context, e *cmdEnv, args []string) error {
	fs := e.flags()
	force := fs.Bool("force", false, "mark verified without checking DNS")
	pos, err := e.parse(fs, args, 1)
	if err != nil {
		return err
	}
	host, err := normalizeHost(pos[0])
	if err != nil {
		return &tenantdb.ValidationError{Field: "host", Message: fmt.Sprintf("%q is not a host name", pos[0])}
	}
	if !*force {
		return &usageError{"domain verify: DNS verification is not available yet; use --force to mark the domain verified"}
	}
	d, err := e.p.catalog.SetDomainStatus(ctx, host, tenantdb.DomainVerified)
	if err != nil {
		return err
	}
	e.audit(ctx, "domain.verify", d.TenantID, host+" (forced)")
	e.printf("%s is verified and routes to tenant %s\n", d.Host, d.Slug)
	return nil
}
