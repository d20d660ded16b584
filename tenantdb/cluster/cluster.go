// Package cluster holds the nodes' leases and the tenants' ownership records
// in NATS JetStream KV, and fences writes: one lease per node in the
// `ch_nodes` bucket (a bucket TTL, joined with Create, renewed by
// compare-and-set on the revision; the revision of the Create is the node's
// epoch) and one record per tenant in `ch_owners` (tenant -> node and epoch,
// changed only by compare-and-set on placement, failover and moves). Lease
// traffic does not grow with the number of tenants. A node may write a
// tenant only while its record names the node at its current epoch and the
// node's last successful renew began less than LeaseTTL - FenceMargin ago
// on the monotonic clock (Node.CanWrite, checked per write). Both buckets
// are watched into memory: the watch of owners is the routing table.
// docs/cluster.md ("Ownership and fencing") gives the rule and its margins.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/url"
	"regexp"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Bucket names of the leases and of the ownership records.
const (
	NodesBucket  = "ch_nodes"
	OwnersBucket = "ch_owners"
)

// Defaults of Config, from the spike's figures (docs/cluster.md).
const (
	DefaultLeaseTTL    = 10 * time.Second
	DefaultRenewEvery  = 1 * time.Second
	DefaultFenceMargin = 3 * time.Second
	DefaultReplicas    = 3
)

// Errors a caller tells apart with errors.Is.
var (
	// ErrFenced: this node cannot vouch that its lease is live (no renew
	// began within LeaseTTL - FenceMargin, the lease was lost and is being
	// re-made, or the node left). No write may be acknowledged.
	ErrFenced = errors.New("node fenced: its lease is not known to be live")
	// ErrNotOwner: the tenant's record does not name this node at its
	// current epoch (or it is being handed over).
	ErrNotOwner = errors.New("tenant not owned by this node")
	// ErrNodeExists: a live node already holds this node id.
	ErrNodeExists = errors.New("a live node already has this id")
	// ErrNoLiveNode: no live node to place a tenant on or hand it to.
	ErrNoLiveNode = errors.New("no live node")
	// ErrConflict: a compare-and-set lost to a concurrent change.
	ErrConflict = errors.New("ownership record changed concurrently")
)

// Config is what a node needs to join. Zero durations and Replicas take the
// defaults above.
type Config struct {
	// NodeID names the node: 1-64 of A-Z, a-z, 0-9, '_' and '-'.
	NodeID string
	// Advertise is the node's URL as other nodes reach it (http or https).
	Advertise string
	// LeaseTTL is the bucket TTL of ch_nodes: whole seconds, at least 1 s
	// (the server refuses less and truncates fractions). Every node of a
	// cluster must use the same.
	LeaseTTL time.Duration
	// RenewEvery is the renew period. A renew waits for its answer up to
	// half of LeaseTTL - FenceMargin (renewTimeout), at least RenewEvery.
	RenewEvery time.Duration
	// FenceMargin is how long before the lease could expire the node stops
	// acknowledging writes.
	FenceMargin time.Duration
	// Replicas of both buckets (3 in production; 1 on a lone server).
	Replicas int
	// Log gets renew failures and rejoins; nil is slog.Default().
	Log *slog.Logger
}

// renewTimeout is how long a renew or a join's Create waits for its
// answer: half of LeaseTTL - FenceMargin, so that one attempt that gets
// no answer leaves time for a second before the fence (Config makes it at
// least RenewEvery).
func (c Config) renewTimeout() time.Duration {
	return (c.LeaseTTL - c.FenceMargin) / 2
}

var (
	nodeIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)
	keyPattern    = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
)

