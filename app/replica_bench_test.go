package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/internal/natstest"
	"github.com/chapterhouse/chapterhouse/tenantdb/replica"
)

// replicaBench is the replication part of TestExternalBench: the same
// servers as "cached" and "cold" with --replica on a NATS object store
// (a real nats-server in this process), and the figures the replication
// issue asks for that are not a wrk run (see docs/replication.md).
type replicaBench struct {
	cached, cold *benchCase
	figures      []string
}

// startReplicaBench starts the replicated servers: "cached-nats" (a demo
// data dir of its own) and "cold-nats" (a copy of the cold fixture of n
// tenants, cap 256). Before it returns, it asks for every tenant of
// cold-nats once and restarts it, so that each tenant has been shipped
// and closed with a position record: the steady state of a node that
// has replicated for a while, not its first day. On the way it measures
// the RSS of an open tenant: off (on the server off), registered with
// Litestream (its first open), and in step (open, registered at its
// first write).
func startReplicaBench(t *testing.T, tmp, bin, base string, coldDir string, n int, off *benchCase) *replicaBench {
	t.Helper()
	nats := natstest.Start(t, 1)
	rb := &replicaBench{}
	rb.cached = startProcess(t, "cached-nats", tmp, bin, nil, "serve", "--data", filepath.Join(tmp, "cached-nats"),
		"--addr", "127.0.0.1:0", "--ask-addr", "", "--base-domain", base, "--replica", nats.URL(0)+"/cached")
	rb.cached.host = "demo." + base

	dir := filepath.Join(tmp, "cold-nats")
	if out, err := exec.Command("cp", "-a", coldDir, dir).CombinedOutput(); err != nil {
		t.Fatalf("copying the cold fixture: %v\n%s", err, out)
	}
	rb.cold = startProcess(t, "cold-nats", tmp, bin, nil, "serve", "--data", dir, "--addr", "127.0.0.1:0",
		"--ask-addr", "127.0.0.1:0", "--base-domain", base, "--no-demo", "--max-open-tenants", "256",
		"--replica", nats.URL(0)+"/cold")
	rb.cold.script = off.script

	// RSS per open tenant: 200 (or n) tenants opened by a read. On
	// cold-nats none has a position record yet, so each is registered
	// at its open and ships its snapshot.
	k := min(200, n)
	rss := func(c *benchCase, what string) {
		before := procRSS(t, c.pid)
		askTenants(t, c, base, 0, k, 1)
		after := procRSS(t, c.pid)
		rb.figures = append(rb.figures, fmt.Sprintf("RSS per open tenant, %s (%d opened by a read, cap 256): %.0f KB (%.1f MB -> %.1f MB)",
			what, k, float64(after-before)/float64(k)/1024, float64(before)/(1<<20), float64(after)/(1<<20)))
	}
	rss(off, "off")
	rss(rb.cold, "registered with Litestream (first open, no position record)")
	start := time.Now()
	opens0, lists0 := tenantOpens(t, rb.cold), metricMatch(t, rb.cold, bucketListsMetric, true)
	askTenants(t, rb.cold, base, k, n, 8)
	rb.figures = append(rb.figures, fmt.Sprintf("first replication of %d tenants (each asked for once, 8 at a time, snapshot shipped at its open): %.1f s, %.2f opens a tenant, %.0f listings of the whole bucket, %.0f files in the bucket's index",
		n, time.Since(start).Seconds(), (tenantOpens(t, rb.cold)-opens0)/float64(n-k), metricMatch(t, rb.cold, bucketListsMetric, true)-lists0,
		metricMatch(t, rb.cold, indexFilesMetric, true)))
	stopProcess(t, rb.cold)
	start = time.Now()
	rb.cold = startProcess(t, "cold-nats", tmp, bin, nil, "serve", "--data", dir, "--addr", "127.0.0.1:0",
		"--ask-addr", "127.0.0.1:0", "--base-domain", base, "--no-demo", "--max-open-tenants", "256",
		"--replica", nats.URL(0)+"/cold")
	rb.cold.script = off.script
	rb.figures = append(rb.figures, fmt.Sprintf("cold-nats stopped (SIGTERM: every open tenant synced) and started again: %.1f s", time.Since(start).Seconds()))
	rss(rb.cold, "replicated, in step (registered at its first write)")
	rb.figures = append(rb.figures, benchCreate(t, nats.URL(0)+"/create")...)
	rb.figures = append(rb.figures, benchRestoreAll(t, tmp, bin, base, nats, envInt(t, "CHAPTERHOUSE_BENCH_RESTORE", 1000)))
	return rb
}

var (
	bucketListsMetric = regexp.MustCompile(`(?m)^chapterhouse_replica_bucket_lists_total (\S+)$`)
	indexFilesMetric  = regexp.MustCompile(`(?m)^chapterhouse_replica_index_files (\S+)$`)
)

