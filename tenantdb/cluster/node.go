package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Owner is a tenant's ownership record as this node last saw it.
type Owner struct {
	Node  string
	Epoch uint64
	// Advertise is the owner's URL: from its live lease, else as recorded.
	Advertise string
	// Rev is the record's revision in ch_owners (the CAS precondition).
	Rev uint64
	// Live: the owner's lease is live at Epoch as far as this node knows
	// (false for a record of a dead node, or of an older epoch of a node).
	Live bool
}

// NodeInfo is a live node as the nodes watch shows it.
type NodeInfo struct {
	ID        string
	Advertise string
	Epoch     uint64
	// Owned counts the records naming the node at Epoch.
	Owned int
	// Open and Load are what the node published with SetLoad.
	Open      int
	Load      float64
	Heartbeat time.Time
	// Draining: the node is being emptied (SetDraining); it is given no
	// new tenants, by placement or takeover.
	Draining bool
}

// nodeValue is the value of a node key, written by the node at each renew.
type nodeValue struct {
	Advertise string `json:"advertise"`
	// Epoch is 0 in the Create: the epoch is that entry's revision.
	Epoch uint64 `json:"epoch,omitempty"`
	// Session is random per Create, so a node tells its own lease from one
	// another process made under the same id.
	Session   string    `json:"session"`
	Open      int       `json:"open"`
	Load      float64   `json:"load"`
	Heartbeat time.Time `json:"heartbeat"`
	Draining  bool      `json:"draining,omitempty"`
}

// ownerValue is the value of a tenant key in ch_owners.
type ownerValue struct {
	Node      string `json:"node"`
	Epoch     uint64 `json:"epoch"`
	Advertise string `json:"advertise,omitempty"`
}

// liveNode is a node key as last seen on the watch.
type liveNode struct {
	nodeValue
	epoch uint64
	rev   uint64
	seen  time.Time // when this node last applied an entry of the key
}

// record is a tenant key as last seen; deleted ones stay as tombstones so a
// late watch entry cannot bring back an older revision.
type record struct {
	ownerValue
	rev     uint64
	deleted bool
}

type nodeEpoch struct {
	node  string
	epoch uint64
}

// Node is this process's membership of the cluster: its lease, renewed in
// the background, and the nodes and owners tables kept current by watches.
// Its methods are safe for concurrent use.
type Node struct {
	cfg    Config
	js     jetstream.JetStream
	nodes  jetstream.KeyValue
	owners jetstream.KeyValue
	now    func() time.Time
	procID string // random per Join: prefix of this node's message ids

	cancel context.CancelFunc
	wg     sync.WaitGroup
	events dispatcher

	// pause, write-locked by a test, freezes the renew loop and both
	// watches between steps, as a SIGSTOP or a long GC pause would.
	pause sync.RWMutex
	// dropEntry, set by a test, loses the watch entries it returns true for.
	dropEntry atomic.Pointer[func(jetstream.KeyValueEntry) bool]
	// watchers are the current watches by bucket (a test stops them).
	watchers sync.Map

	mu        sync.Mutex
	epoch     uint64
	rev       uint64    // revision of our node key after our last write to it
	session   string    // session of the lease we hold or are creating
	lastRenew time.Time // start of the last successful renew (monotonic)
	tryStart  time.Time // start of the first attempt of the pending renew or create
	tryRev    uint64    // revision the pending renew expects
	fenced    error     // non-nil: rejoining, or left
	renewals  uint64    // successful renews since Join
	open      int
	load      float64
	draining  bool
	live      map[string]liveNode
	nodesSeq  uint64 // highest revision applied from the nodes watch
	records   map[string]record
	owned     map[nodeEpoch]int
	handing   map[string]uint64 // tenant -> record revision when a handover began
	onLost    []func(tenantID string)
	onDead    []func(nodeID string)
}

