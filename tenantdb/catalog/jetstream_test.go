package catalog

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/internal/natstest"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// eventually polls cond until it holds, and fails the test with what if
// it has not after a long while (a stuck watch, not a slow one: the
// latency is measured by BenchmarkDomainRoutesOnOtherNode).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("never saw: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestClusterNodesSeeEachOther opens the catalog as two nodes on two
// servers of one cluster: what one changes (tenants, status, domains,
// trash, audit) the other's memory shows, and a removal stops routing on
// both.
func TestClusterNodesSeeEachOther(t *testing.T) {
	ctx := context.Background()
	cluster := natstest.Start(t, 3)
	a, b := openJetStream(t, cluster, 0), openJetStream(t, cluster, 1)
	alpha := newTenant("alpha")
	webtestMust(t, a.AddTenant(ctx, alpha))
	eventually(t, "alpha on node b", func() bool { _, ok := b.TenantBySlug("alpha"); return ok })
	if got, _ := b.TenantByID(alpha.ID); got.Name != alpha.Name || !got.CreatedAt.Equal(alpha.CreatedAt) {
		t.Fatalf("node b has %+v, want %+v", got, alpha)
	}

	const host = "www.alpha.example"
	if _, err := a.AddDomain(ctx, alpha, host, time.Hour); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the pending claim on node b", func() bool { _, err := b.TenantDomain(ctx, alpha.ID, host); return err == nil })
	if _, ok := b.TenantByHost(host); ok {
		t.Fatal("a pending domain routes on node b")
	}
	if _, err := b.SetDomainStatus(ctx, alpha.ID, host, DomainVerified); err != nil {
		t.Fatal(err)
	}
	eventually(t, host+" routing on node a", func() bool { got, ok := a.TenantByHost(host); return ok && got.ID == alpha.ID })

	if _, err := b.SetStatus(ctx, "alpha", StatusSuspended); err != nil {
		t.Fatal(err)
	}
	eventually(t, "alpha suspended on node a", func() bool { got, _ := a.TenantByHost(host); return got.Status == StatusSuspended })

	webtestMust(t, b.Audit(ctx, "cli", "tenant.suspend", alpha.ID, "alpha"))
	if log, err := a.AuditLog(ctx, 5); err != nil || len(log) != 1 || log[0].Action != "tenant.suspend" {
		t.Fatalf("node a's audit log: %+v %v", log, err)
	}

	if _, err := a.RemoveDomain(ctx, host); err != nil {
		t.Fatal(err)
	}
	eventually(t, host+" no longer routing on node b", func() bool { _, ok := b.TenantByHost(host); return !ok })

	webtestMust(t, b.RemoveTenant(ctx, alpha, alpha.ID+"-1.db"))
	eventually(t, "alpha gone from node a", func() bool { _, ok := a.TenantBySlug("alpha"); return !ok })
	eventually(t, "alpha's trash entry on node a", func() bool { _, err := a.TrashEntry(ctx, alpha.ID+"-1.db"); return err == nil })
	// The slug is free again, on either node.
	again := newTenant("alpha")
	webtestMust(t, a.AddTenant(ctx, again))

	// A third node that opens now loads all of it.
	c := openJetStream(t, cluster, 2)
	if got, ok := c.TenantBySlug("alpha"); !ok || got.ID != again.ID {
		t.Fatalf("a node opened later has alpha = %+v %v, want id %s", got, ok, again.ID)
	}
	if trash, _ := c.Trash(ctx); len(trash) != 1 {
		t.Fatalf("a node opened later has the trash %+v", trash)
	}
}

// TestClusterRacingAddTenant adds tenants of one slug from two nodes at
// once, round after round: exactly one wins each round, the other gets
// ErrConflict, and both nodes end up with the winner.
func TestClusterRacingAddTenant(t *testing.T) {
	ctx := context.Background()
	cluster := natstest.Start(t, 3)
	nodes := []*Catalog{openJetStream(t, cluster, 0), openJetStream(t, cluster, 1)}
	for round := range 20 {
		slug := fmt.Sprintf("race-%d", round)
		ts := []Tenant{newTenant(slug), newTenant(slug)}
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i := range nodes {
			wg.Go(func() { errs[i] = nodes[i].AddTenant(ctx, ts[i]) })
		}
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner < 0:
				winner = i
			case err == nil:
				t.Fatalf("round %d: both nodes added %s", round, slug)
			case !errors.Is(err, tenantdb.ErrConflict):
				t.Fatalf("round %d: node %d: %v, want ErrConflict", round, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: neither node added %s: %v", round, slug, errs)
		}
		for i, n := range nodes {
			eventually(t, fmt.Sprintf("node %d has the winner of %s", i, slug), func() bool {
				got, ok := n.TenantBySlug(slug)
				return ok && got.ID == ts[winner].ID
			})
			if _, ok := n.TenantByID(ts[1-winner].ID); ok {
				t.Fatalf("round %d: node %d has the loser", round, i)
			}
		}
	}
}

