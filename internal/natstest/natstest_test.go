package natstest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestClusterReplicates writes an R3 bucket through server 1 and reads
// it through a client of server 2: the three servers form one JetStream
// cluster. Then server 1 stops and starts again on its ports and store.
// (What a cluster does while a server is down is tested where it matters:
// tenantdb/catalog TestClusterServerStops, tenantdb/cluster.)
func TestClusterReplicates(t *testing.T) {
	c := Start(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	nc, err := nats.Connect(c.URL(0))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "t", Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}
	if info, err := kv.Status(ctx); err != nil || info.(*jetstream.KeyValueBucketStatus).StreamInfo().Config.Replicas != 3 {
		t.Fatalf("bucket status %v, %v: want 3 replicas", info, err)
	}
	if _, err := kv.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	nc2, err := nats.Connect(c.URL(1))
	if err != nil {
		t.Fatal(err)
	}
	defer nc2.Close()
	js2, _ := jetstream.New(nc2)
	var got string
	for ctx.Err() == nil {
		if kv2, err := js2.KeyValue(ctx, "t"); err == nil {
			if e, err := kv2.Get(ctx, "k"); err == nil {
				got = string(e.Value())
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got != "v" {
		t.Fatalf("value through server 2: %q", got)
	}
	if !strings.Contains(c.URLs(), c.URL(2)) {
		t.Fatalf("URLs %q lacks server 3", c.URLs())
	}
	c.Stop(0)
	if c.Server(0) != nil {
		t.Fatal("server 1 still running after Stop")
	}
	c.Restart(0)
	if c.Server(0) == nil {
		t.Fatal("server 1 did not restart")
	}
}
