package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
)

// liveServer is the real program serving a data dir on loopback ports,
// started through run() as `chapterhouse serve` is: the one harness of the
// end-to-end tests. Operator commands reach it over its control socket as
// they would from a shell; webtest.Client holds what visitors, API clients
// and dashboard users do.
type liveServer struct {
	webtest.Client
	stop   func() // ends the server and waits; also run at the end of the test
	dir    string
	base   string
	ops    string      // the ops listener (--ask-addr): http://127.0.0.1:PORT
	stdout *syncBuffer // the program's standard output
	logs   *syncBuffer // its standard error: the log
}

const liveBase = "chapters.test"

// startLive runs serve on a fresh data dir with the platform domain
// chapters.test (without the demo unless args ask otherwise) and stops it
// when the test ends.
func startLive(t testing.TB, args ...string) *liveServer {
	t.Helper()
	return startLiveIn(t, shortTempDir(t), args...)
}

// shortTempDir is a temp dir removed when the test ends, with a short
// name: the control socket DATA/control.sock must fit the 107 bytes of a
// unix socket path, which t.TempDir (named after the test) and a long
// TMPDIR (.ci/run gives the suite its own) may exceed.
func shortTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ch")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// startLiveIn is startLive on data dir dir, which may hold data already.
func startLiveIn(t testing.TB, dir string, args ...string) *liveServer {
	t.Helper()
	if !containsArg(args, "--demo") {
		args = append(args, "--no-demo")
	} else {
		args = removeArg(args, "--demo")
	}
	return launch(t, dir, append([]string{"--base-domain", liveBase}, args...))
}

// launch runs serve on data dir dir with args (on loopback ports of its
// own) and waits until it listens.
func launch(t testing.TB, dir string, args []string) *liveServer {
	t.Helper()
	s := &liveServer{dir: dir, base: liveBase, stdout: &syncBuffer{}, logs: &syncBuffer{}}
	if i := slices.Index(args, "--base-domain"); i >= 0 && i+1 < len(args) {
		s.base = args[i+1]
	}
	args = append([]string{"serve", "--data", dir, "--addr", "127.0.0.1:0", "--ask-addr", "127.0.0.1:0"}, args...)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, noEnv, strings.NewReader(""), s.stdout, s.logs) }()
	var once sync.Once
	s.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("serve: %v\n%s", err, s.logs.String())
				}
			case <-time.After(30 * time.Second):
				t.Error("serve did not shut down within 30s")
			}
		})
	}
	t.Cleanup(s.stop)
	listening := regexp.MustCompile(`listening on http://(127\.0\.0\.1:\d+)`)
	ops := regexp.MustCompile(`ops listener: (http://127\.0\.0\.1:\d+)`)
	for deadline := time.Now().Add(60 * time.Second); ; {
		if m := listening.FindStringSubmatch(s.stdout.String()); m != nil {
			s.Client = webtest.Client{Addr: m[1]}
			if m := ops.FindStringSubmatch(s.stdout.String()); m != nil {
				s.ops = m[1]
			}
			break
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited: %v\n%s", err, s.logs.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start:\n%s\n%s", s.stdout.String(), s.logs.String())
		}
	}
	// The control socket is up once the listener is announced.
	return s
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

// cli runs an operator command against the server's data dir, with stdin.
func (ls *liveServer) cli(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	args = append(args, "--data", ls.dir)
	err := run(context.Background(), args, noEnv, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), err
}

var passwordLine = regexp.MustCompile(`(?m)^password: (\S+)$`)

// newTenant creates tenant slug with an owner through the CLI and returns
// the owner's email and generated password.
func (ls *liveServer) newTenant(t *testing.T, slug string) (email, password string) {
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
