package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chapterhouse/chapterhouse/app/internal/cli"
)

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

// startServer runs serve as an operator would, on serve's own defaults
// (the demo on a new data dir, the platform domain localhost) but
// loopback ports: on the data dir given by --data in args, or a fresh one.
func startServer(t testing.TB, args ...string) *liveServer {
	t.Helper()
	dir := t.TempDir()
	for i, a := range args {
		if a == "--data" && i+1 < len(args) {
			dir = args[i+1]
		}
	}
	return launch(t, dir, args)
}

// get fetches path on host from the server.
func (s *liveServer) get(t testing.TB, host, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+s.Addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s%s: %v", host, path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// command runs an operator command against the server's data dir, as an
// operator would from a shell: exit status, stdout, stderr.
func (s *liveServer) command(t testing.TB, args ...string) (int, string, string) {
	t.Helper()
	return runCLI(t, s.dir, "", args...)
}

func runCLI(t testing.TB, dir, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	args = append(args, "--data", dir)
	err := run(context.Background(), args, func(string) string { return "" }, strings.NewReader(stdin), &out, &errOut)
	return cli.ExitCode(&errOut, err), out.String(), errOut.String()
}

func TestFirstRunSeedsDemoAndSecondRunReusesIt(t *testing.T) {
	dir := filepath.Join(shortTempDir(t), "data") // does not exist yet
	s := startServer(t, "--data", dir)
	code, body := s.get(t, "demo.localhost:"+s.Port(), "/")
	if code != http.StatusOK || !strings.Contains(body, "Riverside Veterans Post 42") {
		t.Fatalf("demo home: %d\n%s", code, body)
	}
	s.stop()
	first := cliOut(t, s, "tenant", "list", "--json")

	s = startServer(t, "--data", dir)
	if code, _ := s.get(t, "demo.localhost", "/"); code != http.StatusOK {
		t.Fatalf("demo after restart: %d", code)
	}
	if again := cliOut(t, s, "tenant", "list", "--json"); again != first {
		t.Errorf("second run changed the tenants:\n%s\n%s", first, again)
	}
}

func TestServeWhileOperatorsChangeTenants(t *testing.T) {
	s := startServer(t, "--no-demo")
	host := func(slug string) string { return slug + ".localhost:" + s.Port() }

	code, out, errOut := s.command(t, "tenant", "create", "alpha", "--name", "Alpha Post 17")
	if code != 0 || !strings.Contains(out, "created tenant alpha") {
		t.Fatalf("tenant create: exit %d\n%s%s", code, out, errOut)
	}
	if code, body := s.get(t, host("alpha"), "/"); code != http.StatusOK || !strings.Contains(body, "Alpha Post 17") {
		t.Fatalf("new tenant not served at once: %d\n%s", code, body)
	}

	// Bad input: a clear one-line error, non-zero exit, nothing changed.
	bad := []struct {
		args []string
		want string
	}{
		{[]string{"tenant", "create", "alpha", "--name", "Again"}, "already exists"},
		{[]string{"tenant", "create", "Bad_Slug", "--name", "X"}, "slug"},
		{[]string{"tenant", "create", "beta"}, "--name is required"},
		{[]string{"tenant", "suspend", "nosuch"}, "not found"},
		{[]string{"domain", "add", "alpha", "not a host"}, "not a host name"},
		{[]string{"domain", "add", "nosuch", "www.example.org"}, "not found"},
		{[]string{"domain", "add", "alpha", "x.localhost"}, "platform domain"},
		{[]string{"tenant", "frobnicate"}, "unknown command"},
	}
	listBefore := cliOut(t, s, "tenant", "list", "--json")
	for _, tc := range bad {
		code, _, errOut := s.command(t, tc.args...)
		if code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want non-zero and %q", tc.args, code, errOut, tc.want)
		}
		if strings.Count(strings.TrimSpace(errOut), "\n") > 0 && !strings.Contains(errOut, "usage") {
			t.Errorf("%v: error is not one line: %q", tc.args, errOut)
		}
	}
	if after := cliOut(t, s, "tenant", "list", "--json"); after != listBefore {
		t.Errorf("bad commands changed the tenants:\nbefore %s\nafter %s", listBefore, after)
	}

	// A custom domain routes only once verified, and stops when removed.
	if code, _, errOut := s.command(t, "domain", "add", "alpha", "www.alpha-post.example"); code != 0 {
		t.Fatalf("domain add: %s", errOut)
	}
	if code, _ := s.get(t, "www.alpha-post.example", "/"); code != http.StatusNotFound {
		t.Errorf("unverified custom domain: %d, want 404", code)
	}
	if code, _, errOut := s.command(t, "domain", "verify", "www.alpha-post.example", "--force"); code != 0 {
		t.Fatalf("domain verify: %s", errOut)
	}
	if code, body := s.get(t, "WWW.Alpha-Post.example.", "/"); code != http.StatusOK || !strings.Contains(body, "Alpha Post 17") {
		t.Errorf("verified custom domain: %d", code)
	}
	if code, _, errOut := s.command(t, "tenant", "create", "beta", "--name", "Beta Lodge"); code != 0 {
		t.Fatal(errOut)
	}
	if code, _, errOut := s.command(t, "domain", "add", "beta", "www.alpha-post.example"); code == 0 || !strings.Contains(errOut, "already exists") {
		t.Errorf("another tenant's domain: exit %d %q", code, errOut)
	}
	if code, _, _ := s.command(t, "domain", "remove", "www.alpha-post.example"); code != 0 {
		t.Fatal("domain remove failed")
	}
	if code, _ := s.get(t, "www.alpha-post.example", "/"); code != http.StatusNotFound {
		t.Errorf("removed domain still routes: %d", code)
	}

	// Suspend shows a 503 page at once; resume brings the site back.
	if code, _, errOut := s.command(t, "tenant", "suspend", "alpha"); code != 0 {
		t.Fatal(errOut)
	}
	if code, body := s.get(t, host("alpha"), "/"); code != http.StatusServiceUnavailable || !strings.Contains(body, "temporarily unavailable") {
		t.Errorf("suspended tenant: %d %s", code, body)
	}
	if code, _, _ := s.command(t, "tenant", "resume", "alpha"); code != 0 {
		t.Fatal("resume failed")
	}
	if code, _ := s.get(t, host("alpha"), "/"); code != http.StatusOK {
		t.Errorf("resumed tenant: %d", code)
	}

	// Delete: 404 at once, the file is in the trash, nothing else touched.
	code, out, errOut = s.command(t, "tenant", "delete", "alpha")
	if code != 0 || !strings.Contains(out, "trash") {
		t.Fatalf("delete: %d %s %s", code, out, errOut)
	}
	if code, _ := s.get(t, host("alpha"), "/"); code != http.StatusNotFound {
		t.Errorf("deleted tenant: %d, want 404", code)
	}
	trashed, _ := filepath.Glob(filepath.Join(s.dir, "trash", "*.db"))
	if len(trashed) != 1 {
		t.Errorf("trash holds %v, want the deleted tenant's file", trashed)
	}
	if code, body := s.get(t, host("beta"), "/"); code != http.StatusOK || !strings.Contains(body, "Beta Lodge") {
		t.Errorf("other tenant after delete: %d", code)
	}
}

