package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// tenantID looks up the id of tenant slug through the CLI.
func tenantID(t testing.TB, dir, slug string) string {
	t.Helper()
	code, out, errOut := runCLI(t, dir, "", "tenant", "list", "--json")
	if code != 0 {
		t.Fatalf("tenant list: %s", errOut)
	}
	var ts []tenantdb.Tenant
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
}

// writeDirect writes through a tenantdb connection of the test's own on
// the live file, as a second process would.
func writeDirect(t testing.TB, dir, id string, n int) *postWriters {
	t.Helper()
	db, err := tenantdb.Open(context.Background(), dir, id)
	if err != nil {
		t.Fatal(err)
	}
	w := &postWriters{acked: map[string]bool{}, stop: make(chan struct{})}
	var closeOnce sync.Once
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
				title := fmt.Sprintf("writer %d post %d", i, j)
				if err := db.SavePost(context.Background(), &tenantdb.Post{Title: title, Body: "x", Published: true}); err != nil {
					w.mu.Lock()
					w.errs = append(w.errs, err)
					w.mu.Unlock()
					return
				}
				w.mu.Lock()
				w.acked[title] = true
				w.mu.Unlock()
			}
		}()
	}
	t.Cleanup(func() {
		w.halt()
		closeOnce.Do(func() { db.Close() })
	})
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
	s := startServer(t, "--no-demo")
	mustCLI(t, s.dir, "tenant", "create", "alpha", "--name", "Alpha Post 17")
	id := tenantID(t, s.dir, "alpha")
	w := writeDirect(t, s.dir, id, 3)
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
	if len(w.errs) > 0 {
		t.Fatalf("writers failed: %v", w.errs)
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
	raw, err := sql.Open("sqlite", "file:"+tenantdb.CatalogPath(dir)+"?mode=ro")
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
	s := startServer(t, "--no-demo")
	mustCLI(t, s.dir, "tenant", "create", "alpha", "--name", "Alpha Post 17")
	host := "alpha.localhost:" + s.port
	post := func() *http.Response {
		req, _ := http.NewRequest(http.MethodPost, s.url+"/", strings.NewReader("x=1"))
		req.Host = host
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := post(); resp.StatusCode == http.StatusServiceUnavailable {
		t.Fatalf("POST before freezing: %d", resp.StatusCode)
	}
	out := mustCLI(t, s.dir, "tenant", "freeze", "alpha")
	if !strings.Contains(out, "frozen") {
		t.Errorf("freeze output %q", out)
	}
	if code, body := s.get(t, host, "/"); code != http.StatusOK || !strings.Contains(body, "Alpha Post 17") {
		t.Errorf("read of a frozen tenant: %d", code)
	}
	if resp := post(); resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("write to a frozen tenant: %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if code, _, errOut := runCLI(t, s.dir, "", "tenant", "thaw", "nosuch"); code == 0 || !strings.Contains(errOut, "not found") {
		t.Errorf("thaw unknown: %d %q", code, errOut)
	}
	mustCLI(t, s.dir, "tenant", "thaw", "alpha")
	if resp := post(); resp.StatusCode == http.StatusServiceUnavailable {
		t.Errorf("write after thaw: %d", resp.StatusCode)
	}
	if code, _, errOut := runCLI(t, s.dir, "", "tenant", "thaw", "alpha"); code == 0 || !strings.Contains(errOut, "not frozen") {
		t.Errorf("thaw of an active tenant: %d %q", code, errOut)
	}
	mustCLI(t, s.dir, "tenant", "suspend", "alpha")
	if code, _, errOut := runCLI(t, s.dir, "", "tenant", "freeze", "alpha"); code == 0 || !strings.Contains(errOut, "suspended") {
		t.Errorf("freeze of a suspended tenant: %d %q", code, errOut)
	}
}
