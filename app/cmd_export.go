package main

import (
	"context"
	"fmt"

	"github.com/chapterhouse/chapterhouse/tenantdb"
)

func cmdExport(ctx context.Context, e *cmdEnv, args []string) error {
	pos, err := e.parse(e.flags(), args, 2)
	if err != nil {
		return err
	}
	t, err := e.p.catalog.Tenant(pos[0])
	if err != nil {
		return err
	}
	dst := e.path(pos[1])
	info, err := e.p.exportTenant(ctx, t, dst)
	if err != nil {
		return fmt.Errorf("export %s: %w", t.Slug, err)
	}
	e.audit(ctx, "tenant.export", t.ID, fmt.Sprintf("%s to %s (%d bytes, sha256 %s)", t.Slug, dst, info.Size, info.SHA256))
	e.printf("exported %s to %s\n", t.Slug, dst)
	e.printf("size:   %d bytes (%s)\n", info.Size, humanSize(info.Size))
	e.printf("sha256: %s\n", info.SHA256)
	e.printf("schema: version %d\n", info.Version)
	return nil
}

func cmdTenantFreeze(ctx context.Context, e *cmdEnv, args []string) error {
	pos, err := e.parse(e.flags(), args, 1)
	if err != nil {
		return err
	}
	t, err := e.p.catalog.Tenant(pos[0])
	if err != nil {
		return err
	}
	switch t.Status {
	case tenantdb.StatusFrozen:
		e.printf("tenant %s is already frozen\n", t.Slug)
		return nil
	case tenantdb.StatusSuspended:
		return fmt.Errorf("tenant %s is suspended (its site is offline); resume it before freezing it", t.Slug)
	}
	if t, err = e.p.catalog.SetStatus(ctx, t.Slug, tenantdb.StatusFrozen); err != nil {
		return err
	}
	e.audit(ctx, "tenant.freeze", t.ID, t.Slug)
	e.printf("tenant %s is frozen: its site is served read-only, changes get 503 until `chapterhouse tenant thaw %s`\n", t.Slug, t.Slug)
	return nil
}

func cmdTenantThaw(ctx context.Context, e *cmdEnv, args []string) error {
	pos, err := e.parse(e.flags(), args, 1)
	if err != nil {
		return err
	}
	t, err := e.p.catalog.Tenant(pos[0])
	if err != nil {
		return err
	}
	if t.Status != tenantdb.StatusFrozen {
		return fmt.Errorf("tenant %s is %s, not frozen", t.Slug, t.Status)
	}
	if t, err = e.p.catalog.SetStatus(ctx, t.Slug, tenantdb.StatusActive); err != nil {
		return err
	}
	e.audit(ctx, "tenant.thaw", t.ID, t.Slug)
	e.printf("tenant %s is thawed: changes are accepted again\n", t.Slug)
	return nil
}

func cmdTenantDigest(ctx context.Context, e *cmdEnv, args []string) error {
	pos, err := e.parse(e.flags(), args, 1)
	if err != nil {
		return err
	}
	t, err := e.p.catalog.Tenant(pos[0])
	if err != nil {
		return err
	}
	d, err := e.p.tenantDigest(ctx, t)
	if err != nil {
		return err
	}
	e.printf("%s  %s\n", d.Sum(), t.Slug)
	return nil
}
