package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
)

// The external benchmark drives real processes with wrk, a load generator
// in C that takes little of the machine, and reads each server's CPU time
// from /proc: the figures of docs/performance.md and the README. It runs
// only when asked, as it takes minutes and wants a quiet machine:
//
//	CHAPTERHOUSE_BENCH=1 go test -run ExternalBench -v -timeout 60m ./app
//
// CHAPTERHOUSE_BENCH_ROUNDS (default 7) and CHAPTERHOUSE_BENCH_SECONDS
// (default 5) set the rounds and the length of each run;
// CHAPTERHOUSE_BENCH_CASES (say "bare,cached") picks the cases to run;
// CHAPTERHOUSE_BENCH_BEFORE names a binary built from an older commit,
// served as the case "before" like "cached";
// CHAPTERHOUSE_BENCH_TENANTS (default 10000) the cold path's tenants and
// CHAPTERHOUSE_BENCH_RESTORE (default 1000) those of the restore --all
// figure. The cases "cached-nats" and "cold-nats" are "cached" and
// "cold" with --replica on NATS (replica_bench_test.go), which also
// prints the replication figures. The case "counted" is the
// cached server's page asked for with a browser's User-Agent, so that
// every request is counted in the visit statistics; "cached" sends none,
// which the statistics take for a bot's (see site/stats.go). Each round runs
// every case once, one after the other, so that a ratio compares runs a
// few seconds apart on a machine whose neighbours come and go.

// benchCase is one server under load: how to reach it and with what.
type benchCase struct {
	name   string
	pid    int
	url    string
	host   string // the Host header; "" with a script
	agent  string // the User-Agent header; "": wrk sends none, which the visit statistics take for a bot's
	script string // a wrk Lua script (the cold path's random tenant)
	log    string // the server's log file, emptied between runs
	ops    string // the ops listener, whose /metrics count tenant opens; "": none
}

// benchResult is one wrk run of one case.
type benchResult struct {
	count    float64 // requests served
	reqs     float64 // requests a second
	cpuUS    float64 // the server's CPU µs per request (user + system)
	p50, p99 time.Duration
	errors   int     // non-2xx responses and socket errors
	opens    float64 // tenant files opened a request (with an ops listener)
	// registers is databases registered with Litestream a request (a
	// server with --replica and an ops listener).
	registers float64
}

