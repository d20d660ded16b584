// Package testdns runs a real DNS server on loopback for the tests of
// custom domains (their TXT ownership records).
package testdns

import (
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// Server is a real DNS server on a loopback UDP port that answers TXT
// queries from a table the test edits.
// Server is a DNS server on a loopback UDP port that answers TXT questions
// from records a test sets: the resolver of the custom-domain tests.
type Server struct {
	// Addr is the server's IP:port, for --dns-resolver.
	Addr string

	mu       sync.Mutex
	txt      map[string][]string // lower-case name without the final dot -> records
	servfail bool
	queries  int
}

// Start runs a server until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &Server{Addr: pc.LocalAddr().String(), txt: map[string][]string{}}
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(d.serve), NotifyStartedFunc: func() { close(started) }}
	go srv.ActivateAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })
	return d
}

// Set makes name answer records (none: NXDOMAIN).
func (d *Server) Set(name string, records ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(records) == 0 {
		delete(d.txt, name)
		return
	}
	d.txt[name] = records
}

// Fail makes every answer SERVFAIL while on.
func (d *Server) Fail(on bool) {
	d.mu.Lock()
	d.servfail = on
	d.mu.Unlock()
}

func (d *Server) serve(w dns.ResponseWriter, q *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(q)
	m.Authoritative = true
	d.mu.Lock()
	d.queries++
	name := strings.TrimSuffix(strings.ToLower(q.Question[0].Name), ".")
	records, ok := d.txt[name]
	switch {
	case d.servfail:
		m.Rcode = dns.RcodeServerFailure
	case !ok:
		m.Rcode = dns.RcodeNameError
	case q.Question[0].Qtype == dns.TypeTXT:
		for _, r := range records {
			// Long values travel as several character-strings, as DNS
			// providers split them; the checker must join them.
			var parts []string
			for len(r) > 20 {
				parts, r = append(parts, r[:20]), r[20:]
			}
			m.Answer = append(m.Answer, &dns.TXT{
				Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60},
				Txt: append(parts, r),
			})
		}
	}
	d.mu.Unlock()
	w.WriteMsg(m)
}

// domainsJSON is `domain list --json` of data dir dir, by host.

// Queries is how many questions the server has answered.
func (d *Server) Queries() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.queries
}
