package platform

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
)

// platformRemote is a destination data dir opened as a real Platform in
// this process: each command a move runs there is carried out by that
// platform's own operations on its own files, as the CLI's would be. It
// records the commands.
type platformRemote struct {
	p    *Platform
	runs []string
}

func (r *platformRemote) Dir() string  { return r.p.Dir }
func (r *platformRemote) Served() bool { return false }

func (r *platformRemote) Run(ctx context.Context, args ...string) (string, error) {
	r.runs = append(r.runs, strings.Join(args, " "))
	flag := func(name string) string {
		for i, a := range args {
			if a == name && i+1 < len(args) {
				return args[i+1]
			}
		}
		return ""
	}
	tenant := func(slug string) (catalog.Tenant, error) { return r.p.Catalog.Tenant(slug) }
	switch strings.Join(args[:2], " ") {
	case "tenant list":
		ts, err := r.p.Catalog.Tenants(ctx)
		b, _ := json.Marshal(ts)
		return string(b), err
	case "domain list":
		ds, err := r.p.Catalog.Domains(ctx, "")
		b, _ := json.Marshal(ds)
		return string(b), err
	case "tenant digest":
		t, err := tenant(args[2])
		if err != nil {
			return "", err
		}
		d, err := r.p.Digest(ctx, t)
		return d.Sum() + "  " + t.Slug + "\n", err
	case "tenant thaw":
		t, err := tenant(args[2])
		if err == nil {
			_, err = r.p.Thaw(ctx, t)
		}
		return "", err
	case "tenant delete":
		_, err := r.p.DeleteTenant(ctx, args[2])
		return "", err
	}
	if args[0] == "import" {
		var ds []catalog.Domain
		if b, err := os.ReadFile(flag("--domains")); err != nil || json.Unmarshal(b, &ds) != nil {
			return "", fmt.Errorf("reading --domains: %v", err)
		}
		_, err := r.p.Import(ctx, ImportRequest{Slug: args[1], Src: args[2], ID: flag("--id"), Name: flag("--name"),
			Status: flag("--status"), ExpectDigest: flag("--expect-digest"), Domains: ds, Force: true})
		return "", err
	}
	return "", fmt.Errorf("unknown command %v", args)
}

// TestMoveCarriesTheTenantAndItsDomains moves an active tenant with a
// verified custom domain to another data dir: it arrives there with its
// id, name, rows and domain, active; here it is gone (its file in the
// trash, its domain no longer routed, no move record left); the output
// and the audit log say what happened.
func TestMoveCarriesTheTenantAndItsDomains(t *testing.T) {
	ctx := context.Background()
	src := openTestPlatform(t, t.TempDir())
	dest := &platformRemote{p: openTestPlatform(t, t.TempDir())}
	tn := tenantWithPost(t, src, "alpha", "Moved post")
	if _, err := src.Catalog.AddDomain(ctx, tn, "www.alpha.example", time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Catalog.SetDomainStatus(ctx, tn.ID, "www.alpha.example", catalog.DomainVerified); err != nil {
		t.Fatal(err)
	}
	before, err := src.Digest(ctx, tn)
	if err != nil {
		t.Fatal(err)
	}
	var out, warn bytes.Buffer
	if err := src.Move(ctx, tn, dest, &out, &warn, "test"); err != nil {
		t.Fatalf("move: %v\n%s%s", err, out.String(), warn.String())
	}
	there, ok := dest.p.Catalog.TenantBySlug("alpha")
	if !ok || there.ID != tn.ID || there.Name != tn.Name || there.Status != catalog.StatusActive {
		t.Fatalf("at the destination: %+v, want id %s, its name, active", there, tn.ID)
	}
	if d, err := dest.p.Digest(ctx, there); err != nil || d.Sum() != before.Sum() {
		t.Errorf("digest at the destination %v (%v), want the source's", d.Sum(), err)
	}
	if got := postTitles(t, dest.p, "alpha"); len(got) != 1 || got[0] != "Moved post" {
		t.Errorf("the destination serves %v", got)
	}
	if routed, ok := dest.p.Catalog.TenantByHost("www.alpha.example"); !ok || routed.ID != tn.ID {
		t.Errorf("the custom domain does not route to the tenant at the destination")
	}
	if _, ok := src.Catalog.TenantBySlug("alpha"); ok {
		t.Errorf("the tenant is still here")
	}
	if _, ok := src.Catalog.TenantByHost("www.alpha.example"); ok {
		t.Errorf("the custom domain still routes here")
	}
	if trashed, _ := filepath.Glob(filepath.Join(src.Dir, "trash", tn.ID+"-*-moved.db")); len(trashed) != 1 {
		t.Errorf("trash holds %v, want the moved file", trashed)
	}
	if recs, _ := os.ReadDir(filepath.Join(src.Dir, "moves")); len(recs) != 0 {
		t.Errorf("a move record stayed")
	}
	if left, _ := os.ReadDir(filepath.Join(src.Dir, "tmp")); len(left) != 0 {
		t.Errorf("the move left %d work files in DATA/tmp", len(left))
	}
	for _, want := range []string{"through this process (no server runs there)", "digest " + before.Sum(),
		"verified: the destination's digest equals the source's", "moved alpha to " + dest.p.Dir,
		"custom domains now routed there: www.alpha.example", "freeze window (writes refused): "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the output lacks %q:\n%s", want, out.String())
		}
	}
	if warn.Len() != 0 {
		t.Errorf("warnings: %s", warn.String())
	}
	log, err := src.Catalog.AuditLog(ctx, 10)
	if err != nil || len(log) == 0 || log[0].Action != "tenant.move" || !strings.Contains(log[0].Detail, "1 domains") {
		t.Errorf("audit log %+v %v, want the move first", log, err)
	}
}

