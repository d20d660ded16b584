package platform

import (
	"context"
	"encoding/json"
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

type steps struct{ notes []string }

func (s *steps) Step(note string) { s.notes = append(s.notes, note) }

// backupOf backs p up into a new dir and returns it with its manifest.
func backupOf(t *testing.T, p *Platform) (string, Manifest) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "backup")
	var bar steps
	m, failed, err := p.Backup(context.Background(), dir, 2, func(label string, total int) Progress { return &bar })
	if err != nil || len(failed) != 0 {
		t.Fatalf("backup: %v (failed %v)", err, failed)
	}
	if len(bar.notes) != len(m.Tenants) {
		t.Errorf("backup reported %d steps for %d tenants", len(bar.notes), len(m.Tenants))
	}
	return dir, m
}

// TestBackupHoldsEveryTenantAndVerifies backs up three tenants: the
// manifest lists each (sorted by slug) with its id, name and status; every
// file verifies against it; and the dir holds nothing else but the
// manifest, the catalog and the tenants' files, with no work dir beside it.
func TestBackupHoldsEveryTenantAndVerifies(t *testing.T) {
	ctx := context.Background()
	p := openTestPlatform(t, t.TempDir())
	for _, slug := range []string{"charlie", "alpha", "bravo"} {
		tenantWithPost(t, p, slug, "Post of "+slug)
	}
	if _, err := p.Catalog.SetStatus(ctx, "bravo", catalog.StatusSuspended); err != nil {
		t.Fatal(err)
	}
	dir, m := backupOf(t, p)
	if m.Format != 1 || m.Source != p.Dir || m.Catalog.File != "catalog.db" || len(m.Tenants) != 3 {
		t.Fatalf("manifest %+v", m)
	}
	for i, want := range []string{"alpha", "bravo", "charlie"} {
		e := m.Tenants[i]
		tn, _ := p.Catalog.TenantBySlug(want)
		if e.Slug != want || e.ID != tn.ID || e.Name != "Site "+want || e.Status != tn.Status || e.File != filepath.Join("tenants", tn.ID+".db") {
			t.Errorf("manifest entry %d: %+v, want %s", i, e, want)
		}
		if err := VerifyBackupFile(ctx, dir, e.BackupFile, false); err != nil {
			t.Errorf("%s does not verify: %v", want, err)
		}
	}
	if err := VerifyBackupFile(ctx, dir, m.Catalog, true); err != nil {
		t.Errorf("the catalog does not verify: %v", err)
	}
	read, err := ReadManifest(dir)
	if err != nil || len(read.Tenants) != 3 || read.Tenants[2].SHA256 != m.Tenants[2].SHA256 {
		t.Errorf("ReadManifest: %+v %v", read, err)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(dir), ".backup.*.tmp")); len(left) != 0 {
		t.Errorf("work dirs left beside the backup: %v", left)
	}
	if recs, _ := os.ReadDir(filepath.Join(p.Dir, "work")); len(recs) != 0 {
		t.Errorf("the backup's work record stayed")
	}
	// A file of the backup changed after the fact does not verify.
	e := m.Tenants[0]
	if err := os.WriteFile(filepath.Join(dir, e.File), []byte("changed"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := VerifyBackupFile(ctx, dir, e.BackupFile, false); err == nil || !strings.Contains(err.Error(), "size") {
		t.Errorf("a changed file verifies: %v", err)
	}
	e.Size = int64(len("changed"))
	if err := VerifyBackupFile(ctx, dir, e.BackupFile, false); err == nil || !strings.Contains(err.Error(), "sha256") {
		t.Errorf("a changed file of the same size verifies: %v", err)
	}
}

// TestBackupRefusesAUsedDir: a backup never mixes with other files.
func TestBackupRefusesAUsedDir(t *testing.T) {
	p := openTestPlatform(t, t.TempDir())
	tenantWithPost(t, p, "alpha", "Post")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "other"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := p.Backup(context.Background(), dir, 1, func(string, int) Progress { return &steps{} })
	// Refused up front, by its own words (not by the rename at the end,
	// which also fails on a used dir, after building the whole backup).
	if err == nil || !strings.Contains(err.Error(), "is not empty; back up into a new directory") {
		t.Fatalf("backup into a used dir: %v", err)
	}
	if es, _ := os.ReadDir(dir); len(es) != 1 {
		t.Errorf("the used dir now holds %d entries", len(es))
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(dir), "."+filepath.Base(dir)+".*.tmp")); len(left) != 0 {
		t.Errorf("a refused backup began a work dir: %v", left)
	}
	// An empty dir that exists is fine.
	empty := t.TempDir()
	if _, _, err := p.Backup(context.Background(), empty, 1, func(string, int) Progress { return &steps{} }); err != nil {
		t.Errorf("backup into an empty dir: %v", err)
	}
}

