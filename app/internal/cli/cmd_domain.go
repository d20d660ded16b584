package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/hostname"
	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
)

func cmdDomainAdd(ctx context.Context, e *cmdEnv, args []string) error {
	t, pos, err := e.parseTenant(e.flags(), args, 2)
	if err != nil {
		return err
	}
	d, err := e.p.AddDomain(ctx, t, pos[1])
	if err != nil {
		return err
	}
	e.audit(ctx, "domain.add", t.ID, d.Host)
	e.printf("added %s to tenant %s (pending verification)\n", d.Host, t.Slug)
	e.printf("create these DNS records, then run: chapterhouse domain verify %s\n", d.Host)
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	for _, r := range e.p.DomainRecords(d) {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t# %s\n", r.Name, r.Type, r.Value, r.Note)
	}
	return tw.Flush()
}

func cmdDomainRemove(ctx context.Context, e *cmdEnv, args []string) error {
	pos, err := e.parse(e.flags(), args, 1)
	if err != nil {
		return err
	}
	host, err := hostname.Normalize(pos[0])
	if err != nil {
		return &tenantdb.ValidationError{Field: "host", Message: fmt.Sprintf("%q is not a host name", pos[0])}
	}
	ds, err := e.p.Catalog.RemoveDomain(ctx, host)
	if err != nil {
		return err
	}
	for _, d := range ds {
		e.audit(ctx, "domain.remove", d.TenantID, host)
		e.printf("removed %s from tenant %s\n", d.Host, d.Slug)
	}
	return nil
}

func cmdDomainList(ctx context.Context, e *cmdEnv, args []string) error {
	fs := e.flags()
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := e.parse(fs, args, 0); err != nil {
		return err
	}
	ds, err := e.p.Catalog.Domains(ctx, "")
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, nonNil(ds))
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
	resolverAddr := fs.String("dns-resolver", "", "check through this DNS resolver (IP[:port]) instead of the server's")
	slug := fs.String("slug", "", "the tenant whose claim to verify, when several tenants claim the host")
	pos, err := e.parse(fs, args, 1)
	if err != nil {
		return err
	}
	host, err := hostname.Normalize(pos[0])
	if err != nil {
		return &tenantdb.ValidationError{Field: "host", Message: fmt.Sprintf("%q is not a host name", pos[0])}
	}
	claims, err := e.p.Catalog.Claims(ctx, host)
	if err != nil {
		return err
	}
	if *slug != "" {
		claims = slices.DeleteFunc(claims, func(d catalog.Domain) bool { return d.Slug != *slug })
	}
	if len(claims) == 0 {
		what := host
		if *slug != "" {
			what += " of tenant " + *slug
		}
		return fmt.Errorf("domain %s: %w", what, tenantdb.ErrNotFound)
	}
	if *force {
		if len(claims) > 1 {
			var slugs []string
			for _, d := range claims {
				slugs = append(slugs, d.Slug)
			}
			return &usageError{fmt.Sprintf("domain verify: %s is claimed by several tenants (%s); say which with --slug", host, strings.Join(slugs, ", "))}
		}
		d, err := e.p.Catalog.SetDomainStatus(ctx, claims[0].TenantID, host, catalog.DomainVerified)
		if err != nil {
			return err
		}
		e.audit(ctx, "domain.verify", d.TenantID, host+" (forced)")
		e.printf("%s is verified and routes to tenant %s\n", d.Host, d.Slug)
		return nil
	}
	var r *net.Resolver
	if *resolverAddr != "" {
		if r, err = platform.NewResolver(*resolverAddr); err != nil {
			return &usageError{"domain verify: " + err.Error()}
		}
	}
	// Each claim is checked against its own token: the first whose token
	// is in DNS wins the host (and the others' claims go).
	var problems []string
	for _, before := range claims {
		res, err := e.p.CheckDomain(ctx, r, before)
		if errors.Is(err, tenantdb.ErrNotFound) {
			continue // removed by a claim verified just before
		}
		if err != nil {
			return err
		}
		d := res.Domain
		if d.Status != before.Status || d.Verified != before.Verified {
			e.audit(ctx, "domain.check", d.TenantID, fmt.Sprintf("%s: %s -> %s", host, before.Status, d.Status))
		}
		if res.Passed {
			e.printf("%s is verified and routes to tenant %s\n", d.Host, d.Slug)
			return nil
		}
		routes := "it does not route"
		if d.Verified {
			routes = fmt.Sprintf("it still routes until %s", d.MisconfiguredSince.Add(e.p.DomainGrace).UTC().Format(time.RFC3339))
		}
		problems = append(problems, fmt.Sprintf("%s is not verified for tenant %s (%s, %s): %s", d.Host, d.Slug, d.Status, routes, res.Problem))
	}
	return errors.New(strings.Join(problems, "; "))
}
