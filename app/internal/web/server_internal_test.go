package web

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/chapterhouse/chapterhouse/app/internal/platform"
)

// These tests see what the package's external tests cannot: the request
// log and the server's own settings. They cannot use webtest (it imports
// this package), so they start the same thing by hand: a real platform in
// a temp dir and the server over loopback.

// syncBuffer is a log destination safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// logLines returns the log lines that hold every one of words.
func (s *syncBuffer) logLines(words ...string) []string {
	var out []string
	for _, l := range strings.Split(s.String(), "\n") {
		ok := l != ""
		for _, w := range words {
			ok = ok && strings.Contains(l, w)
		}
		if ok {
			out = append(out, l)
		}
	}
	return out
}

type internalServer struct {
	s   *Server
	p   *platform.Platform
	url string
	log *syncBuffer
}

func startInternal(t *testing.T, cfg Config) *internalServer {
	t.Helper()
	dir := t.TempDir()
	buf := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(buf, nil))
	p, err := platform.Open(context.Background(), dir, 8, time.Minute, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	cfg.DataDir, cfg.BaseDomain = dir, "localhost"
	if cfg.MaxBody == 0 {
		cfg.MaxBody = 1 << 20
	}
	cfg.AcquireTimeout = 5 * time.Second
	p.Base = cfg.BaseDomain
	s, err := New(cfg, p, log)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	return &internalServer{s: s, p: p, url: hs.URL, log: buf}
}

func (is *internalServer) get(t *testing.T, host, path string) (*http.Response, string, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, is.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

// TestRequestLogNamesThePeerOfRequestsNoRouteTook: requests answered
// before any route (health, a malformed Host, a host of no chapter) still
// log the client's address, as routed ones do.
func TestRequestLogNamesThePeerOfRequestsNoRouteTook(t *testing.T) {
	is := startInternal(t, Config{})
	for _, tc := range []struct{ host, path, kind string }{
		{"nowhere.example", "/", "unknown"},
		{"a..b", "/", "bad-host"},
		{"nowhere.example", "/healthz", "health"},
		{"localhost", "/", "platform"},
	} {
		if _, _, err := is.get(t, tc.host, tc.path); err != nil {
			t.Fatal(err)
		}
		lines := is.log.logLines("msg=request", "host="+tc.host, "path="+tc.path)
		if len(lines) != 1 {
			t.Fatalf("%s%s: %d request log lines: %q", tc.host, tc.path, len(lines), is.log.String())
		}
		if !strings.Contains(lines[0], "ip=127.0.0.1 ") {
			t.Errorf("%s%s (%s): the log line names no client: %s", tc.host, tc.path, tc.kind, lines[0])
		}
	}
}

// TestRequestsAreCountedForTheirTenantOnly: each request a tenant's site
// answers adds one to that tenant's count (the tenant stats), and a
// request for no tenant adds to none, not even to a tenant without an id.
func TestRequestsAreCountedForTheirTenantOnly(t *testing.T) {
	is := startInternal(t, Config{})
	ctx := context.Background()
	a, err := is.p.CreateTenant(ctx, "alpha", "Alpha")
	if err != nil {
		t.Fatal(err)
	}
	b, err := is.p.CreateTenant(ctx, "bravo", "Bravo")
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if resp, _, err := is.get(t, "alpha.localhost", "/"); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("alpha's home: %v %v", resp, err)
		}
	}
	for _, host := range []string{"localhost", "nowhere.example", "zulu.localhost"} {
		if _, _, err := is.get(t, host, "/"); err != nil {
			t.Fatal(err)
		}
	}
	if n, last := is.p.Metrics.Tenants.Get(a.ID); n != 3 || last.IsZero() {
		t.Errorf("alpha counted %d requests (last %v), want 3", n, last)
	}
	if n, _ := is.p.Metrics.Tenants.Get(b.ID); n != 0 {
		t.Errorf("bravo counted %d requests, want 0", n)
	}
	if n, _ := is.p.Metrics.Tenants.Get(""); n != 0 {
		t.Errorf("requests for no tenant counted %d under the empty id", n)
	}
}

