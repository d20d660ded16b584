package replica

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/superfly/ltx"

	"github.com/chapterhouse/chapterhouse/internal/natstest"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// indexed is the bucket index's content as listBucket gives a listing:
// database -> level -> files by MinTXID.
func (t *Target) indexed() map[string]map[int][]*ltx.FileInfo {
	x := &t.nats.index
	x.mu.Lock()
	defer x.mu.Unlock()
	out := map[string]map[int][]*ltx.FileInfo{}
	for db, files := range x.dbs {
		out[db] = map[int][]*ltx.FileInfo{}
		for _, f := range files {
			cp := f
			out[db][f.Level] = append(out[db][f.Level], &cp)
		}
		for _, fs := range out[db] {
			sort.Slice(fs, func(i, j int) bool { return fs[i].MinTXID < fs[j].MinTXID })
		}
	}
	return out
}

// sameAsListing reports whether the target's index holds what a listing
// of its bucket holds now, saying the first difference.
func sameAsListing(t *testing.T, target *Target) (bool, string) {
	t.Helper()
	listed, err := target.listBucket(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	got := target.indexed()
	for db, levels := range listed {
		for lv, fs := range levels {
			if !reflect.DeepEqual(got[db][lv], fs) {
				return false, fmt.Sprintf("%s level %d: index %v, listing %v", db, lv, got[db][lv], fs)
			}
		}
	}
	for db, levels := range got {
		for lv, fs := range levels {
			if len(listed[db][lv]) == 0 {
				return false, fmt.Sprintf("%s level %d: %v in the index, not in the bucket", db, lv, fs)
			}
		}
	}
	return true, ""
}

// writeTenants creates n tenants in dir and ships each, with a post, to
// r's replica; their files stay closed and unregistered.
func writeTenants(t *testing.T, r *Replicator, dir string, n int) []string {
	t.Helper()
	ids := createTenants(t, dir, n)
	for _, id := range ids {
		shipPost(t, r, dir, id, "first")
	}
	return ids
}

// shipPost registers tenant id of dir, adds a post, syncs it and
// unregisters it.
func shipPost(t *testing.T, r *Replicator, dir, id, title string) {
	t.Helper()
	ship(t, r, dir, id, func(db *tenantdb.DB) { post(t, db, title) })
}

// ship registers tenant id of dir, has write write to it, syncs it and
// unregisters it.
func ship(t *testing.T, r *Replicator, dir, id string, write func(*tenantdb.DB)) {
	t.Helper()
	ctx := context.Background()
	db, err := openPinned(ctx, dir, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Register(ctx, id, db.Path()); err != nil {
		t.Fatal(err)
	}
	write(db)
	if err := r.Sync(ctx, id); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := r.Unregister(ctx, id); err != nil {
		t.Fatal(err)
	}
}

// A node's first replication of tenants that have no position record
// reads the NATS bucket once, by one watch, not once a tenant: each
// register's listing is answered by the bucket's index. The index holds
// exactly what a listing holds: files another node (another connection)
// uploaded before the watch began and after, this node's own uploads at
// once, and the deletions of both.
func TestBucketIndexAnswersFirstRegisters(t *testing.T) {
	ctx := context.Background()
	nc := natstest.Start(t, 1)
	newTarget := func() *Target {
		target, err := ParseURL(nc.URL(0) + "/index")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { target.Close() })
		return target
	}
	newReplicator := func(target *Target, dir string) *Replicator {
		r, err := New(ctx, target, filepath.Join(dir, "litestream"), Options{noMonitors: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close(ctx) })
		return r
	}
	// Another node's tenants, in the bucket before this node starts.
	otherDir := t.TempDir()
	other := newTarget()
	r2 := newReplicator(other, otherDir)
	others := writeTenants(t, r2, otherDir, 3)

	dir := t.TempDir()
	target := newTarget()
	r := newReplicator(target, dir)
	before := target.nats.lists.Load()
	ids := writeTenants(t, r, dir, 10)
	if got := target.nats.lists.Load() - before; got != 0 {
		t.Errorf("10 first registers listed the bucket %d times, want 0 (the index answers)", got)
	}
	if got := target.nats.index.watches; got != 1 {
		t.Errorf("%d watches of the bucket, want 1", got)
	}
	if ok, diff := sameAsListing(t, target); !ok {
		t.Fatalf("after this node's uploads: %s", diff)
	}
	if got := len(target.indexed()); got != 13 {
		t.Errorf("the index holds %d databases, want 13 (3 of the other node, 10 of this)", got)
	}
	// Each of this node's tenants restores from the replica with its
	// post: what the index told Litestream was true.
	for _, id := range ids[:2] {
		out := filepath.Join(t.TempDir(), id+".db")
		if _, err := target.RestoreSeedFrom(ctx, nil, id, out); err != nil {
			t.Fatal(err)
		}
		if !titles(t, out)["first"] {
			t.Errorf("%s: restored without its post", id)
		}
	}

	// The other node writes and deletes: the watch brings both.
	shipPost(t, r2, otherDir, others[0], "second")
	waitFor(t, "another node's upload in the index", func() bool { ok, _ := sameAsListing(t, target); return ok })
	c, err := other.client(others[1])
	if err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteAll(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "another node's deletion in the index", func() bool { return target.indexed()[others[1]] == nil })
	if ok, diff := sameAsListing(t, target); !ok {
		t.Fatalf("after the other node's deletion: %s", diff)
	}

	// This node's own deletion leaves the index at once, and a put of
	// it the watch delivers late does not bring it back.
	c, err = target.client(ids[0])
	if err != nil {
		t.Fatal(err)
	}
	l0 := target.indexed()[ids[0]][0]
	if len(l0) == 0 {
		t.Fatalf("%s: no level-0 file indexed", ids[0])
	}
	if err := c.DeleteLTXFiles(ctx, l0); err != nil {
		t.Fatal(err)
	}
	if got := target.indexed()[ids[0]][0]; len(got) != 0 {
		t.Errorf("after its own deletion the index still lists %v", got)
	}
	x := &target.nats.index
	name := litestream.LTXFilePath(ids[0], 0, l0[0].MinTXID, l0[0].MaxTXID)
	x.apply(x.cur, &jetstream.ObjectInfo{ObjectMeta: jetstream.ObjectMeta{Name: name}, ModTime: time.Now()})
	if got := target.indexed()[ids[0]][0]; len(got) != 0 {
		t.Errorf("a late put of a file this node deleted came back: %v", got)
	}
	waitFor(t, "the index after this node's deletion", func() bool { ok, _ := sameAsListing(t, target); return ok })
}

// When the NATS server restarts, the index follows again (its watch
// resumes, or a new one starts), and listings stay right meanwhile.
func TestBucketIndexFollowsAServerRestart(t *testing.T) {
	ctx := context.Background()
	nc := natstest.Start(t, 1)
	target, err := ParseURL(nc.URL(0) + "/restart")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { target.Close() })
	dir := t.TempDir()
	r, err := New(ctx, target, filepath.Join(dir, "litestream"), Options{noMonitors: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(ctx) })
	ids := writeTenants(t, r, dir, 2)
	if ok, diff := sameAsListing(t, target); !ok {
		t.Fatal(diff)
	}
	nc.Stop(0)
	nc.Restart(0)
	restarted := time.Now()
	// Writes after the restart, by this node and by another connection.
	shipPost(t, r, dir, ids[0], "after")
	t.Logf("this node shipped %v after the restart", time.Since(restarted).Round(time.Millisecond))
	other, err := ParseURL(nc.URL(0) + "/restart")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	r2, err := New(ctx, other, filepath.Join(t.TempDir(), "litestream"), Options{noMonitors: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r2.Close(ctx) })
	otherDir := t.TempDir()
	writeTenants(t, r2, otherDir, 1)
	waitFor(t, "the index after a server restart", func() bool {
		// Each try asks as Litestream does, which starts a new watch
		// when the last one ended.
		c, err := target.client(ids[1])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.LTXFiles(ctx, 0, 0, false); err != nil {
			return false
		}
		ok, _ := sameAsListing(t, target)
		return ok && len(target.indexed()) == 3
	})
	t.Logf("the index in step %v after the restart, %d watches", time.Since(restarted).Round(time.Millisecond), target.nats.index.watches)
	out := filepath.Join(t.TempDir(), "after.db")
	if _, err := target.RestoreSeedFrom(ctx, nil, ids[0], out); err != nil {
		t.Fatal(err)
	}
	if !titles(t, out)["after"] {
		t.Error("the post shipped after the restart is not restored")
	}
}

