package replica

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// BenchmarkOpenClose is one cold open, read and close of a tenant whose
// replica is in step: without replication, and with it to a directory and
// to a NATS object store (a real server in process). The replicated cycle
// includes register (its first sync), the final sync and unregister;
// "-lazy" is the pool's way: Defer finds the file in step, so a read
// registers nothing.
func BenchmarkOpenClose(b *testing.B) {
	ctx := context.Background()
	natsURL := func(b *testing.B) string {
		s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: b.TempDir(), NoSigs: true})
		if err != nil {
			b.Fatal(err)
		}
		go s.Start()
		if !s.ReadyForConnections(30 * time.Second) {
			b.Fatal("nats did not start")
		}
		b.Cleanup(s.Shutdown)
		return s.ClientURL() + "/bench"
	}
	for _, target := range []string{"off", "file", "nats", "file-lazy", "nats-lazy"} {
		b.Run(target, func(b *testing.B) {
			dir, id := testTenant(b)
			var r *Replicator
			switch strings.TrimSuffix(target, "-lazy") {
			case "file":
				r = newFileReplicatorB(b, dir, "file://"+filepath.Join(b.TempDir(), "replica"))
			case "nats":
				r = newFileReplicatorB(b, dir, natsURL(b))
			}
			lazy := strings.HasSuffix(target, "-lazy")
			cycle := func() {
				var db *tenantdb.DB
				var err error
				if r == nil {
					db, err = tenantdb.Open(ctx, dir, id)
				} else {
					db, err = tenantdb.OpenReplicated(ctx, dir, id)
				}
				if err != nil {
					b.Fatal(err)
				}
				if r != nil && !(lazy && r.Defer(id, db.Path())) {
					if err := db.Pin(ctx); err != nil {
						b.Fatal(err)
					}
					if err := r.Register(ctx, id, db.Path()); err != nil {
						b.Fatal(err)
					}
				}
				if _, err := db.Site(ctx); err != nil {
					b.Fatal(err)
				}
				db.Close()
				if r != nil {
					r.Closed(ctx, id)
				}
			}
			cycle() // the first register ships a snapshot
			lists := int64(0)
			if r != nil {
				lists = r.Stats.Lists.Load()
			}
			b.ResetTimer()
			for range b.N {
				cycle()
			}
			if r != nil {
				b.ReportMetric(float64(r.Stats.Registers.Load())/float64(b.N+1), "registers/op")
				b.ReportMetric(float64(r.Stats.Lists.Load()-lists)/float64(b.N), "lists/op")
				b.ReportMetric(float64(r.Stats.Bytes.Load())/float64(b.N), "shipped-B/op")
				st, _ := r.Status(id)
				b.ReportMetric(float64(st.TXID)/float64(b.N), "txids/op")
			}
		})
	}
}

func newFileReplicatorB(b *testing.B, dir, url string) *Replicator {
	b.Helper()
	target, err := ParseURL(url)
	if err != nil {
		b.Fatal(err)
	}
	r, err := New(context.Background(), target, filepath.Join(dir, "litestream"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close(context.Background()) })
	return r
}
