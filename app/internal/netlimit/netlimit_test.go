package netlimit

import (
	"io"
	"net"
	"testing"
)

// A client is one IPv4 address or one IPv6 /64, and a trusted proxy is no
// client: it carries many.
func TestClientKey(t *testing.T) {
	_, proxy, _ := net.ParseCIDR("10.0.0.0/8")
	l := New(Config{PerClient: 1, Exempt: []*net.IPNet{proxy}})
	for _, tc := range []struct {
		addr      string
		key       string
		perClient bool
	}{
		{"192.0.2.7:5000", "192.0.2.7", true},
		{"[::ffff:192.0.2.7]:5000", "192.0.2.7", true},
		{"[2001:db8:1:2:aaaa::1]:5000", "2001:db8:1:2::/64", true},
		{"[2001:db8:1:2:bbbb::9]:6000", "2001:db8:1:2::/64", true},
		{"10.1.2.3:443", "", false},
	} {
		addr, err := net.ResolveTCPAddr("tcp", tc.addr)
		if err != nil {
			t.Fatal(err)
		}
		if key, per := l.clientKey(addr); key != tc.key || per != tc.perClient {
			t.Errorf("clientKey(%s) = %q, %v, want %q, %v", tc.addr, key, per, tc.key, tc.perClient)
		}
	}
}

// At the per-client cap a client's idle connection makes room for its
// new one; an exempt peer (a trusted proxy) is not capped per client.
func TestPerClientCapClosesTheClientsIdleConnectionButNotAnExemptPeers(t *testing.T) {
	_, proxy, _ := net.ParseCIDR("127.0.0.2/32")
	l := New(Config{PerClient: 1, Exempt: []*net.IPNet{proxy}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lim := l.Listener(ln)
	defer lim.Close()
	dial := func(from string) net.Conn {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
		c, err := d.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		sc, err := lim.Accept()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sc.Close() })
		return c
	}
	dial("127.0.0.2")
	dial("127.0.0.2")
	if l.Open() != 2 || l.Stats.ClosedIdle.Load() != 0 {
		t.Errorf("two connections of an exempt peer: %d open, %d closed, want 2 and 0", l.Open(), l.Stats.ClosedIdle.Load())
	}
	first := dial("127.0.0.3")
	dial("127.0.0.3")
	if _, err := first.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("a client's first, idle connection at the cap of 1: read %v, want EOF (closed)", err)
	}
	if l.Open() != 3 || l.Stats.ClosedIdle.Load() != 1 {
		t.Errorf("after a client's second connection: %d open, %d closed, want 3 and 1", l.Open(), l.Stats.ClosedIdle.Load())
	}
}