// TestMoveKeepsASuspendedTenantSuspended: a suspended tenant arrives
// suspended (it is not thawed there) and no freeze window is reported, as
// it took no writes.
func TestMoveKeepsASuspendedTenantSuspended(t *testing.T) {
	ctx := context.Background()
	src := openTestPlatform(t, t.TempDir())
	dest := &platformRemote{p: openTestPlatform(t, t.TempDir())}
	tenantWithPost(t, src, "alpha", "Post")
	tn, err := src.Catalog.SetStatus(ctx, "alpha", catalog.StatusSuspended)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := src.Move(ctx, tn, dest, &out, &out, "test"); err != nil {
		t.Fatalf("move: %v\n%s", err, out.String())
	}
	if there, ok := dest.p.Catalog.TenantBySlug("alpha"); !ok || there.Status != catalog.StatusSuspended {
		t.Errorf("at the destination: %+v, want suspended", there)
	}
	if strings.Contains(out.String(), "freeze window") || strings.Contains(strings.Join(dest.runs, "\n"), "tenant thaw") {
		t.Errorf("a suspended tenant was thawed or reported a freeze window:\n%s\n%v", out.String(), dest.runs)
	}
}

// TestMoveRefusedBeforeAnythingChanges: a destination that has the slug,
// or one of the tenant's custom domains, refuses the move before the
// source is frozen: the source stays active with its domain, the
// destination gains nothing, and the error says which.
func TestMoveRefusedBeforeAnythingChanges(t *testing.T) {
	ctx := context.Background()
	src := openTestPlatform(t, t.TempDir())
	dest := &platformRemote{p: openTestPlatform(t, t.TempDir())}
	tn := tenantWithPost(t, src, "alpha", "Post")
	beta := tenantWithPost(t, src, "beta", "Post")
	if _, err := src.Catalog.AddDomain(ctx, beta, "www.beta.example", time.Hour); err != nil {
		t.Fatal(err)
	}
	tenantWithPost(t, dest.p, "alpha", "Theirs")
	other := tenantWithPost(t, dest.p, "other", "Theirs")
	if _, err := dest.p.Catalog.AddDomain(ctx, other, "www.beta.example", time.Hour); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		t    catalog.Tenant
		want string
	}{
		{tn, `the destination has a tenant "alpha" already`},
		{beta, "domain www.beta.example belongs to tenant other at the destination"},
	} {
		var out bytes.Buffer
		err := src.Move(ctx, tc.t, dest, &out, &out, "test")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("move %s: %v, want %q", tc.t.Slug, err, tc.want)
		}
		if now, _ := src.Catalog.TenantBySlug(tc.t.Slug); now.Status != catalog.StatusActive {
			t.Errorf("after the refused move %s is %s here, want active", tc.t.Slug, now.Status)
		}
	}
	if ts, _ := dest.p.Catalog.Tenants(ctx); len(ts) != 2 {
		t.Errorf("the destination holds %d tenants, want its 2", len(ts))
	}
	for _, run := range dest.runs {
		if !strings.HasSuffix(run, "list --json") {
			t.Errorf("a refused move ran %q at the destination", run)
		}
	}
	if ds, _ := src.Catalog.Domains(ctx, beta.ID); len(ds) != 1 {
		t.Errorf("beta's domain here: %v", ds)
	}
}
