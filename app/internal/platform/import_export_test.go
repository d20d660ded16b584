package platform

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
	"github.com/chapterhouse/chapterhouse/tenantdb/pool"
)

// tenantWithPost creates tenant slug with one published post titled title.
func tenantWithPost(t *testing.T, p *Platform, slug, title string) catalog.Tenant {
	t.Helper()
	ctx := context.Background()
	tn, err := p.CreateTenant(ctx, slug, "Site "+slug)
	if err != nil {
		t.Fatal(err)
	}
	err = p.WithTenant(ctx, slug, func(_ catalog.Tenant, h *pool.Handle) error {
		now := time.Now().UTC()
		return h.SavePost(ctx, &tenantdb.Post{Title: title, Published: true, PublishedAt: &now})
	})
	if err != nil {
		t.Fatal(err)
	}
	return tn
}

// postTitles are the titles of tenant slug's posts as the platform serves them now.
func postTitles(t *testing.T, p *Platform, slug string) []string {
	t.Helper()
	var out []string
	err := p.WithTenant(context.Background(), slug, func(_ catalog.Tenant, h *pool.Handle) error {
		posts, _, err := h.Posts(context.Background(), tenantdb.PostQuery{})
		for _, po := range posts {
			out = append(out, po.Title)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// exportOf exports tenant tn to a new file and returns its path.
func exportOf(t *testing.T, p *Platform, tn catalog.Tenant) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), tn.Slug+".db")
	if _, err := p.Export(context.Background(), tn, dst); err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestImportCreatesTheTenantFromTheFile imports an export as a new tenant:
// it takes the site's name and the requested id when free, a new id when
// not, and its domains; a bad status refuses the import and adds nothing.
func TestImportCreatesTheTenantFromTheFile(t *testing.T) {
	ctx := context.Background()
	p := openTestPlatform(t, t.TempDir())
	src := tenantWithPost(t, p, "source", "Hello from source")
	file := exportOf(t, p, src)

	freeID := tenantdb.NewTenantID()
	res, err := p.Import(ctx, ImportRequest{Slug: "copy", Src: file, ID: freeID,
		Domains: []catalog.Domain{{Host: "copy.example.org", Status: catalog.DomainPending, Token: "tok"}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Tenant.ID != freeID || res.Tenant.Name != "Site source" || res.Tenant.Status != catalog.StatusActive || res.Trashed != "" {
		t.Errorf("imported tenant %+v (trashed %q), want id %s, the site's name, active, nothing trashed", res.Tenant, res.Trashed, freeID)
	}
	if got := postTitles(t, p, "copy"); len(got) != 1 || got[0] != "Hello from source" {
		t.Errorf("the copy serves %v", got)
	}
	if ds, err := p.Catalog.Domains(ctx, freeID); err != nil || len(ds) != 1 || ds[0].Host != "copy.example.org" {
		t.Errorf("the copy's domains: %v %v", ds, err)
	}
	// The id of a tenant that exists is not reused.
	res, err = p.Import(ctx, ImportRequest{Slug: "copy2", Src: file, ID: src.ID, Name: "Named Copy", Status: catalog.StatusSuspended})
	if err != nil {
		t.Fatal(err)
	}
	if res.Tenant.ID == src.ID || !tenantdb.ValidTenantID(res.Tenant.ID) || res.Tenant.Name != "Named Copy" || res.Tenant.Status != catalog.StatusSuspended {
		t.Errorf("imported with a taken id: %+v, want a new id, the name and status asked", res.Tenant)
	}
	// An id that is not one is replaced too.
	if res, err := p.Import(ctx, ImportRequest{Slug: "copy3", Src: file, ID: "../etc"}); err != nil || !tenantdb.ValidTenantID(res.Tenant.ID) {
		t.Errorf("imported with a bad id: %+v %v", res.Tenant, err)
	}
	before := tenantFiles(t, p)
	if _, err := p.Import(ctx, ImportRequest{Slug: "copy4", Src: file, Status: "deleted"}); err == nil || !strings.Contains(err.Error(), "not one of active") {
		t.Errorf("import with status deleted: %v, want a refusal naming the statuses", err)
	}
	if _, ok := p.Catalog.TenantBySlug("copy4"); ok || len(tenantFiles(t, p)) != len(before) {
		t.Errorf("a refused import left a tenant or a file")
	}
}

func tenantFiles(t *testing.T, p *Platform) []string {
	t.Helper()
	fs, err := filepath.Glob(filepath.Join(p.Dir, "tenants", "*.db"))
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

// TestImportRefusals checks each refusal of an import: the error says
// what was wrong, and the live tenants and their files are as they were.
func TestImportRefusals(t *testing.T) {
	ctx := context.Background()
	p := openTestPlatform(t, t.TempDir())
	live := tenantWithPost(t, p, "live", "Live post")
	file := exportOf(t, p, live)
	junk := filepath.Join(t.TempDir(), "junk.db")
	if err := os.WriteFile(junk, []byte("not a database at all"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		req  ImportRequest
		is   error
		says string
	}{
		{"bad slug", ImportRequest{Slug: "Bad Slug!", Src: file}, nil, "slug"},
		{"replace of a missing tenant", ImportRequest{Slug: "missing", Src: file, Replace: true}, tenantdb.ErrNotFound, "without --replace"},
		{"an existing slug without replace", ImportRequest{Slug: "live", Src: file}, tenantdb.ErrConflict, "use --replace"},
		{"over the size cap", ImportRequest{Slug: "big", Src: file, MaxSize: 1024}, nil, ""},
		{"a digest that differs", ImportRequest{Slug: "live", Src: file, Replace: true, ExpectDigest: strings.Repeat("0", 64)}, tenantdb.ErrRejected, "digest"},
		{"not a database", ImportRequest{Slug: "junk", Src: junk}, nil, ""},
		{"no such file", ImportRequest{Slug: "none", Src: filepath.Join(t.TempDir(), "none.db")}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := tenantFiles(t, p)
			_, err := p.Import(ctx, tc.req)
			if err == nil {
				t.Fatalf("import succeeded")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v, want %v", err, tc.is)
			}
			if !strings.Contains(err.Error(), tc.says) {
				t.Errorf("error %q does not say %q", err, tc.says)
			}
			if got := postTitles(t, p, "live"); len(got) != 1 || got[0] != "Live post" {
				t.Errorf("the live tenant now serves %v", got)
			}
			if len(tenantFiles(t, p)) != len(files) {
				t.Errorf("tenant files %d, were %d", len(tenantFiles(t, p)), len(files))
			}
			if tr, _ := p.Catalog.Trash(ctx); len(tr) != 0 {
				t.Errorf("a refused import put %v in the trash", tr)
			}
			left, _ := os.ReadDir(filepath.Join(p.Dir, "tmp"))
			if len(left) != 0 {
				t.Errorf("a refused import left %d work files in DATA/tmp", len(left))
			}
		})
	}
}

// TestImportReplaceKeepsTheOldFileInTheTrash replaces a tenant's content:
// the new content serves at once under the same id, the old file is in
// the trash with its catalog entry (and restores from there), and the
// digest asked for is checked.
func TestImportReplaceKeepsTheOldFileInTheTrash(t *testing.T) {
	ctx := context.Background()
	p := openTestPlatform(t, t.TempDir())
	live := tenantWithPost(t, p, "live", "Old post")
	other := tenantWithPost(t, p, "other", "New post")
	file := exportOf(t, p, other)
	d, err := p.Digest(ctx, other)
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Import(ctx, ImportRequest{Slug: "live", Src: file, Replace: true, ExpectDigest: d.Sum()})
	if err != nil {
		t.Fatal(err)
	}
	if res.Tenant.ID != live.ID || res.Trashed == "" {
		t.Errorf("replace: tenant %s, trashed %q; want the same id and a trash file", res.Tenant.ID, res.Trashed)
	}
	if got := postTitles(t, p, "live"); len(got) != 1 || got[0] != "New post" {
		t.Errorf("after the replace live serves %v", got)
	}
	tr, err := p.Catalog.Trash(ctx)
	if err != nil || len(tr) != 1 || tr[0].File != res.Trashed || tr[0].TenantID != live.ID || tr[0].Slug != "live" {
		t.Fatalf("trash %+v %v, want the replaced file", tr, err)
	}
	// The old content comes back from the trash under another slug.
	if _, err := p.RestoreTrash(ctx, tr[0], "restored"); err != nil {
		t.Fatalf("restoring the replaced file from the trash: %v", err)
	}
	if got := postTitles(t, p, "restored"); len(got) != 1 || got[0] != "Old post" {
		t.Errorf("the replaced file restored from the trash serves %v", got)
	}
}

// TestExportRefusesAnExistingFile checks that an export never overwrites:
// the file at its destination is kept, and no work file stays beside it.
func TestExportRefusesAnExistingFile(t *testing.T) {
	p := openTestPlatform(t, t.TempDir())
	tn := tenantWithPost(t, p, "live", "Post")
	dst := filepath.Join(t.TempDir(), "x.db")
	if err := os.WriteFile(dst, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Export(context.Background(), tn, dst); err == nil {
		t.Fatalf("export over an existing file succeeded")
	}
	if b, _ := os.ReadFile(dst); string(b) != "keep me" {
		t.Errorf("the existing file was changed")
	}
	if left, _ := filepath.Glob(workPattern(dst)); len(left) != 0 {
		t.Errorf("work files left: %v", left)
	}
	if recs, _ := os.ReadDir(filepath.Join(p.Dir, "work")); len(recs) != 0 {
		t.Errorf("the export's work record stayed: %d", len(recs))
	}
}

// TestHumanSize checks the sizes printed for people at each unit's edge.
func TestHumanSize(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{
		{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {1536, "1.5 KiB"},
		{1<<20 - 1, "1024.0 KiB"}, {1 << 20, "1.0 MiB"}, {3 << 30, "3.0 GiB"}, {1 << 40, "1.0 TiB"},
	} {
		if got := HumanSize(tc.n); got != tc.want {
			t.Errorf("HumanSize(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}