// TestAPanicAnswers500AndAnAbortAborts: a handler that panics gets the
// client a plain 500 and the log its stack; one that panics with
// http.ErrAbortHandler (the way to cut a response short) has its
// connection cut, as net/http does, and logs no panic.
func TestAPanicAnswers500AndAnAbortAborts(t *testing.T) {
	is := startInternal(t, Config{})
	is.s.landing.GET("/boom", func(echo.Context) error { panic("boom at the test's route") })
	is.s.landing.GET("/abort", func(echo.Context) error { panic(http.ErrAbortHandler) })

	resp, body, err := is.get(t, "localhost", "/boom")
	if err != nil || resp.StatusCode != http.StatusInternalServerError || strings.TrimSpace(body) != "internal server error" {
		t.Fatalf("a panic answered %v %q %v, want 500 \"internal server error\"", resp, body, err)
	}
	if lines := is.log.logLines("msg=panic", "boom at the test's route", "stack="); len(lines) != 1 {
		t.Errorf("the panic was logged %d times with its stack: %s", len(lines), is.log.String())
	}

	resp, _, err = is.get(t, "localhost", "/abort")
	if err == nil {
		t.Fatalf("an aborted handler answered %d, want the connection cut", resp.StatusCode)
	}
	if lines := is.log.logLines("msg=panic", "abort Handler"); len(lines) != 0 {
		t.Errorf("an abort was logged as a panic: %v", lines)
	}
}

// TestBodyDiskBudgetIsFourBodiesOr256MiB: without --body-disk, the large
// bodies waiting on disk may take four of the largest body, and never less
// than 256 MiB; export downloads default to 4 at once.
func TestBodyDiskBudgetIsFourBodiesOr256MiB(t *testing.T) {
	for _, tc := range []struct {
		maxBody, disk, want int64
	}{
		{1 << 20, 0, 256 << 20},
		{100 << 20, 0, 400 << 20},
		{100 << 20, 5 << 20, 5 << 20},
	} {
		is := startInternal(t, Config{MaxBody: tc.maxBody, BodyDiskBytes: tc.disk})
		if got := is.s.bodies.DiskBytes; got != tc.want {
			t.Errorf("max body %d, --body-disk %d: budget %d, want %d", tc.maxBody, tc.disk, got, tc.want)
		}
		if is.s.cfg.MaxExports != 4 {
			t.Errorf("export slots %d by default, want 4", is.s.cfg.MaxExports)
		}
	}
}

// TestUploadTempFilesAreRemovedAfterTheHandler: a multipart form parsed
// by a handler spills its larger files to the temp dir, on the request
// copy ServeHTTP made, which net/http does not clean up: the server
// removes them when the handler ends, whatever it answered, and logs no
// warning when that works.
func TestUploadTempFilesAreRemovedAfterTheHandler(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	is := startInternal(t, Config{MaxBody: 4 << 20})
	spilled := make(chan int, 2)
	parse := func(status int) echo.HandlerFunc {
		return func(c echo.Context) error {
			if err := c.Request().ParseMultipartForm(1 << 10); err != nil {
				return err
			}
			es, _ := os.ReadDir(tmp)
			spilled <- len(es)
			return c.String(status, "parsed")
		}
	}
	is.s.landing.POST("/upload", parse(http.StatusCreated))
	is.s.landing.POST("/refuse", parse(http.StatusRequestEntityTooLarge))
	for _, path := range []string{"/upload", "/refuse"} {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		fw, err := mw.CreateFormFile("file", "big.bin")
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(bytes.Repeat([]byte{7}, 1<<20))
		mw.Close()
		req, err := http.NewRequest(http.MethodPost, is.url+path, &body)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = "localhost"
		req.Header.Set("Content-Type", mw.FormDataContentType())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if n := <-spilled; n != 1 {
			t.Fatalf("%s: the handler saw %d files in the temp dir, want the one it spilled", path, n)
		}
		if es, _ := os.ReadDir(tmp); len(es) != 0 {
			t.Errorf("%s answered %d and left %d files in the temp dir", path, resp.StatusCode, len(es))
		}
	}
	if lines := is.log.logLines("removing an upload's temporary files"); len(lines) != 0 {
		t.Errorf("a removal that worked was logged as failed: %v", lines)
	}
}

