package platform

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
	"github.com/chapterhouse/chapterhouse/tenantdb/cluster"
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

// Cluster is this node's part in a cluster: which tenants it serves, the
// file of each restored from the replica when it takes one over, and the
// fencing of writes (docs/cluster.md). Nil on a single node.
type Cluster struct {
	Node   *cluster.Node
	Target *replica.Target // the replica every node streams to
	// Connected reports whether the node's NATS connection is up (nil:
	// not checked); CheckWrite refuses writes while it is not.
	Connected func() bool
	p         *Platform

	mu sync.Mutex
	// current holds the tenants whose local file is the newest: restored
	// from the replica, or created, since this node took them.
	current map[string]bool
	claims  singleflight.Group
	// requests counts the requests served here, for the load published
	// with the node's lease.
	requests atomic.Int64
	// stuck: a fetch from the replica was abandoned (its stacks logged).
	stuck atomic.Bool
	// fetching holds a token per fetch from the replica under way.
	fetching chan struct{}
	// listings holds, for each tenant of a takeover under way, the
	// takeover's listing of the replica (guarded by mu): a restore that a
	// request starts uses it too, rather than listing on its own.
	listings map[string]*takeoverListing
}

// takeoverListing is a takeover's one listing of the replica: l is set
// (nil if it failed) when done is closed.
type takeoverListing struct {
	done chan struct{}
	l    *replica.Listing
}

// JoinCluster makes p a node of a cluster: every write to a tenant checks
// node.CanWrite right before it commits, a replica upload or deletion is
// refused for a tenant this node may have lost, and Route decides where a
// tenant's requests go. Call it before StartReplication and serving.
func (p *Platform) JoinCluster(node *cluster.Node, target *replica.Target) *Cluster {
	c := &Cluster{Node: node, Target: target, p: p, current: map[string]bool{}, fetching: make(chan struct{}, fetchLanes), listings: map[string]*takeoverListing{}}
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
	// Cut off from NATS, a node cannot ship what it commits to the
	// replica: what it acknowledged would be lost at the takeover. The
	// lease's clock bounds that anyway (CanWrite); this stops it at once.
	// It only ever refuses more: safety never rests on it.
	if c.Connected != nil && !c.Connected() {
		return fmt.Errorf("%w (not connected to NATS)", ErrFenced)
	}
	return nil
}

// Route says where tenant t is served: "" when this node serves it (it
// owns it, or had it claimed now because no live node did, and its file
// is current here), else the advertised URL of its live owner and the
// revision of the ownership record that says so.
func (c *Cluster) Route(ctx context.Context, t catalog.Tenant) (string, uint64, error) {
	self := c.Node.ID()
	for try := 0; try < 3; try++ {
		o, ok := c.Node.Owner(t.ID)
		switch {
		case ok && o.Node == self && o.Epoch == c.Node.Epoch():
			c.requests.Add(1)
			return "", o.Rev, c.ensureCurrent(ctx, t, nil)
		case ok && o.Live && o.Node != self:
			return o.Advertise, o.Rev, nil
		}
		_, err, _ := c.claims.Do(t.ID, func() (any, error) {
			c.forget(t.ID)
			start := time.Now()
			o, err := c.Node.Claim(ctx, t.ID) // a live owner's record is left as it is
			if err == nil {
				c.p.Log.Info("cluster: claimed at a request", "tenant", t.ID, "owner", o.Node, "duration", time.Since(start))
			}
			return nil, err
		})
		if err != nil {
			c.p.Log.Info("cluster: claiming a tenant failed", "tenant", t.ID, "err", err)
			select {
			case <-ctx.Done():
				return "", 0, ctx.Err()
			case <-time.After(time.Duration(100*(try+1)) * time.Millisecond):
			}
		}
	}
	return "", 0, fmt.Errorf("tenant %s: %w", t.ID, ErrNoOwner)
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
// a time per tenant, from listing if not nil (replica.Target.ListAll,
// begun after this node took t's record) else from a listing of its own.
func (c *Cluster) ensureCurrent(ctx context.Context, t catalog.Tenant, listing *replica.Listing) error {
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
		began, _ := c.Node.Owner(t.ID)
		restored, err := c.restore(context.WithoutCancel(ctx), t, listing)
		if err != nil {
			return nil, err
		}
		// Current only if this node still owns t at the record the
		// restore began with: a request that reached this node just
		// before t was handed over (or claimed) restores a file that is
		// stale from the moment the record moved, and were t to come
		// back here, it would be served without a restore.
		if now, ok := c.Node.Owner(t.ID); !ok || now.Node != c.Node.ID() || now.Rev != began.Rev {
			return nil, fmt.Errorf("tenant %s: %w (its record moved during its restore from the replica)", t.ID, ErrFenced)
		}
		c.Current(t.ID)
		if restored {
			c.p.mailWake(t.ID) // the file may hold mail queued elsewhere
		}
		if restored {
			c.p.Log.Info("cluster: restored a tenant taken over from the replica", "tenant", t.ID, "duration", time.Since(start))
		}
		return nil, nil
	})
	return err
}

