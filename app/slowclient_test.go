package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// rawRequest is a request written by hand on its own connection, to
// play a slow or stalled client.
type rawRequest struct {
	conn net.Conn
	br   *bufio.Reader
}

// dialFrom connects to addr from the loopback address from ("" is any).
func dialFrom(t *testing.T, addr, from string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 10 * time.Second}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s from %s: %v", addr, from, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// startBody sends the head of a request with a body of size bytes and
// Expect: 100-continue, and waits for the server's 100 Continue: the
// server has then begun to read the body (net/http sends it on the
// handler's first read), and the request is its to hold.
func startBody(t *testing.T, conn net.Conn, host, path, contentType string, size int, headers ...string) *rawRequest {
	t.Helper()
	head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nExpect: 100-continue\r\n",
		path, host, contentType, size)
	for i := 0; i+1 < len(headers); i += 2 {
		head += headers[i] + ": " + headers[i+1] + "\r\n"
	}
	if _, err := io.WriteString(conn, head+"\r\n"); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(conn)
	line, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100") {
		t.Fatalf("POST %s%s: %q %v, want 100 Continue", host, path, line, err)
	}
	if blank, err := br.ReadString('\n'); err != nil || blank != "\r\n" {
		t.Fatalf("after 100 Continue: %q %v", blank, err)
	}
	conn.SetReadDeadline(time.Time{})
	return &rawRequest{conn: conn, br: br}
}

// response reads the answer to r (waiting at most a minute).
func (r *rawRequest) response(t *testing.T) (*http.Response, error) {
	t.Helper()
	r.conn.SetReadDeadline(time.Now().Add(time.Minute))
	resp, err := http.ReadResponse(r.br, nil)
	if err == nil {
		io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	return resp, err
}

// get sends GET path to host on conn (kept alive) and reads the answer.
func get(conn net.Conn, br *bufio.Reader, host, path string) (int, error) {
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	defer conn.SetDeadline(time.Time{})
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, host); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return 0, err
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// multipartBody is an upload of size bytes or so, and its content type.
func multipartBody(size int) (string, []byte) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	mw.WriteField("alt", "slow")
	fw, _ := mw.CreateFormFile("file", "big.png")
	fw.Write(make([]byte, size))
	mw.Close()
	return mw.FormDataContentType(), b.Bytes()
}

// A client that sends its body slowly holds no tenant slot: with as many
// stalled bodies as --max-open-tenants, each to another chapter, a third,
// cold chapter still opens and answers. This holds for every kind of
// body: a form, JSON, a multipart upload.
func TestSlowBodiesHoldNoTenantSlot(t *testing.T) {
	ls := startLive(t, "--max-open-tenants", "2", "--acquire-timeout", "1s")
	tokens := map[string]string{}
	for _, slug := range []string{"alpha", "beta"} {
		email, pw := ls.newTenant(t, slug)
		tokens[slug] = ls.Login(t, slug, email, pw)
	}
	ls.newTenant(t, "gamma")
	uploadType, upload := multipartBody(200 << 10)
	for _, tc := range []struct {
		name, path, contentType string
		body                    []byte
		auth                    bool
	}{
		{"form", "/contact", "application/x-www-form-urlencoded", []byte("name=Slow&email=slow%40example.org&message=" + strings.Repeat("x", 500)), false},
		{"json", "/api/login", "application/json", []byte(`{"email":"owner@example.org","password":"` + strings.Repeat("x", 500) + `"}`), false},
		{"multipart upload", "/api/media", uploadType, upload, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stalled []*rawRequest
			for _, slug := range []string{"alpha", "beta"} {
				var headers []string
				if tc.auth {
					headers = webtest.Bearer(tokens[slug])
				}
				r := startBody(t, dialFrom(t, ls.Addr, ""), webtest.Host(slug), tc.path, tc.contentType, len(tc.body), headers...)
				if _, err := r.conn.Write(tc.body[:len(tc.body)/2]); err != nil {
					t.Fatal(err)
				}
				stalled = append(stalled, r)
			}
			if status, _ := ls.Fetch(t, "gamma", "/"); status != http.StatusOK {
				t.Errorf("gamma while %s bodies to alpha and beta stall: %d, want 200", tc.name, status)
			}
			for _, r := range stalled {
				r.conn.Close()
			}
		})
	}
}