// Join makes the buckets if they are missing (checking an existing ch_nodes
// has this node's TTL), loads both watches, and creates this node's lease;
// it fails with ErrNodeExists while a live node has the id. Other failures
// are tried again until ctx ends. The lease is renewed every RenewEvery
// until Leave or Close.
func Join(ctx context.Context, js jetstream.JetStream, cfg Config) (*Node, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("cluster config: %w", err)
	}
	nodes, err := openBucket(ctx, js, jetstream.KeyValueConfig{
		Bucket: NodesBucket, Description: "Chapterhouse node leases",
		TTL: cfg.LeaseTTL, LimitMarkerTTL: time.Minute, Replicas: cfg.Replicas, History: 1,
	})
	if err != nil {
		return nil, err
	}
	owners, err := openBucket(ctx, js, jetstream.KeyValueConfig{
		Bucket: OwnersBucket, Description: "Chapterhouse tenant ownership records",
		Replicas: cfg.Replicas, History: 1,
	})
	if err != nil {
		return nil, err
	}
	n := &Node{
		cfg: cfg, js: js, nodes: nodes, owners: owners, now: time.Now, procID: randomID(),
		live: map[string]liveNode{}, records: map[string]record{}, owned: map[nodeEpoch]int{},
		handing: map[string]uint64{}, session: randomID(), fenced: fmt.Errorf("%w: joining", ErrFenced),
	}
	n.events.wake = make(chan struct{}, 1)
	bg, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	n.wg.Add(1)
	go func() { defer n.wg.Done(); n.events.run(bg) }()
	nodesLoaded, ownersLoaded := make(chan struct{}), make(chan struct{})
	if err := n.watch(bg, nodes, n.applyNode, n.pruneNodes, nodesLoaded); err != nil {
		n.Close()
		return nil, fmt.Errorf("watch %s: %w", NodesBucket, err)
	}
	if err := n.watch(bg, owners, n.applyOwner, n.pruneOwners, ownersLoaded); err != nil {
		n.Close()
		return nil, fmt.Errorf("watch %s: %w", OwnersBucket, err)
	}
	for _, ch := range []chan struct{}{nodesLoaded, ownersLoaded} {
		select {
		case <-ch:
		case <-ctx.Done():
			n.Close()
			return nil, fmt.Errorf("load the cluster's tables: %w", ctx.Err())
		}
	}
	// A Create whose answer was lost is tried again; if it was stored, the
	// key shows this session once the watch delivers it (create adopts it),
	// so "exists" right after a lost answer is waited on for a few renews.
	unsure, deadline := false, time.Time{}
	for {
		if err = n.create(ctx); err == nil || ctx.Err() != nil {
			break
		}
		if errors.Is(err, jetstream.ErrKeyExists) {
			if !unsure || time.Now().After(deadline) {
				break
			}
		} else if !unsure {
			unsure, deadline = true, time.Now().Add(5*cfg.RenewEvery)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		n.Close()
		if errors.Is(err, jetstream.ErrKeyExists) {
			return nil, n.existsError()
		}
		return nil, fmt.Errorf("join as %q: %w", cfg.NodeID, err)
	}
	n.wg.Add(2)
	go func() { defer n.wg.Done(); n.renewLoop(bg) }()
	go func() { defer n.wg.Done(); n.sweepLoop(bg) }()
	return n, nil
}

// existsError names the live node that holds this node's id.
func (n *Node) existsError() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if l, ok := n.live[n.cfg.NodeID]; ok {
		return fmt.Errorf("join as %q: %w (epoch %d, %s, heartbeat %s)", n.cfg.NodeID, ErrNodeExists,
			l.epoch, l.Advertise, l.Heartbeat.UTC().Format(time.RFC3339))
	}
	return fmt.Errorf("join as %q: %w", n.cfg.NodeID, ErrNodeExists)
}

// openBucket creates a bucket, or opens an existing one whose TTL matches.
// While the NATS cluster is still forming (no peers for the replicas yet,
// as when it boots with the nodes) it tries again until ctx ends.
func openBucket(ctx context.Context, js jetstream.JetStream, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	kv, err := js.CreateKeyValue(ctx, cfg)
	for isNoPeers(err) && ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
		kv, err = js.CreateKeyValue(ctx, cfg)
	}
	if err == nil {
		return kv, nil
	}
	kv, gerr := js.KeyValue(ctx, cfg.Bucket)
	if gerr != nil {
		return nil, fmt.Errorf("bucket %s: %w", cfg.Bucket, err)
	}
	st, serr := kv.Status(ctx)
	if serr != nil {
		return nil, fmt.Errorf("bucket %s: %w", cfg.Bucket, serr)
	}
	if st.TTL() != cfg.TTL {
		return nil, fmt.Errorf("bucket %s has TTL %v, this node is configured with %v: every node needs the same lease TTL",
			cfg.Bucket, st.TTL(), cfg.TTL)
	}
	return kv, nil
}