// restore puts the replica's newest copy of tenant t (as listing saw it,
// if not nil) in place of the local file (if any), checked as an
// untrusted import. A tenant the replica does not hold keeps its local
// file, which must exist.
func (c *Cluster) restore(ctx context.Context, t catalog.Tenant, listing *replica.Listing) (bool, error) {
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
	if listing == nil {
		// A takeover under way took t: its listing, once it is made.
		c.mu.Lock()
		tl := c.listings[t.ID]
		c.mu.Unlock()
		if tl != nil {
			select {
			case <-tl.done:
				listing = tl.l
			case <-ctx.Done():
				return false, ctx.Err()
			}
		}
	}
	start := time.Now()
	seed, err := c.fetch(ctx, t.ID, out, listing)
	if err != nil {
		if errors.Is(err, replica.ErrNotAvailable) && fileExists(live) {
			return false, nil // never replicated: the local file is all there is
		}
		return false, fmt.Errorf("restoring tenant %s from the replica: %w", t.ID, err)
	}
	fetched := time.Now()
	im, err := tenantdb.PrepareImport(ctx, out, work, DefaultMaxImport)
	if err != nil {
		return false, fmt.Errorf("the replica's copy of tenant %s: %w", t.ID, err)
	}
	defer im.Discard()
	c.p.Log.Info("cluster: a tenant's file from the replica", "tenant", t.ID, "fetch", fetched.Sub(start), "check", time.Since(fetched), "bytes", im.Size)
	// Mail the file holds (queued on the node that died, or handed over)
	// needs this node's marker before the file is in place, as a write
	// that queues mail does, so that this node's mail worker sends it;
	// the marker is in this node's data dir, not in the file.
	mailWaiting, err := im.MailWaiting(ctx)
	if err != nil {
		return false, fmt.Errorf("the replica's copy of tenant %s: %w", t.ID, err)
	}
	if mailWaiting {
		if err := tenantdb.MarkMail(p.Dir, t.ID); err != nil {
			return false, err
		}
	}
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
		// That of the replica's newest file: the first write registers
		// without listing the bucket.
		if seed != nil {
			if err := seed.Write(filepath.Join(p.Dir, "litestream")); err != nil {
				return err
			}
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

// fetchLanes bounds the fetches from the replica a node runs at once,
// whether a takeover or a request started them. Litestream opens up to 32
// files of a restore at once, each an object-store read that creates a
// JetStream consumer: 14 restores on one survivor (8 from the takeover,
// 6 from requests) had 213 consumer creations waiting on the JetStream
// API, and every one of those fetches hung past 20 s under load.
const fetchLanes = 4

// fetchTimeout bounds a takeover's fetch of a tenant from the replica. A
// fetch that hangs (an object-store read that never ends: seen once in
// the chaos test under load, four chapters waiting on it for a minute)
// is abandoned, so the takeover and the next request try again; a
// chapter of a few hundred KB took up to 12 s under heavy load, and
// 100 MB takes about 1 s on a quiet machine.
var fetchTimeout = 20 * time.Second

// fetch writes the replica's newest copy of tenant id to out, with the
// seed of its first register (replica.Target.RestoreSeed), giving up
// after fetchTimeout even if the replica's client does not heed its
// context: the abandoned fetch writes into the caller's temp dir, which is
// removed, and nothing of it is installed.
func (c *Cluster) fetch(ctx context.Context, id, out string, listing *replica.Listing) (*replica.Seed, error) {
	// The wait for a lane is not part of the timeout.
	select {
	case c.fetching <- struct{}{}:
		defer func() { <-c.fetching }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	type fetched struct {
		seed *replica.Seed
		err  error
	}
	done := make(chan fetched, 1)
	go func() {
		seed, err := c.Target.RestoreSeedFrom(ctx, listing, id, out)
		done <- fetched{seed, err}
	}()
	select {
	case f := <-done:
		return f.seed, f.err
	case <-ctx.Done():
		if c.stuck.CompareAndSwap(false, true) { // once per process: what it waits on
			var b strings.Builder
			pprof.Lookup("goroutine").WriteTo(&b, 1)
			c.p.Log.Warn("cluster: a fetch from the replica hangs; its goroutines", "tenant", id, "stacks", b.String())
		}
		return nil, fmt.Errorf("no answer from the replica within %v: %w", fetchTimeout, ctx.Err())
	}
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

// Start wires the node's events: a tenant lost is drained; a dead node's
// tenants are taken over (each survivor takes those it wins by rendezvous
// hashing) and restored from the replica at once, takeOverRestores at a time, so the
// first request finds them ready. The load that Place weighs is
// published every two seconds until ctx ends.
func (c *Cluster) Start(ctx context.Context) {
	c.Node.OnLost(func(id string) { go c.Lost(ctx, id) })
	c.Node.OnNodeDead(func(node string) { go c.takeOver(ctx, node) })
	go func() {
		tick := time.NewTicker(2 * time.Second)
		defer tick.Stop()
		last := c.requests.Load()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			n := c.requests.Load()
			c.Node.SetLoad(c.p.Pool.Len(), float64(n-last)/2)
			last = n
		}
	}()
}

// takeOverRestores is how many tenants taken over are restored at once:
// a restore waits on the object store more than it computes.
const takeOverRestores = 8

// takeOverTries is how often a takeover tries to restore a tenant before
// it leaves it to the tenant's next request.
const takeOverTries = 3

// takeOver takes the tenants of dead node that this node wins and
// restores them.
func (c *Cluster) takeOver(ctx context.Context, dead string) {
	start := time.Now()
	taken, err := c.Node.TakeOverDead(ctx, dead)
	if err != nil {
		c.p.Log.Error("cluster: taking over a dead node's tenants", "node", dead, "err", err)
	}
	// A record TakeOverDead passed over (its epoch not yet known dead
	// here when it ran) is claimed now by the node that wins it, rather
	// than at its first request.
	if ts, err := c.p.Catalog.Tenants(ctx); err == nil {
		var live []string // those that take new tenants, as TakeOverDead splits
		for _, n := range c.Node.Nodes() {
			if !n.Draining {
				live = append(live, n.ID)
			}
		}
		for _, t := range ts {
			if o, ok := c.Node.Owner(t.ID); ok && o.Node == dead && !o.Live && cluster.Rendezvous(t.ID, live) == c.Node.ID() {
				if o, err := c.Node.Claim(ctx, t.ID); err == nil && o.Node == c.Node.ID() {
					taken = append(taken, t.ID)
				}
			}
		}
	}
	c.p.Log.Info("cluster: took over a dead node's tenants", "node", dead, "tenants", len(taken), "duration", time.Since(start))
	for _, id := range taken {
		c.forget(id)
	}
	// One listing of the replica's bucket for all the restores below
	// (each would otherwise read the metadata of every object in it).
	// It holds every file of these tenants that a restore of its own
	// would: it begins after this node took their records, and nothing
	// else uploads to them since. The dead node could not: it asks
	// CheckWrite before each upload, which refuses from a fence margin
	// before its lease expired, and the expiry came before the takeover
	// (an upload asked before and frozen past all that would miss a
	// restore's own listing as well); and this node opens none of them
	// before its restore.
	// A request for one of them meanwhile waits for this listing
	// rather than making one of its own (takeoverListing).
	var listing *replica.Listing
	if len(taken) > 0 && c.Target != nil {
		tl := &takeoverListing{done: make(chan struct{})}
		c.mu.Lock()
		for _, id := range taken {
			c.listings[id] = tl
		}
		c.mu.Unlock()
		defer func() {
			c.mu.Lock()
			for _, id := range taken {
				if c.listings[id] == tl {
					delete(c.listings, id)
				}
			}
			c.mu.Unlock()
		}()
		var err error
		if listing, err = c.Target.ListAll(ctx); err != nil {
			c.p.Log.Warn("cluster: listing the replica for a takeover; each restore lists on its own", "node", dead, "err", err)
		} else if listing != nil {
			c.p.Log.Info("cluster: listed the replica for a takeover", "node", dead, "files", listing.Len(), "duration", time.Since(listing.Began()))
		}
		tl.l = listing
		close(tl.done)
	}
	sem := make(chan struct{}, takeOverRestores)
	var wg sync.WaitGroup
	for _, id := range taken {
		t, ok := c.p.Catalog.TenantByID(id)
		if !ok {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			began := time.Now()
			// A failed restore is tried again at once, not left to the
			// chapter's next request, while this node still owns it.
			for try := 1; ; try++ {
				l := listing
				if try > 1 {
					l = nil // a failed restore lists anew
					c.mu.Lock()
					delete(c.listings, id)
					c.mu.Unlock()
				}
				err := c.ensureCurrent(ctx, t, l)
				if err == nil {
					break
				}
				c.p.Log.Error("cluster: restoring a tenant taken over", "tenant", id, "try", try, "err", err)
				if try == takeOverTries || c.Node.CanWrite(id) != nil || ctx.Err() != nil {
					return
				}
				select {
				case <-ctx.Done():
					return
				case <-time.After(200 * time.Millisecond):
				}
			}
			restored := time.Now()
			// Opened now, its replication registered, so that its first
			// request finds it ready.
			if h, err := c.p.Pool.Acquire(ctx, t.ID); err == nil {
				h.Release()
			}
			c.p.Log.Info("cluster: a tenant taken over is ready", "tenant", id, "queued", began.Sub(start),
				"restore", restored.Sub(began), "open", time.Since(restored))
		}()
	}
	wg.Wait()
	c.p.Log.Info("cluster: the dead node's tenants are restored here", "node", dead, "tenants", len(taken), "duration", time.Since(start))
}

// claimNew takes a tenant being created for this node, before the
// catalog lists it: it is never without an owner.
func (c *Cluster) claimNew(ctx context.Context, id string) error {
	if _, err := c.Node.Claim(ctx, id); err != nil {
		return err
	}
	if err := c.CheckWrite(id); err != nil {
		return err
	}
	c.Current(id)
	return nil
}

// Place gives tenant t, created here, to the least loaded live node (the
// one that owns the fewest tenants; ties broken by rendezvous hashing),
// through the replica as a move does. It returns the node.
func (c *Cluster) Place(ctx context.Context, t catalog.Tenant) (string, error) {
	to := c.leastLoaded(t.ID, "")
	if to == "" || to == c.Node.ID() {
		return c.Node.ID(), nil
	}
	if err := c.handOver(ctx, t, to); err != nil {
		return "", err
	}
	return to, nil
}

// leastLoaded is the live node, other than but and not draining, that
// owns the fewest tenants.
func (c *Cluster) leastLoaded(id, but string) string {
	var tied []string
	least := -1
	for _, n := range c.Node.Nodes() {
		if n.ID == but || n.Draining {
			continue
		}
		switch {
		case least < 0 || n.Owned < least:
			least, tied = n.Owned, []string{n.ID}
		case n.Owned == least:
			tied = append(tied, n.ID)
		}
	}
	return cluster.Rendezvous(id, tied)
}

// handOver gives tenant t, which this node owns, to node to: requests in
// flight finish, the file is closed and its last writes shipped to the
// replica (the position record Litestream's glue writes after a final
// sync in step proves it), and the ownership record moves by
// compare-and-set. The new owner restores the file from the replica at
// its first request. The caller froze the tenant when writes may come.
func (c *Cluster) handOver(ctx context.Context, t catalog.Tenant, to string) error {
	if err := c.CheckWrite(t.ID); err != nil {
		return err
	}
	// Open it once, so that this process replicates it and its close
	// proves the replica in step.
	h, err := c.p.Pool.Acquire(ctx, t.ID)
	if err != nil {
		return err
	}
	h.Release()
	return c.p.Pool.Drain(ctx, t.ID, func() error {
		if c.p.Replica != nil {
			rec := filepath.Join(c.p.Dir, "litestream", t.ID, "position.json")
			if !fileExists(rec) {
				return fmt.Errorf("tenant %s: the replica is not known to hold its last writes (the final sync failed; see the log): not handed over", t.Slug)
			}
		}
		c.forget(t.ID)
		return c.Node.Handover(ctx, t.ID, to)
	})
}

// Move hands tenant t, which this node owns, to node to while it is
// served: freeze (writes get 503), hand over through the replica, have
// the new owner restore it (a first request there), thaw. It returns how
// long the tenant was frozen.
func (c *Cluster) Move(ctx context.Context, t catalog.Tenant, to string) (time.Duration, error) {
	o, ok := c.Node.Owner(t.ID)
	switch {
	case to == c.Node.ID():
		return 0, fmt.Errorf("tenant %s is served by this node (%s) already", t.Slug, to)
	case !ok || o.Node != c.Node.ID() || o.Epoch != c.Node.Epoch():
		return 0, fmt.Errorf("tenant %s is served by node %s, not this one (%s): run the move on that node", t.Slug, o.Node, c.Node.ID())
	}
	var target cluster.NodeInfo
	for _, n := range c.Node.Nodes() {
		if n.ID == to {
			target = n
		}
	}
	if target.ID == "" {
		return 0, fmt.Errorf("node %q is not a live node of the cluster (`node list` shows them)", to)
	}
	start := time.Now()
	wasFrozen := t.Status == catalog.StatusFrozen
	if !wasFrozen {
		if _, err := c.p.Freeze(ctx, t); err != nil {
			return 0, err
		}
	}
	err := c.handOver(ctx, t, to)
	if err == nil {
		err = c.warm(ctx, t, target.Advertise)
	}
	if !wasFrozen {
		if cur, ok := c.p.Catalog.TenantByID(t.ID); ok {
			if _, terr := c.p.Thaw(context.WithoutCancel(ctx), cur); terr != nil {
				err = errors.Join(err, terr)
			}
		}
	}
	return time.Since(start), err
}

// warm asks the node at addr for tenant t's home page, which has it
// restore the tenant from the replica, and waits for an answer that is
// not a server error (30 s at most).
func (c *Cluster) warm(ctx context.Context, t catalog.Tenant, addr string) error {
	host := t.Slug + "." + c.p.Base
	deadline := time.Now().Add(30 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, addr+"/", nil)
		if err != nil {
			return err
		}
		req.Host = host
		resp, err := warmClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode < 500 {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("tenant %s: the new owner at %s did not serve it within 30s (%s)", t.Slug, addr, last)
}

var warmClient = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil}}

// Drain marks this node draining (no node gives it new tenants from then
// on, until it restarts) and moves every tenant it owns to the least
// loaded other nodes, one at a time, calling report after each.
func (c *Cluster) Drain(ctx context.Context, report func(slug, to string, frozen time.Duration, err error)) (moved, failed int, err error) {
	if err := c.Node.SetDraining(ctx); err != nil {
		return 0, 0, err
	}
	for _, id := range c.Node.Owned() {
		t, ok := c.p.Catalog.TenantByID(id)
		if !ok {
			continue
		}
		to := c.leastLoaded(id, c.Node.ID())
		if to == "" {
			report(t.Slug, "", 0, fmt.Errorf("no other live node: %w", cluster.ErrNoLiveNode))
			failed++
			continue
		}
		d, err := c.Move(ctx, t, to)
		report(t.Slug, to, d, err)
		if err != nil {
			failed++
		} else {
			moved++
		}
	}
	return moved, failed, nil
}
