package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
)

// adminLive is the real program serving a temp data dir on a loopback
// port, started through run() as `chapterhouse serve` is; operator
// commands reach it over its control socket as they would from a shell.
type adminLive struct {
	webtest.Client
	stop   func() // ends the server; also run at the end of the test
	dir    string
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
			ls.Client = webtest.Client{Addr: m[1]}
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
