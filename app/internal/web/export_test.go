package web_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/web"
	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// Export downloads are bounded, one per chapter and MaxExports at once,
// and one whose client stops reading is cut after the body timeout: its
// snapshot file is closed (its disk space freed) and the chapter can be
// exported again.
func TestExportDownloadsAreBoundedAndAStalledOneLetsGo(t *testing.T) {
	ts := webtest.New(t, func(c *web.Config) { c.BodyTimeout = time.Second; c.MaxExports = 1 })
	email, pw := ts.NewTenant(t, "alpha")
	betaEmail, betaPW := ts.NewTenant(t, "beta")
	// 16 MB of images: more than the socket buffers between the server
	// and a client that stops reading hold.
	h := ts.DB("alpha")
	for i := range 4 {
		m := tenantdb.Media{Name: fmt.Sprintf("big%d.png", i), ContentType: "image/png"}
		webtest.Must(t, h.AddMedia(context.Background(), &m, bytes.Repeat([]byte{byte(i + 1)}, 4<<20)))
	}
	alpha, beta := ts.Login(t, "alpha", email, pw), ts.Login(t, "beta", betaEmail, betaPW)

	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	conn, err := d.Dial("tcp", ts.Addr)
	webtest.Must(t, err)
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "POST /api/export HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Length: 0\r\n\r\n", webtest.Host("alpha"), alpha)
	conn.SetReadDeadline(time.Now().Add(time.Minute))
	stalled, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || stalled.StatusCode != http.StatusOK {
		t.Fatalf("the download that will stall: %v %v", stalled, err)
	}
	// It reads nothing more.

	c := ts.Browser()
	r := ts.Call(t, c, "POST", ts.SiteURL("alpha", "/api/export"), nil, webtest.Bearer(alpha)...)
	if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Errorf("a second download of alpha while one runs: %d Retry-After %q, want 429 with Retry-After", r.Status, r.Header.Get("Retry-After"))
	} else if msg, _ := r.ErrField(t); !strings.Contains(msg, "already") {
		t.Errorf("a second download of alpha while one runs: %q, want it to say one is already running", msg)
	}
	r = ts.Call(t, c, "POST", ts.SiteURL("beta", "/api/export"), nil, webtest.Bearer(beta)...)
	if r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" {
		t.Errorf("a download of beta while MaxExports (1) run: %d Retry-After %q, want 503 with Retry-After", r.Status, r.Header.Get("Retry-After"))
	}

	for start := time.Now(); ts.Metric("chapterhouse_export_downloads_running") != "0"; {
		if time.Since(start) > time.Minute {
			t.Fatal("the stalled download was never cut")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if open := webtest.OpenFiles(t, "download-"); len(open) != 0 {
		t.Errorf("the stalled download's snapshot is still open: %v", open)
	}
	r = ts.Call(t, c, "POST", ts.SiteURL("alpha", "/api/export"), nil, webtest.Bearer(alpha)...)
	if n, _ := strconv.Atoi(r.Header.Get("Content-Length")); r.Status != http.StatusOK || n < 16<<20 || len(r.Body) != n {
		t.Errorf("alpha's download after the stalled one was cut: %d, %d of %s bytes", r.Status, len(r.Body), r.Header.Get("Content-Length"))
	}
	if files := webtest.Files(t, filepath.Join(ts.Dir, "tmp")); len(files) != 0 {
		t.Errorf("downloads left %v in DATA/tmp", files)
	}
	if got := ts.Metric(`chapterhouse_export_downloads_refused_total{reason="tenant"}`); got != "1" {
		t.Errorf(`export_downloads_refused_total{reason="tenant"} %s, want 1`, got)
	}
}
