package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/web/httpx"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
)

// HopHeader marks a request forwarded by another node of the cluster:
// "NODE REV HOPS", the forwarding node's id, the revision of the ownership
// record it routed by, and how many forwards the request has had. A node
// whose record is newer forwards it once more (the sender's watch was a
// moment behind a placement or a move); one whose record is not newer
// waits up to a second for its own watch, then refuses with 508 and logs
// it rather than loop. Revisions only grow, and maxHops bounds the rest.
const HopHeader = "X-Chapterhouse-Hop"

// NodeHeader names, on every answer of a tenant's site in a cluster, the
// node that served it (forwarded answers carry the owner's).
const NodeHeader = "X-Chapterhouse-Node"

// maxHops is the most forwards a request may have.
const maxHops = 3

// hop is a HopHeader read.
type hop struct {
	from string
	rev  uint64
	hops int
}

func parseHop(v string) (hop, bool) {
	var h hop
	if v == "" {
		return h, false
	}
	f := strings.Fields(v)
	h.from = f[0]
	if len(f) == 3 {
		h.rev, _ = strconv.ParseUint(f[1], 10, 64)
		h.hops, _ = strconv.Atoi(f[2])
	}
	if h.hops < 1 {
		h.hops = 1
	}
	return h, true
}

// forwarder sends the requests of tenants that another node of the
// cluster owns to that node (docs/cluster.md), streaming both ways.
type forwarder struct {
	self      string // this node's id, sent in HopHeader
	transport *http.Transport
	mu        sync.Mutex
	proxies   map[string]*httputil.ReverseProxy // by the owner's advertised URL
}

func newForwarder(self string) *forwarder {
	return &forwarder{
		self:    self,
		proxies: map[string]*httputil.ReverseProxy{},
		transport: &http.Transport{
			Proxy:                 nil, // node to node, never through an HTTP proxy
			MaxIdleConns:          256,
			MaxIdleConnsPerHost:   64,
			IdleConnTimeout:       90 * time.Second,
			ResponseHeaderTimeout: 2 * time.Minute,
			ForceAttemptHTTP2:     false,
			// The client's own Accept-Encoding goes through as it came:
			// else the transport asks the owner for gzip on a request
			// without one, and this node unzips what it forwards.
			DisableCompression: true,
			// A page read in one piece from the owner goes out to the
			// client in one write, not in the 4 KB pieces of the default
			// buffer (a write each: most of a forward's cost).
			ReadBufferSize: copyBufferSize,
		},
	}
}

// copyBufferSize is the size of the buffers a forwarded answer is read
// and copied through: a chapter's page fits in one.
const copyBufferSize = 64 << 10

// copyBuffers lends the reverse proxies their copy buffers, which they
// would otherwise allocate (and clear) for every request.
var copyBuffers = &bufferPool{sync.Pool{New: func() any { b := make([]byte, copyBufferSize); return &b }}}

type bufferPool struct{ p sync.Pool }

func (bp *bufferPool) Get() []byte  { return *bp.p.Get().(*[]byte) }
func (bp *bufferPool) Put(b []byte) { bp.p.Put(&b) }

// proxy is the reverse proxy to the node advertised at target.
func (f *forwarder) proxy(target string, log func(msg string, args ...any)) (*httputil.ReverseProxy, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p := f.proxies[target]; p != nil {
		return p, nil
	}
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	p := &httputil.ReverseProxy{
		Transport:  f.transport,
		BufferPool: copyBuffers,
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = pr.In.Host // the owner routes by the tenant's Host
			pr.SetXForwarded()
			// How the client reached the cluster, as this node judged it
			// (directly, or through a trusted proxy such as Caddy).
			if req := httpx.RequestOf(pr.In.Context()); req != nil && req.Secure {
				pr.Out.Header.Set("X-Forwarded-Proto", "https")
			}
			h := hopOf(pr.In.Context())
			pr.Out.Header.Set(HopHeader, fmt.Sprintf("%s %d %d", f.self, h.rev, h.hops))
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if errors.Is(err, context.Canceled) {
				w.WriteHeader(httpx.StatusClientClosed)
				return
			}
			log("forwarding to the chapter's node failed", "owner", target, "host", r.Host, "path", r.URL.Path, "err", err)
			w.Header().Set("Retry-After", "2")
			http.Error(w, "502 bad gateway: the node that serves this chapter did not answer; try again in a few seconds", http.StatusBadGateway)
		},
	}
	f.proxies[target] = p
	return p, nil
}

// routeCluster decides, in cluster mode, where tenant t's request is
// served: it returns true when it answered the request itself (forwarded
// to the owner, or refused), false when this node serves it, as its owner
// (the cluster claimed it and restored its file if it had no live owner).
func (s *Server) routeCluster(w http.ResponseWriter, r *http.Request, req *httpx.Request, t catalog.Tenant) bool {
	c := s.p.Cluster
	owner, rev, err := c.Route(r.Context(), t)
	in, forwarded := parseHop(r.Header.Get(HopHeader))
	// The node that forwarded it saw this one as the owner, by a record at
	// least as new as this node's: this node's watch is a moment behind
	// (a tenant just placed or moved here).
	for deadline := time.Now().Add(time.Second); err == nil && owner != "" && forwarded && rev <= in.rev && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		owner, rev, err = c.Route(r.Context(), t)
	}
	if err != nil {
		req.Kind = "cluster"
		s.log.Warn("cluster: no node can serve the chapter now", "request_id", req.ID, "tenant", t.ID, "err", err)
		w.Header().Set("Retry-After", "2")
		status := http.StatusServiceUnavailable
		if errors.Is(err, context.Canceled) {
			status = httpx.StatusClientClosed
		}
		http.Error(w, "503 service unavailable: this chapter's site is moving between servers; try again in a few seconds", status)
		return true
	}
	if owner == "" {
		w.Header().Set(NodeHeader, c.Node.ID())
		return false // ours
	}
	req.Kind, req.Tenant = "forwarded", t
	out := hop{rev: rev, hops: 1}
	if forwarded {
		if rev <= in.rev || in.hops >= maxHops {
			s.log.Error("cluster: a forwarded request names another owner; not forwarding it again",
				"request_id", req.ID, "tenant", t.ID, "from", in.from, "their_rev", in.rev, "owner", owner, "rev", rev, "hops", in.hops)
			w.Header().Set("Retry-After", "1")
			http.Error(w, "508 loop detected: the servers of this cluster disagree about which one serves this chapter; try again in a moment",
				http.StatusLoopDetected)
			return true
		}
		out.hops = in.hops + 1
	}
	p, err := s.fwd.proxy(owner, s.log.Warn)
	if err != nil {
		s.log.Error("cluster: a node's advertised URL is not a URL", "owner", owner, "err", err)
		http.Error(w, "502 bad gateway", http.StatusBadGateway)
		return true
	}
	p.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), hopKey{}, out)))
	return true
}

// hopKey carries the HopHeader to send with a forwarded request.
type hopKey struct{}

func hopOf(ctx context.Context) hop {
	h, _ := ctx.Value(hopKey{}).(hop)
	return h
}

// fenced refuses a write, before it starts, that this node could not
// acknowledge: its lease is not confirmed within the fencing margin.
func (s *Server) fenced(c interface{ Request() *http.Request }, t catalog.Tenant) error {
	if s.p.Cluster == nil || httpx.SafeMethod(c.Request().Method) {
		return nil
	}
	return s.p.Cluster.CheckWrite(t.ID)
}
