package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// s3Server is a real S3 server (Versity's gateway, versitygw, on its
// posix backend) run by a test on a loopback port.
type s3Server struct {
	endpoint       string // http://127.0.0.1:PORT
	access, secret string
}

// startS3 runs versitygw on a loopback port with bucket as its only
// bucket, its objects and their metadata in temp dirs, until the test
// ends. Outside CI a missing binary skips the test; in CI it fails (.ci/run
// installs it).
func startS3(t *testing.T, bucket string) *s3Server {
	t.Helper()
	bin, err := exec.LookPath("versitygw")
	if err != nil {
		if p := filepath.Join(os.Getenv("HOME"), "go", "bin", "versitygw"); fileExistsTest(p) {
			bin, err = p, nil
		}
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("versitygw is not installed, and CI must run the S3 tests (.ci/run: go install github.com/versity/versitygw/cmd/versitygw@v1.8.0)")
		}
		t.Skip("versitygw is not installed (go install github.com/versity/versitygw/cmd/versitygw@v1.8.0); skipping the S3 test")
	}
	root, meta := t.TempDir(), t.TempDir()
	// A directory under the posix backend's root is a bucket.
	if err := os.Mkdir(filepath.Join(root, bucket), 0o700); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	s := &s3Server{endpoint: "http://" + addr, access: "chapterhouse-test", secret: "chapterhouse-test-secret-key"}
	var logs syncBuffer
	cmd := exec.Command(bin, "--port", addr, "--access", s.access, "--secret", s.secret, "--quiet", "posix", "--sidecar", meta, root)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get(s.endpoint + "/"); err == nil {
			resp.Body.Close()
			break
		}
		select {
		case <-exited:
			t.Fatalf("versitygw exited:\n%s", logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("versitygw did not listen on %s within 30s:\n%s", addr, logs.String())
		}
	}
	return s
}

// url is the --replica URL of prefix in bucket.
func (s *s3Server) url(bucket, prefix string) string {
	return "s3://" + bucket + "/" + prefix + "?endpoint=" + s.endpoint + "&region=us-east-1"
}

// useCreds puts the server's credentials in the environment, where
// Litestream's S3 client reads them, for the rest of the test.
func (s *s3Server) useCreds(t *testing.T) {
	// The AWS SDK refuses a CA bundle (set on some machines for the
	// proxies of real AWS) together with the HTTP client Litestream
	// gives it: "unable to add custom RootCAs HTTPClient".
	t.Setenv("AWS_CA_BUNDLE", "")
	t.Setenv("AWS_ACCESS_KEY_ID", s.access)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s.secret)
}

func fileExistsTest(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// Replication to S3, on a real S3 server over HTTP: point-in-time restore
// of one chapter, then a disaster recovery of a fresh data dir from the
// bucket alone that serves every chapter. A bucket that does not exist
// and wrong credentials stop serve at start with an error that says so.
func TestReplicaS3(t *testing.T) {
	s3 := startS3(t, "chapters")
	s3.useCreds(t)
	url := s3.url("chapters", "node1")

	t.Run("bad target", func(t *testing.T) {
		for _, tc := range []struct{ name, url, secret, want string }{
			{"no such bucket", s3.url("nosuchbucket", "node1"), s3.secret, "cannot list the bucket"},
			{"wrong secret", url, "not-the-secret", "cannot list the bucket"},
		} {
			t.Setenv("AWS_SECRET_ACCESS_KEY", tc.secret)
			dir := shortTempDir(t)
			var out, errOut bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			err := run(ctx, []string{"serve", "--data", dir, "--addr", "127.0.0.1:0", "--ask-addr", "127.0.0.1:0", "--no-demo", "--base-domain", liveBase, "--replica", tc.url}, noEnv, strings.NewReader(""), &out, &errOut)
			cancel()
			if err == nil || !strings.Contains(err.Error()+errOut.String(), tc.want) {
				t.Errorf("%s: serve: %v\n%s%s\nwant an error saying %q", tc.name, err, out.String(), errOut.String(), tc.want)
			} else {
				t.Logf("%s: %v", tc.name, err)
			}
		}
	})
	s3.useCreds(t)

	dir := shortTempDir(t)
	ls := startLiveIn(t, dir, "--replica", url)
	email, pw := ls.newTenant(t, "alpha")
	ls.newTenant(t, "beta")
	c := ls.Browser()
	token := ls.Login(t, "alpha", email, pw)
	before := ls.replicaStatus(t, "alpha").Local
	ls.post(t, c, token, "alpha", "Post A")
	pos := ls.awaitReplicated(t, "alpha", before)
	ls.syncReplica(t)
	at := time.Now()
	time.Sleep(2 * time.Millisecond) // the replica stamps in ms
	ls.post(t, c, token, "alpha", "Post B")
	ls.awaitReplicated(t, "alpha", pos)

	out, errOut, err := ls.cli(t, "", "restore", "alpha", "--as", "alpha-then", "--at", at.Format(time.RFC3339Nano))
	if err != nil {
		t.Fatalf("restore --as from S3: %v\n%s%s", err, out, errOut)
	}
	if got := ls.postTitles(t, "alpha-then"); !strings.Contains(got, "Post A") || strings.Contains(got, "Post B") {
		t.Errorf("alpha-then restored from S3 has posts %s, want Post A only", got)
	}
	if out, errOut, err := ls.cli(t, "", "restore", "alpha", "--at", at.Format(time.RFC3339Nano)); err != nil {
		t.Fatalf("restore --at from S3: %v\n%s%s", err, out, errOut)
	}
	if got := ls.postTitles(t, "alpha"); !strings.Contains(got, "Post A") || strings.Contains(got, "Post B") {
		t.Errorf("alpha after restore --at from S3: posts %s, want Post A only", got)
	}
	ls.post(t, c, token, "alpha", "Post C")
	ls.syncReplica(t) // every tenant shipped, alpha-then too
	want := map[string]string{}
	for _, slug := range []string{"alpha", "beta", "alpha-then"} {
		want[slug] = ls.digest(t, slug)
	}
	ls.stop()

	// Disaster recovery: a new data dir from the bucket alone.
	fresh := shortTempDir(t)
	var rout, rerr bytes.Buffer
	if err := run(context.Background(), []string{"restore", "--all", "--replica", url, "--data", fresh}, noEnv, strings.NewReader(""), &rout, &rerr); err != nil {
		t.Fatalf("restore --all from S3: %v\n%s%s", err, rout.String(), rerr.String())
	}
	t.Log(rout.String())
	ls2 := startLiveIn(t, fresh, "--replica", s3.url("chapters", "node2"))
	for slug, d := range want {
		if got := ls2.digest(t, slug); got != d {
			t.Errorf("%s after restore --all from S3: digest %s, want %s", slug, got, d)
		}
	}
	if got := ls2.postTitles(t, "alpha"); !strings.Contains(got, "Post C") || strings.Contains(got, "Post B") {
		t.Errorf("alpha after restore --all from S3: posts %s, want A and C", got)
	}
	if code, _ := ls2.Fetch(t, "beta", "/"); code != http.StatusOK {
		t.Errorf("beta after restore --all from S3: %d", code)
	}
	// The rebuilt dir replicates to its new prefix: restore --all left
	// Litestream state of node1's replica (its seed), which must not
	// stand in the way of node2's.
	token2 := ls2.Login(t, "alpha", email, pw)
	ls2.post(t, ls2.Browser(), token2, "alpha", "Post D")
	ls2.syncReplica(t) // restores every tenant from node2 and compares
}
