package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/internal/natstest"
)

// The cluster tests (issue 20): a 3-server NATS cluster in this process
// (JetStream R3) and Chapterhouse nodes as real child processes (this
// test binary run again as TestCrashChild), reached over loopback HTTP
// and through their control sockets as an operator would.

// clusterNode is one Chapterhouse node: a child process serving its own
// data dir as a node of the cluster.
type clusterNode struct {
	*liveServer
	id   string
	args []string
	cmd  *exec.Cmd
	logs *syncBuffer
}

// freeLoopbackAddr reserves a loopback port and frees it for a child:
// a node must know its address before it starts, to advertise it.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// clusterSecret writes the login-token secret every node shares.
func clusterSecret(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	rand.Read(b)
	path := filepath.Join(t.TempDir(), "token-secrets")
	writeFile(t, path, base64.RawURLEncoding.EncodeToString(b)+"\n")
	return path
}

// startClusterNode starts node id on a fresh data dir, connected to the
// NATS servers urls, and waits until it listens.
func startClusterNode(t *testing.T, id, urls, secret string, extra ...string) *clusterNode {
	t.Helper()
	addr := freeLoopbackAddr(t)
	dir := shortTempDir(t)
	args := append([]string{"serve", "--data", dir, "--addr", addr, "--ask-addr", "127.0.0.1:0", "--base-domain", liveBase, "--no-demo",
		"--cluster", urls, "--node-id", id, "--advertise", "http://" + addr, "--secret-file", secret}, extra...)
	n := &clusterNode{id: id, args: args}
	n.start(t, dir)
	return n
}

func (n *clusterNode) start(t *testing.T, dir string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
	cmd.Env = append(os.Environ(), "CHAPTERHOUSE_CRASH_CHILD="+strings.Join(n.args, "\n"))
	n.logs = &syncBuffer{}
	cmd.Stderr = n.logs
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n.cmd = cmd
	t.Cleanup(func() {
		kill(cmd)
		if t.Failed() {
			t.Logf("node %s's warnings and errors:\n%s", n.id, tail(grepLinesAny(n.logs.String(), "level=WARN", "level=ERROR", "cluster", "tenant.create"), 60))
		}
	})
	n.liveServer = awaitListening(t, dir, cmd, out, n.logs)
}

// grepLines keeps the lines of s that contain any of words.
func grepLinesAny(s string, words ...string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		for _, w := range words {
			if strings.Contains(l, w) {
				out = append(out, l)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// startCluster starts a 3-server NATS cluster and n nodes on it.
func startCluster(t *testing.T, n int) (*natstest.Cluster, []*clusterNode, string) {
	t.Helper()
	nc := natstest.Start(t, 3)
	secret := clusterSecret(t)
	nodes := make([]*clusterNode, n)
	for i := range nodes {
		nodes[i] = startClusterNode(t, fmt.Sprintf("node%d", i+1), nc.URLs(), secret)
	}
	return nc, nodes, secret
}

// siteClient is an HTTP client that sends every request to addr whatever
// its host, without cookies, retries or redirects.
func siteClient(addr string, timeout time.Duration) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "tcp", addr)
			},
			MaxIdleConnsPerHost: 32,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       timeout,
	}
}

