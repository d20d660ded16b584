package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
)

// tenantID looks up the id of tenant slug through the CLI.
func tenantID(t testing.TB, dir, slug string) string {
	t.Helper()
	code, out, errOut := runCLI(t, dir, "", "tenant", "list", "--json")
	if code != 0 {
		t.Fatalf("tenant list: %s", errOut)
	}
	var ts []catalog.Tenant
	if err := json.Unmarshal([]byte(out), &ts); err != nil {
		t.Fatal(err)
	}
	for _, tn := range ts {
		if tn.Slug == slug {
			return tn.ID
		}
	}
	t.Fatalf("no tenant %s in %s", slug, out)
	return ""
}

func mustCLI(t testing.TB, dir string, args ...string) string {
	t.Helper()
	code, out, errOut := runCLI(t, dir, "", args...)
	if code != 0 {
		t.Fatalf("%v: exit %d\n%s%s", args, code, out, errOut)
	}
	return out
}

// postWriters creates posts in a tenant until stopped, remembering which
// creates returned: those are the acknowledged writes.
type postWriters struct {
	mu    sync.Mutex
	acked map[string]bool // post title
	stop  chan struct{}
	wg    sync.WaitGroup
	errs  []error
	// refused counts the creates answered 503 (frozen): not acknowledged.
	refused int
	// gone counts the writers that stopped on a 404: the tenant went away.
	gone int
}

// apiWriters creates posts through POST /api/posts on tenant slug, as n
// concurrent admins would. A 503 (a frozen or draining tenant) is retried
// after a pause; any other failure is recorded and stops that writer.
func apiWriters(t testing.TB, addr, base, port, slug, token string, n int) *postWriters {
	t.Helper()
	w := &postWriters{acked: map[string]bool{}, stop: make(chan struct{})}
	client := &http.Client{
		Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr)
		}},
		Timeout: 60 * time.Second,
	}
	url := "http://" + slug + "." + base + ":" + port + "/api/posts"
	tag := tenantdb.NewTenantID()[:6] // titles never repeat across writers
	for i := range n {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			for j := 0; ; j++ {
				select {
				case <-w.stop:
					return
				default:
				}
				title := fmt.Sprintf("writer %d post %d %s", i, j, tag)
				body, _ := json.Marshal(map[string]any{"title": title, "body": "written under load", "published": true})
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := client.Do(req)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				switch {
				case err == nil && resp.StatusCode/100 == 2:
					w.mu.Lock()
					w.acked[title] = true
					w.mu.Unlock()
				case err == nil && resp.StatusCode == http.StatusNotFound:
					// The tenant went away (deleted or moved): this writer is done.
					w.mu.Lock()
					w.gone++
					w.mu.Unlock()
					return
				case err == nil && resp.StatusCode == http.StatusServiceUnavailable:
					w.mu.Lock()
					w.refused++
					w.mu.Unlock()
					time.Sleep(5 * time.Millisecond)
				default:
					w.mu.Lock()
					if err == nil {
						err = fmt.Errorf("%s: %s", title, resp.Status)
					}
					w.errs = append(w.errs, err)
					w.mu.Unlock()
					return
				}
			}
		}()
	}
	t.Cleanup(w.halt)
	return w
}

func (w *postWriters) halt() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	w.wg.Wait()
}

// waitFor waits until at least n more writes were acknowledged.
func (w *postWriters) waitFor(t testing.TB, n int) {
	t.Helper()
	start := len(w.snapshot())
	for deadline := time.Now().Add(30 * time.Second); len(w.snapshot()) < start+n; {
		if time.Now().After(deadline) {
			w.mu.Lock()
			defer w.mu.Unlock()
			t.Fatalf("writers made no progress: %v", w.errs)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// snapshot returns the acknowledged titles so far.
func (w *postWriters) snapshot() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]string, 0, len(w.acked))
	for k := range w.acked {
		out = append(out, k)
	}
	return out
}

// postTitles reads every post title of a database file.
func postTitles(t testing.TB, path string) map[string]bool {
	t.Helper()
	raw, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	rows, err := raw.Query("SELECT title FROM posts")
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer rows.Close()
	titles := map[string]bool{}
	for rows.Next() {
		var s string
		rows.Scan(&s)
		titles[s] = true
	}
	return titles
}