// This node's own uploads and deletions enter the index when the server
// has them, not when the watch delivers them: with the watch stalled (an
// index no watch feeds), a file written through a client is listed at
// once, and one deleted is gone at once.
func TestBucketIndexHasItsOwnWritesAtOnce(t *testing.T) {
	ctx := context.Background()
	nc := natstest.Start(t, 1)
	target, err := ParseURL(nc.URL(0) + "/own")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { target.Close() })
	dir := t.TempDir()
	r, err := New(ctx, target, filepath.Join(dir, "litestream"), Options{noMonitors: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(ctx) })
	ids := writeTenants(t, r, dir, 1)
	files := target.indexed()[ids[0]][0]
	if len(files) == 0 {
		t.Fatal("no level-0 file indexed")
	}
	// Stall the index: a current watch, ready, that nothing feeds (the
	// real watch's updates no longer apply to it).
	x := &target.nats.index
	ready := make(chan struct{})
	close(ready)
	x.mu.Lock()
	x.cur = &indexWatch{ready: ready, ended: make(chan struct{})}
	x.mu.Unlock()

	c, err := target.client(ids[0])
	if err != nil {
		t.Fatal(err)
	}
	// An upload: the tenant's newest level-0 file again, under a new
	// name at level 1.
	f := files[len(files)-1]
	rc, err := c.OpenLTXFile(ctx, 0, f.MinTXID, f.MaxTXID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.WriteLTXFile(ctx, 1, f.MinTXID, f.MaxTXID, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	list := func(level int) []*ltx.FileInfo {
		itr, err := c.LTXFiles(ctx, level, 0, false)
		if err != nil {
			t.Fatal(err)
		}
		out, err := ltx.SliceFileIterator(itr)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	before := target.nats.lists.Load()
	if got := list(1); len(got) != 1 || got[0].MaxTXID != f.MaxTXID {
		t.Errorf("level 1 right after this node's upload: %v, want the file it wrote", got)
	}
	if err := c.DeleteLTXFiles(ctx, files); err != nil {
		t.Fatal(err)
	}
	if got := list(0); len(got) != 0 {
		t.Errorf("level 0 right after this node deleted its files: %v, want none", got)
	}
	if n := target.nats.lists.Load() - before; n != 0 {
		t.Errorf("%d listings of the bucket, want 0 (the index answers)", n)
	}
}