// isNoPeers reports API error 10005: not enough servers for the replicas.
func isNoPeers(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == 10005
}

// ID is the node's id.
func (n *Node) ID() string { return n.cfg.NodeID }

// Epoch is the revision of the Create of the node's current lease; it
// changes when the node loses its lease and joins again.
func (n *Node) Epoch() uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.epoch
}

// Config is the node's configuration, defaults filled in.
func (n *Node) Config() Config { return n.cfg }

// CanWrite is nil only if tenantID's record names this node at its current
// epoch, no handover of it is under way, and the node's last successful
// renew began less than LeaseTTL - FenceMargin ago on the monotonic clock.
// Call it right before acknowledging each write: a process that was frozen
// finds itself fenced when it wakes, whatever its timers did.
func (n *Node) CanWrite(tenantID string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.leaseErrLocked(); err != nil {
		return err
	}
	r, ok := n.records[tenantID]
	switch {
	case !ok || r.deleted:
		return fmt.Errorf("tenant %s: %w (no ownership record)", tenantID, ErrNotOwner)
	case r.Node != n.cfg.NodeID || r.Epoch != n.epoch:
		return fmt.Errorf("tenant %s: %w (owned by %s at epoch %d)", tenantID, ErrNotOwner, r.Node, r.Epoch)
	}
	if _, ok := n.handing[tenantID]; ok {
		return fmt.Errorf("tenant %s: %w (being handed over)", tenantID, ErrNotOwner)
	}
	return nil
}

// Fenced is nil while the node's lease is known to be live (the clock half
// of CanWrite).
func (n *Node) Fenced() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.leaseErrLocked()
}

func (n *Node) leaseErrLocked() error {
	if n.fenced != nil {
		return n.fenced
	}
	if since := n.now().Sub(n.lastRenew); since >= n.cfg.LeaseTTL-n.cfg.FenceMargin {
		return fmt.Errorf("%w: last successful renew began %v ago (limit %v)", ErrFenced,
			since.Round(time.Millisecond), n.cfg.LeaseTTL-n.cfg.FenceMargin)
	}
	return nil
}

// SetLoad sets what the next renews publish: open tenants and a load figure.
func (n *Node) SetLoad(open int, load float64) {
	n.mu.Lock()
	n.open, n.load = open, load
	n.mu.Unlock()
}