// A body trickled slower than --body-timeout allows is cut with a 408,
// and the request leaves nothing behind: no slot (the only one serves
// another chapter next), no file of its body.
func TestTrickledBodyIsCutAndReleasesEverything(t *testing.T) {
	ls := startLive(t, "--max-open-tenants", "1", "--acquire-timeout", "1s", "--body-timeout", "1s")
	ls.newTenant(t, "alpha")
	ls.newTenant(t, "beta")
	upload := []byte("name=Slow&email=slow%40example.org&message=" + strings.Repeat("x", 100<<10))
	r := startBody(t, dialFrom(t, ls.Addr, ""), webtest.Host("alpha"), "/contact", "application/x-www-form-urlencoded", len(upload))
	// Most of it at once (past what is kept in memory), then a byte at a
	// time: each arrives well within the timeout, the whole far too slowly.
	if _, err := r.conn.Write(upload[:90<<10]); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if _, err := r.conn.Write([]byte{upload[90<<10+i]}); err != nil {
				return
			}
		}
	}()
	resp, err := r.response(t)
	if err != nil {
		t.Fatalf("trickled body: no answer: %v", err)
	}
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("trickled body: %d, want 408", resp.StatusCode)
	}
	if !resp.Close {
		t.Error("the connection of a cut body stays open")
	}
	if status, _ := ls.Fetch(t, "beta", "/"); status != http.StatusOK {
		t.Errorf("another chapter after the cut body: %d, want 200 (its one slot is free)", status)
	}
	if files := webtest.Files(t, filepath.Join(ls.dir, "tmp")); len(files) != 0 {
		t.Errorf("the cut body left %v in DATA/tmp", files)
	}
	if open := webtest.OpenFiles(t, "/body-"); len(open) != 0 {
		t.Errorf("the cut body's file is still open: %v", open)
	}
}

// Idle keep-alive connections beyond --max-conns are closed, the oldest
// first, to make room for new ones: a client with many idle connections
// cannot use up the file descriptors, and a cold chapter still opens.
func TestIdleConnectionsBeyondTheCapAreClosed(t *testing.T) {
	const max = 8
	ls := startLive(t, "--max-conns", fmt.Sprint(max))
	ls.newTenant(t, "alpha")
	ls.newTenant(t, "cold")
	type idleConn struct {
		conn net.Conn
		br   *bufio.Reader
	}
	var idle []idleConn
	for i := 0; i < 3*max; i++ {
		c := dialFrom(t, ls.Addr, "")
		br := bufio.NewReader(c)
		if status, err := get(c, br, webtest.Host("alpha"), "/"); err != nil || status != http.StatusOK {
			t.Fatalf("connection %d: %d %v", i, status, err)
		}
		idle = append(idle, idleConn{c, br})
	}
	if status, _ := ls.Fetch(t, "cold", "/"); status != http.StatusOK {
		t.Errorf("a cold chapter with %d idle connections open: %d, want 200", len(idle), status)
	}
	alive := 0
	for i, c := range idle {
		if status, err := get(c.conn, c.br, webtest.Host("alpha"), "/"); err == nil && status == http.StatusOK {
			alive++
		} else if i == len(idle)-1 {
			t.Errorf("the newest idle connection was closed (%v), not the oldest", err)
		}
	}
	if alive > max {
		t.Errorf("%d of %d idle connections still serve, want at most --max-conns %d", alive, len(idle), max)
	}
	mfs := webtest.Scrape(t, ls.ops)
	if n := webtest.Sample(mfs, "chapterhouse_connections_idle_closed_total", nil); n < float64(len(idle)-max) {
		t.Errorf("connections_idle_closed_total %v, want at least %d", n, len(idle)-max)
	}
}

