package replica

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/pool"
)

// TestRegisteredMemory measures what a registered (written) tenant costs
// the process, replicating to a real NATS server (in this process, so
// its side of each connection counts too): heap in use and goroutines
// per tenant, with N tenants registered and open (default 100). A
// measurement, not a check: run it with CHAPTERHOUSE_MEM=1 (and
// CHAPTERHOUSE_MEM_PROFILE=FILE for a heap profile taken with them all
// registered). docs/replication.md has the figures.
func TestRegisteredMemory(t *testing.T) {
	if os.Getenv("CHAPTERHOUSE_MEM") == "" {
		t.Skip("a measurement: CHAPTERHOUSE_MEM=1 runs it")
	}
	n := 100
	if v, err := strconv.Atoi(os.Getenv("CHAPTERHOUSE_MEM_TENANTS")); err == nil && v > 0 {
		n = v
	}
	ctx := context.Background()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		t.Fatal("nats did not start")
	}
	t.Cleanup(s.Shutdown)
	dir := t.TempDir()
	url := s.ClientURL() + "/mem"
	if os.Getenv("CHAPTERHOUSE_MEM_TARGET") == "file" {
		url = "file://" + filepath.Join(t.TempDir(), "replica")
	}
	target, err := ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	opt := Options{}
	if os.Getenv("CHAPTERHOUSE_MEM_WRITING") != "" {
		opt.Idle = 2 * time.Second
	}
	r, err := New(ctx, target, filepath.Join(dir, "litestream"), opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(ctx) })
	var dbs []*tenantdb.DB
	ids := make([]string, n)
	for i := range ids {
		ids[i] = tenantdb.NewTenantID()
		db, err := tenantdb.Create(ctx, dir, ids[i])
		if err != nil {
			t.Fatal(err)
		}
		db.Close()
	}
	open := func(id string) *tenantdb.DB {
		db, err := openPinned(ctx, dir, id)
		if err != nil {
			t.Fatal(err)
		}
		post(t, db, "x")
		return db
	}
	measure := func() (heap uint64, stacks uint64, gs int, rss int64) {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapInuse, m.StackInuse, runtime.NumGoroutine(), selfRSS(t)
	}
	// Warm up: one tenant through the whole path, then closed.
	db := open(ids[0])
	r.Register(ctx, ids[0], db.Path())
	db.Close()
	r.Unregister(ctx, ids[0])

	h0, s0, g0, r0 := measure()
	if k, err := strconv.Atoi(os.Getenv("CHAPTERHOUSE_MEM_WRITING")); err == nil {
		mixedMemory(t, r, dir, ids, k, measure, r0)
		return
	}
	for _, id := range ids {
		db := open(id)
		if os.Getenv("CHAPTERHOUSE_MEM_TARGET") != "none" {
			if err := r.Register(ctx, id, db.Path()); err != nil {
				t.Fatal(err)
			}
		}
		dbs = append(dbs, db)
	}
	time.Sleep(2 * time.Second) // a few sync ticks
	h1, s1, g1, r1 := measure()
	if f := os.Getenv("CHAPTERHOUSE_MEM_PROFILE"); f != "" {
		out, err := os.Create(f)
		if err != nil {
			t.Fatal(err)
		}
		pprof.WriteHeapProfile(out)
		out.Close()
	}
	fmt.Printf("%d tenants registered to %s: RSS %+.0f KB, Go heap in use %+.0f KB, stacks %+.0f KB, goroutines %+.1f per tenant\n",
		n, target.scheme, float64(r1-r0)/1024/float64(n), float64(int64(h1-h0))/1024/float64(n), float64(int64(s1-s0))/1024/float64(n), float64(g1-g0)/float64(n))
	for i, db := range dbs {
		db.Close()
		r.Unregister(ctx, ids[i])
	}
}

// mixedMemory is TestRegisteredMemory's steady state of a node: every
// tenant of ids open in a pool, written once (so registered), then
// writing tenants keep writing (a post each every 200 ms) while the
// others go idle and are unregistered while they stay open
// (Options.Idle, here 2 s). It reports the RSS per open tenant above
// the process before any was open (r0: our own connections to each
// file included), with the writing ones registered and the rest
// waiting, and fails above 1 MB.
func mixedMemory(t *testing.T, r *Replicator, dir string, ids []string, writing int, measure func() (uint64, uint64, int, int64), r0 int64) {
	ctx := context.Background()
	p := pool.New(dir, len(ids)+8, 0)
	p.Replicate(r)
	defer p.Close()
	write := func(id string) {
		h, err := p.Acquire(ctx, id)
		if err != nil {
			t.Error(err)
			return
		}
		defer h.Release()
		if err := h.DB.SavePost(ctx, &tenantdb.Post{Title: "x", Body: "b"}); err != nil {
			t.Error(err)
		}
	}
	for _, id := range ids {
		write(id)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			for _, id := range ids[:writing] {
				write(id)
			}
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	for deadline := time.Now().Add(2 * time.Minute); len(r.Registered()) > writing; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d registered after 2 minutes, want %d (the writing ones)", len(r.Registered()), writing)
		}
	}
	time.Sleep(2 * time.Second) // a few sync ticks of the writing ones
	h1, _, g1, r1 := measure()
	debug.FreeOSMemory()
	_, _, _, r2 := measure()
	close(stop)
	wg.Wait()
	n := float64(len(ids))
	fmt.Printf("%d tenants open in a pool, all written once then %d writing (%d registered, %d waiting, %d idle unregisters): RSS per open tenant %.0f KB (%.0f KB after debug.FreeOSMemory); Go heap %.0f MB, goroutines %d\n",
		len(ids), writing, len(r.Registered()), len(ids)-len(r.Registered()), r.Stats.IdleUnregisters.Load(),
		float64(r1-r0)/1024/n, float64(r2-r0)/1024/n, float64(h1)/(1<<20), g1)
	if per := float64(r2-r0) / n; per > 1<<20 {
		t.Errorf("RSS per open tenant %.0f KB with %d of %d writing, want at most 1024 KB", per/1024, writing, len(ids))
	}
}

// selfRSS is this process's resident set in bytes, from /proc.
func selfRSS(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb * 1024
		}
	}
	t.Fatal("no VmRSS in /proc/self/status")
	return 0
}