// TestBackupRefusesAFileInTheWay: a backup's destination that is a file
// is refused and the file kept; the rename at the end must never get to
// remove it.
func TestBackupRefusesAFileInTheWay(t *testing.T) {
	p := openTestPlatform(t, t.TempDir())
	tenantWithPost(t, p, "alpha", "Post")
	dst := filepath.Join(t.TempDir(), "backup")
	if err := os.WriteFile(dst, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := p.Backup(context.Background(), dst, 1, func(string, int) Progress { return &steps{} })
	if err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("backup onto a file: %v", err)
	}
	if b, err := os.ReadFile(dst); err != nil || string(b) != "keep me" {
		t.Errorf("the file in the way is now %q (%v)", b, err)
	}
	if es, _ := os.ReadDir(filepath.Dir(dst)); len(es) != 1 {
		t.Errorf("the destination's dir now holds %d entries", len(es))
	}
}

// TestFailedBackupLeavesNothing: a backup that fails midway (here its
// context ends before the catalog's snapshot) removes the work dir it was
// building beside the destination and its record in DATA/work/, and
// makes no destination.
func TestFailedBackupLeavesNothing(t *testing.T) {
	p := openTestPlatform(t, t.TempDir())
	tenantWithPost(t, p, "alpha", "Post")
	parent := t.TempDir()
	dst := filepath.Join(parent, "backup")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := p.Backup(ctx, dst, 1, func(string, int) Progress { return &steps{} })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("backup with its context ended: %v", err)
	}
	if es, _ := os.ReadDir(parent); len(es) != 0 {
		t.Errorf("a failed backup left %v beside its destination", es)
	}
	if recs, _ := os.ReadDir(filepath.Join(p.Dir, "work")); len(recs) != 0 {
		t.Errorf("a failed backup left its work record")
	}
}

// TestReadManifestRefusesWhatIsNotABackup checks the manifest's checks: a
// dir without one, an unknown format, and file names outside the backup.
func TestReadManifestRefusesWhatIsNotABackup(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadManifest(dir); err == nil || !strings.Contains(err.Error(), "no manifest.json") {
		t.Errorf("no manifest: %v", err)
	}
	for _, tc := range []struct {
		name string
		m    Manifest
		says string
	}{
		{"format 2", Manifest{Format: 2, Catalog: BackupFile{File: "catalog.db"}}, "format 2"},
		{"catalog outside", Manifest{Format: 1, Catalog: BackupFile{File: "../catalog.db"}}, "not inside"},
		{"no catalog", Manifest{Format: 1}, "not inside"},
		{"tenant outside", Manifest{Format: 1, Catalog: BackupFile{File: "catalog.db"},
			Tenants: []BackupEntry{{Slug: "a", BackupFile: BackupFile{File: "/etc/passwd"}}}}, "not inside"},
	} {
		if err := WriteFileAtomic(filepath.Join(dir, ManifestFile), tc.m); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadManifest(dir); err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: %v, want an error saying %q", tc.name, err, tc.says)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, ManifestFile), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadManifest(dir); err == nil {
		t.Errorf("a manifest that is not JSON was read")
	}
}

