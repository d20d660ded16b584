package platform

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/chapterhouse/chapterhouse/internal/natstest"
)

// A restore that a request started on a chapter's owner, and that ends
// after the chapter was handed to another node, does not mark this
// node's copy current: were the chapter to come back here, that copy
// (stale from the moment the record moved) would be served without a
// restore. The request is refused as fenced; so is one whose restore
// began after the record moved (the request saw this node as owner just
// before).
func TestRestoreOverlappingAHandoverIsNotCurrent(t *testing.T) {
	ctx := context.Background()
	nc := natstest.Start(t, 1)
	a, _ := startClusterPlatform(t, nc, "a", clusterOptions{replica: true})
	b, _ := startClusterPlatform(t, nc, "b", clusterOptions{replica: true})
	tn := tenantWithPost(t, a, "alpha", "alpha's post")
	waitFor(t, "a sees b live", func() bool {
		for _, n := range a.Cluster.Node.Nodes() {
			if n.ID == "b" {
				return true
			}
		}
		return false
	})

	c := a.Cluster
	// hold has the next restore on a wait where a restore waits for a
	// takeover's listing, until the returned channel is closed.
	hold := func() chan struct{} {
		held := &takeoverListing{done: make(chan struct{})}
		c.mu.Lock()
		c.listings[tn.ID] = held
		c.mu.Unlock()
		return held.done
	}
	isCurrent := func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.current[tn.ID]
	}
	handTo := func(from, to *Platform) {
		t.Helper()
		waitFor(t, from.Cluster.Node.ID()+" sees alpha as its own", func() bool {
			o, ok := from.Cluster.Node.Owner(tn.ID)
			return ok && o.Node == from.Cluster.Node.ID()
		})
		if err := from.Cluster.Node.Handover(ctx, tn.ID, to.Cluster.Node.ID()); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "both see alpha owned by "+to.Cluster.Node.ID(), func() bool {
			oa, _ := a.Cluster.Node.Owner(tn.ID)
			ob, _ := b.Cluster.Node.Owner(tn.ID)
			return oa.Node == to.Cluster.Node.ID() && ob.Node == to.Cluster.Node.ID()
		})
	}

	// A request's restore on a, under way when a hands alpha to b.
	c.forget(tn.ID)
	release := hold()
	done := make(chan error, 1)
	go func() { done <- c.ensureCurrent(ctx, tn, nil) }()
	inRestore(t, a)
	handTo(a, b)
	close(release)
	if err := <-done; !errors.Is(err, ErrFenced) {
		t.Errorf("the restore that overlapped the handover: %v, want ErrFenced", err)
	}
	if isCurrent() {
		t.Error("a marked its copy of alpha current after handing it to b")
	}

	// The record moved before the restore began: its copy is no more
	// current than the last.
	if err := c.ensureCurrent(ctx, tn, nil); !errors.Is(err, ErrFenced) {
		t.Errorf("a restore begun after the handover: %v, want ErrFenced", err)
	}
	if isCurrent() {
		t.Error("a marked its copy of alpha current, restored after it handed alpha to b")
	}

	// The record went to b and came back during the restore: a owns
	// alpha again, at another revision, and the copy the restore began
	// with (before b's time) is still not current.
	handTo(b, a)
	release = hold()
	began, _ := c.Node.Owner(tn.ID)
	go func() { done <- c.ensureCurrent(ctx, tn, nil) }()
	inRestore(t, a)
	handTo(a, b)
	handTo(b, a)
	if o, _ := c.Node.Owner(tn.ID); o.Node != "a" || o.Rev == began.Rev {
		t.Fatalf("alpha's record %+v, want a's at a revision after %d", o, began.Rev)
	}
	close(release)
	if err := <-done; !errors.Is(err, ErrFenced) {
		t.Errorf("the restore that overlapped a handover and a handback: %v, want ErrFenced", err)
	}
	if isCurrent() {
		t.Error("a marked current a copy restored before alpha went to b and back")
	}
}

// inRestore waits until a restore from the replica is under way on p
// (its work dir made: ensureCurrent has read the record it began with).
func inRestore(t *testing.T, p *Platform) {
	t.Helper()
	waitFor(t, "a restore under way", func() bool {
		m, _ := filepath.Glob(filepath.Join(p.Dir, "tmp", "takeover-*"))
		return len(m) > 0
	})
}