// SetDraining marks this node as being emptied in its lease value, so that
// no node places a new tenant on it or gives it a dead node's tenants,
// and returns once a renew carrying the mark has been stored (other nodes
// see it one watch delay later). The mark lasts until the process leaves
// or rejoins as a new process; a rejoin of this process keeps it.
func (n *Node) SetDraining(ctx context.Context) error {
	n.mu.Lock()
	n.draining = true
	from := n.renewals
	n.mu.Unlock()
	for {
		n.mu.Lock()
		// The renew that started after the mark carries it: wait for two
		// more than when it was set, since one may have been under way.
		done := n.renewals >= from+2
		n.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("mark %s draining: %w", n.cfg.NodeID, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// OnLost registers fn, called (in order, on one goroutine) with each tenant
// whose record stopped naming this node at its epoch: handed over, deleted,
// taken after the node was fenced, or left behind at the old epoch when the
// node rejoined. The caller closes the tenant; it may Claim it again.
func (n *Node) OnLost(fn func(tenantID string)) {
	n.mu.Lock()
	n.onLost = append(n.onLost, fn)
	n.mu.Unlock()
}

// OnNodeDead registers fn, called with each other node whose lease ended
// (expired, deleted by Leave, or replaced by a new epoch) after Join.
func (n *Node) OnNodeDead(fn func(nodeID string)) {
	n.mu.Lock()
	n.onDead = append(n.onDead, fn)
	n.mu.Unlock()
}

// Owner is tenantID's record from the owners watch.
func (n *Node) Owner(tenantID string) (Owner, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	r, ok := n.records[tenantID]
	if !ok || r.deleted {
		return Owner{}, false
	}
	return n.ownerLocked(r), true
}

func (n *Node) ownerLocked(r record) Owner {
	o := Owner{Node: r.Node, Epoch: r.Epoch, Advertise: r.Advertise, Rev: r.rev}
	if l, ok := n.live[r.Node]; ok && l.epoch == r.Epoch {
		o.Live = true
		o.Advertise = l.Advertise
	}
	if r.Node == n.cfg.NodeID {
		o.Live = r.Epoch == n.epoch && n.fenced == nil
	}
	return o
}

// Nodes lists the live nodes, sorted by id; this node is in it unless it is
// fenced.
func (n *Node) Nodes() []NodeInfo {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]NodeInfo, 0, len(n.live)+1)
	for id, l := range n.live {
		if id != n.cfg.NodeID {
			out = append(out, NodeInfo{ID: id, Advertise: l.Advertise, Epoch: l.epoch,
				Owned: n.owned[nodeEpoch{id, l.epoch}], Open: l.Open, Load: l.Load, Heartbeat: l.Heartbeat, Draining: l.Draining})
		}
	}
	if n.fenced == nil { // this node from its own state: its watch may lag a rejoin
		out = append(out, NodeInfo{ID: n.cfg.NodeID, Advertise: n.cfg.Advertise, Epoch: n.epoch,
			Owned: n.owned[nodeEpoch{n.cfg.NodeID, n.epoch}], Open: n.open, Load: n.load, Heartbeat: n.live[n.cfg.NodeID].Heartbeat,
			Draining: n.draining})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Owned lists the tenants whose records name this node at its epoch.
func (n *Node) Owned() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for t, r := range n.records {
		if !r.deleted && r.Node == n.cfg.NodeID && r.Epoch == n.epoch {
			out = append(out, t)
		}
	}
	sort.Strings(out)
	return out
}

// Leave fences the node, stops renewing and deletes its lease (only if it is
// still this node's, by revision), so others see it gone at once instead of
// after the TTL. The caller hands its tenants over first (drain).
func (n *Node) Leave(ctx context.Context) error {
	n.mu.Lock()
	n.fenced = fmt.Errorf("%w: left the cluster", ErrFenced)
	n.mu.Unlock()
	n.cancel()
	n.wg.Wait()
	n.mu.Lock()
	rev, session := n.rev, n.session
	n.mu.Unlock()
	err := n.nodes.Delete(ctx, n.cfg.NodeID, jetstream.LastRevision(rev))
	if isConflict(err) {
		// A renew cut short by the stop may have been stored: delete at
		// the stream leader's revision if that is still this lease.
		var e jetstream.KeyValueEntry
		if e, err = n.leaderGet(ctx, NodesBucket, n.cfg.NodeID); err == nil && e != nil {
			var v nodeValue
			if json.Unmarshal(e.Value(), &v) == nil && v.Session == session && e.Operation() == jetstream.KeyValuePut {
				err = n.nodes.Delete(ctx, n.cfg.NodeID, jetstream.LastRevision(e.Revision()))
			}
		}
	}
	if err != nil {
		return fmt.Errorf("leave: delete the lease of %q (it expires after %v): %w", n.cfg.NodeID, n.cfg.LeaseTTL, err)
	}
	return nil
}

// Close stops renewing and watching without deleting the lease, as a crash
// would: others see the node dead after LeaseTTL.
func (n *Node) Close() {
	n.mu.Lock()
	if n.fenced == nil {
		n.fenced = fmt.Errorf("%w: closed", ErrFenced)
	}
	n.mu.Unlock()
	n.cancel()
	n.wg.Wait()
}

// renewLoop renews the lease every RenewEvery, or makes a new one after the
// old one was lost.
func (n *Node) renewLoop(ctx context.Context) { n.everyRenew(ctx, n.step) }

// everyRenew runs fn every RenewEvery until ctx ends, never while a test
// holds the node paused.
func (n *Node) everyRenew(ctx context.Context, fn func(context.Context)) {
	t := time.NewTicker(n.cfg.RenewEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n.pause.RLock()
		fn(ctx)
		n.pause.RUnlock()
	}
}

// step renews once, or rejoins if the lease is lost.
func (n *Node) step(ctx context.Context) {
	n.mu.Lock()
	rejoin := n.fenced != nil
	n.mu.Unlock()
	if ctx.Err() != nil {
		return
	}
	if rejoin {
		if err := n.create(ctx); err != nil && ctx.Err() == nil {
			n.cfg.Log.Warn("cluster: rejoin failed", "node", n.cfg.NodeID, "err", err)
		}
		return
	}
	err := n.renew(ctx)
	switch {
	case err == nil || ctx.Err() != nil:
	case isConflict(err):
		// Someone else holds the name, or the lease expired and the key
		// was re-made: fence at once, then join again with a new epoch.
		n.fence(fmt.Errorf("%w: lease lost (%v)", ErrFenced, err))
		n.cfg.Log.Warn("cluster: lease lost, fenced; joining again", "node", n.cfg.NodeID, "err", err)
		if err := n.create(ctx); err != nil && ctx.Err() == nil {
			n.cfg.Log.Warn("cluster: rejoin failed", "node", n.cfg.NodeID, "err", err)
		}
	default:
		n.cfg.Log.Warn("cluster: renew failed", "node", n.cfg.NodeID, "err", err)
	}
}

// fence marks the lease lost and starts a new session for the next Create.
func (n *Node) fence(err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.fenceLocked(err)
}

func (n *Node) fenceLocked(err error) {
	if n.fenced != nil {
		return
	}
	n.fenced = err
	n.session = randomID()
	n.tryStart = time.Time{}
}

// renew writes the node key by CAS on its revision. It waits for the answer
// up to renewTimeout, longer than RenewEvery: the fence counts from the
// start of the attempt that succeeded, so a late answer is as good as a
// quick one, and a loaded server that answers in 1.5 s must not fence a
// healthy node (with a 1 s timeout every renew was abandoned, the node
// fenced itself 7 s later, and its lease expired: retries are duplicates,
// which renew nothing). A retry of a renew that timed out carries the same
// message id, so if the first one was stored the server answers it as a
// duplicate with its revision; the fencing clock then counts from the
// first attempt's start, which came before it.
func (n *Node) renew(ctx context.Context) error {
	n.mu.Lock()
	rev, epoch := n.rev, n.epoch
	if n.tryRev != rev || n.tryStart.IsZero() {
		n.tryRev, n.tryStart = rev, n.now()
	}
	start := n.tryStart
	val := n.valueLocked(epoch)
	n.mu.Unlock()
	cctx, cancel := context.WithTimeout(ctx, n.cfg.renewTimeout())
	defer cancel()
	msg := &nats.Msg{Subject: "$KV." + NodesBucket + "." + n.cfg.NodeID, Data: val}
	ack, err := n.js.PublishMsg(cctx, msg, jetstream.WithExpectLastSequencePerSubject(rev),
		jetstream.WithMsgID(n.procID+"-renew-"+strconv.FormatUint(rev, 10)))
	if err != nil {
		return fmt.Errorf("renew lease of %q at revision %d: %w", n.cfg.NodeID, rev, err)
	}
	n.mu.Lock()
	if n.epoch == epoch && n.rev == rev && n.fenced == nil {
		n.rev = ack.Sequence
		n.tryStart = time.Time{}
		n.renewals++
		if start.After(n.lastRenew) {
			n.lastRenew = start
		}
	}
	n.mu.Unlock()
	return nil
}

// create makes the node key for a new epoch. If an earlier Create of this
// session was stored though its answer was lost, the watch shows the key
// with this session and the node takes it as its own.
func (n *Node) create(ctx context.Context) error {
	n.mu.Lock()
	if n.tryStart.IsZero() {
		n.tryStart = n.now()
	}
	start, session := n.tryStart, n.session
	val := n.valueLocked(0)
	n.mu.Unlock()
	cctx, cancel := context.WithTimeout(ctx, n.cfg.renewTimeout())
	defer cancel()
	rev, err := n.nodes.Create(cctx, n.cfg.NodeID, val)
	if err != nil {
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return fmt.Errorf("create lease of %q: %w", n.cfg.NodeID, err)
		}
		n.mu.Lock()
		l, ok := n.live[n.cfg.NodeID]
		n.mu.Unlock()
		if !ok || l.Session != session {
			return fmt.Errorf("create lease of %q: %w", n.cfg.NodeID, err)
		}
		rev = l.epoch
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.session != session {
		return fmt.Errorf("create lease of %q: session changed meanwhile", n.cfg.NodeID)
	}
	old := n.epoch
	n.epoch, n.rev = rev, rev
	n.lastRenew, n.tryStart = start, time.Time{}
	n.fenced = nil
	if old != 0 {
		for t, r := range n.records {
			if !r.deleted && r.Node == n.cfg.NodeID && r.Epoch == old {
				n.lostLocked(t)
			}
		}
		n.cfg.Log.Warn("cluster: joined again", "node", n.cfg.NodeID, "old_epoch", old, "epoch", rev)
	}
	return nil
}

func (n *Node) valueLocked(epoch uint64) []byte {
	b, _ := json.Marshal(nodeValue{Advertise: n.cfg.Advertise, Epoch: epoch, Session: n.session,
		Open: n.open, Load: n.load, Heartbeat: time.Now().UTC(), Draining: n.draining})
	return b
}

// watch starts a goroutine applying every entry of bucket kv; loaded is
// closed at the end of the initial values. It is an ordered pull consumer
// with a 1 s heartbeat rather than KeyValue.WatchAll, whose push consumer
// notices a lost server only after missing its 5 s heartbeats twice (the
// catalog's watch found the same). If the consuming ends (a closed
// connection, or a test), the goroutine watches again from scratch and
// prunes what the new initial values no longer hold.
func (n *Node) watch(ctx context.Context, kv jetstream.KeyValue, apply func(jetstream.KeyValueEntry),
	prune func(seen map[string]bool, upto uint64), loaded chan struct{}) error {
	var seen map[string]bool // keys of a reload's initial values
	var upto uint64
	fn := func(e jetstream.KeyValueEntry) {
		if e != nil {
			if drop := n.dropEntry.Load(); drop != nil && (*drop)(e) {
				return
			}
			if seen != nil {
				seen[e.Key()] = true
				upto = max(upto, e.Revision())
			}
			apply(e)
			return
		}
		if loaded != nil {
			close(loaded)
			loaded = nil
		}
		if seen != nil {
			prune(seen, upto)
			seen = nil
		}
	}
	cc, err := n.consume(ctx, kv.Bucket(), fn)
	if err != nil {
		return err
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		for {
			select {
			case <-ctx.Done():
				cc.Stop()
				<-cc.Closed()
				return
			case <-cc.Closed():
			}
			seen, upto = map[string]bool{}, 0
			for ctx.Err() == nil {
				n.cfg.Log.Warn("cluster: watch ended; watching again", "bucket", kv.Bucket())
				if cc, err = n.consume(ctx, kv.Bucket(), fn); err == nil {
					break
				}
				select {
				case <-ctx.Done():
				case <-time.After(500 * time.Millisecond):
				}
			}
			if ctx.Err() != nil {
				return
			}
		}
	}()
	return nil
}

// consume starts an ordered consumer of the last entry of every key of
// bucket and after, calling fn with each (a frozen node's pause holds it)
// and with nil once the initial entries are in.
func (n *Node) consume(ctx context.Context, bucket string, fn func(jetstream.KeyValueEntry)) (jetstream.ConsumeContext, error) {
	s, err := n.js.Stream(ctx, "KV_"+bucket)
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", bucket, err)
	}
	prefix := "$KV." + bucket + "."
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{prefix + ">"}, DeliverPolicy: jetstream.DeliverLastPerSubjectPolicy})
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", bucket, err)
	}
	loaded := s.CachedInfo().State.Msgs == 0
	if loaded {
		fn(nil)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		meta, err := m.Metadata()
		if err != nil {
			return
		}
		e := &entry{bucket: bucket, key: strings.TrimPrefix(m.Subject(), prefix), value: m.Data(),
			rev: meta.Sequence.Stream, created: meta.Timestamp, op: opOf(m.Headers())}
		n.pause.RLock()
		defer n.pause.RUnlock()
		fn(e)
		if !loaded && meta.NumPending == 0 {
			loaded = true
			fn(nil)
		}
	}, jetstream.PullHeartbeat(time.Second), jetstream.PullExpiry(5*time.Second), jetstream.PullMaxMessages(4096),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			if !errors.Is(err, jetstream.ErrNoHeartbeat) {
				n.cfg.Log.Debug("cluster: watch", "bucket", bucket, "err", err)
			}
		}))
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", bucket, err)
	}
	n.watchers.Store(bucket, cc)
	return cc, nil
}