// askTenants asks c's server for the home page of the fixture tenants
// from to to-1 (t00000...), jobs at a time, and fails on any error.
func askTenants(t *testing.T, c *benchCase, base string, from, to, jobs int) {
	t.Helper()
	var wg sync.WaitGroup
	next := make(chan int)
	errs := make(chan error, jobs)
	for range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				req, _ := http.NewRequest(http.MethodGet, c.url, nil)
				req.Host = fmt.Sprintf("t%05d.%s", i, base)
				resp, err := http.DefaultClient.Do(req)
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("%s: %s", req.Host, resp.Status)
					}
				}
				if err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		}()
	}
	for i := from; i < to; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatalf("%s: %v", c.name, err)
	default:
	}
}

// stopProcess ends c's server with SIGTERM and waits until it exited.
func stopProcess(t *testing.T, c *benchCase) {
	t.Helper()
	if err := syscall.Kill(c.pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.pid))
		if _, rest, _ := bytes.Cut(stat, []byte(") ")); err != nil || bytes.HasPrefix(rest, []byte("Z")) {
			return // exited (a zombie until the test's cleanup waits for it)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not stop within 5 minutes of SIGTERM", c.name)
		}
	}
}

// procRSS is process pid's resident set, from /proc, in bytes.
func procRSS(t *testing.T, pid int) int64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^VmRSS:\s+(\d+) kB`).FindSubmatch(data)
	if m == nil {
		t.Fatalf("no VmRSS in /proc/%d/status", pid)
	}
	kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return kb * 1024
}

// benchCreate measures tenant create + migrate as the platform does it,
// then the tenant's first open through the pool: with a replica, that
// open registers it and ships its first snapshot before it serves. Off
// and NATS are measured alike, in this process.
func benchCreate(t *testing.T, natsURL string) []string {
	t.Helper()
	var out []string
	for _, target := range []string{"off", "nats"} {
		ctx := context.Background()
		p, err := platform.Open(ctx, t.TempDir(), 256, 0, discardLog())
		if err != nil {
			t.Fatal(err)
		}
		if target == "nats" {
			tg, err := replica.ParseURL(natsURL)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.StartReplication(ctx, tg, replica.Options{}); err != nil {
				t.Fatal(err)
			}
		}
		i := 0
		res := testing.Benchmark(func(b *testing.B) {
			for range b.N {
				i++
				tn, err := p.CreateTenant(ctx, fmt.Sprintf("c%06d", i), "Chapter")
				if err != nil {
					b.Fatal(err)
				}
				h, err := p.Pool.Acquire(ctx, tn.ID)
				if err != nil {
					b.Fatal(err)
				}
				h.Release()
			}
		})
		p.Close()
		out = append(out, fmt.Sprintf("tenant create + migrate + first open (%s): %.2f ms (%d tenants)", target, float64(res.NsPerOp())/1e6, res.N))
	}
	return out
}

// benchRestoreAll builds a data dir of n tenants replicated to NATS (a
// copy of the cold fixture of n, each tenant asked for once by a server
// with --replica, which is then stopped with SIGTERM so that each is
// synced), and times `restore --all` of it into an empty data dir.
func benchRestoreAll(t *testing.T, tmp, bin, base string, nats *natstest.Cluster, n int) string {
	t.Helper()
	src, _ := coldFixture(t, n)
	dir := filepath.Join(tmp, "restore-src")
	if out, err := exec.Command("cp", "-a", src, dir).CombinedOutput(); err != nil {
		t.Fatalf("copying the fixture of %d tenants: %v\n%s", n, err, out)
	}
	url := nats.URL(0) + "/restore"
	c := startProcess(t, "restore-src", tmp, bin, nil, "serve", "--data", dir, "--addr", "127.0.0.1:0",
		"--ask-addr", "", "--base-domain", base, "--no-demo", "--max-open-tenants", "256", "--replica", url)
	askTenants(t, c, base, 0, n, 8)
	stopProcess(t, c)
	cmd := exec.Command(bin, "restore", "--all", "--replica", url, "--data", filepath.Join(tmp, "restored"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("restore --all: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	elapsed := time.Since(start)
	summary := regexp.MustCompile(`restored the catalog and .*`).FindString(stdout.String())
	if !strings.Contains(summary, fmt.Sprintf(" %d tenants", n)) || !strings.HasSuffix(summary, "0 failed") {
		t.Fatalf("restore --all of %d tenants: %q\n%s", n, summary, stderr.String())
	}
	return fmt.Sprintf("restore --all from NATS, %d tenants: %.1f s wall (the command: %s)", n, elapsed.Seconds(), summary)
}
