package platform

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
	"github.com/chapterhouse/chapterhouse/tenantdb/pool"
)

// TestTrashListsAndPurgesByAge deletes two chapters (one file then lost
// by hand) and finds two unrecorded files in the trash, one old and one
// recent: the listing shows the recorded file with its size, the lost one
// as missing and the others as orphans; a purge of what is older than
// five days, ten days on, deletes both chapters' files and records and
// the old orphan, keeps the recent one, and says so.
func TestTrashListsAndPurgesByAge(t *testing.T) {
	ctx := context.Background()
	p := openTestPlatform(t, t.TempDir())
	tenantWithPost(t, p, "alpha", "Alpha's post")
	tenantWithPost(t, p, "bravo", "Bravo's post")
	alphaPath, err := p.DeleteTenant(ctx, "alpha")
	if err != nil {
		t.Fatal(err)
	}
	bravoPath, err := p.DeleteTenant(ctx, "bravo")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(bravoPath); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(10 * 24 * time.Hour).Truncate(time.Second)
	p.Now = func() time.Time { return later }
	orphan := func(name string, mtime time.Time) string {
		path := filepath.Join(p.Dir, "trash", name)
		if err := os.WriteFile(path, []byte("left by a crash"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		return path
	}
	oldOrphan := orphan("old.db", later.Add(-20*24*time.Hour))
	newOrphan := orphan("new.db", later.Add(-time.Hour))

	items, err := p.TrashItems(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byFile := map[string]TrashItem{}
	for _, it := range items {
		byFile[it.File] = it
	}
	if len(items) != 4 {
		t.Fatalf("trash lists %d items, want 4: %+v", len(items), items)
	}
	fi, err := os.Stat(alphaPath)
	if err != nil {
		t.Fatal(err)
	}
	if it := byFile[filepath.Base(alphaPath)]; !it.Recorded || it.Orphan || it.Missing || it.Size != fi.Size() || it.Size == 0 || it.Slug != "alpha" {
		t.Errorf("alpha's trash item: %+v, want recorded with size %d", it, fi.Size())
	}
	if it := byFile[filepath.Base(bravoPath)]; !it.Recorded || it.Orphan || !it.Missing || it.Size != 0 {
		t.Errorf("bravo's lost file: %+v, want recorded and missing", it)
	}
	for name, mtime := range map[string]time.Time{"old.db": later.Add(-20 * 24 * time.Hour), "new.db": later.Add(-time.Hour)} {
		if it := byFile[name]; !it.Orphan || it.Recorded || it.Missing || it.Size != int64(len("left by a crash")) || !it.DeletedAt.Equal(mtime) {
			t.Errorf("the unrecorded %s: %+v", name, it)
		}
	}

	var heard []string
	done, left, err := p.PurgeTrash(ctx, 5*24*time.Hour, func(it TrashItem) { heard = append(heard, it.File) })
	if err != nil {
		t.Fatal(err)
	}
	var purged []string
	for _, it := range done {
		purged = append(purged, it.File)
	}
	slices.Sort(purged)
	slices.Sort(heard)
	want := []string{filepath.Base(alphaPath), filepath.Base(bravoPath), "old.db"}
	slices.Sort(want)
	if !slices.Equal(purged, want) || !slices.Equal(heard, want) || left != 1 {
		t.Errorf("purge older than 5 days: done %v, heard %v, left %d; want %v and 1 left", purged, heard, left, want)
	}
	for _, path := range []string{alphaPath, oldOrphan} {
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("%s is still in the trash (%v)", filepath.Base(path), err)
		}
	}
	if _, err := os.Stat(newOrphan); err != nil {
		t.Errorf("the recent file was purged: %v", err)
	}
	if entries, err := p.Catalog.Trash(ctx); err != nil || len(entries) != 0 {
		t.Errorf("the catalog's trash after the purge: %+v %v", entries, err)
	}
}

// TestSiteURLsCarryTheListenPort: a chapter's address on the platform
// domain carries the listen address's port, except the default 80.
func TestSiteURLsCarryTheListenPort(t *testing.T) {
	p := openTestPlatform(t, t.TempDir())
	for addr, want := range map[string]string{
		":8080":          "http://alpha.example.org:8080",
		"127.0.0.1:80":   "http://alpha.example.org",
		":80":            "http://alpha.example.org",
		"no port at all": "http://alpha.example.org",
		"[::1]:":         "http://alpha.example.org",
	} {
		p.Configure(Settings{BaseDomain: "example.org", ListenAddr: addr})
		if got := p.SiteURL("alpha"); got != want {
			t.Errorf("listening on %q: %s, want %s", addr, got, want)
		}
	}
}

// TestTrashRestoreBringsTheChapterBackWithItsSessionsEnded: a deleted
// chapter restored from the trash serves its content again under its old
// id, and the login sessions it held when deleted are ended; a slug in use
// is refused.
func TestTrashRestoreBringsTheChapterBackWithItsSessionsEnded(t *testing.T) {
	ctx := context.Background()
	p := openTestPlatform(t, t.TempDir())
	tn := tenantWithPost(t, p, "alpha", "Alpha's post")
	const sessionID = "a-session-of-the-deleted-chapter"
	err := p.WithTenant(ctx, "alpha", func(_ catalog.Tenant, h *pool.Handle) error {
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
	if _, err := p.DeleteTenant(ctx, "alpha"); err != nil {
		t.Fatal(err)
	}
	entries, err := p.Catalog.Trash(ctx)
	if err != nil || len(entries) != 1 {
		t.Fatalf("trash: %+v %v", entries, err)
	}
	tenantWithPost(t, p, "bravo", "Bravo's post")
	if _, err := p.RestoreTrash(ctx, entries[0], "bravo"); !errors.Is(err, tenantdb.ErrConflict) {
		t.Errorf("restore under a slug in use: %v, want a conflict", err)
	}
	back, err := p.RestoreTrash(ctx, entries[0], "alpha")
	if err != nil {
		t.Fatal(err)
	}
	if back.ID != tn.ID {
		t.Errorf("restored under id %s, want its old %s", back.ID, tn.ID)
	}
	if got := postTitles(t, p, "alpha"); len(got) != 1 || got[0] != "Alpha's post" {
		t.Errorf("restored alpha serves %v", got)
	}
	err = p.WithTenant(ctx, "alpha", func(_ catalog.Tenant, h *pool.Handle) error {
		_, _, err := h.Session(ctx, sessionID)
		return err
	})
	if !errors.Is(err, tenantdb.ErrNotFound) {
		t.Errorf("after a trash restore the deleted chapter's session: %v, want it ended", err)
	}
}