// post creates a published news post titled title on slug through node n
// and returns the status (0 if no answer came).
func (n *clusterNode) post(c *http.Client, slug, token, title string) int {
	body := fmt.Sprintf(`{"title":%q,"published":true}`, title)
	req, _ := http.NewRequest("POST", n.SiteURL(slug, "/api/posts"), bytes.NewReader([]byte(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// titles lists slug's post titles through node n's API.
func (n *clusterNode) titles(c *http.Client, slug, token string) (map[string]bool, int, error) {
	req, _ := http.NewRequest("GET", n.SiteURL(slug, "/api/posts?limit=100000"), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return nil, resp.StatusCode, fmt.Errorf("%s: %.200s", resp.Status, b)
	}
	var out struct {
		Items []struct {
			Title string `json:"title"`
		} `json:"items"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, resp.StatusCode, err
	}
	m := map[string]bool{}
	for _, p := range out.Items {
		m[p.Title] = true
	}
	return m, resp.StatusCode, nil
}

// clusterTenant is a tenant of a cluster test with its owner's token.
type clusterTenant struct {
	slug, token string
}

// makeTenants creates n tenants through the nodes in turn and logs their
// owners in through the next node (a forwarded login when it is not the
// owner).
func makeTenants(t *testing.T, nodes []*clusterNode, prefix string, n int) []clusterTenant {
	t.Helper()
	out := make([]clusterTenant, n)
	for i := range out {
		slug := fmt.Sprintf("%s%02d", prefix, i)
		email, pw := nodes[i%len(nodes)].newTenant(t, slug)
		out[i] = clusterTenant{slug: slug, token: nodes[(i+1)%len(nodes)].Login(t, slug, email, pw)}
	}
	return out
}

// ownersByNode asks a node's `node list --json` which node owns how many
// tenants.
func nodeList(t *testing.T, n *clusterNode) []map[string]any {
	t.Helper()
	out, errOut, err := n.cli(t, "", "node", "list", "--json")
	if err != nil {
		t.Fatalf("node list: %v\n%s%s", err, out, errOut)
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("node list --json: %v\n%s", err, out)
	}
	return list
}

// The routing test: 30 tenants created through the three nodes in turn
// are placed across them, and every node serves every tenant's pages with
// that tenant's content, forwarding to the owner; a custom domain added
// through one node routes on all of them.
func TestClusterRouting(t *testing.T) {
	_, nodes, _ := startCluster(t, 3)
	tenants := makeTenants(t, nodes, "route", 30)
	for i, ten := range tenants {
		c := siteClient(nodes[(i+2)%3].Addr, 30*time.Second)
		if st := nodes[(i+2)%3].post(c, ten.slug, ten.token, "News of "+ten.slug); st != http.StatusCreated {
			t.Fatalf("post on %s through %s: %d", ten.slug, nodes[(i+2)%3].id, st)
		}
	}
	owned := map[string]float64{}
	for _, n := range nodeList(t, nodes[0]) {
		owned[n["id"].(string)] = n["tenants"].(float64)
	}
	t.Logf("tenants per node: %v", owned)
	for _, n := range nodes {
		if owned[n.id] < 5 {
			t.Errorf("node %s owns %v of the 30 tenants: not placed across the nodes (%v)", n.id, owned[n.id], owned)
		}
	}
	for _, n := range nodes {
		c := siteClient(n.Addr, 30*time.Second)
		for _, ten := range tenants {
			req, _ := http.NewRequest("GET", n.SiteURL(ten.slug, "/news"), nil)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatalf("%s via %s: %v", ten.slug, n.id, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "News of "+ten.slug) || !strings.Contains(string(body), "Chapter "+ten.slug) {
				t.Errorf("%s/news via %s: %d, without its own post and name:\n%.300s", ten.slug, n.id, resp.StatusCode, body)
			}
			for _, other := range []string{"News of " + tenants[(indexOf(tenants, ten.slug)+1)%len(tenants)].slug} {
				if strings.Contains(string(body), other) {
					t.Errorf("%s/news via %s shows another tenant's post %q", ten.slug, n.id, other)
				}
			}
		}
	}
	// A custom domain added and verified through node 1 routes on all.
	if out, errOut, err := nodes[0].cli(t, "", "domain", "add", tenants[4].slug, "www.route-four.example"); err != nil {
		t.Fatalf("domain add: %v\n%s%s", err, out, errOut)
	}
	if out, errOut, err := nodes[0].cli(t, "", "domain", "verify", "www.route-four.example", "--force"); err != nil {
		t.Fatalf("domain verify: %v\n%s%s", err, out, errOut)
	}
	for _, n := range nodes {
		c := siteClient(n.Addr, 30*time.Second)
		var st int
		var body string
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			req, _ := http.NewRequest("GET", "http://www.route-four.example:"+n.Port()+"/news", nil)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			st, body = resp.StatusCode, string(b)
			if st == http.StatusOK {
				break
			}
		}
		if st != http.StatusOK || !strings.Contains(body, "News of "+tenants[4].slug) {
			t.Errorf("www.route-four.example via %s: %d\n%.300s", n.id, st, body)
		}
	}
}

func indexOf(ts []clusterTenant, slug string) int {
	for i, t := range ts {
		if t.slug == slug {
			return i
		}
	}
	return -1
}

// sortedKeys is m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var _ = sync.Mutex{}