// withDefaults fills zero fields and checks the whole: a margin that leaves
// no time between renews would fence the node all the time.
func (c Config) withDefaults() (Config, error) {
	if c.LeaseTTL == 0 {
		c.LeaseTTL = DefaultLeaseTTL
	}
	if c.RenewEvery == 0 {
		c.RenewEvery = DefaultRenewEvery
	}
	if c.FenceMargin == 0 {
		c.FenceMargin = DefaultFenceMargin
	}
	if c.Replicas == 0 {
		c.Replicas = DefaultReplicas
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if !nodeIDPattern.MatchString(c.NodeID) {
		return c, fmt.Errorf("node id %q: want 1-64 of A-Z, a-z, 0-9, '_' and '-', starting with a letter or digit", c.NodeID)
	}
	u, err := url.Parse(c.Advertise)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, fmt.Errorf("advertise %q: want the node's URL as http://HOST:PORT or https://HOST", c.Advertise)
	}
	if c.LeaseTTL < time.Second || c.LeaseTTL%time.Second != 0 {
		return c, fmt.Errorf("lease TTL %v: want whole seconds, at least 1s", c.LeaseTTL)
	}
	if c.FenceMargin <= 0 || c.FenceMargin >= c.LeaseTTL {
		return c, fmt.Errorf("fence margin %v: want more than 0 and less than the lease TTL %v", c.FenceMargin, c.LeaseTTL)
	}
	if c.RenewEvery <= 0 || c.RenewEvery*2 > c.LeaseTTL-c.FenceMargin {
		return c, fmt.Errorf("renew every %v: want at most half of lease TTL - fence margin (%v)", c.RenewEvery, c.LeaseTTL-c.FenceMargin)
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		return c, fmt.Errorf("replicas %d: want 1 to 5", c.Replicas)
	}
	return c, nil
}

// Connect dials the NATS servers in urls (comma-separated; give them all)
// with the options the spike found to matter: pings every second and two
// outstanding, so a client leaves a frozen server within ~3 s instead of
// minutes; reconnects every 250 ms, forever. name shows in the servers'
// connection lists. extra options come last (a test that cuts a node off by
// stopping its one server adds nats.IgnoreDiscoveredServers(), else the
// client moves to a server the cluster told it about). It fails if
// JetStream does not answer before ctx ends.
func Connect(ctx context.Context, urls, name string, extra ...nats.Option) (*nats.Conn, jetstream.JetStream, error) {
	opts := append(append([]nats.Option{nats.Name(name)}, LivenessOptions()...), extra...)
	nc, err := nats.Connect(urls, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to NATS %s: %w", urls, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream on %s: %w", urls, err)
	}
	if _, err := js.AccountInfo(ctx); err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream on %s: %w", urls, err)
	}
	return nc, js, nil
}

// LivenessOptions are the NATS client options of every connection of a
// node to the cluster's servers (Connect's, and the replica's in
// tenantdb/replica): a ping every second with two outstanding, so that a
// client leaves a frozen server within ~3 s (with nats.go's defaults, 2
// minutes and 2 outstanding, it stayed on one for ~6 minutes in the
// spike), and reconnects every 250 ms, forever.
func LivenessOptions() []nats.Option {
	return []nats.Option{
		nats.PingInterval(time.Second),
		nats.MaxPingsOutstanding(2),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.MaxReconnects(-1),
	}
}

// Rendezvous picks the node of nodes that wins tenantID by highest random
// weight: every node computes the same winner from the same list, and when a
// node leaves the list only its tenants move. "" for no nodes.
func Rendezvous(tenantID string, nodes []string) string {
	var best string
	var bestW uint64
	for _, node := range nodes {
		h := fnv.New64a()
		h.Write([]byte(node))
		h.Write([]byte{0})
		h.Write([]byte(tenantID))
		w := mix64(h.Sum64())
		if best == "" || w > bestW || (w == bestW && node < best) {
			best, bestW = node, w
		}
	}
	return best
}

// mix64 is splitmix64's finalizer: FNV alone spreads short similar keys badly.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// isConflict reports a compare-and-set lost on a stale revision: API error
// 10071, or 10164 as replicated streams report it.
func isConflict(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
	}
	return errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch)
}
