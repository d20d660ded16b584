// Package netlimit caps the connections of a listener, in total and per
// client address, so that idle or stalled clients cannot use up the
// process's file descriptors (which the tenant databases need too). When
// a cap is reached, the oldest connection that is idle (a keep-alive
// connection between requests, or one that has not sent its first request
// yet) is closed to make room; only when none is idle is the new
// connection refused, with a plain 503.
package netlimit

import (
	"container/list"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Config is what a Limiter allows.
type Config struct {
	// Max is the most connections open at once; 0: no cap.
	Max int
	// PerClient is the most connections open at once from one client
	// address (an IPv4 address, or an IPv6 /64, which one host usually
	// has whole); 0: no cap.
	PerClient int
	// Exempt are peers that carry many clients' requests (trusted reverse
	// proxies): they count towards Max only.
	Exempt []*net.IPNet
}

// Stats counts what a Limiter did since it started.
type Stats struct {
	RefusedTotal  atomic.Int64 // connections refused: Max open and none idle
	RefusedClient atomic.Int64 // connections refused: PerClient open from that client and none idle
	ClosedIdle    atomic.Int64 // idle connections closed to make room for a new one
}

// Limiter tracks the connections of the listeners it wraps. Give its
// ConnState to the http.Server that serves them: that is how it learns
// which connections are idle.
type Limiter struct {
	cfg   Config
	Stats Stats

	mu      sync.Mutex
	open    int
	clients map[string]int // open connections by client key
	idle    list.List      // *conn that are new or idle, the longest idle first
}

// New returns a limiter allowing what cfg says.
func New(cfg Config) *Limiter {
	return &Limiter{cfg: cfg, clients: map[string]int{}}
}

// Max is the cap on connections open at once (0: none).
func (l *Limiter) Max() int { return l.cfg.Max }

// Open is the number of connections open now.
func (l *Limiter) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

// Listener wraps ln: every connection it accepts counts against the caps
// until it is closed.
func (l *Limiter) Listener(ln net.Listener) net.Listener {
	return &listener{Listener: ln, l: l}
}

// ConnState is the http.Server's ConnState hook: a connection waiting for
// its next request may be closed to make room, an active one never is.
func (l *Limiter) ConnState(nc net.Conn, state http.ConnState) {
	c, ok := nc.(*conn)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.released {
		return
	}
	switch state {
	case http.StateActive, http.StateHijacked, http.StateClosed:
		l.unidle(c)
	case http.StateIdle:
		l.unidle(c)
		c.elem = l.idle.PushBack(c)
	}
}

type listener struct {
	net.Listener
	l *Limiter
}

// Accept returns the next connection the caps allow; a refused one gets a
// 503 and is closed without the caller seeing it.
func (ln *listener) Accept() (net.Conn, error) {
	for {
		nc, err := ln.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if c := ln.l.admit(nc); c != nil {
			return c, nil
		}
		refuse(nc)
	}
}

// refusal is the whole answer to a connection over a cap.
const refusal = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n" +
	"Retry-After: 5\r\nConnection: close\r\nContent-Length: 44\r\n\r\n" +
	"503 too many connections; try again shortly\n"

// refuse answers 503 and closes nc. Writing a few bytes to a connection
// that has sent nothing back fits its empty send buffer: it does not wait
// on the client; the deadline is only a guard.
func refuse(nc net.Conn) {
	nc.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	nc.Write([]byte(refusal))
	nc.Close()
}

// admit counts nc in, closing idle connections to make room if need be;
// nil means refused.
func (l *Limiter) admit(nc net.Conn) *conn {
	key, perClient := l.clientKey(nc.RemoteAddr())
	var victims []*conn
	l.mu.Lock()
	if perClient && l.cfg.PerClient > 0 && l.clients[key] >= l.cfg.PerClient {
		v := l.oldestIdle(key)
		if v == nil {
			l.mu.Unlock()
			l.Stats.RefusedClient.Add(1)
			return nil
		}
		l.release(v)
		victims = append(victims, v)
	}
	if l.cfg.Max > 0 && l.open >= l.cfg.Max {
		v := l.oldestIdle("")
		if v == nil {
			l.mu.Unlock()
			l.closeIdle(victims)
			l.Stats.RefusedTotal.Add(1)
			return nil
		}
		l.release(v)
		victims = append(victims, v)
	}
	c := &conn{Conn: nc, l: l, key: key}
	l.open++
	l.clients[key]++
	// A new connection is idle until it sends a request: one that sends
	// nothing is the first to go.
	c.elem = l.idle.PushBack(c)
	l.mu.Unlock()
	l.closeIdle(victims)
	return c
}

func (l *Limiter) closeIdle(victims []*conn) {
	for _, v := range victims {
		v.Conn.Close()
		l.Stats.ClosedIdle.Add(1)
	}
}

// oldestIdle is the connection idle the longest, of client key if key is
// not "". l.mu is held.
func (l *Limiter) oldestIdle(key string) *conn {
	for e := l.idle.Front(); e != nil; e = e.Next() {
		if c := e.Value.(*conn); key == "" || c.key == key {
			return c
		}
	}
	return nil
}

// unidle takes c off the idle list. l.mu is held.
func (l *Limiter) unidle(c *conn) {
	if c.elem != nil {
		l.idle.Remove(c.elem)
		c.elem = nil
	}
}

// release gives c's place back, once. l.mu is held.
func (l *Limiter) release(c *conn) {
	if c.released {
		return
	}
	c.released = true
	l.unidle(c)
	l.open--
	if l.clients[c.key]--; l.clients[c.key] <= 0 {
		delete(l.clients, c.key)
	}
}

// clientKey is the key of the client at addr for the per-client cap, and
// whether the cap applies (not to an exempt peer).
func (l *Limiter) clientKey(addr net.Addr) (string, bool) {
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		return addr.String(), true
	}
	ip := ap.Addr().Unmap()
	for _, n := range l.cfg.Exempt {
		if n.Contains(ip.AsSlice()) {
			return "", false
		}
	}
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String(), true
	}
	return ip.String(), true
}

// conn is an accepted connection, counted until it is closed.
type conn struct {
	net.Conn
	l        *Limiter
	key      string
	elem     *list.Element // on l.idle while new or idle
	released bool          // its place was given back; under l.mu
}

func (c *conn) Close() error {
	c.l.mu.Lock()
	c.l.release(c)
	c.l.mu.Unlock()
	return c.Conn.Close()
}

// FileLimit is the process's limit of open files (RLIMIT_NOFILE), 0 if
// unknown. Go raises the soft limit to the hard one at start, so this is
// what the process can really use.
func FileLimit() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0
	}
	return int(min(rl.Cur, 1<<30))
}
