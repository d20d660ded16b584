// Package natstest runs real NATS servers with JetStream inside a test
// process, on loopback ports with file storage in temp dirs: one server,
// or a cluster of several with routes between them, where a bucket or an
// object store of three replicas (R3) is replicated by RAFT as in
// production. A server of a cluster can be stopped and started again on
// its own ports and store, to cut a node off or to kill a stream leader.
package natstest

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Cluster is a set of NATS servers started by Start.
type Cluster struct {
	t    testing.TB
	mu   sync.Mutex
	opts []*server.Options
	srv  []*server.Server
}

// Start runs n NATS servers with JetStream (n = 1: a lone server; n >= 2:
// a cluster named "chapterhouse" with every route configured) and stops
// them when the test ends. It returns once every server accepts clients
// and, for a cluster, JetStream has a meta leader.
func Start(t testing.TB, n int) *Cluster {
	t.Helper()
	if n < 1 {
		t.Fatalf("natstest: %d servers", n)
	}
	c := &Cluster{t: t, opts: make([]*server.Options, n), srv: make([]*server.Server, n)}
	clientPorts := freePorts(t, n)
	var routes []*url.URL
	var routePorts []int
	if n > 1 {
		routePorts = freePorts(t, n)
		for _, p := range routePorts {
			routes = append(routes, &url.URL{Scheme: "nats", Host: fmt.Sprintf("127.0.0.1:%d", p)})
		}
	}
	for i := range n {
		o := &server.Options{
			ServerName: fmt.Sprintf("n%d", i+1),
			Host:       "127.0.0.1",
			Port:       clientPorts[i],
			JetStream:  true,
			StoreDir:   t.TempDir(),
			NoSigs:     true,
			NoLog:      true,
		}
		if n > 1 {
			o.Cluster = server.ClusterOpts{Name: "chapterhouse", Host: "127.0.0.1", Port: routePorts[i]}
			o.Routes = routes
		}
		c.opts[i] = o
	}
	for i := range n {
		c.startServer(i)
	}
	t.Cleanup(c.Shutdown)
	c.WaitReady(60 * time.Second)
	return c
}

func (c *Cluster) startServer(i int) {
	c.t.Helper()
	o := *c.opts[i]
	s, err := server.NewServer(&o)
	if err != nil {
		c.t.Fatalf("natstest: server %d: %v", i+1, err)
	}
	go s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		c.t.Fatalf("natstest: server %d did not start", i+1)
	}
	c.mu.Lock()
	c.srv[i] = s
	c.mu.Unlock()
}

// WaitReady waits until every running server reports JetStream enabled and,
// for a cluster, one of them is the JetStream meta leader.
func (c *Cluster) WaitReady(timeout time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		ready, leader := true, len(c.srv) == 1
		for _, s := range c.srv {
			if s == nil {
				continue
			}
			if !s.JetStreamEnabled() {
				ready = false
			}
			if s.JetStreamIsLeader() {
				leader = true
			}
		}
		c.mu.Unlock()
		if ready && leader {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatalf("natstest: JetStream not ready after %v", timeout)
}

// URL is the client URL of server i (0-based), valid across Stop and Restart.
func (c *Cluster) URL(i int) string {
	return fmt.Sprintf("nats://127.0.0.1:%d", c.opts[i].Port)
}

// URLs is every server's client URL, comma-separated, as --cluster and
// nats.Connect take them.
func (c *Cluster) URLs() string {
	urls := make([]string, len(c.opts))
	for i := range c.opts {
		urls[i] = c.URL(i)
	}
	return strings.Join(urls, ",")
}

// Server is the running server i, or nil while it is stopped.
func (c *Cluster) Server(i int) *server.Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.srv[i]
}

// Stop shuts server i down (its clients are disconnected; its store stays).
func (c *Cluster) Stop(i int) {
	c.mu.Lock()
	s := c.srv[i]
	c.srv[i] = nil
	c.mu.Unlock()
	if s != nil {
		s.Shutdown()
		s.WaitForShutdown()
	}
}

// Restart starts server i again on the same ports and store.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	c.Stop(i)
	c.startServer(i)
}

// Shutdown stops every server; Start registers it with t.Cleanup.
func (c *Cluster) Shutdown() {
	for i := range c.srv {
		c.Stop(i)
	}
}

// freePorts reserves n distinct loopback ports by listening on them at once,
// then frees them for the servers.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	ports := make([]int, n)
	ls := make([]net.Listener, n)
	for i := range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls[i] = l
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}