// TestClusterRacingDomainProof claims one host for two tenants and
// verifies both claims at once from two nodes: exactly one proof wins,
// the other gets ErrDomainOwned (or ErrNotFound: the winner's proof
// removed its claim), and the host routes to the winner on both nodes.
func TestClusterRacingDomainProof(t *testing.T) {
	ctx := context.Background()
	cluster := natstest.Start(t, 3)
	nodes := []*Catalog{openJetStream(t, cluster, 0), openJetStream(t, cluster, 2)}
	ts := []Tenant{newTenant("alpha"), newTenant("bravo")}
	for _, tn := range ts {
		webtestMust(t, nodes[0].AddTenant(ctx, tn))
		eventually(t, tn.Slug+" on node 1", func() bool { _, ok := nodes[1].TenantByID(tn.ID); return ok })
	}
	for round := range 10 {
		host := fmt.Sprintf("www%d.shared.example", round)
		for _, tn := range ts {
			if _, err := nodes[0].AddDomain(ctx, tn, host, time.Hour); err != nil {
				t.Fatal(err)
			}
		}
		eventually(t, "both claims on node 1", func() bool { ds, _ := nodes[1].Claims(ctx, host); return len(ds) == 2 })
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i := range nodes {
			wg.Go(func() { _, errs[i] = nodes[i].RecordDomainCheck(ctx, ts[i].ID, host, true, time.Hour) })
		}
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner < 0:
				winner = i
			case err == nil:
				t.Fatalf("round %d: both proofs of %s won", round, host)
			case !errors.Is(err, ErrDomainOwned) && !errors.Is(err, tenantdb.ErrNotFound):
				t.Fatalf("round %d: node %d: %v, want ErrDomainOwned or ErrNotFound", round, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no proof won: %v", round, errs)
		}
		for i, n := range nodes {
			eventually(t, fmt.Sprintf("%s routing to the winner on node %d", host, i), func() bool {
				got, ok := n.TenantByHost(host)
				ds, _ := n.Claims(ctx, host)
				return ok && got.ID == ts[winner].ID && len(ds) == 1
			})
		}
	}
}

// TestClusterOddKeys stores hosts and trash files whose names are not
// valid KV keys as they are (upper case, wildcards, spaces): they are
// escaped, routed and listed under their own names.
func TestClusterOddKeys(t *testing.T) {
	for _, name := range []string{"www.alpha.example", "WWW.Alpha.Example", "*.alpha.example", "a>b", "with space", ".lead", "trail.", "=x"} {
		key := keyOf(name)
		if back, ok := nameOfKey(key); !ok || back != name {
			t.Errorf("keyOf(%q) = %q, back %q %v", name, key, back, ok)
		}
		if !keyPattern.MatchString(key) && key[0] != '=' {
			t.Errorf("keyOf(%q) = %q is not a plain key", name, key)
		}
	}
	ctx := context.Background()
	c := openJetStream(t, natstest.Start(t, 1), 0)
	alpha := newTenant("alpha")
	webtestMust(t, c.AddTenant(ctx, alpha))
	for _, host := range []string{"*.alpha.example", "xn--bcher-kva.example"} {
		if _, err := c.AddDomain(ctx, alpha, host, time.Hour); err != nil {
			t.Fatalf("AddDomain %q: %v", host, err)
		}
		if _, err := c.SetDomainStatus(ctx, alpha.ID, host, DomainVerified); err != nil {
			t.Fatal(err)
		}
		if got, ok := c.TenantByHost(host); !ok || got.ID != alpha.ID {
			t.Errorf("%q does not route: %+v %v", host, got, ok)
		}
	}
	webtestMust(t, c.AddTrash(ctx, TrashEntry{File: "odd name>.db", TenantID: alpha.ID, Slug: "alpha", Name: "A"}))
	if e, err := c.TrashEntry(ctx, "odd name>.db"); err != nil || e.File != "odd name>.db" {
		t.Fatalf("TrashEntry: %+v %v", e, err)
	}
}

