package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
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
			dir := filepath.Join(t.TempDir(), "data")
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
