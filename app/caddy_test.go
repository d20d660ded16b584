package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/testdns"
)

// caddyBinary returns the caddy command, or skips the test where Caddy is
// not installed outside CI (CI installs it: .ci/run).
func caddyBinary(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("caddy")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("caddy is not installed, and CI must run this test (.ci/run installs the Debian package caddy)")
		}
		t.Skip("caddy is not installed (apt-get install caddy); skipping the Caddy end-to-end test")
	}
	return path
}

// caddyEnv keeps Caddy's autosaved config and data out of $HOME, and the
// Caddyfile's placeholders at their defaults.
func caddyEnv(dir string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CHAPTERHOUSE_") && !strings.HasPrefix(kv, "ACME_EMAIL=") {
			env = append(env, kv)
		}
	}
	return append(env, "HOME="+dir, "XDG_CONFIG_HOME="+dir, "XDG_DATA_HOME="+dir)
}

// The shipped Caddyfile is valid and asks the default ops listener.
func TestShippedCaddyfile(t *testing.T) {
	caddy := caddyBinary(t)
	cmd := exec.Command(caddy, "adapt", "--config", "../Caddyfile", "--adapter", "caddyfile")
	cmd.Env = caddyEnv(t.TempDir())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("caddy adapt: %v\n%s", err, stderr.String())
	}
	if strings.Contains(stderr.String(), "not formatted") {
		t.Errorf("Caddyfile is not formatted (caddy fmt --overwrite Caddyfile)")
	}
	var cfg struct {
		Apps struct {
			TLS struct {
				Automation struct {
					OnDemand struct {
						Ask string `json:"ask"`
					} `json:"on_demand"`
				} `json:"automation"`
			} `json:"tls"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.Apps.TLS.Automation.OnDemand.Ask, "http://127.0.0.1:8081/tls/ask"; got != want {
		t.Errorf("ask = %q, want %q (the default --ask-addr)", got, want)
	}
	for _, want := range []string{`"on_demand":true`, `"dial":"127.0.0.1:8080"`} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("adapted config lacks %s", want)
		}
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// runCaddy starts Caddy with the given Caddyfile (after its global
// options, which set the ports, storage and the test's internal CA) and
// stops it when the test ends. It returns the HTTPS port and the storage
// directory.
func runCaddy(t *testing.T, site string) (httpsPort int, storage string) {
	t.Helper()
	// freePort's port may be taken again before Caddy binds it, on a busy
	// machine: a start that fails on a busy port is tried on new ports.
	for attempt := 1; ; attempt++ {
		httpsPort, storage, logs, err := startCaddy(t, site)
		if err == nil {
			return httpsPort, storage
		}
		if attempt == 3 || !strings.Contains(logs, "address already in use") {
			t.Fatalf("%v\n%s", err, logs)
		}
	}
}

// startCaddy is one try of runCaddy: the error says why Caddy is not
// serving, with its log.
func startCaddy(t *testing.T, site string) (httpsPort int, storage, log string, err error) {
	t.Helper()
	caddy := caddyBinary(t)
	dir := t.TempDir()
	storage = filepath.Join(dir, "storage")
	httpsPort, httpPort := freePort(t), freePort(t)
	conf := fmt.Sprintf(`{
	admin off
	http_port %d
	https_port %d
	auto_https disable_redirects
	skip_install_trust
	storage file_system {
		root %s
	}
%s`, httpPort, httpsPort, storage, site)
	path := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	cmd := exec.Command(caddy, "run", "--config", path, "--adapter", "caddyfile")
	cmd.Env = caddyEnv(dir)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// exited is closed once Caddy has exited, so that both the wait below
	// and the cleanup see it (a value sent once would be seen by only one).
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("caddy log:\n%s", logs)
		}
	})
	// Ready once it accepts connections on its HTTPS port.
	for deadline := time.Now().Add(30 * time.Second); ; {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", httpsPort))
		if err == nil {
			c.Close()
			return httpsPort, storage, "", nil
		}
		select {
		case <-exited:
			return 0, "", logs.String(), fmt.Errorf("caddy exited: %v", waitErr)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return 0, "", logs.String(), fmt.Errorf("caddy did not listen on %d", httpsPort)
		}
	}
}

// caddyClient connects every name to Caddy's HTTPS port and trusts only
// Caddy's internal root CA from its storage.
func caddyClient(t *testing.T, httpsPort int, storage string) *http.Client {
	t.Helper()
	rootFile := filepath.Join(storage, "pki", "authorities", "local", "root.crt")
	var pem []byte
	for deadline := time.Now().Add(30 * time.Second); ; {
		var err error
		if pem, err = os.ReadFile(rootFile); err == nil && len(pem) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("caddy made no internal root CA at %s", rootFile)
		}
		time.Sleep(50 * time.Millisecond)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		t.Fatalf("%s holds no certificate", rootFile)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", httpsPort)
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, network, addr)
			},
			TLSClientConfig:   &tls.Config{RootCAs: roots},
			DisableKeepAlives: true,
		},
	}
}

// Caddy with on-demand TLS in front of the real server: a verified custom
// domain and a tenant subdomain get a certificate and the chapter's page
// over HTTPS; pending, unknown and suspended names get no certificate.
func TestCaddyOnDemandTLS(t *testing.T) {
	caddyBinary(t)
	ns := testdns.Start(t)
	s := startServer(t, "--no-demo", "--base-domain", "chapters.test", "--trusted-proxy", "127.0.0.1",
		"--dns-resolver", ns.Addr, "--log-format", "json")
	upstream := s.Addr
	ask := s.ops + "/tls/ask"

	mustCLI(t, s.dir, "tenant", "create", "alpha", "--name", "Alpha Post 17")
	mustCLI(t, s.dir, "tenant", "create", "gone", "--name", "Gone Lodge")
	mustCLI(t, s.dir, "tenant", "suspend", "gone")
	mustCLI(t, s.dir, "domain", "add", "alpha", "www.alpha-post.example")
	mustCLI(t, s.dir, "domain", "add", "alpha", "pending.alpha-post.example")
	token := domainsJSON(t, s.dir)["www.alpha-post.example"].Token
	ns.Set("_chapterhouse.www.alpha-post.example", token)
	mustCLI(t, s.dir, "domain", "verify", "www.alpha-post.example")

	port, storage := runCaddy(t, fmt.Sprintf(`	on_demand_tls {
		ask %s
	}
}

https:// {
	tls internal {
		on_demand
	}
	reverse_proxy %s
}
`, ask, upstream))
	client := caddyClient(t, port, storage)

	get := func(host string, header ...string) (*http.Response, string, error) {
		req, err := http.NewRequest(http.MethodGet, "https://"+host+"/", nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b), nil
	}

	for _, host := range []string{"www.alpha-post.example", "alpha.chapters.test"} {
		resp, body, err := get(host, "X-Forwarded-For", "203.0.113.66")
		if err != nil {
			t.Fatalf("https://%s/: %v", host, err)
		}
		if resp.StatusCode != 200 || !strings.Contains(body, "Alpha Post 17") {
			t.Fatalf("https://%s/: %d, want the chapter's home page", host, resp.StatusCode)
		}
		if cert := resp.TLS.PeerCertificates[0]; cert.VerifyHostname(host) != nil {
			t.Errorf("certificate for %s names %v", host, cert.DNSNames)
		}
		// Behind its trusted proxy the site knows it is served over HTTPS.
		if !strings.Contains(body, "https://"+host+"/") {
			t.Errorf("https://%s/ does not link to itself over https", host)
		}
	}

	for _, host := range []string{"pending.alpha-post.example", "www.nosuch.example", "nosuch.chapters.test", "gone.chapters.test", "chapters.test"} {
		resp, _, err := get(host)
		if err == nil {
			t.Errorf("https://%s/: got %d with a certificate, want no certificate", host, resp.StatusCode)
			continue
		}
		var certErr *tls.CertificateVerificationError
		if errors.As(err, &certErr) || !strings.Contains(err.Error(), "tls") {
			t.Errorf("https://%s/: %v; want a failed TLS handshake (no certificate), not a bad one", host, err)
		}
	}

	// Verifying the pending domain gives it a certificate at once.
	token = domainsJSON(t, s.dir)["pending.alpha-post.example"].Token
	ns.Set("_chapterhouse.pending.alpha-post.example", token)
	mustCLI(t, s.dir, "domain", "verify", "pending.alpha-post.example")
	if resp, body, err := get("pending.alpha-post.example"); err != nil || resp.StatusCode != 200 || !strings.Contains(body, "Alpha Post 17") {
		t.Fatalf("newly verified domain: %v", err)
	}

	// The client's own X-Forwarded-For is not believed: Caddy replaced it,
	// and only Caddy is trusted.
	s.stop()
	for _, line := range strings.Split(s.logs.String(), "\n") {
		if strings.Contains(line, "203.0.113.66") && strings.Contains(line, `"ip":"203.0.113.66"`) {
			t.Errorf("a client's X-Forwarded-For was believed: %s", line)
		}
	}
	if !strings.Contains(s.logs.String(), `"host":"www.alpha-post.example"`) {
		t.Errorf("no request of www.alpha-post.example reached the server through Caddy")
	}
}
