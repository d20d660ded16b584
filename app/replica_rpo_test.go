package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
)

// startReplicaChild is startChild with --replica url: a server process
// on dir that the test kills with SIGKILL.
func startReplicaChild(t *testing.T, dir, url string) (*liveServer, *exec.Cmd, *syncBuffer) {
	t.Helper()
	args := []string{"serve", "--data", dir, "--addr", "127.0.0.1:0", "--ask-addr", "127.0.0.1:0", "--base-domain", liveBase, "--no-demo", "--replica", url}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
	cmd.Env = append(os.Environ(), "CHAPTERHOUSE_CRASH_CHILD="+strings.Join(args, "\n"))
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kill(cmd) })
	return awaitListening(t, dir, cmd, out, stderr), cmd, stderr
}

// The RPO test: a server process replicating to a directory serves API
// writes to 20 tenants and is killed with SIGKILL; its data dir is
// deleted and `restore --all` rebuilds it from the replica alone. Every
// write acknowledged more than --replica-interval + 1 s before the kill
// must be back. The measured loss window (from the oldest lost write
// to the kill) is logged per round. CHAPTERHOUSE_RPO_ROUNDS sets the
// rounds (default 10).
func TestReplicaRPO(t *testing.T) {
	if testing.Short() {
		t.Skip("RPO test: not in -short runs")
	}
	rounds := 10
	if n, err := strconv.Atoi(os.Getenv("CHAPTERHOUSE_RPO_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	const interval = time.Second // the default --replica-interval
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	var windows []time.Duration
	totalAcked, totalLost := 0, 0
	for round := range rounds {
		// Each round has a data dir and a replica of its own.
		dir := shortTempDir(t)
		url := "file://" + filepath.Join(t.TempDir(), "replica")
		ls, cmd, logs := startReplicaChild(t, dir, url)
		slugs := make([]string, 20)
		tokens := map[string]string{}
		for i := range slugs {
			slugs[i] = fmt.Sprintf("rpo%02d", i)
			email, pw := ls.newTenant(t, slugs[i])
			tokens[slugs[i]] = ls.Login(t, slugs[i], email, pw)
		}
		type ack struct {
			title string
			at    time.Time
		}
		var mu sync.Mutex
		acked := map[string][]ack{}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for _, slug := range slugs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := ls.Browser()
				c.Timeout = 5 * time.Second
				for n := 0; ; n++ {
					select {
					case <-stop:
						return
					default:
					}
					title := fmt.Sprintf("r%d %s %d", round, slug, n)
					body := fmt.Sprintf(`{"title":%q,"published":true}`, title)
					req, _ := http.NewRequest("POST", ls.SiteURL(slug, "/api/posts"), bytes.NewReader([]byte(body)))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("Authorization", "Bearer "+tokens[slug])
					resp, err := c.Do(req)
					if err != nil {
						return // the server is gone
					}
					resp.Body.Close()
					now := time.Now()
					if resp.StatusCode == http.StatusCreated {
						mu.Lock()
						acked[slug] = append(acked[slug], ack{title, now})
						mu.Unlock()
					}
				}
			}()
		}
		time.Sleep(1500*time.Millisecond + time.Duration(rng.IntN(2000))*time.Millisecond)
		killedAt := time.Now()
		kill(cmd)
		close(stop)
		wg.Wait()

		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		var out, errOut bytes.Buffer
		if err := run(context.Background(), []string{"restore", "--all", "--replica", url, "--data", dir}, noEnv, strings.NewReader(""), &out, &errOut); err != nil {
			t.Fatalf("round %d: restore --all: %v\n%s%s\nthe server's warnings and errors:\n%s", round, err, out.String(), errOut.String(), grepLines(grepLines(logs.String(), "level="), "R"))
		}
		if !strings.Contains(out.String(), "20 tenants") {
			t.Errorf("round %d: restore --all restored not 20 tenants:\n%s", round, out.String())
		}

		present := restoredTitles(t, dir)
		var window time.Duration
		n, lost := 0, 0
		for slug, acks := range acked {
			for _, a := range acks {
				n++
				if present[slug][a.title] {
					continue
				}
				lost++
				if w := killedAt.Sub(a.at); w > window {
					window = w
				}
				if a.at.Before(killedAt.Add(-interval - time.Second)) {
					t.Errorf("round %d: %s: %q acknowledged %s before the kill is not in the restored data dir",
						round, slug, a.title, killedAt.Sub(a.at).Round(time.Millisecond))
				}
			}
		}
		totalAcked += n
		totalLost += lost
		windows = append(windows, window)
		t.Logf("round %d: %d writes acknowledged, %d not restored (all within the last %s before the kill)", round, n, lost, window.Round(time.Millisecond))
		if n == 0 {
			t.Fatalf("round %d: no write was acknowledged", round)
		}
	}
	sort.Slice(windows, func(i, j int) bool { return windows[i] < windows[j] })
	t.Logf("RPO over %d rounds: %d of %d acknowledged writes lost; loss window median %s, max %s (bound: %s)",
		rounds, totalLost, totalAcked, windows[len(windows)/2].Round(time.Millisecond), windows[len(windows)-1].Round(time.Millisecond), interval+time.Second)
}

// restoredTitles reads every tenant's post titles in the data dir dir,
// which no server has open: slug -> titles.
func restoredTitles(t *testing.T, dir string) map[string]map[string]bool {
	t.Helper()
	ctx := context.Background()
	ts, _, err := catalog.ReadFile(ctx, catalog.Path(dir))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]bool{}
	for _, ten := range ts {
		db, err := tenantdb.Open(ctx, dir, ten.ID)
		if err != nil {
			t.Fatalf("%s: %v", ten.Slug, err)
		}
		ps, _, err := db.Posts(ctx, tenantdb.PostQuery{Limit: 100000})
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]bool{}
		for _, p := range ps {
			m[p.Title] = true
		}
		out[ten.Slug] = m
	}
	return out
}