// TestPlatformErrorPagesAndWhatIsLogged: the platform's own pages answer
// a missing page with "Page not found" and other errors with their status
// text; a server error (500 included) is logged with its cause, a client's
// error (404) is not.
func TestPlatformErrorPagesAndWhatIsLogged(t *testing.T) {
	is := startInternal(t, Config{})
	is.s.landing.GET("/fail", func(echo.Context) error { return errors.New("the disk is on fire") })
	is.s.landing.GET("/teapot", func(echo.Context) error { return echo.NewHTTPError(http.StatusTeapot, "short and stout") })

	resp, body, err := is.get(t, "localhost", "/no-such-page")
	if err != nil || resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "Page not found") {
		t.Fatalf("a missing page: %v %v, want 404 \"Page not found\": %s", resp, err, body)
	}
	resp, body, err = is.get(t, "localhost", "/teapot")
	if err != nil || resp.StatusCode != http.StatusTeapot || !strings.Contains(body, "teapot") || strings.Contains(body, "Page not found") {
		t.Fatalf("a 418: %v %v, want 418 with its status text: %s", resp, err, body)
	}
	resp, body, err = is.get(t, "localhost", "/fail")
	if err != nil || resp.StatusCode != http.StatusInternalServerError || strings.Contains(body, "Page not found") {
		t.Fatalf("a failing handler: %v %v, want 500: %s", resp, err, body)
	}
	if lines := is.log.logLines("msg=\"request failed\"", "status=500", "the disk is on fire"); len(lines) != 1 {
		t.Errorf("the 500 was logged %d times with its cause: %s", len(lines), is.log.String())
	}
	if lines := is.log.logLines("msg=\"request failed\""); len(lines) != 1 {
		t.Errorf("client errors were logged as failures: %v", lines)
	}
}

// TestTenantRequestBodiesGiveBackTheirDiskBudget: a large body waits on
// disk within a budget that every request shares; when its request ends
// its room is given back, so uploads one after another, each within the
// budget but together past it, are all taken.
func TestTenantRequestBodiesGiveBackTheirDiskBudget(t *testing.T) {
	is := startInternal(t, Config{MaxBody: 1 << 20, BodyDiskBytes: 256 << 10})
	if _, err := is.p.CreateTenant(context.Background(), "alpha", "Alpha"); err != nil {
		t.Fatal(err)
	}
	is.s.tenants.POST("/test-body", func(c echo.Context) error {
		n, err := io.Copy(io.Discard, c.Request().Body)
		if err != nil {
			return err
		}
		return c.String(http.StatusOK, strconv.FormatInt(n, 10))
	}, is.s.withTenant)
	for i := range 4 {
		req, err := http.NewRequest(http.MethodPost, is.url+"/test-body", bytes.NewReader(bytes.Repeat([]byte{'x'}, 200<<10)))
		if err != nil {
			t.Fatal(err)
		}
		req.Host = "alpha.localhost"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(b) != strconv.Itoa(200<<10) {
			t.Fatalf("upload %d of 200 KiB within a 256 KiB budget: %d %s", i+1, resp.StatusCode, b)
		}
	}
}

// TestClientAddressBelievesOnlyTrustedProxies: the request log's client
// is the X-Forwarded-For address when the peer is a --trusted-proxy, and
// the peer itself otherwise, whatever the client claims.
func TestClientAddressBelievesOnlyTrustedProxies(t *testing.T) {
	loopback := &net.IPNet{IP: net.IPv4(127, 0, 0, 1), Mask: net.CIDRMask(32, 32)}
	for _, tc := range []struct {
		trusted []*net.IPNet
		want    string
	}{
		{nil, "ip=127.0.0.1 "},
		{[]*net.IPNet{loopback}, "ip=203.0.113.7 "},
	} {
		is := startInternal(t, Config{TrustedProxies: tc.trusted})
		req, err := http.NewRequest(http.MethodGet, is.url+"/", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = "localhost"
		req.Header.Set("X-Forwarded-For", "203.0.113.7")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if lines := is.log.logLines("msg=request", tc.want); len(lines) != 1 {
			t.Errorf("trusted proxies %v: want one request logged with %q: %s", tc.trusted, tc.want, is.log.String())
		}
	}
}
