package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/internal/natstest"
)

func natstestStart1(t testing.TB) *natstest.Cluster { return natstest.Start(t, 1) }

// awaitDead waits until each of survivors sees every one of tenants
// recorded at node dead and not live (its lease at the recorded epoch
// ended): what TakeOverDead takes from.
func awaitDead(t testing.TB, dead string, tenants []string, survivors ...*Node) {
	t.Helper()
	for _, n := range survivors {
		eventually(t, n.ID()+" sees every record of "+dead+" not live", func() bool {
			for _, id := range tenants {
				if o, ok := n.Owner(id); !ok || o.Node != dead || o.Live {
					return false
				}
			}
			return true
		})
	}
}

// TestTakeOverDeadSplitsBetweenSurvivors: two survivors racing to take a
// dead node's 300 records take each exactly once, spread between them, and
// the records end naming whoever took them.
func TestTakeOverDeadSplitsBetweenSurvivors(t *testing.T) {
	c := start(t)
	a := join(t, c.URL(0), "a")
	b := join(t, c.URL(1), "b")
	d := join(t, c.URL(2), "d")
	tenants := tenantIDs("dead", 300)
	claimAll(t, d, tenants)
	var deadA, deadB events
	a.OnNodeDead(deadA.add)
	b.OnNodeDead(deadB.add)
	eventually(t, "a and b see d's records", func() bool {
		for _, n := range []*Node{a, b} {
			for _, ni := range n.Nodes() {
				if ni.ID == "d" && ni.Owned != len(tenants) {
					return false
				}
			}
		}
		return true
	})
	d.Close()
	eventually(t, "a and b see d dead", func() bool { return deadA.has("d") && deadB.has("d") })
	// A dead event alone does not say the survivors' tables show every
	// record of d not live: under load d's lease could lapse once while it
	// claimed (an event for its old epoch, with the rest of its records at
	// its new one), and a watch can trail. Each survivor's takeover below
	// decides from its table, so wait for what it must see.
	awaitDead(t, "d", tenants, a, b)

	var wg sync.WaitGroup
	taken := make([][]string, 2)
	errs := make([]error, 2)
	for i, n := range []*Node{a, b} {
		wg.Go(func() { taken[i], errs[i] = n.TakeOverDead(ctxT(t), "d") })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("survivor %d: %v", i, err)
		}
	}
	won := map[string]string{}
	for i, n := range []*Node{a, b} {
		for _, id := range taken[i] {
			if prev, ok := won[id]; ok {
				t.Fatalf("%s taken by %s and %s", id, prev, n.ID())
			}
			won[id] = n.ID()
		}
	}
	if len(won) != len(tenants) {
		t.Fatalf("%d of %d records taken", len(won), len(tenants))
	}
	for id, by := range won {
		if want := Rendezvous(id, []string{"a", "b"}); by != want {
			t.Fatalf("%s taken by %s, rendezvous picks %s: the survivors collided", id, by, want)
		}
	}
	if len(taken[0]) < len(tenants)/4 || len(taken[1]) < len(tenants)/4 {
		t.Fatalf("spread a %d, b %d of %d: rendezvous should split them", len(taken[0]), len(taken[1]), len(tenants))
	}
	for _, n := range []*Node{a, b} {
		eventually(t, n.ID()+" sees every record at its taker", func() bool {
			for _, id := range tenants {
				if o, ok := n.Owner(id); !ok || o.Node != won[id] || !o.Live {
					return false
				}
			}
			return true
		})
	}
	for _, id := range tenants {
		for _, n := range []*Node{a, b} {
			err := n.CanWrite(id)
			if (n.ID() == won[id]) != (err == nil) {
				t.Fatalf("%s.CanWrite(%s) = %v, taken by %s", n.ID(), id, err, won[id])
			}
		}
	}
}

