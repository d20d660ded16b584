package cluster

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/internal/natstest"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// testLog discards the nodes' logs unless CLUSTER_LOG is set.
var testLog = func() *slog.Logger {
	if os.Getenv("CLUSTER_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}()

// testConfig is a short lease for tests: fenced 2.5 s after the last renew
// began, expired after 4 s. The bounds below are deadlines for a failure,
// not figures a test checks.
func testConfig(id string) Config {
	return Config{
		NodeID: id, Advertise: "http://" + id + ".test:8080",
		LeaseTTL: 4 * time.Second, RenewEvery: 500 * time.Millisecond, FenceMargin: 1500 * time.Millisecond,
		Log: testLog.With("id", id),
	}
}

// connect connects to urls with the package's client options; given one
// server's URL, the node stays tied to that server.
func connect(t testing.TB, urls string) jetstream.JetStream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nc, js, err := Connect(ctx, urls, t.Name(), nats.IgnoreDiscoveredServers())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return js
}

// join joins a node of id through urls and closes it when the test ends.
func join(t testing.TB, urls, id string) *Node {
	t.Helper()
	return joinWith(t, connect(t, urls), testConfig(id))
}

func joinWith(t testing.TB, js jetstream.JetStream, cfg Config) *Node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	n, err := Join(ctx, js, cfg)
	if err != nil {
		t.Fatalf("join %s: %v", cfg.NodeID, err)
	}
	t.Cleanup(n.Close)
	return n
}

func start(t testing.TB) *natstest.Cluster { return natstest.Start(t, 3) }

// eventually polls cond until it holds, failing the test after a minute.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after a minute: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// events records what a callback was called with.
type events struct {
	mu   sync.Mutex
	list []string
}

func (e *events) add(s string) {
	e.mu.Lock()
	e.list = append(e.list, s)
	e.mu.Unlock()
}

func (e *events) has(s string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Contains(e.list, s)
}

func (e *events) all() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.list)
}

func tenantIDs(prefix string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s%04d", prefix, i)
	}
	return ids
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// claimAll claims each tenant for n, failing unless n owns them after.
func claimAll(t testing.TB, n *Node, tenants []string) {
	t.Helper()
	for _, id := range tenants {
		o, err := n.Claim(ctxT(t), id)
		if err != nil {
			t.Fatalf("claim %s: %v", id, err)
		}
		if o.Node != n.ID() || o.Epoch != n.Epoch() {
			t.Fatalf("claim %s: owner %+v, want %s at %d", id, o, n.ID(), n.Epoch())
		}
	}
}

// freeze stops n's renew loop and watches between steps, as a SIGSTOP
// would, and returns the thaw; the test's end thaws it too (before Close,
// which waits for those loops), so a failing check cannot hang the test.
func freeze(t testing.TB, n *Node) (thaw func()) {
	n.pause.Lock()
	var once sync.Once
	thaw = func() { once.Do(n.pause.Unlock) }
	t.Cleanup(thaw)
	return thaw
}

// slowProxy is a TCP proxy on loopback in front of a NATS server that
// holds every byte the server sends for the proxy's delay before passing
// it on (in order), as a loaded server or network answers late; what the
// client sends goes through at once. Its URL is for a client to dial.
type slowProxy struct {
	ln    net.Listener
	delay atomic.Int64 // nanoseconds
}

func startSlowProxy(t testing.TB, serverURL string) *slowProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &slowProxy{ln: ln}
	t.Cleanup(func() { ln.Close() })
	target := strings.TrimPrefix(serverURL, "nats://")
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			t.Cleanup(func() { c.Close(); s.Close() })
			go func() { io.Copy(s, c); s.Close() }()
			go p.late(c, s)
		}
	}()
	return p
}

func (p *slowProxy) URL() string { return "nats://" + p.ln.Addr().String() }

// setDelay makes every byte read from the server from now on wait d.
func (p *slowProxy) setDelay(d time.Duration) { p.delay.Store(int64(d)) }

// late copies from the server to the client, each chunk d after it came.
func (p *slowProxy) late(client, server net.Conn) {
	type chunk struct {
		b   []byte
		due time.Time
	}
	q := make(chan chunk, 4096)
	go func() {
		defer client.Close()
		for c := range q {
			time.Sleep(time.Until(c.due))
			if _, err := client.Write(c.b); err != nil {
				return
			}
		}
	}()
	defer close(q)
	buf := make([]byte, 64<<10)
	for {
		n, err := server.Read(buf)
		if n > 0 {
			q <- chunk{append([]byte(nil), buf[:n]...), time.Now().Add(time.Duration(p.delay.Load()))}
		}
		if err != nil {
			return
		}
	}
}
