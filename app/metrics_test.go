package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
)

// The real program: the ops listener runs beside the public one, and
// tenant stats reads the running server's counts.
func TestOpsListenerAndTenantStats(t *testing.T) {
	s := startServer(t, "--no-demo", "--log-format", "json")
	if s.ops == "" {
		t.Fatal("no ops listener announced")
	}
	mustCLI(t, s.dir, "tenant", "create", "alpha", "--name", "Alpha Post")
	host := "alpha.localhost:" + s.Port()
	const n = 5
	for range n {
		if code, _ := s.get(t, host, "/"); code != 200 {
			t.Fatalf("alpha: %d", code)
		}
	}
	for _, path := range []string{"/healthz", "/readyz", "/tls/ask?domain=alpha.localhost", "/metrics"} {
		if code, _ := webtest.GetURL(t, s.ops+path); code != 200 {
			t.Errorf("ops %s: %d", path, code)
		}
	}

	var st platform.TenantStats
	if err := json.Unmarshal([]byte(mustCLI(t, s.dir, "tenant", "stats", "alpha", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Requests != n || !st.Serving || !st.Open || st.LastRequest == nil || st.DBBytes == 0 || st.SizeBytes < st.DBBytes {
		t.Errorf("tenant stats while serving: %+v", st)
	}
	out := mustCLI(t, s.dir, "tenant", "stats", "alpha")
	for _, want := range []string{"size on disk", "open now:", "yes", "5 since the server started", "last request"} {
		if !strings.Contains(out, want) {
			t.Errorf("tenant stats lacks %q:\n%s", want, out)
		}
	}
	if code, _ := s.get(t, host, "/metrics"); code != 404 {
		t.Errorf("public /metrics: %d, want 404", code)
	}
	// Operator data operations are timed.
	before := webtest.Sample(webtest.Scrape(t, s.ops), "chapterhouse_operation_duration_seconds", map[string]string{"op": "backup"})
	mustCLI(t, s.dir, "backup", filepath.Join(t.TempDir(), "backup"))
	mustCLI(t, s.dir, "export", "alpha", filepath.Join(t.TempDir(), "alpha.db"))
	after := webtest.Scrape(t, s.ops)
	if got := webtest.Sample(after, "chapterhouse_operation_duration_seconds", map[string]string{"op": "backup"}); got != before+1 {
		t.Errorf("backups timed: %v, want %v", got, before+1)
	}
	if got := webtest.Sample(after, "chapterhouse_operation_duration_seconds", map[string]string{"op": "export"}); got < 1 {
		t.Errorf("exports timed: %v, want at least 1 (a backup exports too)", got)
	}
	if code, _, errOut := runCLI(t, s.dir, "", "tenant", "stats", "nosuch"); code == 0 || !strings.Contains(errOut, "not found") {
		t.Errorf("stats of an unknown tenant: %d %q", code, errOut)
	}

	// Every log line is one JSON object with the request's fields.
	s.stop()
	var requests int
	for _, line := range strings.Split(strings.TrimSpace(s.logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("log line is not JSON: %q", line)
			continue
		}
		if rec["msg"] == "request" && rec["tenant"] != "" {
			requests++
			for _, k := range []string{"time", "level", "request_id", "host", "method", "path", "route", "status", "bytes", "duration", "ip"} {
				if _, ok := rec[k]; !ok {
					t.Errorf("request log lacks %q: %s", k, line)
				}
			}
		}
	}
	if requests < n {
		t.Errorf("%d tenant request log lines, want %d", requests, n)
	}
	if !strings.Contains(s.logs.String(), `"msg":"operator command","command":"tenant create","exit":0`) {
		t.Errorf("operator commands run by the server are not logged:\n%s", s.logs)
	}

	// Without a server, stats say what they cannot know.
	var off platform.TenantStats
	if err := json.Unmarshal([]byte(mustCLI(t, s.dir, "tenant", "stats", "alpha", "--json")), &off); err != nil {
		t.Fatal(err)
	}
	if off.Serving || off.Requests != 0 || off.Open || off.DBBytes == 0 {
		t.Errorf("tenant stats without a server: %+v", off)
	}
}
