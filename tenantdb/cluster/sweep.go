package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// sweepLoop checks, every RenewEvery, the leases of other nodes whose keys
// the watch has not changed for three renew periods, on the stream leader.
// The watch alone misses expiries: when its consumer sat on a server that
// went away (as when a machine dies with its node and its NATS server), the
// client re-makes it only after missing heartbeats for ~10 s, resuming after
// the last entry it delivered, and the expiry marker may have aged out of
// the stream meanwhile (the tests see this in about half the runs). A live
// node renews every RenewEvery, so silence means a node whose renews fail
// (the check costs one request a second) or a lost entry.
func (n *Node) sweepLoop(ctx context.Context) { n.everyRenew(ctx, n.sweep) }

func (n *Node) sweep(ctx context.Context) {
	n.mu.Lock()
	now := n.now()
	var quiet []string
	for id, l := range n.live {
		if id != n.cfg.NodeID && now.Sub(l.seen) > 3*n.cfg.RenewEvery {
			quiet = append(quiet, id)
		}
	}
	n.mu.Unlock()
	for _, id := range quiet {
		cctx, cancel := context.WithTimeout(ctx, n.cfg.RenewEvery)
		e, err := n.leaderGet(cctx, NodesBucket, id)
		cancel()
		if err != nil {
			n.cfg.Log.Debug("cluster: check a quiet lease", "node", id, "err", err)
			continue
		}
		if e == nil { // no message at all: expired, and its marker too
			n.mu.Lock()
			if l, ok := n.live[id]; ok {
				n.cfg.Log.Info("cluster: a quiet lease is gone from the stream", "node", id, "epoch", l.epoch)
				n.endNodeLocked(id, l.rev+1)
			}
			n.mu.Unlock()
			continue
		}
		if e.Operation() != jetstream.KeyValuePut {
			n.cfg.Log.Info("cluster: a quiet lease ended, the watch missed it", "node", id, "rev", e.Revision())
		}
		n.applyNode(e)
	}
}

// leaderGet reads key's last message from the stream leader (the KV Get
// may answer from a lagging replica); nil if the subject has none.
func (n *Node) leaderGet(ctx context.Context, bucket, key string) (jetstream.KeyValueEntry, error) {
	req, _ := json.Marshal(map[string]string{"last_by_subj": "$KV." + bucket + "." + key})
	msg, err := n.js.Conn().RequestWithContext(ctx, "$JS.API.STREAM.MSG.GET.KV_"+bucket, req)
	if err != nil {
		return nil, fmt.Errorf("read %s/%s from the stream leader: %w", bucket, key, err)
	}
	var resp struct {
		Message *struct {
			Seq  uint64    `json:"seq"`
			Hdrs []byte    `json:"hdrs"`
			Data []byte    `json:"data"`
			Time time.Time `json:"time"`
		} `json:"message"`
		Error *jetstream.APIError `json:"error"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return nil, fmt.Errorf("read %s/%s from the stream leader: %w", bucket, key, err)
	}
	if resp.Error != nil {
		if resp.Error.ErrorCode == jetstream.JSErrCodeMessageNotFound {
			return nil, nil
		}
		return nil, fmt.Errorf("read %s/%s from the stream leader: %w", bucket, key, resp.Error)
	}
	if resp.Message == nil {
		return nil, fmt.Errorf("read %s/%s from the stream leader: empty answer", bucket, key)
	}
	e := &entry{bucket: bucket, key: key, value: resp.Message.Data, rev: resp.Message.Seq,
		created: resp.Message.Time, op: jetstream.KeyValuePut}
	if len(resp.Message.Hdrs) > 0 {
		h, err := nats.DecodeHeadersMsg(resp.Message.Hdrs)
		if err != nil {
			return nil, fmt.Errorf("read %s/%s from the stream leader: headers: %w", bucket, key, err)
		}
		e.op = opOf(h)
	}
	return e, nil
}

// opOf is the KV operation a message's headers say: a delete or purge, or
// an expiry marker (a purge), else a put.
func opOf(h nats.Header) jetstream.KeyValueOp {
	switch {
	case h.Get("KV-Operation") == "DEL":
		return jetstream.KeyValueDelete
	case h.Get("KV-Operation") == "PURGE" || h.Get(jetstream.MarkerReasonHeader) != "":
		return jetstream.KeyValuePurge
	}
	return jetstream.KeyValuePut
}

// entry is a KV entry read from the stream leader.
type entry struct {
	bucket, key string
	value       []byte
	rev         uint64
	created     time.Time
	op          jetstream.KeyValueOp
}

func (e *entry) Bucket() string                  { return e.bucket }
func (e *entry) Key() string                     { return e.key }
func (e *entry) Value() []byte                   { return e.value }
func (e *entry) Revision() uint64                { return e.rev }
func (e *entry) Created() time.Time              { return e.created }
func (e *entry) Delta() uint64                   { return 0 }
func (e *entry) Operation() jetstream.KeyValueOp { return e.op }
