package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/app/internal/web"
	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
)

// The benchmarks serve over real loopback HTTP, client and server in this
// process, and report requests per second and latency percentiles. Compare
// the figures of one run with each other (ratios), not across machines.

// benchConns is how many keep-alive connections the load uses at once.
const benchConns = 8

// load sends b.N GETs of url over benchConns keep-alive connections after
// a short warm-up. host picks each request's Host header; a response that
// is not 200 or is shorter than minSize bytes fails the benchmark. It
// reports req/s, CPU time per request, and the median and 99th percentile
// latency.
func load(b *testing.B, url string, minSize int, host func(rng *rand.Rand) string) {
	b.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: benchConns, MaxConnsPerHost: benchConns, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	get := func(rng *rand.Rand) error {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Host = host(rng)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err == nil && (resp.StatusCode != http.StatusOK || n < int64(minSize)) {
			err = fmt.Errorf("%s: %s, %d bytes", req.Host, resp.Status, n)
		}
		return err
	}
	warm := rand.New(rand.NewPCG(7, 7))
	for range 200 { // connections, pools, caches
		if err := get(warm); err != nil {
			b.Fatal(err)
		}
	}
	var next atomic.Int64
	lat := make([]time.Duration, b.N)
	var failed atomic.Value
	var wg sync.WaitGroup
	b.ResetTimer()
	cpu0 := cpuTime()
	start := time.Now()
	for w := range benchConns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				t0 := time.Now()
				if err := get(rng); err != nil {
					failed.Store(err)
					return
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	b.StopTimer()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	// CPU time per request (client and server together) is steadier than
	// req/s on a shared, noisy machine: 2 cores / cpu-µs is the capacity.
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/req")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// coldFixture is a data dir with n tenants, built once per machine (it
// takes a while) and reused by later runs.
func coldFixture(b testing.TB, n int) (dir string, slugs []string) {
	b.Helper()
	dir = filepath.Join(os.TempDir(), fmt.Sprintf("chapterhouse-bench-%d-v%d-f2", n, tenantdb.LatestVersion()))
	slugs = make([]string, n)
	for i := range slugs {
		slugs[i] = fmt.Sprintf("t%05d", i)
	}
	if _, err := os.Stat(filepath.Join(dir, "complete")); err == nil {
		return dir, slugs
	}
	os.RemoveAll(dir)
	ctx := context.Background()
	p, err := platform.Open(ctx, dir, 4, 0, discardLog())
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	// One real tenant, copied: a migrated file is a migrated file. Each
	// copy gets the empty -wal file that persistent WAL leaves beside
	// every tenant file once it has been opened (tenant create opens it),
	// so that the benchmark measures the opens of a running platform, not
	// the first open of each file.
	tmpl, err := p.CreateTenant(ctx, slugs[0], "Chapter 0")
	if err != nil {
		b.Fatal(err)
	}
	data, err := os.ReadFile(tenantdb.TenantPath(dir, tmpl.ID))
	if err != nil {
		b.Fatal(err)
	}
	for i := 1; i < n; i++ {
		t := catalog.Tenant{ID: tenantdb.NewTenantID(), Slug: slugs[i], Name: "Chapter " + strconv.Itoa(i), Status: catalog.StatusActive, CreatedAt: time.Now()}
		path := tenantdb.TenantPath(dir, t.ID)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(path+"-wal", nil, 0o600); err != nil {
			b.Fatal(err)
		}
		if err := p.Catalog.AddTenant(ctx, t); err != nil {
			b.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "complete"), nil, 0o600); err != nil {
		b.Fatal(err)
	}
	return dir, slugs
}

// BenchmarkColdPath: 10,000 tenants, at most 256 open, a uniformly random
// tenant per request, so nearly every request opens a tenant file (and
// closes the least recently used one). Compare with BenchmarkSiteBare in
// the same run.
func BenchmarkColdPath(b *testing.B) {
	dir, slugs := coldFixture(b, 10000)
	ctx := context.Background()
	p, err := platform.Open(ctx, dir, 256, 0, discardLog())
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	p.Base = "localhost"
	// serve's defaults (--page-cache-mb 64, --acquire-timeout 5s, ...).
	s, err := web.New(web.Config{BaseDomain: "localhost", DataDir: dir, MaxBody: 12 << 20,
		AcquireTimeout: 5 * time.Second, PageCacheMB: 64}, p, discardLog())
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	load(b, srv.URL+"/", 500, func(rng *rand.Rand) string { return slugs[rng.IntN(len(slugs))] + ".localhost" })
	b.ReportMetric(float64(p.Pool.Stats.Opens.Load())/float64(b.N), "opens/req")
}

// BenchmarkCreateTenant measures `tenant create`: a new file, migrated,
// named, and recorded in the catalog.
func BenchmarkCreateTenant(b *testing.B) {
	ctx := context.Background()
	p, err := platform.Open(ctx, b.TempDir(), 4, 0, discardLog())
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	b.ResetTimer()
	for i := range b.N {
		if _, err := p.CreateTenant(ctx, fmt.Sprintf("bench-%d", i), "Bench"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIdleTenantRSS opens tenants, uses each once and leaves them open
// and idle, and reports the resident memory each one adds.
func BenchmarkIdleTenantRSS(b *testing.B) {
	const n = 500
	dir, slugs := coldFixture(b, 10000)
	ctx := context.Background()
	for range b.N {
		p, err := platform.Open(ctx, dir, n+1, 0, discardLog())
		if err != nil {
			b.Fatal(err)
		}
		// Warm up the process (first open, templates of sqlite, ...).
		warm, _ := p.Catalog.TenantBySlug(slugs[n])
		if h, err := p.Pool.Acquire(ctx, warm.ID); err == nil {
			h.Site(ctx)
			h.Release()
		}
		runtime.GC()
		debug.FreeOSMemory()
		before := rssKB(b)
		for _, slug := range slugs[:n] {
			t, _ := p.Catalog.TenantBySlug(slug)
			h, err := p.Pool.Acquire(ctx, t.ID)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := h.Site(ctx); err != nil {
				b.Fatal(err)
			}
			h.Release()
		}
		runtime.GC()
		debug.FreeOSMemory()
		after := rssKB(b)
		b.ReportMetric(float64(after-before)/n, "KB/idle-tenant")
		p.Close()
	}
}

// cpuTime is the user plus system CPU time of this process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func rssKB(b *testing.B) int {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Skip("no /proc/self/status")
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return kb
		}
	}
	b.Skip("no VmRSS")
	return 0
}

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
