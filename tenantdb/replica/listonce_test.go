package replica

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/nats-io/nats.go"

	"github.com/chapterhouse/chapterhouse/internal/natstest"
	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/cluster"
)

// A cluster's takeover of N chapters lists the NATS bucket once
// (ListAll) and restores each from that listing: one listing in all, not
// one a restore (each reads every object's metadata, thousands of them
// after minutes of writes). Each restore has its chapter's newest post
// and a seed; a chapter the listing does not hold is ErrNotAvailable.
// The replica's connection has the cluster's pings.
func TestTakeoverRestoresShareOneListing(t *testing.T) {
	ctx := context.Background()
	nc := natstest.Start(t, 1)
	dir := t.TempDir()
	target, err := ParseURL(nc.URL(0) + "/takeover")
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(ctx, target, filepath.Join(dir, "litestream"), Options{noMonitors: true})
	if err != nil {
		t.Fatal(err)
	}
	const n = 5
	var ids []string
	for i := range n {
		id := tenantdb.NewTenantID()
		db, err := tenantdb.Create(ctx, dir, id)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Register(ctx, id, db.Path()); err != nil {
			t.Fatal(err)
		}
		for k := range 3 {
			post(t, db, fmt.Sprintf("%d-%d", i, k))
			if err := r.Sync(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
		db.Close()
		if err := r.Unregister(ctx, id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	r.Close(ctx)

	before := target.nats.lists.Load()
	listing, err := target.ListAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if listing.Len() < 3*n {
		t.Fatalf("the listing holds %d files, want at least %d (3 syncs of %d chapters)", listing.Len(), 3*n, n)
	}
	for i, id := range ids {
		out := filepath.Join(t.TempDir(), "out.db")
		sd, err := target.RestoreSeedFrom(ctx, listing, id, out)
		if err != nil {
			t.Fatal(err)
		}
		if sd == nil {
			t.Errorf("%s: no seed from a listed restore", id)
		}
		if want := fmt.Sprintf("%d-2", i); !titles(t, out)[want] {
			t.Errorf("%s: the restored file lacks %q", id, want)
		}
	}
	_, err = target.RestoreSeedFrom(ctx, listing, tenantdb.NewTenantID(), filepath.Join(t.TempDir(), "none.db"))
	if !errors.Is(err, ErrNotAvailable) {
		t.Errorf("a chapter the replica never held: %v, want ErrNotAvailable", err)
	}
	if got := target.nats.lists.Load() - before; got != 1 {
		t.Errorf("a takeover of %d chapters listed the bucket %d times, want 1", n, got)
	}
	// Its files were read by direct gets, no consumer made for each.
	if got := target.nats.direct.Load(); got < 3*n {
		t.Errorf("%d files read by direct gets, want at least %d", got, 3*n)
	}
	// Without a listing, a restore lists on its own: once.
	before = target.nats.lists.Load()
	if _, err := target.RestoreSeedFrom(ctx, nil, ids[0], filepath.Join(t.TempDir(), "own.db")); err != nil {
		t.Fatal(err)
	}
	if got := target.nats.lists.Load() - before; got != 1 {
		t.Errorf("a restore on its own listed the bucket %d times, want 1", got)
	}

	// A chunk changed in the bucket (a message published on its
	// subject) is not read directly, and the restore fails: the digest.
	store, err := target.objectStore(ctx)
	if err != nil {
		t.Fatal(err)
	}
	l0 := listing.dbs[ids[1]][0]
	name := litestream.LTXFilePath(ids[1], 0, l0[len(l0)-1].MinTXID, l0[len(l0)-1].MaxTXID)
	info, err := store.GetInfo(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	data, ok := target.readDirect(ctx, info)
	if !ok {
		t.Fatalf("%s: not read directly", name)
	}
	// The last chunk deleted and published again, one byte changed.
	stream := target.nats.stream
	last, err := stream.GetLastMsgForSubject(ctx, "$O.takeover.C."+info.NUID)
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte(nil), last.Data...)
	bad[len(bad)-1] ^= 0xff
	if err := stream.DeleteMsg(ctx, last.Sequence); err != nil {
		t.Fatal(err)
	}
	if _, err := target.nats.nc.Request("$O.takeover.C."+info.NUID, bad, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if len(data) != int(info.Size) {
		t.Fatalf("read %d bytes of %d", len(data), info.Size)
	}
	if _, ok := target.readDirect(ctx, info); ok {
		t.Errorf("%s: a changed chunk read directly", name)
	}
	if _, err := target.RestoreSeed(ctx, ids[1], filepath.Join(t.TempDir(), "bad.db"), time.Time{}); err == nil {
		t.Errorf("%s: restored with a changed chunk", ids[1])
	}

	// The connection's liveness options are the cluster's.
	target.nats.mu.Lock()
	opts := target.nats.nc.Opts
	target.nats.mu.Unlock()
	var want nats.Options
	for _, o := range cluster.LivenessOptions() {
		if err := o(&want); err != nil {
			t.Fatal(err)
		}
	}
	if opts.PingInterval != want.PingInterval || opts.MaxPingsOut != want.MaxPingsOut || opts.ReconnectWait != want.ReconnectWait || opts.MaxReconnect != want.MaxReconnect {
		t.Errorf("the replica's NATS connection pings every %v (%d out), reconnects every %v (%d times); want the cluster's %v (%d), %v (%d)",
			opts.PingInterval, opts.MaxPingsOut, opts.ReconnectWait, opts.MaxReconnect, want.PingInterval, want.MaxPingsOut, want.ReconnectWait, want.MaxReconnect)
	}
	if want.PingInterval > 5*time.Second {
		t.Errorf("the cluster's pings every %v: a client would stay on a frozen server for minutes", want.PingInterval)
	}
}