// TestExternalBench runs the bare handler, the demo home page from the
// page cache and uncached, and the cold path, in alternating rounds, and
// prints the medians and their ratios to the bare handler.
func TestExternalBench(t *testing.T) {
	if page := os.Getenv("CHAPTERHOUSE_BENCH_BARE"); page != "" {
		serveBare(t, page)
		return
	}
	if os.Getenv("CHAPTERHOUSE_BENCH") == "" {
		t.Skip("set CHAPTERHOUSE_BENCH=1 to run the external benchmark (wrk, minutes)")
	}
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		t.Fatal("wrk is not installed (Debian: apt-get install wrk)")
	}
	rounds, seconds := envInt(t, "CHAPTERHOUSE_BENCH_ROUNDS", 7), envInt(t, "CHAPTERHOUSE_BENCH_SECONDS", 5)
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "chapterhouse")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	const base = "bench.test"
	demo := "demo." + base
	serve := func(name, dir string, args ...string) *benchCase {
		args = append([]string{"serve", "--data", dir, "--addr", "127.0.0.1:0", "--ask-addr", "", "--base-domain", base}, args...)
		return startProcess(t, name, tmp, bin, nil, args...)
	}
	cached := serve("cached", filepath.Join(tmp, "cached"))
	cached.host = demo
	uncached := serve("uncached", filepath.Join(tmp, "uncached"), "--page-cache-mb", "0")
	uncached.host = demo

	resp, page := fetch(t, cached.url, demo)
	if resp.StatusCode != http.StatusOK || len(page) < 1000 {
		t.Fatalf("the demo home page: %s, %d bytes", resp.Status, len(page))
	}
	pageFile := filepath.Join(tmp, "page.html")
	if err := os.WriteFile(pageFile, page, 0o600); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bare := startProcess(t, "bare", tmp, self, []string{"CHAPTERHOUSE_BENCH_BARE=" + pageFile}, "-test.run=^TestExternalBench$")
	bare.host = "bare.test"
	if _, got := fetch(t, bare.url, bare.host); !bytes.Equal(got, page) {
		t.Fatalf("the bare handler serves %d bytes, not the page's %d", len(got), len(page))
	}

	coldN := envInt(t, "CHAPTERHOUSE_BENCH_TENANTS", 10000)
	coldDir, _ := coldFixture(t, coldN)
	cold := startProcess(t, "cold", tmp, bin, nil, "serve", "--data", coldDir, "--addr", "127.0.0.1:0",
		"--ask-addr", "127.0.0.1:0", "--base-domain", base, "--no-demo", "--max-open-tenants", "256")
	cold.script = filepath.Join(tmp, "random-tenant.lua")
	if err := os.WriteFile(cold.script, []byte(randomTenantLua(base, coldN)), 0o600); err != nil {
		t.Fatal(err)
	}
	// The cold path again with --page-cache-mb 0, on a copy of the
	// fixture (one server a data dir): every request opens a file and
	// renders, as the first visit of a chapter since a write does. With
	// the cache on, a chapter evicted since its last visit and unchanged
	// is served from the cache after the open (the pool keeps its
	// generation), and that is most requests once the rounds warm it up.
	renderDir := filepath.Join(tmp, "cold-render")
	if out, err := exec.Command("cp", "-a", coldDir, renderDir).CombinedOutput(); err != nil {
		t.Fatalf("copy the cold fixture: %v\n%s", err, out)
	}
	os.Remove(filepath.Join(renderDir, "control.sock"))
	coldRender := startProcess(t, "cold-render", tmp, bin, nil, "serve", "--data", renderDir, "--addr", "127.0.0.1:0",
		"--ask-addr", "127.0.0.1:0", "--base-domain", base, "--no-demo", "--max-open-tenants", "256", "--page-cache-mb", "0")
	coldRender.script = cold.script
	// The same process as "cached", each request counted as a visit.
	counted := *cached
	counted.name = "counted"
	counted.agent = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
	// And with a crawler's User-Agent of the same length class, not
	// counted: counted's cost over it is the counting's, not the header's.
	crawler := *cached
	crawler.name = "crawler"
	crawler.agent = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html) Chrome/128.0"
	cases := []*benchCase{bare, cached, &crawler, &counted, uncached, cold, coldRender}
	var repl *replicaBench
	if only := os.Getenv("CHAPTERHOUSE_BENCH_CASES"); only == "" || strings.Contains(only, "-nats") {
		repl = startReplicaBench(t, tmp, bin, base, coldDir, coldN, cold)
		cases = append(cases, repl.cached, repl.cold)
	}
	if before := os.Getenv("CHAPTERHOUSE_BENCH_BEFORE"); before != "" {
		b := startProcess(t, "before", tmp, before, nil, "serve", "--data", filepath.Join(tmp, "before"), "--addr", "127.0.0.1:0",
			"--ask-addr", "", "--base-domain", base)
		b.host = demo
		cases = append(cases, b)
	}
	if only := os.Getenv("CHAPTERHOUSE_BENCH_CASES"); only != "" { // e.g. "bare,cached"
		// bare always runs: every ratio is to it.
		cases = slices.DeleteFunc(cases, func(c *benchCase) bool { return c != bare && !slices.Contains(strings.Split(only, ","), c.name) })
	}

	for _, c := range cases { // warm up: connections, caches, the OS's file cache for the cold path
		warm := 2
		if c.script != "" { // the cold path
			warm = 3 * seconds
		}
		runWrk(t, wrk, c, warm)
	}
	results := map[string][]benchResult{}
	loads := []string{loadAverage()}
	for r := range rounds {
		for _, c := range cases {
			res := runWrk(t, wrk, c, seconds)
			results[c.name] = append(results[c.name], res)
			t.Logf("round %d %-8s %8.0f req/s %6.1f cpu-µs/req p50 %v p99 %v opens/req %.2f registers/req %.2f", r+1, c.name, res.reqs, res.cpuUS, res.p50, res.p99, res.opens, res.registers)
		}
		loads = append(loads, loadAverage())
	}

	model, _ := cpuModel()
	fmt.Printf("\nmachine: nproc %d, %s; %d rounds of %d s, wrk -t2 -c8\n", runtime.NumCPU(), model, rounds, seconds)
	fmt.Printf("load average (1, 5, 15 min) before and after each round:\n  %s\n", strings.Join(loads, "\n  "))
	fmt.Printf("\n| case | req/s | vs bare | server cpu-µs/req | cpu vs bare | p50 | p99 | req/s range | opens/req |\n|---|---|---|---|---|---|---|---|---|\n")
	bareCPU := median(results["bare"], func(r benchResult) float64 { return r.cpuUS })
	for _, c := range cases {
		rs := results[c.name]
		reqs := median(rs, func(r benchResult) float64 { return r.reqs })
		cpu := median(rs, func(r benchResult) float64 { return r.cpuUS })
		// The ratio to bare is the median of the per-round ratios: each
		// compares runs seconds apart.
		ratio := make([]benchResult, len(rs))
		for i := range rs {
			ratio[i].reqs = rs[i].reqs / results["bare"][i].reqs
		}
		lo := slices.MinFunc(rs, func(a, b benchResult) int { return int(a.reqs - b.reqs) }).reqs
		hi := slices.MaxFunc(rs, func(a, b benchResult) int { return int(a.reqs - b.reqs) }).reqs
		fmt.Printf("| %s | %.0f | %.1f%% | %.1f | %.1f%% | %.2f ms | %.2f ms | %.0f-%.0f | %.2f |\n", c.name, reqs,
			100*median(ratio, func(r benchResult) float64 { return r.reqs }), cpu, 100*bareCPU/cpu,
			median(rs, func(r benchResult) float64 { return ms(r.p50) }),
			median(rs, func(r benchResult) float64 { return ms(r.p99) }), lo, hi,
			median(rs, func(r benchResult) float64 { return r.opens }))
		for i, r := range rs {
			if r.errors > 0 {
				t.Errorf("%s, round %d: %d errors", c.name, i+1, r.errors)
			}
		}
	}
	if repl != nil {
		// With the replica against off, in the same rounds: the median of
		// the per-round ratios.
		for _, pair := range [][2]string{{"cached-nats", "cached"}, {"cold-nats", "cold"}} {
			on, off := results[pair[0]], results[pair[1]]
			if len(on) == 0 || len(off) == 0 {
				continue
			}
			ratio := make([]benchResult, len(on))
			for i := range on {
				ratio[i].reqs = on[i].reqs / off[i].reqs
			}
			fmt.Printf("%s vs %s: %.1f%% of the requests a second\n", pair[0], pair[1], 100*median(ratio, func(r benchResult) float64 { return r.reqs }))
		}
		fmt.Printf("\nreplication (NATS object store, a real nats-server in the test process):\n  %s\n", strings.Join(repl.figures, "\n  "))
	}
}