// TestClaimRace: two nodes claiming the same new tenants at once end with
// one owner each, and both are told the same one.
func TestClaimRace(t *testing.T) {
	c := start(t)
	a := join(t, c.URL(0), "a")
	b := join(t, c.URL(1), "b")
	tenants := tenantIDs("race", 60)
	got := make([][]Owner, 2)
	var wg sync.WaitGroup
	for i, n := range []*Node{a, b} {
		got[i] = make([]Owner, len(tenants))
		wg.Go(func() {
			for j, id := range tenants {
				o, err := n.Claim(ctxT(t), id)
				if err != nil {
					t.Errorf("%s claims %s: %v", n.ID(), id, err)
				}
				got[i][j] = o
			}
		})
	}
	wg.Wait()
	for j, id := range tenants {
		if got[0][j].Node != got[1][j].Node || got[0][j].Node == "" {
			t.Fatalf("%s: a was told %q, b %q", id, got[0][j].Node, got[1][j].Node)
		}
		owner, other := a, b
		if got[0][j].Node == "b" {
			owner, other = b, a
		}
		if err := owner.CanWrite(id); err != nil {
			t.Fatalf("owner %s.CanWrite(%s): %v", owner.ID(), id, err)
		}
		eventually(t, other.ID()+" sees "+id, func() bool { o, _ := other.Owner(id); return o.Node == owner.ID() })
		if err := other.CanWrite(id); !errors.Is(err, ErrNotOwner) {
			t.Fatalf("%s.CanWrite(%s) = %v, want ErrNotOwner", other.ID(), id, err)
		}
	}
}

// TestClaimLeavesALiveOwnerAlone: a claim of a tenant whose owner is live
// changes nothing and returns the owner.
func TestClaimLeavesALiveOwnerAlone(t *testing.T) {
	c := start(t)
	a := join(t, c.URL(0), "a")
	b := join(t, c.URL(1), "b")
	claimAll(t, a, []string{"t1"})
	eventually(t, "b sees t1", func() bool { _, ok := b.Owner("t1"); return ok })
	before, _ := b.Owner("t1")
	o, err := b.Claim(ctxT(t), "t1")
	if err != nil || o.Node != "a" || o.Rev != before.Rev || !o.Live {
		t.Fatalf("b.Claim(t1) = %+v, %v; want a's record unchanged (rev %d)", o, err, before.Rev)
	}
	if err := a.CanWrite("t1"); err != nil {
		t.Fatalf("a lost t1 to a claim: %v", err)
	}
	if _, err := b.Claim(ctxT(t), "bad.id"); err == nil {
		t.Fatal("claim of an id with a dot: no error")
	}
}

// TestHandover: the owner hands a tenant over; it stops being writable here
// at once and becomes writable there; a non-owner cannot hand it over, nor
// can anyone hand it to a node that is not live, and a handover on a stale
// revision loses with ErrConflict and leaves the record as it was.
func TestHandover(t *testing.T) {
	c := start(t)
	a := join(t, c.URL(0), "a")
	b := join(t, c.URL(1), "b")
	x := join(t, c.URL(2), "x")
	claimAll(t, a, []string{"t1", "t2"})
	var lost events
	a.OnLost(lost.add)

	if err := b.Handover(ctxT(t), "t1", "x"); !errors.Is(err, ErrNotOwner) {
		t.Fatalf("handover by a non-owner = %v, want ErrNotOwner", err)
	}
	if err := a.Handover(ctxT(t), "t1", "nobody"); !errors.Is(err, ErrNoLiveNode) {
		t.Fatalf("handover to an unknown node = %v, want ErrNoLiveNode", err)
	}
	if err := a.CanWrite("t1"); err != nil {
		t.Fatalf("a failed handover left t1 unwritable: %v", err)
	}
	// A handover whose outcome is unknown (here: never sent) leaves the
	// tenant unwritable until a retry settles it.
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	if err := a.Handover(gone, "t1", "b"); err == nil {
		t.Fatal("handover with an ended context: no error")
	}
	if err := a.CanWrite("t1"); !errors.Is(err, ErrNotOwner) {
		t.Fatalf("a.CanWrite(t1) after a handover of unknown outcome = %v, want ErrNotOwner", err)
	}
	if err := a.Handover(ctxT(t), "t1", "b"); err != nil {
		t.Fatal(err)
	}
	if err := a.CanWrite("t1"); !errors.Is(err, ErrNotOwner) {
		t.Fatalf("a.CanWrite(t1) after handing it over = %v, want ErrNotOwner", err)
	}
	eventually(t, "b can write t1", func() bool { return b.CanWrite("t1") == nil })
	eventually(t, "a hears it lost t1", func() bool { return lost.has("t1") })

	// A stale revision: x changes t2's record while a's watch is frozen.
	eventually(t, "x sees t2", func() bool { _, ok := x.Owner("t2"); return ok })
	seen, _ := x.Owner("t2")
	thaw := freeze(t, a)
	if _, err := x.owners.Update(ctxT(t), "t2", []byte(fmt.Sprintf(`{"node":"a","epoch":%d}`, a.Epoch())), seen.Rev); err != nil {
		t.Fatal(err)
	}
	err := a.Handover(ctxT(t), "t2", "x")
	thaw()
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("handover on a stale revision = %v, want ErrConflict", err)
	}
	eventually(t, "x sees t2 still at a", func() bool { o, _ := x.Owner("t2"); return o.Node == "a" && o.Rev > seen.Rev })
	eventually(t, "a can write t2 again", func() bool { return a.CanWrite("t2") == nil })
}