// BenchmarkDomainRoutesOnOtherNode measures the time from the start of a
// verified domain's change on one node to its routing on another node,
// through another server (the catalog watch latency for a new domain; the
// issue asks for under a second). The ns/op is that time.
func BenchmarkDomainRoutesOnOtherNode(b *testing.B) {
	ctx := context.Background()
	cluster := natstest.Start(b, 3)
	a, other := openJetStream(b, cluster, 0), openJetStream(b, cluster, 1)
	alpha := newTenant("alpha")
	if err := a.AddTenant(ctx, alpha); err != nil {
		b.Fatal(err)
	}
	for ; ; time.Sleep(time.Millisecond) {
		if _, ok := other.TenantByID(alpha.ID); ok {
			break
		}
	}
	b.ResetTimer()
	for i := range b.N {
		host := fmt.Sprintf("www%d.alpha.example", i)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				if _, ok := other.TenantByHost(host); ok {
					return
				}
				time.Sleep(20 * time.Microsecond)
			}
		}()
		if err := a.PutDomains(ctx, alpha, []Domain{{Host: host, Status: DomainVerified, Token: "t"}}); err != nil {
			b.Fatal(err)
		}
		<-done
	}
}

// TestClusterHalfDoneRemoval leaves what a node that died in the middle
// of RemoveTenant leaves (the tenant's record gone, its verified claim
// and its slug key still there): the host no longer routes, another
// tenant may claim and prove it, and the slug is taken over once the
// orphan is old enough (not before).
func TestClusterHalfDoneRemoval(t *testing.T) {
	ctx := context.Background()
	c := openJetStream(t, natstest.Start(t, 1), 0)
	k := c.st.(*kvStore)
	const host = "www.alpha.example"
	alpha, bravo := newTenant("alpha"), newTenant("bravo")
	webtestMust(t, c.AddTenant(ctx, alpha))
	webtestMust(t, c.AddTenant(ctx, bravo))
	if _, err := c.AddDomain(ctx, alpha, host, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SetDomainStatus(ctx, alpha.ID, host, DomainVerified); err != nil {
		t.Fatal(err)
	}
	k.c.mu.RLock()
	rev := k.tenantRev[alpha.ID]
	k.c.mu.RUnlock()
	rev, err := k.del(ctx, k.tenantsKV, alpha.ID, rev)
	webtestMust(t, err)
	webtestMust(t, k.seen(ctx, watchTenants, rev))

	if got, ok := c.TenantByHost(host); ok {
		t.Fatalf("the removed tenant's host routes to %+v", got)
	}
	if _, err := c.AddDomain(ctx, bravo, host, time.Hour); err != nil {
		t.Fatalf("claiming a host whose owner is gone: %v", err)
	}
	if _, err := c.SetDomainStatus(ctx, bravo.ID, host, DomainVerified); err != nil {
		t.Fatalf("proving a host whose owner is gone: %v", err)
	}
	if got, ok := c.TenantByHost(host); !ok || got.ID != bravo.ID {
		t.Fatalf("%s routes to %+v %v, want bravo", host, got, ok)
	}

	again := newTenant("alpha")
	if err := c.AddTenant(ctx, again); !errors.Is(err, tenantdb.ErrConflict) {
		t.Fatalf("a fresh orphan slug: %v, want ErrConflict", err)
	}
	k.orphanAge = 0
	if err := c.AddTenant(ctx, again); err != nil {
		t.Fatalf("an old orphan slug: %v", err)
	}
	if got, ok := c.TenantBySlug("alpha"); !ok || got.ID != again.ID {
		t.Fatalf("alpha is %+v %v, want the new tenant", got, ok)
	}
}

// TestClusterServerStops stops the server a node is connected to: the
// node reconnects to another one, its watch goes on (it sees what another
// node adds meanwhile) and its own changes go through once the buckets
// have their leaders again; when the server is back, a node on it loads
// everything.
func TestClusterServerStops(t *testing.T) {
	ctx := context.Background()
	cluster := natstest.Start(t, 3)
	a, b := openJetStream(t, cluster, 0), openJetStream(t, cluster, 1)
	webtestMust(t, a.AddTenant(ctx, newTenant("before")))
	stopped := time.Now()
	cluster.Stop(0)

	bravo := newTenant("bravo")
	retry(t, "node b adds bravo", func() error { return b.AddTenant(ctx, bravo) })
	t.Logf("node b added a tenant %v after the stop", time.Since(stopped))
	eventually(t, "bravo on node a, whose server stopped", func() bool { _, ok := a.TenantByID(bravo.ID); return ok })
	t.Logf("node a saw it %v after the stop", time.Since(stopped))
	alpha := newTenant("alpha")
	retry(t, "node a adds alpha", func() error { return a.AddTenant(ctx, alpha) })
	t.Logf("node a added a tenant %v after the stop", time.Since(stopped))
	eventually(t, "alpha on node b", func() bool { _, ok := b.TenantByID(alpha.ID); return ok })
	if err := a.Ping(ctx); err != nil {
		t.Errorf("Ping after the reconnect: %v", err)
	}

	cluster.Restart(0)
	cluster.WaitReady(time.Minute)
	eventually(t, "a node on the restarted server loads all three", func() bool {
		c, err := tryOpenJetStream(t, cluster, 0)
		if err != nil {
			t.Logf("opening on the restarted server: %v", err)
			return false
		}
		defer c.Close()
		ts, _ := c.Tenants(ctx)
		return len(ts) == 3
	})
}

// retry calls add until it succeeds, or fails with ErrConflict after an
// attempt that timed out (it had landed), while the cluster elects new
// leaders; it fails the test after a minute.
func retry(t *testing.T, what string, add func() error) {
	t.Helper()
	var err error
	for deadline, timedOut := time.Now().Add(time.Minute), false; time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if err = add(); err == nil || timedOut && errors.Is(err, tenantdb.ErrConflict) {
			return
		}
		t.Logf("%s: %v", what, err)
		timedOut = true
	}
	t.Fatalf("%s: %v", what, err)
}

