package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
	"github.com/chapterhouse/chapterhouse/tenantdb/cluster"
	"github.com/chapterhouse/chapterhouse/tenantdb/replica"
)

// replicaBucket is the object store of a cluster's replicas unless
// --replica names another target.
const replicaBucket = "chapterhouse-replica"

// clusterConn is a connection to a cluster's NATS servers and the catalog
// kept there.
type clusterConn struct {
	nc  *nats.Conn
	js  jetstream.JetStream
	cat *catalog.Catalog
}

// connectCluster connects to the NATS servers urls within 30 seconds,
// naming the connection name, with the client options of the spike
// (cluster.Connect's: pings every second, two outstanding, reconnects
// every 250 ms, forever) and only to the servers urls names: the
// addresses a cluster's servers advertise to clients may not be
// reachable from the node, and an operator who lists one server means
// that one (docs/cluster.md).
func connectCluster(ctx context.Context, urls []string, name string) (*clusterConn, error) {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	list := strings.Join(urls, ",")
	nc, err := nats.Connect(list,
		nats.Name(name),
		nats.PingInterval(time.Second),
		nats.MaxPingsOutstanding(2),
		nats.ReconnectWait(250*time.Millisecond),
		nats.MaxReconnects(-1),
		nats.IgnoreDiscoveredServers(),
	)
	if err != nil {
		return nil, fmt.Errorf("--cluster: connect to NATS %s: %w", list, err)
	}
	js, err := jetstream.New(nc)
	if err == nil {
		_, err = js.AccountInfo(cctx)
	}
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("--cluster: JetStream on %s: %w", list, err)
	}
	return &clusterConn{nc: nc, js: js}, nil
}

// openCatalog opens the cluster's catalog for the data dir dir.
func (cc *clusterConn) openCatalog(ctx context.Context, dir string) error {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cat, err := catalog.OpenJetStream(cctx, cc.js, dir)
	if err != nil {
		return fmt.Errorf("the cluster's catalog: %w", err)
	}
	cc.cat = cat
	return nil
}

func (cc *clusterConn) Close() {
	cc.nc.Close()
}

// clusterReplicas is how many copies the cluster's buckets keep: three
// when there are three NATS servers or more, else one.
func clusterReplicas(urls []string) int {
	if len(urls) >= 3 {
		return 3
	}
	return 1
}

// clusterTarget is where a node replicates: --replica if given, else the
// object store replicaBucket on the cluster's own servers, which it
// creates with the cluster's number of replicas if it is missing.
func clusterTarget(ctx context.Context, cfg *config, cc *clusterConn) (*replica.Target, error) {
	if cfg.replicaTarget != nil {
		return cfg.replicaTarget, nil
	}
	var hosts []string
	for _, u := range cfg.clusterURLs {
		hosts = append(hosts, strings.TrimPrefix(strings.TrimPrefix(u, "nats://"), "tls://"))
	}
	t, err := replica.ParseURL("nats://" + strings.Join(hosts, ",") + "/" + replicaBucket)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := cc.js.ObjectStore(cctx, replicaBucket); errors.Is(err, jetstream.ErrBucketNotFound) {
		_, err = cc.js.CreateObjectStore(cctx, jetstream.ObjectStoreConfig{Bucket: replicaBucket,
			Storage: jetstream.FileStorage, Replicas: clusterReplicas(cfg.clusterURLs),
			Description: "Chapterhouse: the tenants' replicas (Litestream)"})
		if err != nil && !errors.Is(err, jetstream.ErrBucketExists) {
			return nil, fmt.Errorf("creating the replica bucket %s: %w", replicaBucket, err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("the replica bucket %s: %w", replicaBucket, err)
	}
	return t, nil
}

// joinCluster makes this server a node: it joins with its lease, has
// the platform fence writes and route requests (platform.JoinCluster),
// and returns the node, which the caller leaves after the platform has
// closed (its last syncs need the lease).
func joinCluster(ctx context.Context, cfg *config, cc *clusterConn, p *platform.Platform, log *slog.Logger) (*cluster.Node, *replica.Target, error) {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	node, err := cluster.Join(cctx, cc.js, cluster.Config{NodeID: cfg.nodeID, Advertise: cfg.advertise,
		Replicas: clusterReplicas(cfg.clusterURLs), Log: log})
	if err != nil {
		return nil, nil, fmt.Errorf("joining the cluster as %s: %w", cfg.nodeID, err)
	}
	target, err := clusterTarget(ctx, cfg, cc)
	if err != nil {
		node.Close()
		return nil, nil, err
	}
	c := p.JoinCluster(node, target)
	c.Connected = cc.nc.IsConnected
	c.Start(ctx)
	return node, target, nil
}

// clusterOf finds --cluster in a command's args, else the environment's
// CHAPTERHOUSE_CLUSTER.
func clusterOf(args []string, getenv func(string) string) string {
	v := getenv("CHAPTERHOUSE_CLUSTER")
	for i, a := range args {
		if a == "--" {
			break
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "cluster" {
			continue
		}
		if hasVal {
			v = val
		} else if i+1 < len(args) {
			v = args[i+1]
		}
	}
	return v
}

// hasSocket reports whether data dir dir has a control socket file (a
// server runs there, or ran).
func hasSocket(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, socketFile))
	return err == nil
}

// errNotANode refuses a tenant write in a command run with --cluster
// where no node serves the data dir.
var errNotANode = errors.New("no node of the cluster serves this data dir: a chapter's file is written only by the node that owns it; run the command against a node's data dir (--data), where its server runs it")

// openClusterPlatform opens data dir dir for a command run with
// --cluster and no server: the cluster's catalog, and the local files
// read-only for writes (errNotANode), as this process holds no lease.
func openClusterPlatform(ctx context.Context, urls, dir string, stderr io.Writer) (*platform.Platform, error) {
	list, err := parseClusterURLs(urls)
	if err != nil {
		return nil, &usageError{err.Error()}
	}
	cc, err := connectCluster(ctx, list, "chapterhouse cli")
	if err != nil {
		return nil, err
	}
	if err := cc.openCatalog(ctx, dir); err != nil {
		cc.Close()
		return nil, err
	}
	p, err := platform.OpenWith(ctx, dir, cc.cat, 16, 0, slog.New(slog.NewTextHandler(stderr, nil)))
	if err != nil {
		cc.Close()
		return nil, err
	}
	p.Pool.Fence(func(string) error { return errNotANode })
	p.OnClose(cc.Close)
	return p, nil
}