// serveBare is the bare handler's process: echo returning the bytes of
// file page, as the cheapest server of the same page in the same
// framework would.
func serveBare(t *testing.T, file string) {
	page, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.GET("/", func(c echo.Context) error { return c.HTMLBlob(http.StatusOK, page) })
	e.Listener, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("listening on http://%s\n", e.Listener.Addr())
	t.Fatal(e.Start(""))
}

// startProcess runs bin with args in its own process (stdout and the log
// to files under tmp), waits until it says where it listens, and kills it
// when the test ends.
func startProcess(t *testing.T, name, tmp, bin string, env []string, args ...string) *benchCase {
	t.Helper()
	out := filepath.Join(tmp, name+".out")
	logPath := filepath.Join(tmp, name+".log")
	stdout, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer stdout.Close()
	logFile, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = stdout, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	listening := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)
	opsListener := regexp.MustCompile(`ops listener: (http://127\.0\.0\.1:\d+)`)
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		data, _ := os.ReadFile(out)
		if m := listening.FindSubmatch(data); m != nil {
			c := &benchCase{name: name, pid: cmd.Process.Pid, url: string(m[1]) + "/", log: logPath}
			if m := opsListener.FindSubmatch(data); m != nil {
				c.ops = string(m[1])
			}
			return c
		}
	}
	data, _ := os.ReadFile(logPath)
	t.Fatalf("%s did not start:\n%s", name, data)
	return nil
}

// runWrk loads c for seconds with wrk (2 threads, 8 connections) and
// reads the server's CPU time before and after.
func runWrk(t *testing.T, wrk string, c *benchCase, seconds int) benchResult {
	t.Helper()
	args := []string{"-t2", "-c8", fmt.Sprintf("-d%ds", seconds), "--latency"}
	if c.script != "" {
		args = append(args, "-s", c.script)
	} else {
		args = append(args, "-H", "Host: "+c.host)
	}
	if c.agent != "" {
		args = append(args, "-H", "User-Agent: "+c.agent)
	}
	os.Truncate(c.log, 0)
	opens0 := tenantOpens(t, c)
	registers0 := replicaRegisters(t, c)
	cpu0 := procCPU(t, c.pid)
	out, err := exec.Command(wrk, append(args, c.url)...).CombinedOutput()
	cpu := procCPU(t, c.pid) - cpu0
	if err != nil {
		t.Fatalf("wrk %s: %v\n%s", c.name, err, out)
	}
	r := parseWrk(t, string(out), cpu)
	r.opens = (tenantOpens(t, c) - opens0) / r.count
	r.registers = (replicaRegisters(t, c) - registers0) / r.count
	return r
}

