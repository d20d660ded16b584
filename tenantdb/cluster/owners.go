package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TakeOverInFlight bounds the compare-and-sets TakeOverDead keeps in flight
// (the spike: 3,334 records in 147 ms with 32, 1.1 s one at a time).
const TakeOverInFlight = 32

// casAttempts bounds how often Claim and Place re-read a record that
// changed under them before they give up with ErrConflict.
const casAttempts = 5

// liveLocked reports whether node's lease at epoch is live, and whether
// this node knows: an epoch beyond what the nodes watch has delivered may be
// a lease this node has not seen yet, so it is not taken for dead.
func (n *Node) liveLocked(node string, epoch uint64) (live, known bool) {
	if node == n.cfg.NodeID { // this node knows its own epoch best
		return epoch == n.epoch && n.fenced == nil, true
	}
	if l, ok := n.live[node]; ok && l.epoch == epoch {
		return true, true
	}
	return false, epoch <= n.nodesSeq
}

// waitNodesSeq waits until the nodes watch delivered revision seq (this
// node's own renews move it every RenewEvery), for at most three renews.
func (n *Node) waitNodesSeq(ctx context.Context, seq uint64) bool {
	deadline := time.Now().Add(3 * n.cfg.RenewEvery)
	for {
		n.mu.Lock()
		ok := n.nodesSeq >= seq
		n.mu.Unlock()
		if ok {
			return true
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Claim takes tenantID for this node by compare-and-set if its record is
// absent, or names a node whose lease at the recorded epoch ended (dead, or
// live again at a newer epoch, this node included). It returns the owner
// after: this node, or the live node that holds the record. It fails with
// ErrFenced while this node's lease is not known to be live.
func (n *Node) Claim(ctx context.Context, tenantID string) (Owner, error) {
	if !keyPattern.MatchString(tenantID) {
		return Owner{}, fmt.Errorf("claim %q: not a valid tenant id", tenantID)
	}
	for range casAttempts {
		n.mu.Lock()
		if err := n.leaseErrLocked(); err != nil {
			n.mu.Unlock()
			return Owner{}, fmt.Errorf("claim %s: %w", tenantID, err)
		}
		epoch := n.epoch
		r, had := n.records[tenantID]
		live, known := n.liveLocked(r.Node, r.Epoch)
		n.mu.Unlock()
		if had && !r.deleted {
			if r.Node == n.cfg.NodeID && r.Epoch == epoch {
				return n.ownerOf(tenantID, r), nil
			}
			if !known {
				if !n.waitNodesSeq(ctx, r.Epoch) {
					return n.ownerOf(tenantID, r), nil // not known dead: not taken
				}
				continue
			}
			if live {
				return n.ownerOf(tenantID, r), nil
			}
		}
		val := ownerValue{Node: n.cfg.NodeID, Epoch: epoch, Advertise: n.cfg.Advertise}
		var err error
		if had && !r.deleted {
			err = n.casOwner(ctx, tenantID, val, r.rev, "claim")
		} else {
			err = n.createOwner(ctx, tenantID, val)
		}
		if err == nil || !errors.Is(err, ErrConflict) {
			if err != nil {
				return Owner{}, fmt.Errorf("claim %s: %w", tenantID, err)
			}
			o, _ := n.Owner(tenantID)
			return o, nil
		}
		n.refresh(ctx, tenantID)
	}
	return Owner{}, fmt.Errorf("claim %s: %w (%d attempts)", tenantID, ErrConflict, casAttempts)
}

func (n *Node) ownerOf(tenantID string, r record) Owner {
	n.mu.Lock()
	defer n.mu.Unlock()
	if cur, ok := n.records[tenantID]; ok && !cur.deleted && cur.rev >= r.rev {
		r = cur
	}
	return n.ownerLocked(r)
}

// Place records a new tenant on the live node that owns the fewest (ties
// broken by rendezvous hashing), never on a draining one. If the tenant already has a record it is
// left as it is and returned.
func (n *Node) Place(ctx context.Context, tenantID string) (Owner, error) {
	if !keyPattern.MatchString(tenantID) {
		return Owner{}, fmt.Errorf("place %q: not a valid tenant id", tenantID)
	}
	for range casAttempts {
		if o, ok := n.Owner(tenantID); ok {
			return o, nil
		}
		nodes := n.Nodes()
		if len(nodes) == 0 {
			return Owner{}, fmt.Errorf("place %s: %w", tenantID, ErrNoLiveNode)
		}
		nodes = slices.DeleteFunc(nodes, func(ni NodeInfo) bool { return ni.Draining })
		if len(nodes) == 0 {
			return Owner{}, fmt.Errorf("place %s: %w (every live node is draining)", tenantID, ErrNoLiveNode)
		}
		least := nodes[0].Owned
		var tied []string
		for _, ni := range nodes {
			if ni.Owned < least {
				least, tied = ni.Owned, nil
			}
			if ni.Owned == least {
				tied = append(tied, ni.ID)
			}
		}
		pick := Rendezvous(tenantID, tied)
		var to NodeInfo
		for _, ni := range nodes {
			if ni.ID == pick {
				to = ni
			}
		}
		err := n.createOwner(ctx, tenantID, ownerValue{Node: to.ID, Epoch: to.Epoch, Advertise: to.Advertise})
		if err == nil {
			o, _ := n.Owner(tenantID)
			return o, nil
		}
		if !errors.Is(err, ErrConflict) {
			return Owner{}, fmt.Errorf("place %s: %w", tenantID, err)
		}
		n.refresh(ctx, tenantID)
	}
	return Owner{}, fmt.Errorf("place %s: %w (%d attempts)", tenantID, ErrConflict, casAttempts)
}

// Handover moves tenantID's record from this node to toNode at toNode's
// current epoch, by compare-and-set. Only the owner hands over: from the
// moment it starts, CanWrite fails for the tenant here, so the two nodes
// never both accept writes; the caller froze the tenant and synced its
// replica first. If the outcome stays unknown (the answer lost until ctx
// ended) the tenant stays unwritable here until the watch shows its record
// changed or a retry of the same Handover settles it (the retry carries the
// same message id, so a first attempt that was stored counts once).
func (n *Node) Handover(ctx context.Context, tenantID, toNode string) error {
	n.mu.Lock()
	err := n.leaseErrLocked()
	r, ok := n.records[tenantID]
	switch {
	case err != nil:
	case !ok || r.deleted || r.Node != n.cfg.NodeID || r.Epoch != n.epoch:
		err = fmt.Errorf("%w (owned by %s at epoch %d)", ErrNotOwner, r.Node, r.Epoch)
	default:
		if hr, busy := n.handing[tenantID]; busy && hr != r.rev {
			err = fmt.Errorf("%w (being handed over)", ErrNotOwner)
		}
	}
	if err != nil {
		n.mu.Unlock()
		return fmt.Errorf("hand %s over to %s: %w", tenantID, toNode, err)
	}
	to, ok := n.live[toNode]
	if !ok {
		n.mu.Unlock()
		return fmt.Errorf("hand %s over to %s: %w (%s has no live lease)", tenantID, toNode, ErrNoLiveNode, toNode)
	}
	if toNode == n.cfg.NodeID {
		n.mu.Unlock()
		return nil
	}
	n.handing[tenantID] = r.rev
	n.mu.Unlock()
	err = n.casOwner(ctx, tenantID, ownerValue{Node: toNode, Epoch: to.epoch, Advertise: to.Advertise}, r.rev, "handover")
	if err != nil {
		if errors.Is(err, ErrConflict) {
			n.mu.Lock()
			if n.handing[tenantID] == r.rev {
				delete(n.handing, tenantID)
			}
			n.mu.Unlock()
		}
		return fmt.Errorf("hand %s over to %s: %w", tenantID, toNode, err)
	}
	return nil
}

// Release deletes tenantID's record (the tenant was deleted), if it is still
// the revision this node last saw.
func (n *Node) Release(ctx context.Context, tenantID string) error {
	o, ok := n.Owner(tenantID)
	if !ok {
		return nil
	}
	if err := n.owners.Delete(ctx, tenantID, jetstream.LastRevision(o.Rev)); err != nil {
		if isConflict(err) {
			return fmt.Errorf("release %s: %w", tenantID, ErrConflict)
		}
		return fmt.Errorf("release %s: %w", tenantID, err)
	}
	n.mu.Lock()
	n.setRecordLocked(tenantID, record{rev: o.Rev + 1, deleted: true})
	n.mu.Unlock()
	return nil
}

// TakeOverDead takes, by compare-and-set with TakeOverInFlight in flight,
// the records of deadNode (at epochs whose lease ended) that this node wins
// by rendezvous hashing among the live nodes that are not draining; the survivors split a dead
// node's tenants without talking, and a CAS lost to another is skipped. It
// returns the tenants taken, sorted; records won by a survivor that does not
// take them are claimed on their first request (Claim).
func (n *Node) TakeOverDead(ctx context.Context, deadNode string) ([]string, error) {
	n.mu.Lock()
	if err := n.leaseErrLocked(); err != nil {
		n.mu.Unlock()
		return nil, fmt.Errorf("take over %s: %w", deadNode, err)
	}
	epoch := n.epoch
	// The split is among the live nodes that take new tenants: a draining
	// node takes none (if all are draining, first requests Claim them).
	var liveIDs []string
	if !n.draining {
		liveIDs = append(liveIDs, n.cfg.NodeID)
	}
	for id, l := range n.live {
		if id != n.cfg.NodeID && !l.Draining {
			liveIDs = append(liveIDs, id)
		}
	}
	type job struct {
		tenant string
		rev    uint64
	}
	var jobs []job
	for t, r := range n.records {
		if r.deleted || r.Node != deadNode {
			continue
		}
		if live, known := n.liveLocked(r.Node, r.Epoch); live || !known {
			continue
		}
		if Rendezvous(t, liveIDs) == n.cfg.NodeID {
			jobs = append(jobs, job{t, r.rev})
		}
	}
	n.mu.Unlock()

	val := ownerValue{Node: n.cfg.NodeID, Epoch: epoch, Advertise: n.cfg.Advertise}
	var (
		mu    sync.Mutex
		taken []string
		errs  []error
		wg    sync.WaitGroup
		sem   = make(chan struct{}, TakeOverInFlight)
	)
	for _, j := range jobs {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			err := n.casOwner(ctx, j.tenant, val, j.rev, "takeover")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				taken = append(taken, j.tenant)
			case errors.Is(err, ErrConflict):
			default:
				errs = append(errs, fmt.Errorf("tenant %s: %w", j.tenant, err))
			}
		}()
	}
	wg.Wait()
	sort.Strings(taken)
	if len(errs) > 0 {
		return taken, fmt.Errorf("take over %s: %d of %d records failed: %w", deadNode, len(errs), len(jobs), errors.Join(errs...))
	}
	return taken, nil
}

// casOwner writes tenantID's record by compare-and-set on rev and applies
// the result to the table at once. A retry after a lost answer carries the
// same message id, so the server answers a stored first attempt as a
// duplicate instead of a conflict.
func (n *Node) casOwner(ctx context.Context, tenantID string, v ownerValue, rev uint64, op string) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	id := n.procID + "-" + op + "-" + tenantID + "-" + strconv.FormatUint(rev, 10)
	for {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		msg := &nats.Msg{Subject: "$KV." + OwnersBucket + "." + tenantID, Data: data}
		ack, err := n.js.PublishMsg(actx, msg, jetstream.WithExpectLastSequencePerSubject(rev), jetstream.WithMsgID(id))
		cancel()
		if err == nil {
			n.mu.Lock()
			n.setRecordLocked(tenantID, record{ownerValue: v, rev: ack.Sequence})
			n.mu.Unlock()
			return nil
		}
		if isConflict(err) {
			return fmt.Errorf("%w: %v", ErrConflict, err)
		}
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) || ctx.Err() != nil {
			return fmt.Errorf("write the record of %s: %w", tenantID, err)
		}
		select { // the answer was lost or no server answered: same id again
		case <-ctx.Done():
			return fmt.Errorf("write the record of %s: %w", tenantID, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// createOwner creates tenantID's record if it has none (Create also takes a
// deleted key) and applies it.
func (n *Node) createOwner(ctx context.Context, tenantID string, v ownerValue) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	rev, err := n.owners.Create(ctx, tenantID, data)
	if err != nil {
		if isConflict(err) {
			return fmt.Errorf("%w: %v", ErrConflict, err)
		}
		return fmt.Errorf("create the record of %s: %w", tenantID, err)
	}
	n.mu.Lock()
	n.setRecordLocked(tenantID, record{ownerValue: v, rev: rev})
	n.mu.Unlock()
	return nil
}

// refresh reads tenantID's record after a lost CAS, so the next attempt
// starts from it; a Get can be stale (direct get from any replica), so the
// table only moves forward and the watch catches up meanwhile.
func (n *Node) refresh(ctx context.Context, tenantID string) {
	e, err := n.owners.Get(ctx, tenantID)
	if err == nil {
		n.applyOwner(e)
	}
	time.Sleep(20 * time.Millisecond)
}
