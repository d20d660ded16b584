package cluster

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// benchConfig renews rarely in the background, so the benchmarks measure
// their own operations.
func benchConfig(id string) Config {
	cfg := testConfig(id)
	cfg.LeaseTTL, cfg.RenewEvery, cfg.FenceMargin = 60*time.Second, 20*time.Second, 3*time.Second
	return cfg
}

// putRecords writes count ownership records naming node at epoch, published
// asynchronously, and waits until n's table holds them.
func putRecords(b *testing.B, js jetstream.JetStream, n *Node, prefix string, count int, node string, epoch uint64) []string {
	b.Helper()
	ids := tenantIDs(prefix, count)
	val := fmt.Appendf(nil, `{"node":%q,"epoch":%d}`, node, epoch)
	for i, id := range ids {
		if _, err := js.PublishAsync("$KV."+OwnersBucket+"."+id, val); err != nil {
			b.Fatal(err)
		}
		if i%1000 == 999 || i == len(ids)-1 { // the client stalls at 4,000 pending
			select {
			case <-js.PublishAsyncComplete():
			case <-time.After(time.Minute):
				b.Fatal("records not acknowledged within a minute")
			}
		}
	}
	eventually(b, "the node sees the records", func() bool {
		for _, id := range []string{ids[0], ids[len(ids)-1]} {
			if o, ok := n.Owner(id); !ok || o.Node != node {
				return false
			}
		}
		return true
	})
	return ids
}

// BenchmarkRenew: a node's renew with 0 and with 10,000 ownership records in
// the cluster. The cost and the messages sent per renew do not change: lease
// traffic is per node, never per tenant.
func BenchmarkRenew(b *testing.B) {
	c := start(b)
	js := connect(b, c.URLs())
	n := joinWith(b, js, benchConfig("r"))
	run := func(b *testing.B) {
		nc := js.Conn()
		ctx := ctxT(b)
		before := nc.Stats()
		b.ResetTimer()
		for range b.N {
			if err := n.renew(ctx); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		after := nc.Stats()
		b.ReportMetric(float64(after.OutMsgs-before.OutMsgs)/float64(b.N), "msgs_out/renew")
		b.ReportMetric(float64(after.OutBytes-before.OutBytes)/float64(b.N), "bytes_out/renew")
	}
	b.Run("owners=0", run)
	putRecords(b, js, n, "own", 10000, "ghost", 1)
	b.Run("owners=10000", run)
}

// BenchmarkTakeOverDead100: a survivor takes the 100 records of a dead node
// by compare-and-set, TakeOverInFlight at a time.
func BenchmarkTakeOverDead100(b *testing.B) {
	c := start(b)
	js := connect(b, c.URLs())
	n := joinWith(b, js, benchConfig("s"))
	ctx := ctxT(b)
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		putRecords(b, js, n, fmt.Sprintf("d%03d", i%1000), 100, "ghost", 1)
		b.StartTimer()
		taken, err := n.TakeOverDead(ctx, "ghost")
		if err != nil || len(taken) != 100 {
			b.Fatalf("took %d of 100: %v", len(taken), err)
		}
	}
}

// BenchmarkOwnersWatchLoad10000: the initial load of the owners watch at
// 10,000 records (the consumer a joining node starts), each decoded.
func BenchmarkOwnersWatchLoad10000(b *testing.B) {
	c := start(b)
	js := connect(b, c.URLs())
	n := joinWith(b, js, benchConfig("seed"))
	putRecords(b, js, n, "own", 10000, "ghost", 1)
	ctx := ctxT(b)
	b.ResetTimer()
	for range b.N {
		done := make(chan struct{})
		count := 0
		cc, err := n.consume(ctx, OwnersBucket, func(e jetstream.KeyValueEntry) {
			if e == nil {
				close(done)
				return
			}
			var v ownerValue
			if json.Unmarshal(e.Value(), &v) == nil {
				count++
			}
		})
		if err != nil {
			b.Fatal(err)
		}
		<-done
		cc.Stop()
		<-cc.Closed()
		if count != 10000 {
			b.Fatalf("loaded %d records, want 10000", count)
		}
	}
}

// BenchmarkJoinWith10000Owners: a node joining a cluster with 10,000
// ownership records, until both watches are loaded and its lease is made.
func BenchmarkJoinWith10000Owners(b *testing.B) {
	c := start(b)
	js := connect(b, c.URLs())
	n := joinWith(b, js, benchConfig("seed"))
	putRecords(b, js, n, "own", 10000, "ghost", 1)
	ctx := ctxT(b)
	b.ResetTimer()
	for i := range b.N {
		m, err := Join(ctx, js, benchConfig(fmt.Sprintf("j%d", i)))
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if o, ok := m.Owner("own9999"); !ok || o.Node != "ghost" {
			b.Fatalf("joined without the records: %+v", o)
		}
		if err := m.Leave(ctx); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
