package replica

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb/pool"
)

// A tenant closed while its replica fails does not wait for a final sync
// (which would retry for CloseTimeout, 30 s here): the close attempts no
// upload, records no position, and the tenant's next open, once the
// replica is back, registers it and ships the write made while the
// replica was dead.
func TestCloseDoesNotWaitForDeadReplica(t *testing.T) {
	ctx := context.Background()
	dir, id := testTenant(t)
	r := newFileReplicator(t, dir, Options{Interval: 200 * time.Millisecond, CloseTimeout: 30 * time.Second})
	rep := r.Target().u.Path
	p := pool.New(dir, 4, 0)
	t.Cleanup(func() { p.Close() })
	p.Replicate(r)
	write := func(title string) {
		t.Helper()
		h, err := p.Acquire(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		post(t, h.DB, title)
		h.Release()
	}
	closeTenant := func() {
		t.Helper()
		if err := p.Drain(ctx, id, func() error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	write("alive")
	if err := r.Sync(ctx, id); err != nil {
		t.Fatal(err)
	}

	// The replica dies: its directory is a file now.
	if err := os.Rename(rep, rep+".away"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rep, []byte("not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	write("while dead")
	if err := r.Sync(ctx, id); err == nil {
		t.Fatal("sync to a dead replica: no error")
	}
	errs := r.Stats.SyncErrors.Load()
	closeTenant()
	if n := r.Stats.SyncErrors.Load() - errs; n != 0 {
		t.Errorf("closing a tenant whose replica is dead made %d more failed calls to it (a final sync retried), want 0", n)
	}
	if n := r.Stats.SkippedFinalSyncs.Load(); n != 1 {
		t.Errorf("SkippedFinalSyncs = %d, want 1", n)
	}
	if _, err := os.Stat(r.recordPath(id)); !os.IsNotExist(err) {
		t.Errorf("a position record after a close without a final sync: %v", err)
	}

	// The replica is back: the next open registers and catches up.
	if err := os.Remove(rep); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(rep+".away", rep); err != nil {
		t.Fatal(err)
	}
	h, err := p.Acquire(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.DB.Site(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _ := r.Status(id); !st.Registered {
		t.Errorf("the open after a close without a final sync: status %+v, want registered at open", st)
	}
	h.Release()
	if err := r.Sync(ctx, id); err != nil {
		t.Fatalf("sync once the replica is back: %v", err)
	}
	closeTenant()
	out := filepath.Join(t.TempDir(), "out.db")
	if err := r.Target().Restore(ctx, id, out, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if got := titles(t, out); !got["alive"] || !got["while dead"] {
		t.Errorf("restored once the replica is back: posts %v, want alive and while dead", got)
	}
}
