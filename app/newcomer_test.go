package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestBusyPortLeavesNoDataDirAndTheNextRunMakesTheDemo runs a first serve
// on a port something else holds (the public one, then the ops one): it
// fails naming the flag and environment variable that choose another port,
// creates nothing on disk, and the run after it, on free ports, makes the
// demo and its owner's login as a first run does.
func TestBusyPortLeavesNoDataDirAndTheNextRunMakesTheDemo(t *testing.T) {
	for _, tc := range []struct {
		name, flag, hint string
	}{
		{"public port", "--addr", "--addr or CHAPTERHOUSE_ADDR"},
		{"ops port", "--ask-addr", "--ask-addr or CHAPTERHOUSE_ASK_ADDR"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			busy, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer busy.Close()
			dir := filepath.Join(shortTempDir(t), "data")
			args := []string{"serve", "--data", dir, "--addr", "127.0.0.1:0", "--ask-addr", "127.0.0.1:0", "--base-domain", liveBase}
			for i, a := range args {
				if a == tc.flag {
					args[i+1] = busy.Addr().String()
				}
			}
			var out, errOut bytes.Buffer
			err = run(context.Background(), args, noEnv, strings.NewReader(""), &out, &errOut)
			if err == nil {
				t.Fatalf("serve on a busy port (%s %s) succeeded", tc.flag, busy.Addr())
			}
			if !strings.Contains(err.Error(), tc.hint) || !strings.Contains(err.Error(), busy.Addr().String()) {
				t.Errorf("error = %q, want the address %s and the hint %q", err, busy.Addr(), tc.hint)
			}
			if _, serr := os.Stat(dir); !os.IsNotExist(serr) {
				entries, _ := os.ReadDir(dir)
				t.Fatalf("the failed run left the data dir %s behind (%v, %d entries)", dir, serr, len(entries))
			}
			busy.Close()
			s := launch(t, dir, []string{"--base-domain", liveBase})
			if out := s.stdout.String(); !strings.Contains(out, "demo site:") || !passwordLine.MatchString(out) {
				t.Errorf("the run after the failed one made no demo and no login:\n%s", out)
			}
		})
	}
}

// TestSecondServeOnTheSamePortSaysAServerRuns starts serve again on a
// running server's data dir and port: the error says the port is busy
// and that a server already serves that dir, on which address.
func TestSecondServeOnTheSamePortSaysAServerRuns(t *testing.T) {
	s := startLive(t)
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"serve", "--data", s.dir, "--addr", s.Addr, "--ask-addr", "", "--no-demo"},
		noEnv, strings.NewReader(""), &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "--addr or CHAPTERHOUSE_ADDR") ||
		!strings.Contains(err.Error(), "already serves "+s.dir+", on "+s.Addr) {
		t.Errorf("second serve on %s: %v, want the busy port's hint and that a server already serves the dir", s.Addr, err)
	}
}

// TestHealthcheckAsksTheAddressServeWasGiven runs `healthcheck` as the
// Dockerfile does, against a live server: it finds the server by --addr,
// else by asking the server of the data dir (CHAPTERHOUSE_DATA or --data)
// on its control socket, which follows a serve --addr the check cannot
// see, else by CHAPTERHOUSE_ADDR (an address without a host meaning
// loopback); it fails when nothing answers there.
func TestHealthcheckAsksTheAddressServeWasGiven(t *testing.T) {
	s := startLive(t)
	_, port, err := net.SplitHostPort(s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	nowhere := closed.Addr().String()
	empty := t.TempDir() // a data dir with no server
	for _, tc := range []struct {
		name      string
		addr, dir string // CHAPTERHOUSE_ADDR and CHAPTERHOUSE_DATA
		args      []string
		ok        bool
	}{
		{"env, no host", ":" + port, empty, nil, true},
		{"env, every address", "0.0.0.0:" + port, empty, nil, true},
		{"flag", "", empty, []string{"--addr", s.Addr}, true},
		{"flag over env", nowhere, empty, []string{"--addr", s.Addr}, true},
		{"the data dir's server over env", nowhere, s.dir, nil, true},
		{"the --data dir's server", nowhere, empty, []string{"--data", s.dir}, true},
		{"env, nothing there", nowhere, empty, nil, false},
		{"flag, nothing there", ":" + port, s.dir, []string{"--addr", nowhere}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			getenv := func(k string) string {
				switch k {
				case "CHAPTERHOUSE_ADDR":
					return tc.addr
				case "CHAPTERHOUSE_DATA":
					return tc.dir
				}
				return ""
			}
			var out, errOut bytes.Buffer
			err := run(context.Background(), append([]string{"healthcheck"}, tc.args...), getenv, strings.NewReader(""), &out, &errOut)
			if (err == nil) != tc.ok {
				t.Errorf("healthcheck %v with CHAPTERHOUSE_ADDR=%q CHAPTERHOUSE_DATA=%q: %v, want ok=%v", tc.args, tc.addr, tc.dir, err, tc.ok)
			}
		})
	}
}

// TestProductionExamplesStartWithoutTheDemo checks that the systemd unit
// and the compose file of docs/operations.md pass --no-demo (a production
// data dir must not get a demo chapter with a known login page), and that
// .dockerignore keeps data, history and CI output out of the image.
func TestProductionExamplesStartWithoutTheDemo(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	// A serve command: the unit's ExecStart (with its continuation lines)
	// and the compose file's command.
	serves := regexp.MustCompile(`(?m)(ExecStart=\S+ serve(?:.*\\\n)*.*$|command: \["serve".*$)`).FindAllString(string(doc), -1)
	if len(serves) < 2 {
		t.Fatalf("found %d serve commands in docs/operations.md, want the systemd one and the compose one", len(serves))
	}
	for _, s := range serves {
		if !strings.Contains(s, "--no-demo") {
			t.Errorf("this production example does not pass --no-demo:\n%s", s)
		}
	}
	ignore, err := os.ReadFile(filepath.Join("..", ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Fields(string(ignore))
	for _, want := range []string{"/data", ".git", "/artifacts"} {
		if !slices.Contains(lines, want) {
			t.Errorf(".dockerignore does not exclude %s", want)
		}
	}
}
