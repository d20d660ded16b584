package platform

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chapterhouse/chapterhouse/internal/natstest"
	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
	"github.com/chapterhouse/chapterhouse/tenantdb/cluster"
	"github.com/chapterhouse/chapterhouse/tenantdb/pool"
	"github.com/chapterhouse/chapterhouse/tenantdb/replica"
)

// clusterOptions are a node's options in startClusterPlatform.
type clusterOptions struct {
	// replica: the node streams its tenants to the cluster's object store
	// and restores those it takes over from there.
	replica bool
}

// testLease is a short lease, as the cluster package's tests use: a dead
// node's lease expires 4 s after its last renew.
var testLease = cluster.Config{LeaseTTL: 4 * time.Second, RenewEvery: 500 * time.Millisecond, FenceMargin: 1500 * time.Millisecond}

// startClusterPlatform opens a node of a cluster in this process, as
// `serve --cluster` does: a real platform on its own data dir, the
// cluster's catalog in JetStream, the node's lease and the ownership
// records (cluster.Join), its writes fenced and its events wired, and
// with opt.replica its replica in the cluster's object store. The stop
// it returns closes the platform (its final syncs) and then the node
// without leaving, as a crash after a clean close would: the others see
// it dead when its lease expires. The test's end stops it too.
func startClusterPlatform(t *testing.T, nc *natstest.Cluster, id string, opt ...clusterOptions) (*Platform, func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("CLUSTER_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil)).With("node", id)
	}
	conn, js, err := cluster.Connect(ctx, nc.URLs(), id, nats.IgnoreDiscoveredServers())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cat, err := catalog.OpenJetStream(ctx, js, dir)
	if err != nil {
		conn.Close()
		t.Fatal(err)
	}
	p, err := OpenWith(ctx, dir, cat, 16, 0, log)
	if err != nil {
		cat.Close()
		conn.Close()
		t.Fatal(err)
	}
	cfg := testLease
	cfg.NodeID, cfg.Advertise, cfg.Replicas, cfg.Log = id, "http://"+id+".test:8080", 1, log
	node, err := cluster.Join(ctx, js, cfg)
	if err != nil {
		p.Close()
		conn.Close()
		t.Fatal(err)
	}
	var target *replica.Target
	if len(opt) > 0 && opt[0].replica {
		const bucket = "chapterhouse-replica"
		if _, err := js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: bucket, Storage: jetstream.FileStorage}); err != nil &&
			!errors.Is(err, jetstream.ErrBucketExists) {
			t.Fatal(err)
		}
		if target, err = replica.ParseURL(strings.TrimSuffix(nc.URL(0), "/") + "/" + bucket); err != nil {
			t.Fatal(err)
		}
	}
	bg, cancelBg := context.WithCancel(context.Background())
	c := p.JoinCluster(node, target)
	c.Connected = conn.IsConnected
	if target != nil {
		if err := p.StartReplication(ctx, target, replica.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	c.Start(bg)
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancelBg()
			p.Close()
			node.Close()
			conn.Close()
		})
	}
	t.Cleanup(stop)
	return p, stop
}

// waitFor polls cond until it holds, failing the test after a minute: the
// other nodes see a change one watch delay later.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after a minute: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// deletedChapter creates chapter slug with a post on p, deletes it there
// and returns it and its trash entry once every node of others sees it
// gone, its ownership record included.
func deletedChapter(t *testing.T, p *Platform, slug string, others ...*Platform) (catalog.Tenant, catalog.TrashEntry) {
	t.Helper()
	ctx := context.Background()
	tn := tenantWithPost(t, p, slug, slug+"'s post")
	if o, ok := p.Cluster.Node.Owner(tn.ID); !ok || o.Node != p.Cluster.Node.ID() {
		t.Fatalf("%s created on %s is owned by %+v", slug, p.Cluster.Node.ID(), o)
	}
	if _, err := p.DeleteTenant(ctx, slug); err != nil {
		t.Fatal(err)
	}
	for _, q := range append(others, p) {
		waitFor(t, q.Cluster.Node.ID()+" sees "+slug+" deleted with its record", func() bool {
			_, routes := q.Catalog.TenantByID(tn.ID)
			_, owned := q.Cluster.Node.Owner(tn.ID)
			return !routes && !owned
		})
	}
	entries, err := p.Catalog.Trash(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.TenantID == tn.ID {
			return tn, e
		}
	}
	t.Fatalf("no trash entry for %s in %+v", tn.ID, entries)
	return tn, catalog.TrashEntry{}
}

