package platform

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
	"github.com/chapterhouse/chapterhouse/tenantdb/replica"
	"github.com/chapterhouse/chapterhouse/tenantdb/sqlitefile"
)

// ErrFenced is a write refused because this node cannot prove, within the
// fencing margin, that it still owns the tenant: its node lease was not
// renewed in time, or the tenant's record names another node. Nothing of
// the write is kept; the client may try again (503, Retry-After).
var ErrFenced = errors.New("this chapter's server cannot accept changes right now (it is not sure it still serves the chapter); please try again in a few seconds")

// ErrNoOwner is a tenant that no live node owns and this node could not
// claim (another node won the compare-and-set, or NATS did not answer).
var ErrNoOwner = errors.New("no node of the cluster serves this chapter now")

// ClusterNode is this process's membership of a cluster (package
// tenantdb/cluster, wrapped by the CLI): its node lease, the ownership
// records of the tenants and the other nodes, as the platform uses them.
type ClusterNode interface {
	// ID is this node's name (--node-id).
	ID() string
	// Owner is tenant id's owner as the watch last saw it: the node, its
	// advertised URL and whether its node lease is live; ok is false
	// when the tenant has no record.
	Owner(id string) (node, addr string, live, ok bool)
	// Claim takes tenant id for this node by compare-and-set on its
	// record; it fails when the record names another live node.
	Claim(ctx context.Context, id string) error
	// CanWrite is nil while this node may acknowledge a write to id: the
	// record names it at its current epoch and its lease was renewed
	// within the fencing margin (monotonic clock).
	CanWrite(id string) error
	// Place records a new tenant's owner: the least loaded live node.
	Place(ctx context.Context, id string) (node string, err error)
	// Handover gives tenant id, which this node owns, to node to.
	Handover(ctx context.Context, id, to string) error
	// Nodes lists the live nodes.
	Nodes() []NodeInfo
}

// NodeInfo is one node of the cluster, for `node list`.
type NodeInfo struct {
	ID        string    `json:"id"`
	Addr      string    `json:"addr"`
	Epoch     uint64    `json:"epoch"`
	Tenants   int       `json:"tenants"`   // owned
	Open      int       `json:"open"`      // open in its pool (its own count, from its lease)
	Load      float64   `json:"load"`      // requests a second, from its lease
	Heartbeat time.Time `json:"heartbeat"` // its last renew
}

// Cluster is this node's part in a cluster: which tenants it serves, the
// file of each restored from the replica when it takes one over, and the
// fencing of writes (docs/cluster.md). Nil on a single node.
type Cluster struct {
	Node   ClusterNode
	Target *replica.Target // the replica every node streams to
	p      *Platform

	mu sync.Mutex
	// current holds the tenants whose local file is the newest: restored
	// from the replica, or created, since this node took them.
	current map[string]bool
	claims  singleflight.Group
}

// JoinCluster makes p a node of a cluster: every write to a tenant checks
// node.CanWrite right before it commits, a replica upload or deletion is
// refused for a tenant this node may have lost, and Route decides where a
// tenant's requests go. Call it before StartReplication and serving.
func (p *Platform) JoinCluster(node ClusterNode, target *replica.Target) *Cluster {
	c := &Cluster{Node: node, Target: target, p: p, current: map[string]bool{}}
	p.Cluster = c
	p.Pool.Fence(func(id string) error { return c.CheckWrite(id) })
	return c
}

// CheckWrite is nil while this node may acknowledge a write to tenant id,
// else ErrFenced (wrapped with why).
func (c *Cluster) CheckWrite(id string) error {
	if err := c.Node.CanWrite(id); err != nil {
		return fmt.Errorf("%w (%v)", ErrFenced, err)
	}
	return nil
}

// Route says where tenant t is served: "" when this node serves it (it
// owns it, or had it claimed now because no live node did, and its file
// is current here), else the advertised URL of its live owner.
func (c *Cluster) Route(ctx context.Context, t catalog.Tenant) (string, error) {
	self := c.Node.ID()
	for try := 0; try < 3; try++ {
		node, addr, live, ok := c.Node.Owner(t.ID)
		switch {
		case ok && node == self:
			return "", c.ensureCurrent(ctx, t)
		case ok && live:
			return addr, nil
		}
		_, err, _ := c.claims.Do(t.ID, func() (any, error) {
			if node, _, live, ok := c.Node.Owner(t.ID); ok && (node == self || live) {
				return nil, nil // decided meanwhile
			}
			c.forget(t.ID)
			return nil, c.Node.Claim(ctx, t.ID)
		})
		if err != nil {
			c.p.Log.Info("cluster: claiming a tenant failed; asking again", "tenant", t.ID, "err", err)
			select {
			case <-ctx.Done():
				return "", ctx.Err()
			case <-time.After(time.Duration(50*(try+1)) * time.Millisecond):
			}
		}
	}
	return "", fmt.Errorf("tenant %s: %w", t.ID, ErrNoOwner)
}