var (
	opensMetric     = regexp.MustCompile(`(?m)^chapterhouse_tenant_opens_total (\S+)$`)
	registersMetric = regexp.MustCompile(`(?m)^chapterhouse_replica_registers_total (\S+)$`)
)

// replicaRegisters is how many databases c's server has registered with
// Litestream, from its /metrics; 0 without an ops listener or a replica.
func replicaRegisters(t *testing.T, c *benchCase) float64 {
	t.Helper()
	if c.ops == "" {
		return 0
	}
	return metricMatch(t, c, registersMetric, false)
}

// tenantOpens is how many tenant files c's server has opened, from its
// /metrics; 0 without an ops listener.
func tenantOpens(t *testing.T, c *benchCase) float64 {
	t.Helper()
	if c.ops == "" {
		return 0
	}
	return metricMatch(t, c, opensMetric, true)
}

// metricMatch reads the value that re matches in c's /metrics; absent,
// it fails the test if required, else it is 0.
func metricMatch(t *testing.T, c *benchCase, re *regexp.Regexp, required bool) float64 {
	t.Helper()
	resp, err := http.Get(c.ops + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	m := re.FindSubmatch(buf.Bytes())
	if m == nil {
		if required {
			t.Fatalf("%s: no match of %s in /metrics", c.name, re)
		}
		return 0
	}
	n, _ := strconv.ParseFloat(string(m[1]), 64)
	return n
}

var (
	wrkRequests = regexp.MustCompile(`(\d+) requests in ([\d.]+)(us|ms|s|m),`)
	wrkRate     = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	wrkP50      = regexp.MustCompile(`\n\s+50%\s+([\d.]+)(us|ms|s)`)
	wrkP99      = regexp.MustCompile(`\n\s+99%\s+([\d.]+)(us|ms|s)`)
	wrkErrors   = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)|Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

func parseWrk(t *testing.T, out string, cpu time.Duration) benchResult {
	t.Helper()
	n, rate := wrkRequests.FindStringSubmatch(out), wrkRate.FindStringSubmatch(out)
	p50, p99 := wrkP50.FindStringSubmatch(out), wrkP99.FindStringSubmatch(out)
	if n == nil || rate == nil || p50 == nil || p99 == nil {
		t.Fatalf("cannot read wrk's output:\n%s", out)
	}
	var r benchResult
	r.count, _ = strconv.ParseFloat(n[1], 64)
	r.reqs, _ = strconv.ParseFloat(rate[1], 64)
	r.cpuUS = float64(cpu.Microseconds()) / r.count
	r.p50, r.p99 = wrkDuration(p50[1], p50[2]), wrkDuration(p99[1], p99[2])
	for _, m := range wrkErrors.FindAllStringSubmatch(out, -1) {
		for _, v := range m[1:] {
			k, _ := strconv.Atoi(v)
			r.errors += k
		}
	}
	return r
}

func wrkDuration(v, unit string) time.Duration {
	f, _ := strconv.ParseFloat(v, 64)
	d := time.Duration(f * float64(time.Second))
	switch unit {
	case "us":
		d = time.Duration(f * float64(time.Microsecond))
	case "ms":
		d = time.Duration(f * float64(time.Millisecond))
	}
	return d.Round(time.Microsecond) // wrk prints 2 decimals: 4.02ms, not 4.019999ms
}

// randomTenantLua is a wrk script that asks for the home page of a
// uniformly random one of the n fixture tenants (t00000 ... ) per request.
func randomTenantLua(base string, n int) string {
	// Each wrk thread has its own Lua state: seeded alike, two threads
	// would ask for the same tenants in step, and the second would find
	// each one open.
	return fmt.Sprintf(`local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("id", threads)
end
init = function(args)
  math.randomseed(os.time() * 1000 + id * 7919)
end
request = function()
  wrk.headers["Host"] = string.format("t%%05d.%s", math.random(0, %d))
  return wrk.format("GET", "/")
end
`, base, n-1)
}

// procCPU is process pid's user plus system CPU time, from /proc.
func procCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// The fields after the command name (in parentheses, which may hold
	// spaces): state is field 3, utime 14, stime 15, in clock ticks.
	_, rest, _ := bytes.Cut(data, []byte(") "))
	f := strings.Fields(string(rest))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / clockTicks
}

// clockTicks is USER_HZ, the unit of /proc's CPU times: 100 on Linux.
const clockTicks = 100

func fetch(t *testing.T, url, host string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	return resp, buf.Bytes()
}

func median(rs []benchResult, f func(benchResult) float64) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive whole number", name, v)
	}
	return n
}

func loadAverage() string {
	data, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func cpuModel() (string, error) {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":")), nil
		}
	}
	return "", sc.Err()
}