// savePost writes a post to chapter slug on p: the pool's fence asks the
// cluster before it commits.
func savePost(p *Platform, slug, title string) error {
	ctx := context.Background()
	return p.WithTenant(ctx, slug, func(_ catalog.Tenant, h *pool.Handle) error {
		now := time.Now().UTC()
		return h.SavePost(ctx, &tenantdb.Post{Title: title, Published: true, PublishedAt: &now})
	})
}

// TestClusterTrashRestoreClaimsTheChapter: a chapter deleted on a node of
// a cluster and restored from the trash there is owned by that node again
// (its ownership record went with the deletion): the node serves it and
// takes its writes, and the other node routes its requests there, takes
// no ownership of it and refuses its writes. Restoring it on a node that
// does not hold the trashed file is refused and claims nothing.
func TestClusterTrashRestoreClaimsTheChapter(t *testing.T) {
	ctx := context.Background()
	nc := natstest.Start(t, 1)
	a, _ := startClusterPlatform(t, nc, "a")
	b, _ := startClusterPlatform(t, nc, "b")
	tn, entry := deletedChapter(t, a, "alpha", b)

	// The trash list is the cluster's, the file is a's.
	if _, err := b.RestoreTrash(ctx, entry, "alpha"); err == nil {
		t.Fatal("b restored a trashed file that is on a")
	}
	if o, ok := b.Cluster.Node.Owner(tn.ID); ok {
		t.Fatalf("a refused restore on b left an ownership record: %+v", o)
	}
	if _, ok := b.Catalog.TenantBySlug("alpha"); ok {
		t.Fatal("a refused restore on b left the chapter in the catalog")
	}

	back, err := a.RestoreTrash(ctx, entry, "alpha")
	if err != nil {
		t.Fatal(err)
	}
	if back.ID != tn.ID {
		t.Fatalf("restored under id %s, want its old %s", back.ID, tn.ID)
	}
	o, ok := a.Cluster.Node.Owner(back.ID)
	if !ok || o.Node != "a" || o.Epoch != a.Cluster.Node.Epoch() || !o.Live {
		t.Fatalf("after the restore on a, the record is %+v (%v), want a at epoch %d, live", o, ok, a.Cluster.Node.Epoch())
	}
	claimedRev := o.Rev
	if to, _, err := a.Cluster.Route(ctx, back); err != nil || to != "" {
		t.Fatalf("a routes its restored chapter to %q (%v), want to serve it", to, err)
	}
	if got := postTitles(t, a, "alpha"); len(got) != 1 || got[0] != "alpha's post" {
		t.Fatalf("a serves the restored alpha with posts %v", got)
	}
	if err := savePost(a, "alpha", "written after the restore"); err != nil {
		t.Fatalf("a refuses a write to the chapter it restored: %v", err)
	}

	waitFor(t, "b sees alpha back and owned by a", func() bool {
		_, routes := b.Catalog.TenantByID(back.ID)
		o, ok := b.Cluster.Node.Owner(back.ID)
		return routes && ok && o.Node == "a" && o.Live
	})
	for range 3 { // every request, not only the first
		to, _, err := b.Cluster.Route(ctx, back)
		if err != nil || to != "http://a.test:8080" {
			t.Fatalf("b routes alpha to %q (%v), want a's http://a.test:8080", to, err)
		}
	}
	if o, _ := b.Cluster.Node.Owner(back.ID); o.Node != "a" || o.Rev != claimedRev {
		t.Fatalf("b's routing changed the record to %+v, a claimed it at revision %d", o, claimedRev)
	}
	if err := b.Cluster.CheckWrite(back.ID); !errors.Is(err, ErrFenced) {
		t.Fatalf("b.CheckWrite(alpha) = %v, want ErrFenced: a owns it", err)
	}
	if owned := b.Cluster.Node.Owned(); len(owned) != 0 {
		t.Fatalf("b owns %v", owned)
	}
}

