package natstest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestClusterReplicatesAcrossAStoppedServer writes an R3 bucket through
// one server, stops that server, and reads the value through another:
// the three servers form one JetStream cluster.
func TestClusterReplicatesAcrossAStoppedServer(t *testing.T) {
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
	if _, err := kv.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	nc.Close()
	c.Stop(0)

	nc2, err := nats.Connect(c.URL(1))
	if err != nil {
		t.Fatal(err)
	}
	defer nc2.Close()
	js2, _ := jetstream.New(nc2)
	var got string
	for ctx.Err() == nil {
		kv2, err := js2.KeyValue(ctx, "t")
		if err == nil {
			if e, err := kv2.Get(ctx, "k"); err == nil {
				got = string(e.Value())
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got != "v" {
		t.Fatalf("value through server 2 after server 1 stopped: %q", got)
	}
	if !strings.Contains(c.URLs(), c.URL(2)) {
		t.Fatalf("URLs %q lacks server 3", c.URLs())
	}
	c.Restart(0)
	if c.Server(0) == nil {
		t.Fatal("server 1 did not restart")
	}
}