// forget marks tenant id's local file as possibly behind: the next time
// this node serves it, it is restored from the replica first.
func (c *Cluster) forget(id string) {
	c.mu.Lock()
	delete(c.current, id)
	c.mu.Unlock()
}

// Current marks tenant id's local file as the newest (a tenant created
// here and placed on this node).
func (c *Cluster) Current(id string) {
	c.mu.Lock()
	c.current[id] = true
	c.mu.Unlock()
}

// ensureCurrent makes tenant t's local file the newest before this node
// serves it: the first time it serves t since it took it, the file is
// restored from the replica (when the replica holds it), one restore at
// a time per tenant.
func (c *Cluster) ensureCurrent(ctx context.Context, t catalog.Tenant) error {
	c.mu.Lock()
	ok := c.current[t.ID]
	c.mu.Unlock()
	if ok {
		return nil
	}
	_, err, _ := c.claims.Do("restore "+t.ID, func() (any, error) {
		c.mu.Lock()
		ok := c.current[t.ID]
		c.mu.Unlock()
		if ok {
			return nil, nil
		}
		start := time.Now()
		restored, err := c.restore(context.WithoutCancel(ctx), t)
		if err != nil {
			return nil, err
		}
		c.Current(t.ID)
		if restored {
			c.p.Log.Info("cluster: restored a tenant taken over from the replica", "tenant", t.ID, "duration", time.Since(start))
		}
		return nil, nil
	})
	return err
}

// restore puts the replica's newest copy of tenant t in place of the local
// file (if any), checked as an untrusted import. A tenant the replica does
// not hold keeps its local file, which must exist.
func (c *Cluster) restore(ctx context.Context, t catalog.Tenant) (bool, error) {
	if c.Target == nil {
		return false, nil
	}
	p := c.p
	live := tenantdb.TenantPath(p.Dir, t.ID)
	work, err := os.MkdirTemp(p.tmpDir(), "takeover-")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(work)
	out := filepath.Join(work, t.ID+".db")
	if err := c.Target.Restore(ctx, t.ID, out, time.Time{}); err != nil {
		if errors.Is(err, replica.ErrNotAvailable) && fileExists(live) {
			return false, nil // never replicated: the local file is all there is
		}
		return false, fmt.Errorf("restoring tenant %s from the replica: %w", t.ID, err)
	}
	im, err := tenantdb.PrepareImport(ctx, out, work, DefaultMaxImport)
	if err != nil {
		return false, fmt.Errorf("the replica's copy of tenant %s: %w", t.ID, err)
	}
	defer im.Discard()
	err = p.Pool.Drain(ctx, t.ID, func() error {
		if fileExists(live) {
			// The stale copy goes to the trash unrecorded (an orphan
			// there, purged with the rest): the replica is the newest.
			trash := filepath.Join(p.Dir, "trash")
			if err := os.MkdirAll(trash, 0o700); err != nil {
				return err
			}
			if err := moveTenantFiles(live, filepath.Join(trash, trashName(t, p.Now(), "stale"))); err != nil {
				return err
			}
		}
		// Litestream's local state of the old copy would not match.
		if err := os.RemoveAll(filepath.Join(p.Dir, "litestream", t.ID)); err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(live), 0o700); err != nil {
			return err
		}
		if err := os.Rename(im.Path, live); err != nil {
			return err
		}
		return sqlitefile.SyncDir(filepath.Dir(live))
	})
	return err == nil, err
}

// Lost is told that this node no longer owns tenant id (its record names
// another node, or this node's lease lapsed): its writes are fenced
// already; it is drained from the pool, and its final sync is refused by
// the fence, so nothing more of it reaches the replica its new owner
// writes.
func (c *Cluster) Lost(ctx context.Context, id string) {
	c.forget(id)
	if open, _ := c.p.Pool.IsOpen(id); !open {
		return
	}
	if err := c.p.Pool.Drain(ctx, id, func() error { return nil }); err != nil {
		c.p.Log.Warn("cluster: draining a lost tenant", "tenant", id, "err", err)
	}
}
