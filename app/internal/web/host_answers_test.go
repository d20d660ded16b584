package web_test

import (
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/chapterhouse/chapterhouse/app/internal/web"
	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
)

// TestHostileHostsGetTheirExactRefusal sends each malformed or unknown
// Host and checks the exact answer, so that a 500 (or a 404 where the
// header is malformed) fails: a malformed name is a 400 saying so, a
// well-formed name of no chapter the 404 "No chapter here" page.
func TestHostileHostsGetTheirExactRefusal(t *testing.T) {
	ts := newTestServer(t)
	markerTenant(t, ts, "alpha", "ALPHAMARK")
	for _, tc := range []struct {
		host string
		want int
	}{
		{"..", 400}, {"../catalog.db", 400}, {"%2e%2e%2fcatalog", 400}, {"a&_pragma=x", 400},
		{"alpha.localhost%00", 400}, {strings.Repeat("a", 64) + ".localhost", 400},
		{strings.Repeat("a", 63) + ".localhost", 404}, // the longest label is a name, of no chapter
		{"-alpha.localhost", 400}, {"alpha-.localhost", 400}, {"alpha..localhost", 400}, {"[::1]", 400},
		{"alpha.localhost:80:80", 400}, {"alpha.localhost:", 400}, {"alpha.localhost:123456", 400}, {"alpha.localhost:8o", 400},
		{".localhost", 400}, {"xn--.localhost", 400}, {"al_pha.localhost", 400},
		{strings.Repeat("a.", 127) + "localhost", 400}, // 263 characters: over 253
		{"tenants.localhost", 404}, {"catalog.localhost", 404}, {"deep.alpha.localhost", 404}, {"alpha.example.org", 404},
		{"localhost.", 200}, {"alpha.localhost:65535", 200},
	} {
		code, body := ts.get(t, tc.host, "/")
		if code != tc.want {
			t.Errorf("Host %q: %d, want %d", tc.host, code, tc.want)
			continue
		}
		switch tc.want {
		case 400:
			if !strings.Contains(body, "malformed Host header") {
				t.Errorf("Host %q: the 400 does not say why: %.200q", tc.host, body)
			}
		case 404:
			if !strings.Contains(body, "No chapter here") || strings.Contains(body, "ALPHAMARK") {
				t.Errorf("Host %q: not the no-chapter page: %.200q", tc.host, body)
			}
		}
	}
}

// TestBaseURLFollowsHowTheClientCame checks the absolute links a page
// carries (its canonical URL): the Host as the client sent it, lower-cased
// and without a trailing dot, its port kept unless it is the scheme's
// default, and https only when a trusted proxy says so.
func TestBaseURLFollowsHowTheClientCame(t *testing.T) {
	loopback := &net.IPNet{IP: net.IPv4(127, 0, 0, 1), Mask: net.CIDRMask(32, 32)}
	canonical := regexp.MustCompile(`<link rel="canonical" href="([^"]*)">`)
	for _, tc := range []struct {
		name    string
		trusted bool
		host    string
		proto   string
		want    string
	}{
		{"plain", false, "alpha.localhost", "", "http://alpha.localhost/about"},
		{"upper case, trailing dot", false, "ALPHA.Localhost.", "", "http://alpha.localhost/about"},
		{"port 80 over http", false, "alpha.localhost:80", "", "http://alpha.localhost/about"},
		{"another port", false, "alpha.localhost.:8080", "", "http://alpha.localhost:8080/about"},
		{"port 443 over http is kept", false, "alpha.localhost:443", "", "http://alpha.localhost:443/about"},
		{"https claimed by an untrusted peer", false, "alpha.localhost", "https", "http://alpha.localhost/about"},
		{"https from a trusted proxy", true, "alpha.localhost", "https", "https://alpha.localhost/about"},
		{"https from a trusted proxy, port 443", true, "alpha.localhost:443", "https", "https://alpha.localhost/about"},
		{"https from a trusted proxy, port 80", true, "alpha.localhost:80", "https", "https://alpha.localhost:80/about"},
		{"a proxy's unknown scheme", true, "alpha.localhost", "gopher", "http://alpha.localhost/about"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts []webtest.Option
			if tc.trusted {
				opts = append(opts, func(c *web.Config) { c.TrustedProxies = []*net.IPNet{loopback} })
			}
			ts := newTestServer(t, opts...)
			markerTenant(t, ts, "alpha", "ALPHAMARK")
			req, err := http.NewRequest(http.MethodGet, ts.URL+"/about", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Host = tc.host
			if tc.proto != "" {
				req.Header.Set("X-Forwarded-Proto", tc.proto)
			}
			resp, err := ts.HTTP.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var b strings.Builder
			if _, err := io.Copy(&b, resp.Body); err != nil {
				t.Fatal(err)
			}
			m := canonical.FindStringSubmatch(b.String())
			if resp.StatusCode != 200 || m == nil || m[1] != tc.want {
				t.Errorf("Host %q, X-Forwarded-Proto %q: %d, canonical %v, want %s", tc.host, tc.proto, resp.StatusCode, m, tc.want)
			}
		})
	}
}