// BenchmarkOpenJetStream measures opening the catalog of a cluster that
// holds 10,000 tenants with one verified domain each (R3), as a node
// starting or a CLI command does: its watches load every record and catch
// up with the leaders. It reports the heap the loaded catalog keeps.
func BenchmarkOpenJetStream(b *testing.B) {
	const n = 10_000
	ctx := context.Background()
	cluster := natstest.Start(b, 3)
	c := openJetStream(b, cluster, 0)
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	var failed error
	var mu sync.Mutex
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			tn := newTenant(fmt.Sprintf("t%05d", i))
			err := c.AddTenant(ctx, tn)
			if err == nil {
				err = c.PutDomains(ctx, tn, []Domain{{Host: tn.Slug + ".example", Status: DomainVerified, Token: "t"}})
			}
			if err != nil {
				mu.Lock()
				failed = err
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if failed != nil {
		b.Fatal(failed)
	}
	b.ResetTimer()
	var heap uint64
	for range b.N {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		other, err := tryOpenJetStream(b, cluster, 1)
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap = after.HeapAlloc - before.HeapAlloc
		if ts, _ := other.Tenants(ctx); len(ts) != n {
			b.Fatalf("opened with %d tenants, want %d", len(ts), n)
		}
		other.Close()
	}
	b.ReportMetric(float64(heap)/n, "heap-B/tenant")
}

// TestClusterRetriedAddTenant leaves what an AddTenant that stored its
// slug key and then failed leaves: the same tenant added again takes its
// own key and is added; another tenant of that slug is refused.
func TestClusterRetriedAddTenant(t *testing.T) {
	ctx := context.Background()
	c := openJetStream(t, natstest.Start(t, 1), 0)
	k := c.st.(*kvStore)
	alpha := newTenant("alpha")
	if _, err := k.slugsKV.Create(ctx, alpha.Slug, []byte(alpha.ID)); err != nil {
		t.Fatal(err)
	}
	if err := c.AddTenant(ctx, newTenant("alpha")); !errors.Is(err, tenantdb.ErrConflict) {
		t.Fatalf("another tenant of a slug whose key is alpha's: %v, want ErrConflict", err)
	}
	if err := c.AddTenant(ctx, alpha); err != nil {
		t.Fatalf("alpha added again: %v", err)
	}
	if got, ok := c.TenantBySlug("alpha"); !ok || got.ID != alpha.ID {
		t.Fatalf("alpha is %+v %v", got, ok)
	}
}