// TestPlaceSpreadsNewTenants: new tenants go to the least loaded live node.
func TestPlaceSpreadsNewTenants(t *testing.T) {
	c := start(t)
	a := join(t, c.URL(0), "a")
	b := join(t, c.URL(1), "b")
	x := join(t, c.URL(2), "x")
	claimAll(t, a, tenantIDs("old", 6))
	eventually(t, "b sees a's records", func() bool {
		for _, ni := range b.Nodes() {
			if ni.ID == "a" {
				return ni.Owned == 6
			}
		}
		return false
	})
	count := map[string]int{}
	for _, id := range tenantIDs("new", 30) {
		o, err := b.Place(ctxT(t), id)
		if err != nil {
			t.Fatal(err)
		}
		count[o.Node]++
	}
	// 36 in all: 12 each; a had 6 already.
	if count["a"] != 6 || count["b"] != 12 || count["x"] != 12 {
		t.Fatalf("placed %v, want a 6, b 12, x 12", count)
	}
	eventually(t, "x can write its placed tenants", func() bool {
		n := 0
		for _, id := range tenantIDs("new", 30) {
			if x.CanWrite(id) == nil {
				n++
			}
		}
		return n == 12
	})
	o, err := a.Place(ctxT(t), "new0000")
	if err != nil || o.Rev == 0 {
		t.Fatalf("place of a placed tenant = %+v, %v", o, err)
	}
	if got := x.Owned(); len(got) != 12 {
		t.Fatalf("x.Owned() = %d tenants, want 12", len(got))
	}
}

