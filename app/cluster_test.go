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
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
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
	// bin is the program the node runs: "" for this test binary (under
	// -race when the tests are), else a build of ./app (plainBinary).
	bin string
}

// plainBinary builds ./app as it ships (no -race, whatever the test
// binary is) into the test's temp dir, for tests that measure what the
// product does in time (the chaos test's RTO): the race detector makes
// every node several times slower, which is a property of the test
// build, not of the product (docs/testing.md). With the build cache warm
// it is a link, a few seconds.
func plainBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "chapterhouse")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
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
	return startClusterNodeOf(t, "", id, urls, secret, extra...)
}

// startClusterNodeOf is startClusterNode running bin ("" for this test
// binary).
func startClusterNodeOf(t *testing.T, bin, id, urls, secret string, extra ...string) *clusterNode {
	t.Helper()
	addr := freeLoopbackAddr(t)
	dir := shortTempDir(t)
	args := append([]string{"serve", "--data", dir, "--addr", addr, "--ask-addr", "127.0.0.1:0", "--base-domain", liveBase, "--no-demo",
		"--cluster", urls, "--node-id", id, "--advertise", "http://" + addr, "--secret-file", secret}, extra...)
	n := &clusterNode{id: id, args: args, bin: bin}
	n.start(t, dir)
	return n
}

func (n *clusterNode) start(t *testing.T, dir string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
	cmd.Env = append(os.Environ(), "CHAPTERHOUSE_CRASH_CHILD="+strings.Join(n.args, "\n"))
	if n.bin != "" {
		// The program reads CHAPTERHOUSE_* from its environment; the
		// test's own (CHAPTERHOUSE_ARTIFACTS, ...) are not for it.
		cmd = exec.Command(n.bin, n.args...)
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "CHAPTERHOUSE_") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
	}
	n.logs = &syncBuffer{}
	cmd.Stderr = n.logs
	if d := os.Getenv("CHAPTERHOUSE_CLUSTER_LOGDIR"); d != "" {
		// Every node's whole log kept, to read a round's timeline after
		// the test (which process did what when).
		f, err := os.Create(filepath.Join(d, fmt.Sprintf("%s-%s.log", n.id, time.Now().Format("150405.000"))))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		cmd.Stderr = io.MultiWriter(n.logs, f)
	}
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

// grepLinesAny keeps the lines of s that contain any of words.
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
	return startClusterOf(t, "", n)
}

// startPlainCluster is startCluster with nodes of the program as it
// ships (plainBinary), for what is measured in time.
func startPlainCluster(t *testing.T, n int) (*natstest.Cluster, []*clusterNode, string) {
	t.Helper()
	return startClusterOf(t, plainBinary(t), n)
}