// pruneNodes ends the leases a reload of the nodes watch no longer shows
// (their keys expired and the markers went too), if they were older than
// the reload's newest entry.
func (n *Node) pruneNodes(seen map[string]bool, upto uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for id, l := range n.live {
		if !seen[id] && l.rev <= upto {
			n.endNodeLocked(id, upto)
		}
	}
}

// pruneOwners marks deleted the records a reload of the owners watch no
// longer shows.
func (n *Node) pruneOwners(seen map[string]bool, upto uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for t, r := range n.records {
		if !seen[t] && !r.deleted && r.rev <= upto {
			n.setRecordLocked(t, record{rev: r.rev + 1, deleted: true})
		}
	}
}

// applyNode applies an entry of the nodes watch.
func (n *Node) applyNode(e jetstream.KeyValueEntry) {
	n.mu.Lock()
	defer n.mu.Unlock()
	id, rev := e.Key(), e.Revision()
	if rev > n.nodesSeq {
		n.nodesSeq = rev
	}
	old, had := n.live[id]
	if had && rev <= old.rev {
		return
	}
	if e.Operation() == jetstream.KeyValuePut {
		var v nodeValue
		if err := json.Unmarshal(e.Value(), &v); err != nil {
			n.cfg.Log.Warn("cluster: unreadable node lease", "node", id, "rev", rev, "err", err)
		}
		epoch := v.Epoch
		if epoch == 0 {
			epoch = rev
		}
		if had && old.epoch != epoch && id != n.cfg.NodeID {
			n.deadLocked(id)
		}
		n.live[id] = liveNode{nodeValue: v, epoch: epoch, rev: rev, seen: n.now()}
		if id == n.cfg.NodeID && rev > n.rev && v.Session != n.session && n.fenced == nil {
			n.fenceLocked(fmt.Errorf("%w: another process holds node id %q", ErrFenced, id))
		}
		return
	}
	if had {
		n.endNodeLocked(id, rev)
	}
}