// TestLeaveEndsTheLeaseAtOnce: a node that leaves is dead for the others
// (OnNodeDead) and its records can be claimed.
func TestLeaveEndsTheLeaseAtOnce(t *testing.T) {
	c := start(t)
	a := join(t, c.URL(0), "a")
	b := join(t, c.URL(1), "b")
	claimAll(t, a, []string{"t1"})
	var dead events
	b.OnNodeDead(dead.add)
	eventually(t, "b sees t1", func() bool { _, ok := b.Owner("t1"); return ok })
	if err := a.Leave(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if err := a.CanWrite("t1"); !errors.Is(err, ErrFenced) {
		t.Fatalf("a.CanWrite after Leave = %v, want ErrFenced", err)
	}
	eventually(t, "b sees a leave", func() bool { return dead.has("a") })
	o, err := b.Claim(ctxT(t), "t1")
	if err != nil || o.Node != "b" {
		t.Fatalf("b.Claim(t1) after a left = %+v, %v", o, err)
	}
	if slices.ContainsFunc(b.Nodes(), func(ni NodeInfo) bool { return ni.ID == "a" }) {
		t.Fatal("a still listed after leaving")
	}
}

// TestSetLoadIsPublished: Open and Load reach the other nodes with renews.
func TestSetLoadIsPublished(t *testing.T) {
	c := start(t)
	a := join(t, c.URL(0), "a")
	b := join(t, c.URL(1), "b")
	a.SetLoad(7, 0.25)
	eventually(t, "b sees a's load", func() bool {
		for _, ni := range b.Nodes() {
			if ni.ID == "a" && ni.Open == 7 && ni.Load == 0.25 && time.Since(ni.Heartbeat) < time.Hour {
				return true
			}
		}
		return false
	})
}

// TestRendezvous: the same winner for the same list in any order, an even
// spread, and only the removed node's tenants move.
func TestRendezvous(t *testing.T) {
	nodes := []string{"n1", "n2", "n3"}
	if Rendezvous("x", nil) != "" {
		t.Fatal("a winner among no nodes")
	}
	count := map[string]int{}
	moved := 0
	for _, id := range tenantIDs("t", 9000) {
		w := Rendezvous(id, nodes)
		if w2 := Rendezvous(id, []string{"n3", "n1", "n2"}); w2 != w {
			t.Fatalf("%s: %s, or %s in another order", id, w, w2)
		}
		count[w]++
		after := Rendezvous(id, []string{"n1", "n3"})
		if w != "n2" && after != w {
			moved++
		}
	}
	for _, n := range nodes {
		if count[n] < 2700 || count[n] > 3300 {
			t.Fatalf("spread %v over 9000", count)
		}
	}
	if moved != 0 {
		t.Fatalf("%d tenants of the remaining nodes moved when n2 left", moved)
	}
}

// TestReleaseThenClaimAgain: a released record is gone for every node, and
// a later claim makes a new one over its delete marker.
func TestReleaseThenClaimAgain(t *testing.T) {
	c := start(t)
	a := join(t, c.URL(0), "a")
	b := join(t, c.URL(1), "b")
	claimAll(t, a, []string{"t1"})
	eventually(t, "b sees t1", func() bool { _, ok := b.Owner("t1"); return ok })
	if err := a.Release(ctxT(t), "t1"); err != nil {
		t.Fatal(err)
	}
	if err := a.CanWrite("t1"); !errors.Is(err, ErrNotOwner) {
		t.Fatalf("a.CanWrite after Release = %v, want ErrNotOwner", err)
	}
	eventually(t, "b sees t1 gone", func() bool { _, ok := b.Owner("t1"); return !ok })
	claimAll(t, b, []string{"t1"})
	eventually(t, "a sees t1 at b", func() bool { o, _ := a.Owner("t1"); return o.Node == "b" })
}

// TestDrainingNodeGetsNoNewTenants: a node marked draining shows so to the
// others and is given no new tenant, by placement or by the takeover of a
// dead node's tenants, though it owns the fewest.
func TestDrainingNodeGetsNoNewTenants(t *testing.T) {
	c := start(t)
	a := join(t, c.URL(0), "a")
	b := join(t, c.URL(1), "b")
	d := join(t, c.URL(2), "d")
	claimAll(t, a, tenantIDs("old", 4))
	dead := tenantIDs("dead", 10)
	claimAll(t, d, dead)
	if err := b.SetDraining(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a sees b draining", func() bool {
		for _, ni := range a.Nodes() {
			if ni.ID == "b" {
				return ni.Draining
			}
		}
		return false
	})
	for _, id := range tenantIDs("new", 10) {
		o, err := a.Place(ctxT(t), id)
		if err != nil {
			t.Fatal(err)
		}
		switch o.Node {
		case "b":
			t.Fatalf("%s placed on the draining node b", id)
		case "d":
			dead = append(dead, id)
		}
	}
	// d's tenants are those it claimed and those a placed on it, as Place
	// answered: not d.Owned(), which counts a's placements only once d's
	// own watch has delivered them (under load it had not: "a took 12 of
	// the dead node's 10 tenants").
	slices.Sort(dead)
	d.Close() // a crash: its lease expires
	awaitDead(t, "d", dead, a, b)
	took, err := b.TakeOverDead(ctxT(t), "d")
	if err != nil || len(took) != 0 {
		t.Fatalf("the draining node took %v of the dead node's tenants (%v)", took, err)
	}
	took, err = a.TakeOverDead(ctxT(t), "d")
	if err != nil || !slices.Equal(took, dead) {
		t.Fatalf("a took %v of the dead node's %v (%v), want all: b is draining", took, dead, err)
	}
}