// TestClusterTrashRestoreBesideAStaleRecord: when the deleted chapter's id
// still has an ownership record naming another live node (a release that
// failed, or a takeover of such a record), the restore does not give the
// chapter to that node, which has no file for it: it comes back under a
// new id, owned and served by the node that restored it, and the stale
// record is left alone.
func TestClusterTrashRestoreBesideAStaleRecord(t *testing.T) {
	ctx := context.Background()
	nc := natstest.Start(t, 1)
	a, _ := startClusterPlatform(t, nc, "a")
	b, _ := startClusterPlatform(t, nc, "b")
	tn, entry := deletedChapter(t, a, "alpha", b)
	stale, err := b.Cluster.Node.Claim(ctx, tn.ID)
	if err != nil || stale.Node != "b" {
		t.Fatalf("b's claim of the deleted id: %+v, %v", stale, err)
	}
	waitFor(t, "a sees the stale record at b", func() bool {
		o, ok := a.Cluster.Node.Owner(tn.ID)
		return ok && o.Node == "b" && o.Live
	})

	back, err := a.RestoreTrash(ctx, entry, "alpha")
	if err != nil {
		t.Fatalf("restore beside a stale record at b: %v", err)
	}
	if back.ID == tn.ID {
		t.Fatalf("restored under its old id %s, whose record names b", back.ID)
	}
	if o, ok := a.Cluster.Node.Owner(back.ID); !ok || o.Node != "a" || !o.Live {
		t.Fatalf("the restored chapter's record is %+v (%v), want a, live", o, ok)
	}
	if err := savePost(a, "alpha", "written after the restore"); err != nil {
		t.Fatalf("a refuses a write to the chapter it restored: %v", err)
	}
	if got := postTitles(t, a, "alpha"); len(got) != 2 {
		t.Fatalf("a serves the restored alpha with posts %v", got)
	}
	if o, _ := a.Cluster.Node.Owner(tn.ID); o.Node != "b" || o.Rev != stale.Rev {
		t.Fatalf("the stale record became %+v, was %+v", o, stale)
	}
	waitFor(t, "b routes the restored alpha to a", func() bool {
		_, routes := b.Catalog.TenantByID(back.ID)
		o, ok := b.Cluster.Node.Owner(back.ID)
		return routes && ok && o.Node == "a" && o.Live
	})
	if to, _, err := b.Cluster.Route(ctx, back); err != nil || to != "http://a.test:8080" {
		t.Fatalf("b routes alpha to %q (%v), want a", to, err)
	}
}

// TestClusterTrashRestoredChapterFailsOver: the chapter restored from the
// trash on a is a's to replicate (its uploads pass the fence only while a
// owns it), so when a dies b takes it over from the replica with what a
// wrote after the restore, not the copy replicated before the deletion.
func TestClusterTrashRestoredChapterFailsOver(t *testing.T) {
	ctx := context.Background()
	nc := natstest.Start(t, 1)
	a, stopA := startClusterPlatform(t, nc, "a", clusterOptions{replica: true})
	b, _ := startClusterPlatform(t, nc, "b", clusterOptions{replica: true})
	tn, entry := deletedChapter(t, a, "alpha", b)
	back, err := a.RestoreTrash(ctx, entry, "alpha")
	if err != nil || back.ID != tn.ID {
		t.Fatalf("restore on a: %+v, %v (want its old id %s)", back, err, tn.ID)
	}
	if err := savePost(a, "alpha", "written after the restore"); err != nil {
		t.Fatal(err)
	}
	want := []string{"alpha's post", "written after the restore"}
	if got := postTitles(t, a, "alpha"); !sameTitles(got, want) {
		t.Fatalf("a serves %v, want %v", got, want)
	}
	waitFor(t, "b sees alpha back at a", func() bool {
		o, ok := b.Cluster.Node.Owner(back.ID)
		_, routes := b.Catalog.TenantByID(back.ID)
		return routes && ok && o.Node == "a"
	})

	stopA() // its final syncs, then its lease lapses
	waitFor(t, "b takes alpha over from the dead a", func() bool {
		o, ok := b.Cluster.Node.Owner(back.ID)
		return ok && o.Node == "b" && o.Live
	})
	if to, _, err := b.Cluster.Route(ctx, back); err != nil || to != "" {
		t.Fatalf("b routes alpha to %q (%v), want to serve it", to, err)
	}
	if got := postTitles(t, b, "alpha"); !sameTitles(got, want) {
		t.Fatalf("b serves alpha taken over from the replica with posts %v, want %v", got, want)
	}
	if err := savePost(b, "alpha", "written on b"); err != nil {
		t.Fatalf("b refuses a write to alpha it took over: %v", err)
	}
}

// sameTitles reports whether got holds exactly want, in any order.
func sameTitles(got, want []string) bool {
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	return slices.Equal(g, w)
}