func startClusterOf(t *testing.T, bin string, n int) (*natstest.Cluster, []*clusterNode, string) {
	t.Helper()
	nc := natstest.Start(t, 3)
	secret := clusterSecret(t)
	nodes := make([]*clusterNode, n)
	for i := range nodes {
		nodes[i] = startClusterNodeOf(t, bin, fmt.Sprintf("node%d", i+1), nc.URLs(), secret)
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
	st, _ := n.postBy(c, slug, token, title)
	return st
}

// postBy is post that also tells which node served the write.
func (n *clusterNode) postBy(c *http.Client, slug, token, title string) (int, string) {
	body := fmt.Sprintf(`{"title":%q,"published":true}`, title)
	req, _ := http.NewRequest("POST", n.SiteURL(slug, "/api/posts"), bytes.NewReader([]byte(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		return 0, ""
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("X-Chapterhouse-Node")
}

// titles lists slug's post titles through node n's API, page by page
// (the Link header's rel="next").
func (n *clusterNode) titles(c *http.Client, slug, token string) (map[string]bool, int, error) {
	m := map[string]bool{}
	next := n.SiteURL(slug, "/api/posts")
	for next != "" {
		req, _ := http.NewRequest("GET", next, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := c.Do(req)
		if err != nil {
			return nil, 0, err
		}
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return nil, resp.StatusCode, fmt.Errorf("%s: %.200s", resp.Status, b)
		}
		var items []struct {
			Title string `json:"title"`
		}
		err = json.NewDecoder(resp.Body).Decode(&items)
		resp.Body.Close()
		if err != nil {
			return nil, resp.StatusCode, err
		}
		for _, p := range items {
			m[p.Title] = true
		}
		next = ""
		if l := linkNext.FindStringSubmatch(resp.Header.Get("Link")); l != nil {
			next = l[1]
			if strings.HasPrefix(next, "/") {
				next = n.SiteURL(slug, next)
			}
		}
	}
	return m, http.StatusOK, nil
}

var linkNext = regexp.MustCompile(`<([^>]+)>;\s*rel="next"`)

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
		routable(t, nodes, slug)
		out[i] = clusterTenant{slug: slug, token: nodes[(i+1)%len(nodes)].Login(t, slug, email, pw)}
	}
	return out
}

// routable waits until every node routes slug's host (the catalog's
// watch), two seconds at most.
func routable(t *testing.T, nodes []*clusterNode, slug string) {
	t.Helper()
	for _, n := range nodes {
		c := siteClient(n.Addr, 10*time.Second)
		for start := time.Now(); ; time.Sleep(10 * time.Millisecond) {
			resp, err := c.Get(n.SiteURL(slug, "/"))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				break
			}
			if time.Since(start) > 2*time.Second {
				t.Fatalf("%s does not route on %s 2s after its creation", slug, n.id)
			}
		}
	}
}

// nodeList is a node's `node list --json`: the live nodes, each with how many
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
	// A chapter deleted on its owner takes its ownership record along:
	// the cluster's records count one fewer.
	records := func() (sum int) {
		for _, n := range nodeList(t, nodes[0]) {
			sum += int(n["tenants"].(float64))
		}
		return sum
	}
	before := records()
	gone := tenants[5].slug
	owner := nodes[indexOfNode(nodes, nodes[0].servedBy(t, gone))]
	if out, errOut, err := owner.cli(t, "", "tenant", "delete", gone); err != nil {
		t.Fatalf("tenant delete %s on its owner %s: %v\n%s%s", gone, owner.id, err, out, errOut)
	}
	for deadline := time.Now().Add(5 * time.Second); records() != before-1; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the nodes own %d chapters after %s was deleted, %d before: its ownership record stays", records(), gone, before)
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

// writePace is the pause of each tenant's writer after a write.
const writePace = 100 * time.Millisecond

// ack is a write a node acknowledged: its title and when the answer came.
type ack struct {
	title string
	at    time.Time
}

// writeLoad writes posts to every tenant through the nodes in turn (a
// load balancer's round robin that skips the nodes marked down), until
// stop is closed, and records every acknowledged write.
type writeLoad struct {
	nodes []*clusterNode
	mu    sync.Mutex
	down  map[string]bool
	acked map[string][]ack  // slug -> writes
	fail  map[string]string // slug -> the last refusal, for a failure's message
	stop  chan struct{}
	wg    sync.WaitGroup
}

func startWrites(nodes []*clusterNode, tenants []clusterTenant, tag string) *writeLoad {
	wl := &writeLoad{nodes: nodes, down: map[string]bool{}, acked: map[string][]ack{}, fail: map[string]string{}, stop: make(chan struct{})}
	clients := make([]*http.Client, len(nodes))
	for i, n := range nodes {
		clients[i] = siteClient(n.Addr, 10*time.Second)
	}
	for ti, ten := range tenants {
		wl.wg.Add(1)
		go func() {
			defer wl.wg.Done()
			for k := ti; ; k++ {
				select {
				case <-wl.stop:
					return
				default:
				}
				i := k % len(nodes)
				wl.mu.Lock()
				down := wl.down[nodes[i].id]
				wl.mu.Unlock()
				if down {
					continue
				}
				title := fmt.Sprintf("%s %s %d", tag, ten.slug, k)
				if st := nodes[i].post(clients[i], ten.slug, ten.token, title); st == http.StatusCreated {
					wl.mu.Lock()
					wl.acked[ten.slug] = append(wl.acked[ten.slug], ack{title, time.Now()})
					wl.mu.Unlock()
					time.Sleep(writePace) // a busy chapter, not a benchmark: the 2 cores serve 3 NATS servers and 3 nodes too
				} else {
					wl.mu.Lock()
					wl.fail[ten.slug] = fmt.Sprintf("%s via %s at %s", http.StatusText(st), nodes[i].id, time.Now().Format("15:04:05.000"))
					wl.mu.Unlock()
					time.Sleep(50 * time.Millisecond) // refused or no answer: the next node
				}
			}
		}()
	}
	return wl
}

func (wl *writeLoad) setDown(id string, down bool) {
	wl.mu.Lock()
	wl.down[id] = down
	wl.mu.Unlock()
}

func (wl *writeLoad) Stop() {
	close(wl.stop)
	wl.wg.Wait()
}

// present reads every tenant's titles through a node, retrying while the
// cluster settles (a tenant being restored answers 503 for a moment).
func present(t *testing.T, n *clusterNode, tenants []clusterTenant) map[string]map[string]bool {
	t.Helper()
	c := siteClient(n.Addr, 30*time.Second)
	out := map[string]map[string]bool{}
	for _, ten := range tenants {
		var err error
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			var m map[string]bool
			if m, _, err = n.titles(c, ten.slug, ten.token); err == nil {
				out[ten.slug] = m
				break
			}
		}
		if err != nil {
			t.Fatalf("reading %s's posts through %s: %v", ten.slug, n.id, err)
		}
	}
	return out
}

