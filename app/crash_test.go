package main

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/cli"
	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
	"github.com/chapterhouse/chapterhouse/tenantdb/sqlitefile"
)

// TestCrashChild is not a test of its own: it is the server process of
// TestCrashRecovery, this test binary run again with the server's
// arguments in CHAPTERHOUSE_CRASH_CHILD, killed with SIGKILL.
func TestCrashChild(t *testing.T) {
	args := os.Getenv("CHAPTERHOUSE_CRASH_CHILD")
	if args == "" {
		t.Skip("the child server process of TestCrashRecovery")
	}
	err := run(context.Background(), strings.Split(args, "\n"), noEnv, strings.NewReader(""), os.Stdout, os.Stderr)
	os.Exit(cli.ExitCode(os.Stderr, err))
}

// startChild starts a server process on data dir dir and waits until it
// listens.
func startChild(t *testing.T, dir string) (*liveServer, *exec.Cmd) {
	t.Helper()
	args := []string{"serve", "--data", dir, "--addr", "127.0.0.1:0", "--ask-addr", "127.0.0.1:0", "--base-domain", liveBase, "--no-demo"}
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
	return awaitListening(t, dir, cmd, out, stderr), cmd
}

// awaitListening reads a started child server's stdout until it says
// where it listens, and returns it as a liveServer on dir that stop
// kills; a child that exits first fails the test with its stderr.
func awaitListening(t *testing.T, dir string, cmd *exec.Cmd, out io.Reader, stderr fmt.Stringer) *liveServer {
	t.Helper()
	ls := &liveServer{dir: dir, base: liveBase, stdout: &syncBuffer{}, stop: func() { kill(cmd) }}
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		if u, ok := strings.CutPrefix(lines.Text(), "ops listener: "); ok {
			ls.ops, _, _ = strings.Cut(u, " ")
		}
		if u, ok := strings.CutPrefix(lines.Text(), "listening on http://"); ok {
			ls.Client = webtest.Client{Addr: u}
			break
		}
	}
	if ls.Addr == "" {
		kill(cmd)
		t.Fatalf("the child server did not start:\n%s", stderr)
	}
	go io.Copy(io.Discard, out)
	return ls
}

func kill(cmd *exec.Cmd) {
	if cmd.ProcessState == nil {
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
	}
}

