package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// adminLive is the real program serving a temp data dir on a loopback
// port, started through run() as `chapterhouse serve` is; operator
// commands reach it over its control socket as they would from a shell.
type adminLive struct {
	stop   func() // ends the server; also run at the end of the test
	dir    string
	addr   string // 127.0.0.1:PORT
	port   string
	base   string
	stdout *syncBuffer
}

const liveBase = "chapters.test"

// startLive runs serve on a fresh data dir (without the demo unless
// args ask otherwise) and stops it when the test ends.
func startLive(t *testing.T, args ...string) *adminLive {
	t.Helper()
	return startLiveIn(t, t.TempDir(), args...)
}

// startLiveIn is startLive on data dir dir, which may hold data already.
func startLiveIn(t *testing.T, dir string, args ...string) *adminLive {
	t.Helper()
	ls := &adminLive{dir: dir, base: liveBase, stdout: &syncBuffer{}}
	if !containsArg(args, "--demo") {
		args = append(args, "--no-demo")
	} else {
		args = removeArg(args, "--demo")
	}
	args = append([]string{"serve", "--data", ls.dir, "--addr", "127.0.0.1:0", "--ask-addr", "127.0.0.1:0", "--base-domain", liveBase}, args...)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	stderr := &syncBuffer{}
	go func() { done <- run(ctx, args, noEnv, strings.NewReader(""), ls.stdout, stderr) }()
	var once sync.Once
	ls.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v\n%s", err, stderr.String())
			}
		})
	}
	t.Cleanup(ls.stop)
	re := regexp.MustCompile(`listening on http://(127\.0\.0\.1:(\d+))`)
	for deadline := time.Now().Add(60 * time.Second); ; {
		if m := re.FindStringSubmatch(ls.stdout.String()); m != nil {
			ls.addr, ls.port = m[1], m[2]
			break
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited: %v\n%s", err, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start:\n%s\n%s", ls.stdout.String(), stderr.String())
		}
	}
	// The control socket is up once the listener is announced.
	return ls
}

func noEnv(string) string { return "" }

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func containsArg(args []string, a string) bool {
	for _, x := range args {
		if x == a {
			return true
		}
	}
	return false
}

func removeArg(args []string, a string) []string {
	var out []string
	for _, x := range args {
		if x != a {
			out = append(out, x)
		}
	}
	return out
}

// url is the address of path on tenant slug's platform host.
func (ls *adminLive) url(slug, path string) string {
	return "http://" + slug + "." + ls.base + ":" + ls.port + path
}

// client returns an HTTP client that reaches this server whatever the
// host name, keeps cookies and does not follow redirects.
func (ls *adminLive) client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{
		Jar: jar,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "tcp", ls.addr)
			},
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       60 * time.Second,
	}
}

// cli runs an operator command against the server's data dir, with stdin.
func (ls *adminLive) cli(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	args = append(args, "--data", ls.dir)
	err := run(context.Background(), args, noEnv, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), err
}

var passwordLine = regexp.MustCompile(`(?m)^password: (\S+)$`)

// newTenant creates tenant slug with an owner through the CLI and returns
// the owner's email and generated password.
func (ls *adminLive) newTenant(t *testing.T, slug string) (email, password string) {
	t.Helper()
	email = "owner@" + slug + ".example.org"
	out, errOut, err := ls.cli(t, "", "tenant", "create", slug, "--name", "Chapter "+slug, "--admin-email", email)
	if err != nil {
		t.Fatalf("tenant create %s: %v\n%s%s", slug, err, out, errOut)
	}
	m := passwordLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("tenant create printed no password line:\n%s", out)
	}
	return email, m[1]
}

// apiResult is one API response.
type apiResult struct {
	status int
	header http.Header
	body   []byte
}

func (r apiResult) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("response %d is not JSON (%v): %s", r.status, err, r.body)
	}
}

func (r apiResult) errField(t *testing.T) (msg, field string) {
	t.Helper()
	var e struct {
		Error string `json:"error"`
		Field string `json:"field"`
	}
	r.json(t, &e)
	return e.Error, e.Field
}

// do sends a request with an optional JSON body and headers.
func (ls *adminLive) do(t *testing.T, c *http.Client, method, url string, body any, headers ...string) apiResult {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return apiResult{status: resp.StatusCode, header: resp.Header, body: data}
}

// login logs in over the API and returns the token.
func (ls *adminLive) login(t *testing.T, slug, email, password string) string {
	t.Helper()
	r := ls.do(t, ls.client(), "POST", ls.url(slug, "/api/login"), map[string]string{"email": email, "password": password})
	if r.status != http.StatusOK {
		t.Fatalf("login %s on %s: %d %s", email, slug, r.status, r.body)
	}
	var out struct {
		Token     string    `json:"token"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	r.json(t, &out)
	if out.Token == "" || out.ExpiresAt.IsZero() {
		t.Fatalf("login answer lacks token or expires_at: %s", r.body)
	}
	return out.Token
}

func bearer(token string) []string { return []string{"Authorization", "Bearer " + token} }
