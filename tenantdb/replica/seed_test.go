package replica

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/pool"
)

// A file restored from the replica registers without listing or reading
// it: into a fresh data dir with the restore's seed (restore --all, a
// cluster's takeover), and in place over a tenant this node replicated
// (restore --at), where the position record of its last close serves.
// Either way the restored file's first write reaches the replica and a
// later restore has it.
func TestRestoredFileRegistersWithoutListing(t *testing.T) {
	ctx := context.Background()
	dir, id := testTenant(t)
	r := newFileReplicator(t, dir, Options{noMonitors: true})
	db, err := openPinned(ctx, dir, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Register(ctx, id, db.Path()); err != nil {
		t.Fatal(err)
	}
	post(t, db, "before")
	if err := r.Sync(ctx, id); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := r.Unregister(ctx, id); err != nil {
		t.Fatal(err)
	}
	target := r.Target()
	r.Close(ctx)

	// restoreInto restores id's newest state from the replica into data
	// dir d as restore --all does, the seed written unless told not to.
	restoreInto := func(d string, seed bool) {
		t.Helper()
		out := filepath.Join(t.TempDir(), "out.db")
		sd, err := target.RestoreSeed(ctx, id, out, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if sd == nil {
			t.Fatal("RestoreSeed: no seed, want the replica's newest level-0 file")
		}
		im, err := tenantdb.PrepareImport(ctx, out, t.TempDir(), 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(d, "tenants"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(im.Path, tenantdb.TenantPath(d, id)); err != nil {
			t.Fatal(err)
		}
		if seed {
			if err := sd.Write(filepath.Join(d, "litestream")); err != nil {
				t.Fatal(err)
			}
		}
	}
	// write opens id in d through a pool replicating to target, writes
	// title and closes it; it returns the replicator's lists and reads.
	write := func(d, title string) (lists, reads int64) {
		t.Helper()
		r, err := New(ctx, target, filepath.Join(d, "litestream"), Options{noMonitors: true})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close(ctx)
		p := pool.New(d, 4, 0)
		defer p.Close()
		p.Replicate(r)
		h, err := p.Acquire(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		post(t, h.DB, title)
		h.Release()
		if err := p.Drain(ctx, id, func() error { return nil }); err != nil {
			t.Fatal(err)
		}
		if st, _ := r.Status(id); st.LastError != "" {
			t.Errorf("replicating %s: %s", title, st.LastError)
		}
		return r.Stats.Lists.Load(), r.Stats.Reads.Load()
	}
	restored := func() map[string]bool {
		t.Helper()
		out := filepath.Join(t.TempDir(), "check.db")
		if err := target.Restore(ctx, id, out, time.Time{}); err != nil {
			t.Fatalf("restore after the restored file was written: %v", err)
		}
		return titles(t, out)
	}

	// The cost without the seed, for the record.
	bare := t.TempDir()
	restoreInto(bare, false)
	l, rd := write(bare, "unseeded")
	t.Logf("restored without a seed: the first write's register made %d listings and %d reads", l, rd)

	fresh := t.TempDir()
	restoreInto(fresh, true)
	if l, rd := write(fresh, "after restore --all"); l != 0 || rd != 0 {
		t.Errorf("a file restored with its seed: the first write's register made %d listings and %d reads of the replica, want 0 and 0", l, rd)
	}
	if got := restored(); !got["before"] || !got["unseeded"] || !got["after restore --all"] {
		t.Errorf("restored after the seeded file's write: posts %v", got)
	}

	// In place over the tenant, as restore --at does (drained, the file
	// swapped): the record of its last close serves.
	out := filepath.Join(t.TempDir(), "at.db")
	if err := target.Restore(ctx, id, out, time.Time{}); err != nil {
		t.Fatal(err)
	}
	im, err := tenantdb.PrepareImport(ctx, out, t.TempDir(), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	path := tenantdb.TenantPath(fresh, id)
	os.Remove(path + "-wal")
	if err := os.Rename(im.Path, path); err != nil {
		t.Fatal(err)
	}
	if l, rd := write(fresh, "after restore --at"); l != 0 || rd != 0 {
		t.Errorf("a file restored in place: the first write's register made %d listings and %d reads of the replica, want 0 and 0", l, rd)
	}
	if got := restored(); !got["after restore --at"] {
		t.Errorf("restored after the file restored in place was written: posts %v", got)
	}
}