func cliOut(t testing.TB, s *liveServer, args ...string) string {
	t.Helper()
	code, out, errOut := s.command(t, args...)
	if code != 0 {
		t.Fatalf("%v: exit %d: %s", args, code, errOut)
	}
	return out
}

// Commands run in-process when no server owns the data dir, with the same
// results.
func TestCommandsWithoutServer(t *testing.T) {
	dir := t.TempDir()
	if code, _, errOut := runCLI(t, dir, "", "tenant", "create", "gamma", "--name", "Gamma Troop 9"); code != 0 {
		t.Fatalf("create: %s", errOut)
	}
	code, out, _ := runCLI(t, dir, "", "tenant", "list")
	if code != 0 || !strings.Contains(out, "gamma") || !strings.Contains(out, "Gamma Troop 9") {
		t.Fatalf("list: %d %s", code, out)
	}
	if code, out, errOut := runCLI(t, dir, "", "migrate"); code != 0 || !strings.Contains(out, "1 tenants") {
		t.Fatalf("migrate: %d %s %s", code, out, errOut)
	}
	s := startServer(t, "--data", dir, "--no-demo")
	if code, body := s.get(t, "gamma.localhost", "/"); code != http.StatusOK || !strings.Contains(body, "Gamma Troop 9") {
		t.Fatalf("tenant made offline not served: %d", code)
	}
	if code, _, errOut := runCLI(t, t.TempDir()+"/nothing-here", "", "tenant", "list"); code == 0 || !strings.Contains(errOut, "no Chapterhouse data") {
		t.Errorf("list on an empty dir: %d %q", code, errOut)
	}
}

func TestSecondServerOnSameDataDirIsRefused(t *testing.T) {
	s := startServer(t, "--no-demo")
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"serve", "--data", s.dir, "--addr", "127.0.0.1:0", "--ask-addr", "127.0.0.1:0"},
		func(string) string { return "" }, strings.NewReader(""), &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second server: %v, want a data dir in use error", err)
	}
}
