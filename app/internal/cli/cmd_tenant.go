package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/password"
	"github.com/chapterhouse/chapterhouse/tenantdb"
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
	if *asJSON {
		return printJSON(e.stdout, nonNil(ts))
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SLUG\tNAME\tSTATUS\tID\tCREATED")
	for _, t := range ts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.Slug, t.Name, t.Status, t.ID, t.CreatedAt.Format(time.DateOnly))
	}
	return tw.Flush()
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
