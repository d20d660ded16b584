package platform

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
)

// Ownership of a custom domain is proven by a TXT record at
// _chapterhouse.<host> holding the domain's token. Lookups go through
// net.Resolver: the system's resolver by default, or the one named by
// --dns-resolver, dialled by the Go resolver (which retries over TCP when a
// UDP answer is truncated, joins the strings of a TXT record as RFC 7208
// asks, and tells "no such record" from "resolver failed"). That is all a
// TXT check needs, so github.com/miekg/dns is used only by the tests, as
// the DNS server they run on loopback.

// TXTPrefix is the label under which a domain's token is published.
const TXTPrefix = "_chapterhouse."

// ErrDNS is a lookup that failed for a reason other than the record not
// existing (timeout, SERVFAIL, unreachable resolver): nothing is concluded
// From it.
var ErrDNS = errors.New("could not check DNS")

// NewResolver returns the resolver at addr (IP or IP:port, port 53 by
// default), or the system's resolver when addr is empty.
func NewResolver(addr string) (*net.Resolver, error) {
	if addr == "" {
		return net.DefaultResolver, nil
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		ip, ipErr := netip.ParseAddr(addr)
		if ipErr != nil {
			return nil, fmt.Errorf("--dns-resolver %q is not an IP address or IP:port", addr)
		}
		ap = netip.AddrPortFrom(ip, 53)
	}
	target := ap.String()
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, target)
		},
	}, nil
}

// DomainCheck is the outcome of one DNS check of a custom domain.
type DomainCheck struct {
	Domain  catalog.Domain `json:"domain"`
	Passed  bool           `json:"passed"`
	Problem string         `json:"problem,omitempty"` // why it did not pass, for the person who reads it
}

// lookupToken looks for d's token in the TXT records of _chapterhouse.<host>.
// problem says why it is not there; err is a failed lookup (errDNS).
func lookupToken(ctx context.Context, r *net.Resolver, d catalog.Domain) (problem string, err error) {
	name := TXTPrefix + d.Host
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// The final dot: no search domains are tried.
	txts, err := r.LookupTXT(ctx, name+".")
	var de *net.DNSError
	switch {
	case errors.As(err, &de) && de.IsNotFound:
		return fmt.Sprintf("there is no TXT record at %s yet; create it with the value %s (DNS changes can take a while to show)", name, d.Token), nil
	case de != nil:
		// de.Server names the system's resolver even when Dial went
		// elsewhere; de.Err names the real one.
		return "", fmt.Errorf("%w for %s: looking up %s: %s; try again later", ErrDNS, d.Host, name, de.Err)
	case err != nil:
		return "", fmt.Errorf("%w for %s: %v; try again later", ErrDNS, d.Host, err)
	}
	var others []string
	for _, txt := range txts {
		v := strings.Trim(strings.TrimSpace(txt), `"`)
		if v == d.Token {
			return "", nil
		}
		others = append(others, fmt.Sprintf("%q", v))
	}
	if len(others) > 3 {
		others = append(others[:3], "...")
	}
	return fmt.Sprintf("the TXT record at %s holds %s, not this domain's token %s; replace it with the token shown here",
		name, strings.Join(others, ", "), d.Token), nil
}

// CheckDomain looks up the TXT record of the claim d of a custom domain
// and records the outcome: verified (it routes at once, and the other
// sites' claims of the host go) when d's token is there; when not, a
// pending claim stays pending and a verified one becomes misconfigured
// (see Catalog.RecordDomainCheck). A failed lookup changes nothing and is
// returned as errDNS.
func (p *Platform) CheckDomain(ctx context.Context, r *net.Resolver, d catalog.Domain) (DomainCheck, error) {
	if r == nil {
		r = p.Resolver
	}
	problem, err := lookupToken(ctx, r, d)
	switch {
	case err != nil:
		p.Metrics.DomainChecks.WithLabelValues("error").Inc()
		return DomainCheck{Domain: d}, err
	case problem != "":
		p.Metrics.DomainChecks.WithLabelValues("failed").Inc()
	default:
		p.Metrics.DomainChecks.WithLabelValues("passed").Inc()
	}
	d, err = p.Catalog.RecordDomainCheck(ctx, d.TenantID, d.Host, problem == "", p.DomainGrace)
	if err != nil {
		return DomainCheck{}, err
	}
	return DomainCheck{Domain: d, Passed: problem == "", Problem: problem}, nil
}

// RecheckDomains checks every custom domain's TXT record again: pending
// Domains whose record appeared are verified, verified ones whose record
// vanished become misconfigured (and stop routing once the grace period
// has passed). Lookups that fail change nothing.
func (p *Platform) RecheckDomains(ctx context.Context) {
	expired, err := p.Catalog.ExpirePendingDomains(ctx, p.Now().Add(-PendingDomainTTL))
	if err != nil {
		p.Log.Error("domain re-check: dropping expired claims", "err", err)
	}
	for _, d := range expired {
		p.Log.Info("pending domain expired", "host", d.Host, "tenant", d.TenantID)
		p.Audit(ctx, "recheck", "domain.expire", d.TenantID, d.Host+": pending since "+d.CreatedAt.UTC().Format(time.RFC3339)+", never verified")
	}
	ds, err := p.Catalog.Domains(ctx, "")
	if err != nil {
		p.Log.Error("domain re-check: listing domains", "err", err)
		return
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for _, d := range ds {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			res, err := p.CheckDomain(ctx, nil, d)
			if errors.Is(err, tenantdb.ErrNotFound) {
				return // another site verified the host meanwhile: this claim is gone
			}
			if err != nil {
				p.Log.Warn("domain re-check", "host", d.Host, "err", err)
				return
			}
			after := res.Domain
			if after.Status == d.Status && after.Verified == d.Verified {
				return
			}
			p.Log.Info("domain status changed", "host", d.Host, "tenant", d.TenantID,
				"from", d.Status, "to", after.Status, "routes", after.Verified, "problem", res.Problem)
			detail := fmt.Sprintf("%s: %s -> %s", d.Host, d.Status, after.Status)
			if !after.Verified && d.Verified {
				detail += " (stopped routing)"
			}
			if err := p.Catalog.Audit(ctx, "recheck", "domain.check", d.TenantID, detail); err != nil {
				p.Log.Warn("audit log", "err", err)
			}
		}()
	}
	wg.Wait()
}

// RecheckLoop runs recheckDomains every interval until ctx is done.
func (p *Platform) RecheckLoop(ctx context.Context, every time.Duration) {
	if every <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p.RecheckDomains(ctx)
		}
	}
}

// DNSRecord is one DNS record a tenant creates for a custom domain.
type DNSRecord struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Value string `json:"value"`
	Note  string `json:"note"`
}

// DomainRecords lists the records that prove ownership of d and point it
// at the platform.
func (p *Platform) DomainRecords(d catalog.Domain) []DNSRecord {
	recs := []DNSRecord{
		{Name: TXTPrefix + d.Host, Type: "TXT", Value: d.Token,
			Note: "proves the domain is yours; keep it, it is checked again regularly"},
		{Name: d.Host, Type: "CNAME", Value: d.Slug + "." + p.Base,
			Note: "points the domain at the chapter's site"},
	}
	for _, ip := range p.PublicIPs {
		typ := "A"
		if ip.Is6() {
			typ = "AAAA"
		}
		recs = append(recs, DNSRecord{Name: d.Host, Type: typ, Value: ip.String(),
			Note: "instead of the CNAME where one is not allowed (a bare domain like example.org)"})
	}
	return recs
}
