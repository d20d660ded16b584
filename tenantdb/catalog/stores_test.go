package catalog

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chapterhouse/chapterhouse/internal/natstest"
)

// opener opens a Catalog on one test's data: each call another Catalog on
// the same data (the same catalog.db, or the same cluster), as a reopened
// catalog or another node sees it. The catalog is closed when t ends.
type opener func(t *testing.T) *Catalog

// forEachStore runs test against each store of the catalog: catalog.db in
// a temp dir, and JetStream KV on a 3-server NATS cluster (R3), where each
// Catalog is opened through the next server in turn.
func forEachStore(t *testing.T, test func(t *testing.T, open opener)) {
	t.Run("sqlite", func(t *testing.T) {
		dir := t.TempDir()
		test(t, func(t *testing.T) *Catalog {
			t.Helper()
			c, err := Open(context.Background(), dir)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			return c
		})
	})
	t.Run("jetstream", func(t *testing.T) {
		cluster := natstest.Start(t, 3)
		n := 0
		test(t, func(t *testing.T) *Catalog {
			t.Helper()
			c := openJetStream(t, cluster, n%3)
			n++
			return c
		})
	})
}

// openJetStream opens the catalog in cluster's JetStream through server i
// (the client knows every server, as a node does, prefers i, and has the
// options of research/cluster-spike.md).
func openJetStream(t testing.TB, cluster *natstest.Cluster, i int) *Catalog {
	t.Helper()
	c, err := tryOpenJetStream(t, cluster, i)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// tryOpenJetStream is openJetStream returning its error.
func tryOpenJetStream(t testing.TB, cluster *natstest.Cluster, i int) (*Catalog, error) {
	nc, err := nats.Connect(cluster.URL(i)+","+cluster.URLs(), nats.DontRandomize(),
		nats.PingInterval(time.Second), nats.MaxPingsOutstanding(2), nats.ReconnectWait(250*time.Millisecond), nats.MaxReconnects(-1))
	if err != nil {
		return nil, err
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	c, err := OpenJetStream(context.Background(), js, t.TempDir())
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Close() })
	return c, nil
}
