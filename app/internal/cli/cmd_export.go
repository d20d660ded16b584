package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
)

func cmdExport(ctx context.Context, e *cmdEnv, args []string) error {
	t, pos, err := e.parseTenant(e.flags(), args, 2)
	if err != nil {
		return err
	}
	dst := e.path(pos[1])
	info, err := e.p.Export(ctx, t, dst)
	if err != nil {
		return fmt.Errorf("export %s: %w", t.Slug, err)
	}
	e.audit(ctx, "tenant.export", t.ID, fmt.Sprintf("%s to %s (%d bytes, sha256 %s)", t.Slug, dst, info.Size, info.SHA256))
	e.printf("exported %s to %s\n", t.Slug, dst)
	e.printf("size:   %d bytes (%s)\n", info.Size, platform.HumanSize(info.Size))
	e.printf("sha256: %s\n", info.SHA256)
	e.printf("schema: version %d\n", info.Version)
	return nil
}

func cmdTenantFreeze(ctx context.Context, e *cmdEnv, args []string) error {
	t, _, err := e.parseTenant(e.flags(), args, 1)
	if err != nil {
		return err
	}
	if t.Status == catalog.StatusFrozen {
		e.printf("tenant %s is already frozen\n", t.Slug)
		return nil
	}
	if t, err = e.p.Freeze(ctx, t); err != nil {
		return err
	}
	e.audit(ctx, "tenant.freeze", t.ID, t.Slug)
	e.printf("tenant %s is frozen: its site is served read-only, changes get 503 until `%s tenant thaw %s`\n", t.Slug, e.progName(), t.Slug)
	return nil
}

func cmdTenantThaw(ctx context.Context, e *cmdEnv, args []string) error {
	t, _, err := e.parseTenant(e.flags(), args, 1)
	if err != nil {
		return err
	}
	if t, err = e.p.Thaw(ctx, t); err != nil {
		return err
	}
	e.audit(ctx, "tenant.thaw", t.ID, t.Slug)
	e.printf("tenant %s is thawed: changes are accepted again\n", t.Slug)
	return nil
}

func cmdTenantDigest(ctx context.Context, e *cmdEnv, args []string) error {
	t, _, err := e.parseTenant(e.flags(), args, 1)
	if err != nil {
		return err
	}
	d, err := e.p.Digest(ctx, t)
	if err != nil {
		return err
	}
	e.printf("%s  %s\n", d.Sum(), t.Slug)
	return nil
}

func cmdImport(ctx context.Context, e *cmdEnv, args []string) error {
	fs := e.flags()
	replace := fs.Bool("replace", false, "replace the content of the existing tenant SLUG")
	maxSize := fs.Int64("max-size", platform.DefaultMaxImport, "largest file to accept, in bytes")
	name := fs.String("name", "", "display name of a new tenant (default: the site's name in the file)")
	id := fs.String("id", "", "tenant id to keep, if free (used by move)")
	status := fs.String("status", "", "status of a new tenant: active, suspended or frozen (used by move)")
	domains := fs.String("domains", "", "JSON file of custom domains to give a new tenant (used by move)")
	digest := fs.String("expect-digest", "", "refuse the file unless its rows have this digest (used by move)")
	force := fs.Bool("force", false, "import a site bigger than the tenant's storage quota")
	pos, err := e.parse(fs, args, 2)
	if err != nil {
		return err
	}
	req := platform.ImportRequest{
		Slug: pos[0], Src: e.path(pos[1]), Replace: *replace, MaxSize: *maxSize,
		Name: *name, ID: *id, Status: *status, ExpectDigest: *digest, Force: *force,
	}
	if *replace && (*name != "" || *id != "" || *status != "" || *domains != "") {
		return &usageError{"import: --name, --id, --status and --domains are for a new tenant, not with --replace"}
	}
	if *domains != "" {
		b, err := os.ReadFile(e.path(*domains))
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &req.Domains); err != nil {
			return fmt.Errorf("--domains %s: %w", *domains, err)
		}
	}
	res, err := e.p.Import(ctx, req)
	if err != nil {
		return fmt.Errorf("import %s: %w", pos[0], err)
	}
	t, im := res.Tenant, res.From
	detail := fmt.Sprintf("%s from %s (sha256 %s, schema version %d, digest %s)", t.Slug, req.Src, im.SHA256, im.SourceVersion, im.Digest.Sum())
	if res.Trashed != "" {
		e.audit(ctx, "tenant.import.replace", t.ID, detail+"; old file in trash as "+res.Trashed)
		e.printf("replaced the content of tenant %s from %s\n", t.Slug, req.Src)
		e.printf("its previous file is kept in the trash as %s\n", res.Trashed)
	} else {
		e.audit(ctx, "tenant.import", t.ID, detail)
		e.printf("imported %s as tenant %s (id %s, %s)\n", req.Src, t.Slug, t.ID, t.Status)
	}
	if im.SourceVersion < tenantdb.LatestVersion() {
		e.printf("schema: migrated from version %d to %d\n", im.SourceVersion, tenantdb.LatestVersion())
	}
	e.printf("rows:   %s\n", rowSummary(im.Digest))
	e.printf("digest: %s\n", im.Digest.Sum())
	e.printf("site:   %s\n", e.p.SiteURL(t.Slug))
	return nil
}

// rowSummary lists the row counts of a digest: "3 events, 12 posts, ...".
func rowSummary(d tenantdb.Digest) string {
	names := make([]string, 0, len(d.Rows))
	for n := range d.Rows {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%d %s", d.Rows[n], n)
	}
	return strings.Join(parts, ", ")
}