// endNodeLocked removes a lease that ended at revision rev (a delete, an
// expiry, or no message left): others' are reported dead, this node's own
// fences it.
func (n *Node) endNodeLocked(id string, rev uint64) {
	delete(n.live, id)
	if id != n.cfg.NodeID {
		n.deadLocked(id)
		return
	}
	if rev > n.rev && n.fenced == nil {
		n.fenceLocked(fmt.Errorf("%w: lease of %q ended", ErrFenced, id))
	}
}

func (n *Node) deadLocked(id string) {
	for _, fn := range n.onDead {
		n.events.push(func() { fn(id) })
	}
}

// applyOwner applies an entry of the owners watch, or the result of this
// node's own CAS; older revisions than the one held are ignored.
func (n *Node) applyOwner(e jetstream.KeyValueEntry) {
	var v ownerValue
	deleted := e.Operation() != jetstream.KeyValuePut
	if !deleted {
		if err := json.Unmarshal(e.Value(), &v); err != nil {
			n.cfg.Log.Warn("cluster: unreadable ownership record", "tenant", e.Key(), "rev", e.Revision(), "err", err)
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.setRecordLocked(e.Key(), record{ownerValue: v, rev: e.Revision(), deleted: deleted})
}

func (n *Node) setRecordLocked(tenant string, r record) {
	old, had := n.records[tenant]
	if had && r.rev <= old.rev {
		return
	}
	if had && !old.deleted {
		n.owned[nodeEpoch{old.Node, old.Epoch}]--
		if n.owned[nodeEpoch{old.Node, old.Epoch}] <= 0 {
			delete(n.owned, nodeEpoch{old.Node, old.Epoch})
		}
	}
	if !r.deleted {
		n.owned[nodeEpoch{r.Node, r.Epoch}]++
	}
	n.records[tenant] = r
	if hr, ok := n.handing[tenant]; ok && r.rev > hr {
		delete(n.handing, tenant)
	}
	mine := func(x record) bool { return !x.deleted && x.Node == n.cfg.NodeID && x.Epoch == n.epoch }
	if had && mine(old) && !mine(r) {
		n.lostLocked(tenant)
	}
}

func (n *Node) lostLocked(tenant string) {
	for _, fn := range n.onLost {
		n.events.push(func() { fn(tenant) })
	}
}

// dispatcher runs callbacks in order on one goroutine, so a slow callback
// never holds up the watches.
type dispatcher struct {
	mu   sync.Mutex
	q    []func()
	wake chan struct{}
}

func (d *dispatcher) push(f func()) {
	d.mu.Lock()
	d.q = append(d.q, f)
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *dispatcher) run(ctx context.Context) {
	for {
		d.mu.Lock()
		q := d.q
		d.q = nil
		d.mu.Unlock()
		for _, f := range q {
			f()
		}
		if len(q) > 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-d.wake:
		}
	}
}

func randomID() string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return hex.EncodeToString(b)
}