// The chaos test: writers on 30 tenants through all three nodes; one node
// is killed with SIGKILL; its tenants must be served again by the
// survivors within the RTO (15 s: a 10 s lease, takeover, restore from
// the replica), and no write acknowledged more than the replica interval
// + 1 s before the kill may be lost (RPO), none acknowledged after it.
// The node comes back for the next round. CHAPTERHOUSE_CLUSTER_ROUNDS
// sets the rounds (default 5).
//
// The nodes are the program as it ships (plainBinary), even when the
// tests run under -race: the RTO is the product's. It takes about two
// minutes; -short skips it.
//
// It runs in every go test without -short and without -race; under
// -race only with CHAPTERHOUSE_CLUSTER_CHAOS=1: its three NATS servers
// run in this test process (internal/natstest), race-instrumented, and
// in the whole suite under -race (browser tests and all beside it) a
// takeover's one listing took 4.6 s and rounds up to ~22 s
// (docs/cluster.md "Known limits"); how much of that is the
// instrumented servers is not measured. CI runs the suite under -race,
// so CI does not run it yet. What keeps a
// round within 15 s under load (docs/cluster.md "Failover"): a takeover
// lists the NATS bucket once for all its restores, reads the replica's
// files by direct gets (no JetStream consumer a file), and checks each
// file with an import whose fresh database is a copy, not a migration
// run. The first round is about the lease TTL (10 s) alone; later rounds
// add the restores of more chapters on fewer survivors.
func TestClusterChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the chaos test kills a node five times (two minutes)")
	}
	if raceEnabled && os.Getenv("CHAPTERHOUSE_CLUSTER_CHAOS") == "" {
		t.Skip("-race: this process's NATS servers are race-instrumented and the whole suite runs beside it; rounds took ~22 s (issue 20): run without -race, or set CHAPTERHOUSE_CLUSTER_CHAOS=1")
	}
	rounds := 5
	if v, err := strconv.Atoi(os.Getenv("CHAPTERHOUSE_CLUSTER_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	rto, rpo := 15*time.Second, time.Second+time.Second // --replica-interval 1s + 1 s
	t.Logf("nodes: the plain build (this test binary has -race: %v)", raceEnabled)
	_, nodes, _ := startPlainCluster(t, 3)
	tenants := makeTenants(t, nodes, "chaos", 30)
	var rtos []time.Duration
	totalAcked, totalLost := 0, 0
	for round := range rounds {
		victim := nodes[round%3]
		wl := startWrites(nodes, tenants, fmt.Sprintf("r%d", round))
		time.Sleep(2 * time.Second)
		wl.setDown(victim.id, true)
		killStart := time.Now()
		kill(victim.cmd)
		// Answers read until the process is gone may come from it.
		killedAt := time.Now()
		// Every tenant must take writes again: its first acknowledged
		// write after the kill ends its outage.
		var worst time.Duration
		var worstSlug string
		for deadline := killedAt.Add(rto + 15*time.Second); ; time.Sleep(100 * time.Millisecond) {
			wl.mu.Lock()
			waiting := 0
			var why []string
			worst, worstSlug = 0, ""
			for _, ten := range tenants {
				acks := wl.acked[ten.slug]
				if len(acks) == 0 || !acks[len(acks)-1].at.After(killedAt) {
					waiting++
					why = append(why, ten.slug+": "+wl.fail[ten.slug])
					continue
				}
				for _, a := range acks {
					if a.at.After(killedAt) {
						if d := a.at.Sub(killedAt); d > worst {
							worst, worstSlug = d, ten.slug
						}
						break
					}
				}
			}
			wl.mu.Unlock()
			if waiting == 0 {
				break
			}
			if time.Now().After(deadline) {
				wl.Stop()
				dumpGoroutines(t, nodes, victim, fmt.Sprintf("chaos-round%d", round))
				t.Fatalf("round %d: %d tenants take no write %s after %s was killed (killed at %s): %s", round, waiting,
					time.Since(killedAt).Round(time.Millisecond), victim.id, killedAt.Format("15:04:05.000"), strings.Join(why, "; "))
			}
		}
		time.Sleep(500 * time.Millisecond)
		wl.Stop()
		rtos = append(rtos, worst)
		t.Logf("round %d: the slowest tenants back: %s", round, slowest(wl, killedAt, 8))
		if worst > rto {
			t.Errorf("round %d: %s took writes again %s after %s was killed (RTO %s)", round, worstSlug, worst.Round(time.Millisecond), victim.id, rto)
		}
		have := present(t, nodes[(round+1)%3], tenants)
		n, lost := 0, 0
		var window time.Duration
		for slug, acks := range wl.acked {
			for _, a := range acks {
				n++
				if have[slug][a.title] {
					continue
				}
				lost++
				if w := killedAt.Sub(a.at); w > window {
					window = w
				}
				if a.at.Before(killStart.Add(-rpo)) || a.at.After(killedAt) {
					t.Errorf("round %d: %s: %q acknowledged %s before the kill is lost", round, slug, a.title, killedAt.Sub(a.at).Round(time.Millisecond))
				}
			}
		}
		totalAcked += n
		totalLost += lost
		t.Logf("round %d: killed %s at %s; every tenant took writes again within %s (%s last); %d writes acknowledged, %d lost (all within %s before the kill)",
			round, victim.id, killedAt.Format("15:04:05.000"), worst.Round(time.Millisecond), worstSlug, n, lost, window.Round(time.Millisecond))
		// The node comes back, as systemd would restart it.
		victim.start(t, victim.dir)
	}
	sort.Slice(rtos, func(i, j int) bool { return rtos[i] < rtos[j] })
	t.Logf("chaos over %d rounds: RTO median %s, max %s (bound %s); %d of %d acknowledged writes lost (bound: within %s of the kill)",
		rounds, rtos[len(rtos)/2].Round(time.Millisecond), rtos[len(rtos)-1].Round(time.Millisecond), rto, totalLost, totalAcked, rpo)
}

// dumpGoroutines has every node but skip print its goroutines (SIGQUIT)
// and writes each node's log with them to the artifacts dir as
// NAME-NODE.log: what a stuck node was waiting on.
func dumpGoroutines(t *testing.T, nodes []*clusterNode, skip *clusterNode, name string) {
	t.Helper()
	for _, n := range nodes {
		if n == skip || n.cmd.ProcessState != nil {
			continue
		}
		n.cmd.Process.Signal(syscall.SIGQUIT)
		n.cmd.Wait() // the runtime prints every goroutine to stderr, then exits
		path := filepath.Join(artifactsDir(t), name+"-"+n.id+".log")
		if err := os.WriteFile(path, []byte(n.logs.String()), 0o644); err != nil {
			t.Log(err)
			continue
		}
		t.Logf("node %s's log and goroutines: %s", n.id, path)
	}
}

// slowest lists the n tenants of wl that took writes again last after
// killedAt, with when (for a round's timeline).
func slowest(wl *writeLoad, killedAt time.Time, n int) string {
	wl.mu.Lock()
	defer wl.mu.Unlock()
	type back struct {
		slug string
		d    time.Duration
	}
	var bs []back
	for slug, acks := range wl.acked {
		var prev time.Time
		for _, a := range acks {
			if a.at.After(killedAt) {
				if killedAt.Sub(prev) < time.Second && a.at.Sub(killedAt) > 2*time.Second {
					bs = append(bs, back{slug, a.at.Sub(killedAt)})
				}
				break
			}
			prev = a.at
		}
	}
	sort.Slice(bs, func(i, j int) bool { return bs[i].d > bs[j].d })
	var out []string
	for i, b := range bs {
		if i == n {
			break
		}
		out = append(out, fmt.Sprintf("%s %s", b.slug, b.d.Round(time.Millisecond)))
	}
	return fmt.Sprintf("%d waited more than 2s: %s", len(bs), strings.Join(out, ", "))
}

// servedBy asks node n for slug's home page and returns the node that
// answered it (NodeHeader).
func (n *clusterNode) servedBy(t *testing.T, slug string) string {
	t.Helper()
	resp, err := siteClient(n.Addr, 10*time.Second).Get(n.SiteURL(slug, "/"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.Header.Get("X-Chapterhouse-Node")
}

// The split-brain test: each node talks to one NATS server of its own.
// The server of node1 stops while clients keep writing to node1 over
// HTTP (and to node2): node1 must stop acknowledging writes within the
// fencing margin (lease TTL 10 s - margin 3 s after its last renew),
// the survivors take its tenants, and after the server comes back and
// node1 rejoins, each tenant's history is one: every write acknowledged
// is there once (none lost but those within the RPO before the cut), and
// node1 acknowledged none after the margin.
func TestClusterSplitBrain(t *testing.T) {
	nc := natstest.Start(t, 3)
	secret := clusterSecret(t)
	// A node that knows all three servers makes the buckets first, with
	// three replicas each, as an operator's first node would; a node
	// given one server would make them with one.
	seed := startClusterNode(t, "seed", nc.URLs(), secret)
	kill(seed.cmd)
	nodes := make([]*clusterNode, 3)
	for i := range nodes {
		nodes[i] = startClusterNode(t, fmt.Sprintf("node%d", i+1), nc.URL(i), secret)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		ids := []string{}
		for _, n := range nodeList(t, nodes[0]) {
			ids = append(ids, n["id"].(string))
		}
		if len(ids) == 3 && !slices.Contains(ids, "seed") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the live nodes are %v, not node1-3, 20s after the seed node was killed", ids)
		}
	}
	tenants := makeTenants(t, nodes, "split", 12)
	var mine []clusterTenant // node1's
	for _, ten := range tenants {
		if nodes[0].servedBy(t, ten.slug) == "node1" {
			mine = append(mine, ten)
		}
	}
	if len(mine) == 0 {
		t.Fatal("node1 owns no tenant")
	}
	const margin, rpo = 7 * time.Second, 2 * time.Second
	type write struct {
		seq  int
		node string
		at   time.Time
	}
	var mu sync.Mutex
	acked := map[string][]write{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, ten := range mine {
		wg.Add(1)
		go func() {
			defer wg.Done()
			clients := []*http.Client{siteClient(nodes[0].Addr, 5*time.Second), siteClient(nodes[1].Addr, 5*time.Second)}
			seq := 0
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				default:
				}
				i := k % 2
				if st, by := nodes[i].postBy(clients[i], ten.slug, ten.token, fmt.Sprintf("seq %d", seq+1)); st == http.StatusCreated {
					seq++
					mu.Lock()
					acked[ten.slug] = append(acked[ten.slug], write{seq, by, time.Now()})
					mu.Unlock()
					time.Sleep(writePace)
				} else {
					time.Sleep(50 * time.Millisecond)
				}
			}
		}()
	}
	time.Sleep(2 * time.Second)
	cutAt := time.Now()
	nc.Stop(0)
	// Wait until every tenant of node1 takes writes through node2 again.
	for deadline := cutAt.Add(40 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		mu.Lock()
		back := 0
		for _, ten := range mine {
			ws := acked[ten.slug]
			if len(ws) > 0 && ws[len(ws)-1].at.After(cutAt.Add(margin)) {
				back++
			}
		}
		mu.Unlock()
		if back == len(mine) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of node1's %d tenants take no write 40s after its NATS server stopped", len(mine)-back, len(mine))
		}
	}
	nc.Restart(0)
	time.Sleep(3 * time.Second) // node1 rejoins; writes go on through both
	close(stop)
	wg.Wait()

	for _, ten := range mine {
		have := map[int]int{}
		c := siteClient(nodes[1].Addr, 30*time.Second)
		var titles map[string]bool
		var err error
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if titles, _, err = nodes[1].titles(c, ten.slug, ten.token); err == nil {
				break
			}
		}
		if err != nil {
			t.Fatalf("%s: %v", ten.slug, err)
		}
		for title := range titles {
			var n int
			if _, err := fmt.Sscanf(title, "seq %d", &n); err == nil {
				have[n]++
			}
		}
		lost, lastNode1 := 0, time.Time{}
		for _, w := range acked[ten.slug] {
			if w.node == "node1" && w.at.After(lastNode1) {
				lastNode1 = w.at
			}
			if have[w.seq] == 0 {
				lost++
				if w.at.Before(cutAt.Add(-rpo)) || w.at.After(cutAt.Add(500*time.Millisecond)) {
					t.Errorf("%s: write %d acknowledged by %s %s after the cut is lost", ten.slug, w.seq, w.node, w.at.Sub(cutAt).Round(time.Millisecond))
				}
			}
		}
		if d := lastNode1.Sub(cutAt); d > margin+500*time.Millisecond {
			t.Errorf("%s: node1 acknowledged a write %s after it was cut off from NATS (fencing margin %s)", ten.slug, d.Round(time.Millisecond), margin)
		}
		// The titles are a set: a write the two histories both kept would
		// show as a sequence number the writer never sent twice.
		maxSeq := 0
		if ws := acked[ten.slug]; len(ws) > 0 {
			maxSeq = ws[len(ws)-1].seq
		}
		for n := range have {
			if n > maxSeq+1 {
				t.Errorf("%s: sequence %d was never acknowledged (the last was %d): a second history", ten.slug, n, maxSeq)
			}
		}
		t.Logf("%s: %d writes acknowledged, %d lost (within the RPO before the cut), node1's last %s after the cut",
			ten.slug, len(acked[ten.slug]), lost, lastNode1.Sub(cutAt).Round(time.Millisecond))
	}
}