func TestExportWhileServingAndWriting(t *testing.T) {
	ls := startLive(t)
	email, password := ls.newTenant(t, "alpha")
	token := ls.Login(t, "alpha", email, password)
	id := tenantID(t, ls.dir, "alpha")
	s := struct{ dir string }{ls.dir}
	w := apiWriters(t, ls.Addr, ls.base, ls.Port(), "alpha", token, 3)
	out := t.TempDir()
	for round := range 3 {
		w.waitFor(t, 10)
		before := w.snapshot()
		file := filepath.Join(out, fmt.Sprintf("alpha-%d.db", round))
		stdout := mustCLI(t, s.dir, "export", "alpha", file)
		if !strings.Contains(stdout, "sha256: ") || !strings.Contains(stdout, "size: ") {
			t.Errorf("export output lacks size and sha256:\n%s", stdout)
		}
		info, err := tenantdb.CheckTenantFile(context.Background(), file)
		if err != nil {
			t.Fatalf("export %d: %v", round, err)
		}
		if !strings.Contains(stdout, info.SHA256) {
			t.Errorf("printed sha256 is not the file's %s:\n%s", info.SHA256, stdout)
		}
		titles := postTitles(t, file)
		for _, title := range before {
			if !titles[title] {
				t.Errorf("export %d lacks %q, acknowledged before it began", round, title)
			}
		}
	}
	w.halt()
	if len(w.errs) > 0 || w.gone > 0 {
		t.Fatalf("writers failed: %v (%d saw 404)", w.errs, w.gone)
	}

	// Never overwrite; a clear one-line error; the file is unchanged.
	file := filepath.Join(out, "alpha-0.db")
	before, _ := os.ReadFile(file)
	code, _, errOut := runCLI(t, s.dir, "", "export", "alpha", file)
	if code == 0 || !strings.Contains(errOut, "never overwrites") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("export over an existing file: exit %d, %q", code, errOut)
	}
	if after, _ := os.ReadFile(file); string(after) != string(before) {
		t.Error("existing export file changed")
	}
	if code, _, errOut := runCLI(t, s.dir, "", "export", "nosuch", filepath.Join(out, "x.db")); code == 0 || !strings.Contains(errOut, "not found") {
		t.Errorf("export of an unknown tenant: %d %q", code, errOut)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 3 {
		t.Errorf("%d files in the export dir, want 3 and no temp files", len(entries))
	}
	if !auditHas(t, s.dir, "tenant.export", id) {
		t.Error("no tenant.export entry in the audit log")
	}
}

// auditHas reports whether the catalog's audit log has action for tenant id.
func auditHas(t testing.TB, dir, action, id string) bool {
	t.Helper()
	raw, err := sql.Open("sqlite", "file:"+catalog.Path(dir)+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var n int
	if err := raw.QueryRow(`SELECT count(*) FROM audit_log WHERE action = ? AND tenant_id = ?`, action, id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

func TestFreezeServesReadsAndRefusesWrites(t *testing.T) {
	ls := startLive(t)
	email, password := ls.newTenant(t, "alpha")
	token := ls.Login(t, "alpha", email, password)
	c := ls.Browser()
	create := func(title string) webtest.APIResult {
		return ls.Call(t, c, "POST", ls.SiteURL("alpha", "/api/posts"), map[string]any{"title": title, "published": true}, webtest.Bearer(token)...)
	}
	if r := create("Before the freeze"); r.Status != http.StatusCreated {
		t.Fatalf("create before freezing: %d %s", r.Status, r.Body)
	}
	out, _, err := ls.cli(t, "", "tenant", "freeze", "alpha")
	if err != nil || !strings.Contains(out, "frozen") {
		t.Fatalf("freeze: %v %q", err, out)
	}
	if r := ls.Call(t, c, "GET", ls.SiteURL("alpha", "/news"), nil); r.Status != http.StatusOK || !strings.Contains(string(r.Body), "Before the freeze") {
		t.Errorf("public read of a frozen tenant: %d", r.Status)
	}
	if r := ls.Call(t, c, "GET", ls.SiteURL("alpha", "/api/posts"), nil, webtest.Bearer(token)...); r.Status != http.StatusOK {
		t.Errorf("API read of a frozen tenant: %d", r.Status)
	}
	r := create("During the freeze")
	if msg, _ := r.ErrField(t); r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" || !strings.Contains(msg, "read-only") {
		t.Errorf("write to a frozen tenant: %d, Retry-After %q, %s; want 503 with Retry-After and a message", r.Status, r.Header.Get("Retry-After"), r.Body)
	}
	if r := ls.Call(t, c, "POST", ls.SiteURL("alpha", "/contact"), "name=A&email=a@example.org&message=hello", "Content-Type", "application/x-www-form-urlencoded"); r.Status != http.StatusServiceUnavailable {
		t.Errorf("contact form on a frozen tenant: %d, want 503", r.Status)
	}
	if _, errOut, err := ls.cli(t, "", "tenant", "thaw", "nosuch"); err == nil || !strings.Contains(errOut, "not found") {
		t.Errorf("thaw unknown: %v %q", err, errOut)
	}
	if _, errOut, err := ls.cli(t, "", "tenant", "thaw", "alpha"); err != nil {
		t.Fatal(errOut)
	}
	if r := create("After the thaw"); r.Status != http.StatusCreated {
		t.Errorf("write after thaw: %d %s", r.Status, r.Body)
	}
	if _, errOut, err := ls.cli(t, "", "tenant", "thaw", "alpha"); err == nil || !strings.Contains(errOut, "not frozen") {
		t.Errorf("thaw of an active tenant: %v %q", err, errOut)
	}
	ls.cli(t, "", "tenant", "suspend", "alpha")
	if _, errOut, err := ls.cli(t, "", "tenant", "freeze", "alpha"); err == nil || !strings.Contains(errOut, "suspended") {
		t.Errorf("freeze of a suspended tenant: %v %q", err, errOut)
	}
	id := tenantID(t, ls.dir, "alpha")
	for _, action := range []string{"tenant.freeze", "tenant.thaw"} {
		if !auditHas(t, ls.dir, action, id) {
			t.Errorf("no %s in the audit log", action)
		}
	}
}