// The crash test: a server process under write load is killed with
// SIGKILL at random moments, at least 20 times, also while an export, an
// import --replace, a tenant creation and migrations run. After every kill each tenant file and the catalog
// pass integrity_check, every acknowledged write is there, and an export
// file is complete or absent. CHAPTERHOUSE_CRASH_ROUNDS changes the number
// of rounds (default 24).
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: not in -short runs")
	}
	rounds := 24
	if n, err := strconv.Atoi(os.Getenv("CHAPTERHOUSE_CRASH_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	seed := uint64(time.Now().UnixNano())
	if s, err := strconv.ParseUint(os.Getenv("CHAPTERHOUSE_CRASH_SEED"), 10, 64); err == nil {
		seed = s
	}
	t.Logf("seed %d (CHAPTERHOUSE_CRASH_SEED repeats a run)", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	dir := t.TempDir()
	exports := t.TempDir()

	// Setup: tenants with owners, and scratch tenants whose files are
	// emptied before a migration round, so that opening them migrates.
	ls, cmd := startChild(t, dir)
	writable := []string{"alpha", "beta", "gamma"}
	tokens := map[string]string{}
	for _, slug := range writable {
		email, password := ls.newTenant(t, slug)
		tokens[slug] = ls.Login(t, slug, email, password)
	}
	scratch := []string{"mig0", "mig1", "mig2", "mig3"}
	for _, slug := range scratch {
		if out, errOut, err := ls.cli(t, "", "tenant", "create", slug, "--name", "Scratch "+slug); err != nil {
			t.Fatalf("%v %s %s", err, out, errOut)
		}
	}
	seedExport := filepath.Join(t.TempDir(), "alpha.db")
	if _, errOut, err := ls.cli(t, "", "export", "alpha", seedExport); err != nil {
		t.Fatal(errOut)
	}
	kill(cmd)
	ids := map[string]string{}
	for _, slug := range scratch {
		ids[slug] = tenantIDOffline(t, dir, slug)
	}

	acked := map[string][]string{}
	var exportFiles []string
	migrated := map[string]int{} // scratch tenants by user_version/goose version at the kill
	exportsDone, exportsCut := 0, 0
	for round := range rounds {
		mode := []string{"writes", "export", "migration", "replace", "create"}[round%5]
		if mode == "migration" {
			for _, slug := range scratch {
				path := tenantdb.TenantPath(dir, ids[slug])
				sqlitefile.RemoveFiles(path)
				if err := os.WriteFile(path, nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
		}
		ls, cmd := startChild(t, dir)
		var writers []*postWriters
		for _, slug := range writable {
			writers = append(writers, apiWriters(t, ls.Addr, ls.base, ls.Port(), slug, tokens[slug], 2))
		}
		var wg sync.WaitGroup
		switch mode {
		case "export":
			writers[0].waitFor(t, 5)
			file := filepath.Join(exports, fmt.Sprintf("round-%d.db", round))
			exportFiles = append(exportFiles, file)
			wg.Add(1)
			go func() {
				defer wg.Done()
				ls.cli(t, "", "export", "alpha", file) // fails when the server dies under it
			}()
		case "migration":
			c := ls.Browser()
			for _, slug := range scratch {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if resp, err := c.Get(ls.SiteURL(slug, "/")); err == nil {
						resp.Body.Close()
					}
				}()
			}
		case "replace":
			wg.Add(1)
			go func() {
				defer wg.Done()
				ls.cli(t, "", "import", "mig1", seedExport, "--replace")
			}()
		case "create":
			wg.Add(1)
			go func() {
				defer wg.Done()
				ls.cli(t, "", "tenant", "create", fmt.Sprintf("new%d", round), "--name", "Created in a crash")
			}()
		}
		delay := time.Duration(rng.IntN(400)) * time.Millisecond
		if mode == "migration" {
			delay = time.Duration(rng.IntN(800)) * time.Millisecond // before, while and after the opens migrate
		}
		time.Sleep(delay)
		kill(cmd)
		wg.Wait()
		switch mode {
		case "migration":
			for _, slug := range scratch {
				migrated[userVersionOf(t, tenantdb.TenantPath(dir, ids[slug]))]++
			}
		case "export":
			if _, err := os.Stat(exportFiles[len(exportFiles)-1]); err == nil {
				exportsDone++
			} else {
				exportsCut++
			}
		}
		for i, w := range writers {
			w.halt()
			acked[writable[i]] = append(acked[writable[i]], w.snapshot()...)
		}
		checkAfterCrash(t, dir, round, mode, acked, exportFiles)
		if t.Failed() {
			t.Fatalf("round %d (%s): the data dir is not sound after the kill", round, mode)
		}
	}
	total := 0
	for _, a := range acked {
		total += len(a)
	}
	if total < rounds {
		t.Errorf("only %d writes were acknowledged in %d rounds: the load was too light to prove anything", total, rounds)
	}
	t.Logf("%d rounds, %d acknowledged writes, all present after every kill", rounds, total)
	t.Logf("exports killed midway: %d, finished before the kill: %d; scratch tenants at the kill by schema version: %v", exportsCut, exportsDone, migrated)
}

// userVersionOf reads the schema version of a closed tenant file as SQLite
// sees it (WAL included), without migrating it: "user_version/goose's".
func userVersionOf(t *testing.T, path string) string {
	t.Helper()
	raw, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var uv int64
	goose := sql.NullInt64{Int64: -1}
	raw.QueryRow("PRAGMA user_version").Scan(&uv)
	raw.QueryRow("SELECT max(version_id) FROM goose_db_version").Scan(&goose)
	return fmt.Sprintf("%d/%d", uv, goose.Int64)
}

// tenantIDOffline reads a tenant's id from the catalog file of a data dir
// no server owns.
func tenantIDOffline(t *testing.T, dir, slug string) string {
	t.Helper()
	cat, err := catalog.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	tn, err := cat.Tenant(slug)
	if err != nil {
		t.Fatal(err)
	}
	return tn.ID
}

// checkAfterCrash opens the data dir of a killed server as the next one
// would and checks every file and every acknowledged write.
func checkAfterCrash(t *testing.T, dir string, round int, mode string, acked map[string][]string, exports []string) {
	t.Helper()
	ctx := context.Background()
	cat, err := catalog.Open(ctx, dir)
	if err != nil {
		t.Fatalf("round %d: catalog: %v", round, err)
	}
	defer cat.Close()
	if err := cat.Check(ctx); err != nil {
		t.Errorf("round %d: catalog: %v", round, err)
	}
	tenants, err := cat.Tenants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tn := range tenants {
		db, err := tenantdb.Open(ctx, dir, tn.ID)
		if err != nil {
			t.Errorf("round %d (%s): tenant %s does not open: %v", round, mode, tn.Slug, err)
			continue
		}
		if err := db.Check(ctx); err != nil {
			t.Errorf("round %d (%s): tenant %s: %v", round, mode, tn.Slug, err)
		}
		posts, _, err := db.Posts(ctx, tenantdb.PostQuery{Limit: 1 << 30})
		if err != nil {
			t.Errorf("round %d: tenant %s: %v", round, tn.Slug, err)
		}
		have := map[string]bool{}
		for _, p := range posts {
			have[p.Title] = true
		}
		for _, title := range acked[tn.Slug] {
			if !have[title] {
				t.Errorf("round %d (%s): tenant %s lost %q, which was acknowledged", round, mode, tn.Slug, title)
			}
		}
		db.Close()
	}
	for _, f := range exports {
		if _, err := os.Stat(f); err != nil {
			continue // absent: the export did not finish
		}
		if _, err := tenantdb.CheckTenantFile(ctx, f); err != nil {
			t.Errorf("round %d: export %s exists but is not complete: %v", round, filepath.Base(f), err)
		}
	}
}