// The moves test: under writes through all nodes, tenants move between
// nodes (`move SLUG --to-node`, run on the owner) and a node is drained
// (`node drain`): no acknowledged write is lost, and each move prints its
// freeze window. Bad input is refused and changes nothing.
func TestClusterMoves(t *testing.T) {
	_, nodes, _ := startCluster(t, 3)
	tenants := makeTenants(t, nodes, "move", 6)
	byID := map[string]*clusterNode{}
	for _, n := range nodes {
		byID[n.id] = n
	}
	if _, errOut, err := nodes[0].cli(t, "", "move", tenants[0].slug, "--to-node", "nosuchnode"); err == nil {
		t.Error("move --to-node nosuchnode succeeded")
	} else if owner := byID[nodes[0].servedBy(t, tenants[0].slug)]; owner != nil {
		if _, errOut, err = owner.cli(t, "", "move", tenants[0].slug, "--to-node", "nosuchnode"); err == nil || !strings.Contains(errOut, "not a live node") {
			t.Errorf("move to an unknown node: %v %s", err, errOut)
		}
	} else {
		t.Fatalf("no node serves %s: %s", tenants[0].slug, errOut)
	}
	// A command on a tenant's file runs on its owner only: elsewhere the
	// local copy may be stale.
	owner0 := nodes[0].servedBy(t, tenants[0].slug)
	for _, n := range nodes {
		out, errOut, err := n.cli(t, "", "admin", "list", tenants[0].slug)
		if n.id == owner0 && err != nil {
			t.Errorf("admin list on the owner %s: %v %s", n.id, err, errOut)
		}
		if n.id != owner0 && (err == nil || !strings.Contains(errOut, "is served by node "+owner0)) {
			t.Errorf("admin list on %s, not the owner %s: %v %s%s", n.id, owner0, err, out, errOut)
		}
	}
	if _, errOut, err := nodes[0].cli(t, "", "node", "drain", "node2"); err == nil || !strings.Contains(errOut, "run the drain on node node2") {
		t.Errorf("node drain of another node from node1: %v %s", err, errOut)
	}
	// Mail queued in tenants[0] (an invitation; no --smtp, so it waits)
	// moves with its file: its new owner has its "mail waiting" marker.
	c0 := siteClient(nodes[1].Addr, 30*time.Second)
	req, _ := http.NewRequest("POST", nodes[1].SiteURL(tenants[0].slug, "/api/members"),
		strings.NewReader(`{"email":"new.member@example.org","name":"New Member"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tenants[0].token)
	if resp, err := c0.Do(req); err != nil {
		t.Fatal(err)
	} else if resp.Body.Close(); resp.StatusCode != http.StatusCreated {
		t.Fatalf("invite a member to %s: %s", tenants[0].slug, resp.Status)
	}
	id0 := tenantIDOf(t, nodes[0], tenants[0].slug)
	wl := startWrites(nodes, tenants, "m")
	time.Sleep(time.Second)
	for i, ten := range tenants {
		from := byID[nodes[0].servedBy(t, ten.slug)]
		to := nodes[(indexOfNode(nodes, from.id)+1+i%2)%3]
		out, errOut, err := from.cli(t, "", "move", ten.slug, "--to-node", to.id)
		if err != nil {
			t.Fatalf("move %s from %s to %s: %v\n%s%s", ten.slug, from.id, to.id, err, out, errOut)
		}
		if !strings.Contains(out, "freeze window") {
			t.Errorf("move printed no freeze window:\n%s", out)
		}
		t.Logf("%s", strings.TrimSpace(out))
		if got := nodes[2].servedBy(t, ten.slug); got != to.id {
			t.Errorf("%s is served by %s after its move to %s", ten.slug, got, to.id)
		}
		if i == 0 {
			if _, err := os.Stat(filepath.Join(to.dir, "mail", id0)); err != nil {
				t.Errorf("%s holds queued mail, but its new owner %s has no mail marker for it: %v", ten.slug, to.id, err)
			}
		}
	}
	out, errOut, err := nodes[2].cli(t, "", "node", "drain", "node3")
	if err != nil {
		t.Fatalf("node drain node3: %v\n%s%s", err, out, errOut)
	}
	t.Logf("%s", strings.TrimSpace(out))
	for _, ten := range tenants {
		if got := nodes[0].servedBy(t, ten.slug); got == "node3" {
			t.Errorf("%s is still served by node3 after its drain", ten.slug)
		}
	}
	// Drained, node3 shows so and is given no new chapter, though it
	// now owns the fewest.
	for _, n := range nodeList(t, nodes[0]) {
		if (n["id"] == "node3") != (n["draining"] == true) {
			t.Errorf("node list after draining node3: %v", n)
		}
	}
	for i := range 3 {
		slug := fmt.Sprintf("afterdrain%d", i)
		out, errOut, err := nodes[2].cli(t, "", "tenant", "create", slug, "--name", "Chapter "+slug)
		if err != nil {
			t.Fatalf("tenant create on node3: %v\n%s%s", err, out, errOut)
		}
		if !strings.Contains(out, "node: ") || strings.Contains(out, "node: node3") {
			t.Errorf("a chapter created through the drained node3 is placed on it:\n%s", out)
		}
	}
	time.Sleep(time.Second)
	wl.Stop()
	have := present(t, nodes[1], tenants)
	n, lost := 0, 0
	for slug, acks := range wl.acked {
		for _, a := range acks {
			n++
			if !have[slug][a.title] {
				lost++
				t.Errorf("%s: %q acknowledged at %s is lost", slug, a.title, a.at.Format("15:04:05.000"))
			}
		}
	}
	t.Logf("moves under writes: %d writes acknowledged, %d lost", n, lost)
	if n == 0 {
		t.Fatal("no write was acknowledged")
	}
}

// tenantIDOf is slug's tenant id, from `tenant list --json` on node n.
func tenantIDOf(t *testing.T, n *clusterNode, slug string) string {
	t.Helper()
	out, errOut, err := n.cli(t, "", "tenant", "list", "--json")
	if err != nil {
		t.Fatalf("tenant list: %v\n%s", err, errOut)
	}
	var list []struct {
		ID   string `json:"id"`
		Slug string `json:"slug"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("tenant list --json: %v\n%s", err, out)
	}
	for _, ten := range list {
		if ten.Slug == slug {
			return ten.ID
		}
	}
	t.Fatalf("tenant list has no %s", slug)
	return ""
}

func indexOfNode(nodes []*clusterNode, id string) int {
	for i, n := range nodes {
		if n.id == id {
			return i
		}
	}
	return -1
}
