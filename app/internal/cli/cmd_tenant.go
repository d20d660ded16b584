package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/password"
	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
)

func cmdTenantCreate(ctx context.Context, e *cmdEnv, args []string) error {
	fs := e.flags()
	name := fs.String("name", "", "the chapter's display name")
	adminEmail := fs.String("admin-email", "", "email of the site's first owner; a password is generated and printed once")
	pos, err := e.parse(fs, args, 1)
	if err != nil {
		return err
	}
	if *name == "" {
		return &usageError{"tenant create: --name is required, e.g. --name \"Riverside Post 42\""}
	}
	var owners []tenantdb.Admin
	pw := ""
	if *adminEmail != "" {
		owner := tenantdb.Admin{Email: strings.TrimSpace(*adminEmail), Role: tenantdb.RoleOwner}
		if err := tenantdb.ValidateEmail("admin-email", owner.Email); err != nil {
			return err
		}
		if err := tenantdb.ValidateSlug(pos[0]); err != nil {
			return err
		}
		pw = password.Generate()
		if owner.PasswordHash, err = e.p.Passwords.Hash(ctx, pw); err != nil {
			return err
		}
		owners = append(owners, owner)
	}
	t, err := e.p.CreateTenant(ctx, pos[0], *name, owners...)
	if err != nil {
		return err
	}
	e.audit(ctx, "tenant.create", t.ID, t.Slug)
	e.printf("created tenant %s (id %s)\n", t.Slug, t.ID)
	if c := e.p.Cluster; c != nil {
		node, err := c.Place(ctx, t)
		if err != nil {
			return fmt.Errorf("tenant %s is created and served by node %s, but placing it on the least loaded node failed: %w", t.Slug, c.Node.ID(), err)
		}
		e.printf("node: %s\n", node)
	}
	e.printf("site: %s\n", e.p.SiteURL(t.Slug))
	if len(owners) > 0 {
		e.printf("admin: %s/admin (owner %s)\n", e.p.SiteURL(t.Slug), owners[0].Email)
		e.printf("password: %s\n", pw)
		e.printf("The password is shown only once; `%s admin reset-password %s %s` makes a new one.\n", e.progName(), t.Slug, owners[0].Email)
	} else {
		e.printf("no admin yet: add one with `%s admin add %s EMAIL --role owner`\n", e.progName(), t.Slug)
	}
	return nil
}

// tenantListed is a tenant as `tenant list` shows it: its catalog entry
// with its storage quota in force and its size on disk (database and WAL,
// read without opening it; `tenant stats` tells what its rows use).
type tenantListed struct {
	catalog.Tenant
	QuotaInForce int64 `json:"quota_in_force_bytes"` // its own or the default; 0: unlimited
	SizeBytes    int64 `json:"size_bytes"`
}

func cmdTenantList(ctx context.Context, e *cmdEnv, args []string) error {
	fs := e.flags()
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := e.parse(fs, args, 0); err != nil {
		return err
	}
	ts, err := e.p.Catalog.Tenants(ctx)
	if err != nil {
		return err
	}
	list := make([]tenantListed, len(ts))
	for i, t := range ts {
		list[i] = tenantListed{Tenant: t, QuotaInForce: e.p.QuotaOf(t), SizeBytes: e.p.SizeOnDisk(t)}
	}
	if *asJSON {
		return printJSON(e.stdout, list)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SLUG\tNAME\tSTATUS\tID\tCREATED\tSIZE\tQUOTA")
	for _, t := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.Slug, t.Name, t.Status, t.ID, t.CreatedAt.Format(time.DateOnly),
			platform.FormatSize(t.SizeBytes), quotaText(t.QuotaInForce, t.Quota == nil))
	}
	return tw.Flush()
}

// quotaText is a quota for people: "200 MB", "unlimited", "(default)" after.
func quotaText(q int64, isDefault bool) string {
	s := "unlimited"
	if q > 0 {
		s = platform.FormatSize(q)
	}
	if isDefault {
		s += " (default)"
	}
	return s
}

// cmdTenantSet changes a tenant's settings kept in the catalog: its
// storage quota. A running server checks the next write against it.
func cmdTenantSet(ctx context.Context, e *cmdEnv, args []string) error {
	fs := e.flags()
	quota := fs.String("quota", "", "storage quota: 500MB, 2GB, bytes; 0: unlimited; default: the server's --quota")
	t, _, err := e.parseTenant(fs, args, 1)
	if err != nil {
		return err
	}
	if *quota == "" {
		return &usageError{"tenant set: nothing to set; give --quota SIZE (500MB, 2GB, bytes; 0: unlimited) or --quota default\nusage: chapterhouse tenant set " + e.cmd.args}
	}
	var q *int64
	if *quota != "default" {
		n, err := platform.ParseSize(*quota)
		if err != nil {
			return &usageError{"tenant set: --quota: " + err.Error()}
		}
		q = &n
	}
	if t, err = e.p.Catalog.SetQuota(ctx, t.Slug, q); err != nil {
		return err
	}
	text := quotaText(e.p.QuotaOf(t), t.Quota == nil)
	e.audit(ctx, "tenant.quota", t.ID, t.Slug+": "+text)
	e.printf("tenant %s: storage quota %s\n", t.Slug, text)
	if u, err := e.p.TenantUsage(ctx, t); err == nil {
		e.printf("it uses %s\n", u)
	}
	return nil
}

func cmdTenantStatus(status string) func(context.Context, *cmdEnv, []string) error {
	return func(ctx context.Context, e *cmdEnv, args []string) error {
		pos, err := e.parse(e.flags(), args, 1)
		if err != nil {
			return err
		}
		t, err := e.p.Catalog.SetStatus(ctx, pos[0], status)
		if err != nil {
			return err
		}
		e.audit(ctx, "tenant."+status, t.ID, t.Slug)
		e.printf("tenant %s is %s\n", t.Slug, t.Status)
		return nil
	}
}

func cmdTenantDelete(ctx context.Context, e *cmdEnv, args []string) error {
	t, _, err := e.parseTenant(e.flags(), args, 1)
	if err != nil {
		return err
	}
	trashed, err := e.p.DeleteTenant(ctx, t.Slug)
	if err != nil {
		return err
	}
	e.audit(ctx, "tenant.delete", t.ID, t.Slug)
	e.printf("deleted tenant %s; its file is kept at %s\n", t.Slug, trashed)
	return nil
}