// TestRestoreBringsBackTheBackupsContent restores an existing tenant (its
// content as backed up, the current file in the trash, its login sessions
// ended) and a deleted one (back with its id, name, its status unfrozen
// and the custom domains no other tenant took since).
func TestRestoreBringsBackTheBackupsContent(t *testing.T) {
	ctx := context.Background()
	p := openTestPlatform(t, t.TempDir())
	live := tenantWithPost(t, p, "live", "Backed up")
	gone := tenantWithPost(t, p, "gone", "Gone post")
	if _, err := p.Catalog.SetStatus(ctx, "gone", catalog.StatusFrozen); err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"kept.example.org", "taken.example.org"} {
		if _, err := p.Catalog.AddDomain(ctx, gone, host, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	const sessionID = "a-session-of-the-backup-time"
	err := p.WithTenant(ctx, "live", func(_ catalog.Tenant, h *pool.Handle) error {
		a := tenantdb.Admin{Email: "ed@example.org", Role: tenantdb.RoleOwner, PasswordHash: testHash}
		if err := h.AddAdmin(ctx, &a); err != nil {
			return err
		}
		now := time.Now().UTC()
		return h.CreateSession(ctx, tenantdb.Session{ID: sessionID, AdminID: a.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)})
	})
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := backupOf(t, p)

	// After the backup: live changes, gone is deleted and its domain taken.
	err = p.WithTenant(ctx, "live", func(_ catalog.Tenant, h *pool.Handle) error {
		now := time.Now().UTC()
		return h.SavePost(ctx, &tenantdb.Post{Title: "After the backup", Published: true, PublishedAt: &now})
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.DeleteTenant(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	thief, err := p.CreateTenant(ctx, "thief", "Thief")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Catalog.AddDomain(ctx, thief, "taken.example.org", time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Catalog.SetDomainStatus(ctx, thief.ID, "taken.example.org", catalog.DomainVerified); err != nil {
		t.Fatal(err)
	}

	res, err := p.Restore(ctx, dir, "live", 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := postTitles(t, p, "live"); len(got) != 1 || got[0] != "Backed up" {
		t.Errorf("restored live serves %v, want the backup's post only", got)
	}
	if res.Tenant.ID != live.ID || res.Trashed == "" {
		t.Errorf("restore of live: %+v", res.ImportResult)
	}
	err = p.WithTenant(ctx, "live", func(_ catalog.Tenant, h *pool.Handle) error {
		_, _, err := h.Session(ctx, sessionID)
		return err
	})
	if !errors.Is(err, tenantdb.ErrNotFound) {
		t.Errorf("after a restore the backup's login session: %v, want it ended", err)
	}

	res, err = p.Restore(ctx, dir, "gone", 0)
	if err != nil {
		t.Fatal(err)
	}
	back, ok := p.Catalog.TenantBySlug("gone")
	if !ok || back.ID != gone.ID || back.Name != "Site gone" || back.Status != catalog.StatusActive {
		t.Errorf("restored gone: %+v, want its id, name and active (not frozen)", back)
	}
	if got := postTitles(t, p, "gone"); len(got) != 1 || got[0] != "Gone post" {
		t.Errorf("restored gone serves %v", got)
	}
	if len(res.Domains) != 1 || res.Domains[0].Host != "kept.example.org" || len(res.Taken) != 1 || res.Taken[0] != "taken.example.org" {
		t.Errorf("domains given back %v, taken %v; want kept back and taken reported", res.Domains, res.Taken)
	}
	if d, err := p.Catalog.Domain(ctx, "taken.example.org"); err != nil || d.TenantID != thief.ID {
		t.Errorf("the taken domain now: %+v %v, want it still the other tenant's", d, err)
	}
}

// TestRestoreRefusals: a slug the backup lacks (the error lists those it
// has), a tenant file that does not match the manifest, and a dir that is
// no backup are refused, and the live tenant keeps serving.
func TestRestoreRefusals(t *testing.T) {
	ctx := context.Background()
	p := openTestPlatform(t, t.TempDir())
	tenantWithPost(t, p, "live", "Live post")
	tenantWithPost(t, p, "other", "Other post")
	dir, m := backupOf(t, p)
	if _, err := p.Restore(ctx, dir, "nope", 0); err == nil || !strings.Contains(err.Error(), "it has: live, other") {
		t.Errorf("restore of a slug not in the backup: %v", err)
	}
	if _, err := p.Restore(ctx, t.TempDir(), "live", 0); err == nil || !strings.Contains(err.Error(), "no manifest.json") {
		t.Errorf("restore from a dir without a manifest: %v", err)
	}
	// The manifest's hash for live no longer matches its file.
	for i := range m.Tenants {
		if m.Tenants[i].Slug == "live" {
			m.Tenants[i].SHA256 = strings.Repeat("0", 64)
		}
	}
	b, _ := json.Marshal(m)
	if err := os.WriteFile(filepath.Join(dir, ManifestFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Restore(ctx, dir, "live", 0); !errors.Is(err, tenantdb.ErrRejected) || !strings.Contains(err.Error(), "does not match the manifest") {
		t.Errorf("restore of a file that does not match: %v", err)
	}
	if got := postTitles(t, p, "live"); len(got) != 1 || got[0] != "Live post" {
		t.Errorf("after the refusals live serves %v", got)
	}
	if tr, _ := p.Catalog.Trash(ctx); len(tr) != 0 {
		t.Errorf("a refused restore trashed %v", tr)
	}
}

// testHash is a well-formed argon2id hash (of no password anyone knows).
const testHash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