// When every connection is busy, one over --max-conns-per-ip from one
// address, or over --max-conns in all, is refused with a 503; another
// address still gets in while only the per-address cap is reached.
func TestBusyConnectionsOverTheCapsAreRefused(t *testing.T) {
	ls := startLive(t, "--max-conns", "5", "--max-conns-per-ip", "3")
	ls.newTenant(t, "alpha")
	busy := func(from string) {
		t.Helper()
		r := startBody(t, dialFrom(t, ls.Addr, from), webtest.Host("alpha"), "/contact", "application/x-www-form-urlencoded", 100)
		r.conn.Write([]byte("name=x"))
	}
	refused := func(from string) bool {
		t.Helper()
		c := dialFrom(t, ls.Addr, from)
		status, err := get(c, bufio.NewReader(c), webtest.Host("alpha"), "/")
		return err == nil && status == http.StatusServiceUnavailable
	}
	for range 3 {
		busy("127.0.0.2")
	}
	if !refused("127.0.0.2") {
		t.Error("a 4th busy-address connection with --max-conns-per-ip 3 was not refused with 503")
	}
	c := dialFrom(t, ls.Addr, "127.0.0.3")
	if status, err := get(c, bufio.NewReader(c), webtest.Host("alpha"), "/"); err != nil || status != http.StatusOK {
		t.Errorf("another address while one is at its cap: %d %v, want 200", status, err)
	}
	c.Close()
	// Once the server has seen it close, three connections are open.
	for start := time.Now(); webtest.Sample(webtest.Scrape(t, ls.ops), "chapterhouse_connections_open", nil) != 3; {
		if time.Since(start) > 30*time.Second {
			t.Fatal("the server never saw the closed connection go")
		}
		time.Sleep(10 * time.Millisecond)
	}
	busy("127.0.0.3")
	busy("127.0.0.3")
	if !refused("127.0.0.4") {
		t.Error("a connection over --max-conns 5, all busy, was not refused with 503")
	}
	mfs := webtest.Scrape(t, ls.ops)
	for _, cap := range []string{"client", "total"} {
		if n := webtest.Sample(mfs, "chapterhouse_connections_refused_total", map[string]string{"cap": cap}); n < 1 {
			t.Errorf("connections_refused_total{cap=%q} %v, want at least 1", cap, n)
		}
	}
}

// A client that stops reading a large image holds no tenant slot: the
// image is in memory once read, and the slot goes back before it is sent.
func TestSlowReaderOfAnImageHoldsNoTenantSlot(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	p, err := platform.Open(ctx, dir, 4, time.Minute, slog.New(slog.NewTextHandler(io.Discard, nil)))
	webtest.Must(t, err)
	alpha, err := p.CreateTenant(ctx, "alpha", "Alpha")
	webtest.Must(t, err)
	_, err = p.CreateTenant(ctx, "beta", "Beta")
	webtest.Must(t, err)
	h, err := p.Pool.Acquire(ctx, alpha.ID)
	webtest.Must(t, err)
	// Stored as the upload path stores a checked image; the bytes need not
	// decode to be served.
	m := tenantdb.Media{Name: "big.png", ContentType: "image/png"}
	webtest.Must(t, h.AddMedia(ctx, &m, bytes.Repeat([]byte{7}, tenantdb.MaxMediaSize)))
	h.Release()
	webtest.Must(t, p.Close())

	ls := startLiveIn(t, dir, "--max-open-tenants", "1", "--acquire-timeout", "1s")
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	conn, err := d.Dial("tcp", ls.Addr)
	webtest.Must(t, err)
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "GET /media/%s HTTP/1.1\r\nHost: %s\r\n\r\n", m.ID, webtest.Host("alpha"))
	conn.SetReadDeadline(time.Now().Add(time.Minute))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || resp.StatusCode != http.StatusOK || resp.ContentLength != tenantdb.MaxMediaSize {
		t.Fatalf("the image: %v %v", resp, err)
	}
	// It reads no more of it.
	if status, _ := ls.Fetch(t, "beta", "/"); status != http.StatusOK {
		t.Errorf("beta while a client stalls reading alpha's image (one slot): %d, want 200", status)
	}
}
