package main

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
	"github.com/chapterhouse/chapterhouse/internal/hold"
	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
	"github.com/chapterhouse/chapterhouse/tenantdb/sqlitefile"
)

// crashBin is the program built with its hold points compiled in
// (go build -tags crashtest), once per test binary.
var crashBin struct {
	once sync.Once
	path string
	err  error
	out  []byte
}

func crashBinary(t *testing.T) string {
	t.Helper()
	crashBin.once.Do(func() {
		dir, err := os.MkdirTemp("", "chapterhouse-crashtest-")
		if err != nil {
			crashBin.err = err
			return
		}
		crashBin.path = filepath.Join(dir, "chapterhouse")
		cmd := exec.Command("go", "build", "-tags", "crashtest", "-o", crashBin.path, ".")
		crashBin.out, crashBin.err = cmd.CombinedOutput()
	})
	if crashBin.err != nil {
		t.Fatalf("go build -tags crashtest: %v\n%s", crashBin.err, crashBin.out)
	}
	return crashBin.path
}

// heldServer is the crashtest build serving a data dir, told to stop at
// one hold point: held receives the point once it blocks there.
type heldServer struct {
	*liveServer
	cmd    *exec.Cmd
	held   chan string
	stderr *syncBuffer
}

// startHeld starts the crashtest build on dir with CHAPTERHOUSE_HOLD=point
// ("" for none: the next start after a kill) and waits until it listens.
func startHeld(t *testing.T, dir, point string) *heldServer {
	t.Helper()
	args := []string{"serve", "--data", dir, "--addr", "127.0.0.1:0", "--ask-addr", "127.0.0.1:0", "--base-domain", liveBase, "--no-demo"}
	cmd := exec.Command(crashBinary(t), args...)
	cmd.Env = append(os.Environ(), "CHAPTERHOUSE_HOLD="+point)
	h := &heldServer{cmd: cmd, held: make(chan string, 1), stderr: &syncBuffer{}}
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kill(cmd) })
	go func() {
		lines := bufio.NewScanner(errPipe)
		for lines.Scan() {
			fmt.Fprintln(h.stderr, lines.Text())
			if p, ok := strings.CutPrefix(lines.Text(), "hold "); ok && p == point {
				h.held <- p
			}
		}
	}()
	h.liveServer = awaitListening(t, dir, cmd, out, h.stderr)
	return h
}

// killAt waits until the server blocks at point and kills it there with
// SIGKILL; it fails the test if op (the operation's command) ends first,
// since then the kill would not be inside the operation.
func (h *heldServer) killAt(t *testing.T, point string, op <-chan string) {
	t.Helper()
	select {
	case <-h.held:
		kill(h.cmd)
	case out := <-op:
		kill(h.cmd)
		t.Fatalf("the operation ended without reaching hold point %s:\n%s\n%s", point, out, h.stderr)
	case <-time.After(2 * time.Minute):
		kill(h.cmd)
		t.Fatalf("hold point %s not reached in 2 minutes:\n%s", point, h.stderr)
	}
}

// stopGracefully ends a server that was not held with SIGTERM.
func (h *heldServer) stopGracefully(t *testing.T) {
	t.Helper()
	h.cmd.Process.Signal(syscall.SIGTERM)
	if err := h.cmd.Wait(); err != nil {
		t.Errorf("the server after the kill did not stop cleanly: %v\n%s", err, h.stderr)
	}
}

// crashRow is one kill of the per-operation table.
type crashRow struct{ op, point, outcome string }

// crashTable collects the outcome of every kill, to print per operation.
type crashTable struct {
	mu   sync.Mutex
	rows []crashRow
}

func (c *crashTable) add(op, point, outcome string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rows = append(c.rows, crashRow{op, point, outcome})
}

func (c *crashTable) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "| operation | hold point (kill) | outcome after the next start |\n|---|---|---|\n")
	kills := map[string]int{}
	for _, r := range c.rows {
		kills[r.op]++
		fmt.Fprintf(&b, "| %s | %s | %s |\n", r.op, r.point, r.outcome)
	}
	var ops []string
	for op, n := range kills {
		ops = append(ops, fmt.Sprintf("%s %d", op, n))
	}
	slices.Sort(ops)
	fmt.Fprintf(&b, "kills per operation: %s\n", strings.Join(ops, ", "))
	return b.String()
}

// crashDir is a data dir of the crash test with its tenants' logins and
// the writes acknowledged on them so far.
type crashDir struct {
	dir    string
	tokens map[string]string
	acked  map[string][]string
	round  int // kills so far
}

// newCrashDir makes a data dir with tenants slugs (each with an owner)
// through the crashtest build, stopped again.
func newCrashDir(t *testing.T, slugs ...string) *crashDir {
	t.Helper()
	c := &crashDir{dir: t.TempDir(), tokens: map[string]string{}, acked: map[string][]string{}}
	h := startHeld(t, c.dir, "")
	for _, slug := range slugs {
		email, password := h.newTenant(t, slug)
		c.tokens[slug] = h.Login(t, slug, email, password)
	}
	h.stopGracefully(t)
	return c
}

// addPost adds a published post to tenant slug of the stopped data dir,
// as a marker of the content it had before a round.
func (c *crashDir) addPost(t *testing.T, slug, title string) {
	t.Helper()
	db, err := tenantdb.Open(context.Background(), c.dir, tenantIDOffline(t, c.dir, slug))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.SavePost(context.Background(), &tenantdb.Post{Title: title, Body: "marker", Published: true}); err != nil {
		t.Fatal(err)
	}
}

// kill runs one kill: the crashtest build is started held at point with
// two writers on "alpha", op is started against it (its output is sent
// on the channel it returns when it ends), the server is killed at the
// point, atKill (if any) looks at what the kill left, the server is
// started again as after a crash, and check runs against that next
// start. Afterwards every file is checked and every
// acknowledged write looked for, and nothing temporary may be left in
// the data dir.
func (c *crashDir) kill(t *testing.T, point string, op func(h *heldServer) <-chan string, atKill func(), check func(next *heldServer)) {
	t.Helper()
	c.round++
	h := startHeld(t, c.dir, point)
	w := apiWriters(t, h.Addr, h.base, h.Port(), "alpha", c.tokens["alpha"], 2)
	w.waitFor(t, 2)
	done := op(h)
	h.killAt(t, point, done)
	<-done
	w.halt()
	c.acked["alpha"] = append(c.acked["alpha"], w.snapshot()...)
	if atKill != nil {
		atKill()
	}
	next := startHeld(t, c.dir, "")
	if check != nil {
		check(next)
	}
	next.stopGracefully(t)
	checkAfterCrash(t, c.dir, c.round, point, c.acked, nil)
	checkNoLeftovers(t, c.dir)
	if t.Failed() {
		t.Fatalf("killed at %s: the data dir is not sound after the next start", point)
	}
}

// checkNoLeftovers fails on a temporary file in the data dir (DATA/tmp,
// the records of work files in DATA/work and of moves in DATA/moves must
// be gone or empty, nothing may end in .tmp), on a tenant file the
// catalog does not know (a file renamed in before its catalog entry) and
// on a trash file that is a live tenant file under another name.
func checkNoLeftovers(t *testing.T, dir string) {
	t.Helper()
	for _, sub := range []string{"tmp", "work", "moves"} {
		if entries, err := os.ReadDir(filepath.Join(dir, sub)); err == nil && len(entries) > 0 {
			t.Errorf("DATA/%s holds %d entries after the next start (first %s)", sub, len(entries), entries[0].Name())
		}
	}
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(d.Name(), ".tmp") {
			t.Errorf("a temporary file survived the next start: %s", path)
		}
		return nil
	})
	cat, err := catalog.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	known := map[string]bool{}
	tenants, _ := cat.Tenants(context.Background())
	for _, tn := range tenants {
		known[tn.ID+".db"] = true
	}
	files, _ := filepath.Glob(filepath.Join(dir, "tenants", "*.db"))
	for _, f := range files {
		if !known[filepath.Base(f)] {
			t.Errorf("tenant file %s is in no catalog entry after the next start", filepath.Base(f))
		}
	}
	// A file in the trash is never a second name of a live tenant file:
	// restoring it would give two tenants one file.
	trashed, _ := filepath.Glob(filepath.Join(dir, "trash", "*.db"))
	for _, tf := range trashed {
		ti, err := os.Stat(tf)
		if err != nil {
			continue
		}
		for _, f := range files {
			if fi, err := os.Stat(f); err == nil && os.SameFile(ti, fi) {
				t.Errorf("trash file %s is the live tenant file %s under another name", filepath.Base(tf), filepath.Base(f))
			}
		}
	}
}

// runHeldCLI runs an operator command against the data dir (through the
// server's control socket) in the background; the channel gets its output
// when it ends.
func runHeldCLI(t *testing.T, h *heldServer, args ...string) <-chan string {
	done := make(chan string, 1)
	go func() {
		out, errOut, err := h.cli(t, "", args...)
		done <- fmt.Sprintf("%v\n%s%s", err, out, errOut)
	}()
	return done
}

// TestCrashInsideOperations kills the server with SIGKILL inside each long
// operation, at hold points compiled into the crashtest build
// (internal/hold): move, backup, export, import, restore and migration on
// open, at least three kills each, and asserts per operation what the
// next start must find. It prints the table of kills and outcomes.
func TestCrashInsideOperations(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: not in -short runs")
	}
	table := &crashTable{}
	t.Cleanup(func() {
		t.Logf("kills inside operations:\n%s", table)
		if crashBin.path != "" {
			os.RemoveAll(filepath.Dir(crashBin.path))
		}
		// Built anew by a next run of the test (-count N).
		crashBin.once, crashBin.path, crashBin.err, crashBin.out = sync.Once{}, "", nil, nil
	})
	ctx := context.Background()
	var ran sync.Map // the subtests run (-run may pick some)

	t.Run("export", func(t *testing.T) {
		ran.Store("export", true)
		c := newCrashDir(t, "alpha", "beta")
		exports := t.TempDir()
		for _, point := range []string{"export.snapshot", "export.synced", "export.renamed"} {
			file := filepath.Join(exports, strings.ReplaceAll(point, ".", "-")+".db")
			outcome := ""
			c.kill(t, point, func(h *heldServer) <-chan string {
				return runHeldCLI(t, h, "export", "beta", file)
			}, nil, func(next *heldServer) {
				if _, err := os.Stat(file); err != nil {
					outcome = "absent"
				} else {
					if _, err := tenantdb.CheckTenantFile(ctx, file); err != nil {
						t.Errorf("%s: the export exists but is not complete: %v", point, err)
					}
					slug := "imp" + fmt.Sprint(c.round)
					if out, errOut, err := next.cli(t, "", "import", slug, file); err != nil {
						t.Errorf("%s: the export exists but does not import: %v %s%s", point, err, out, errOut)
					}
					outcome = "complete, imports"
				}
				if tmps, _ := filepath.Glob(filepath.Join(exports, ".*.tmp")); len(tmps) > 0 {
					t.Errorf("%s: the export's work file %s survived the next start", point, filepath.Base(tmps[0]))
				}
			})
			table.add("export", point, outcome)
		}
	})

	t.Run("backup", func(t *testing.T) {
		ran.Store("backup", true)
		c := newCrashDir(t, "alpha", "beta", "gamma")
		backups := t.TempDir()
		for _, point := range []string{"backup.catalog", "backup.tenant", "backup.manifest", "backup.renamed"} {
			dir := filepath.Join(backups, strings.ReplaceAll(point, ".", "-"))
			outcome := ""
			c.kill(t, point, func(h *heldServer) <-chan string {
				return runHeldCLI(t, h, "backup", dir)
			}, nil, func(next *heldServer) {
				if _, err := os.Stat(dir); err != nil {
					outcome = "absent"
				} else {
					if out, errOut, err := next.cli(t, "", "backup", "verify", dir); err != nil {
						t.Errorf("%s: the backup exists but does not verify: %v %s%s", point, err, out, errOut)
					}
					outcome = "complete, verifies"
				}
				if tmps, _ := filepath.Glob(filepath.Join(backups, ".*.tmp")); len(tmps) > 0 {
					t.Errorf("%s: the backup's work dir %s survived the next start", point, filepath.Base(tmps[0]))
				}
			})
			table.add("backup", point, outcome)
		}
	})

	t.Run("import", func(t *testing.T) {
		ran.Store("import", true)
		c := newCrashDir(t, "alpha", "beta", "gamma")
		c.addPost(t, "gamma", "SEED CONTENT")
		seed := filepath.Join(t.TempDir(), "gamma.db")
		h := startHeld(t, c.dir, "")
		if _, errOut, err := h.cli(t, "", "export", "gamma", seed); err != nil {
			t.Fatal(errOut)
		}
		h.stopGracefully(t)
		for _, point := range []string{"import.prepared", "import.linked", "import.renamed"} {
			marker := "beta before a kill at " + point
			c.addPost(t, "beta", marker)
			outcome := ""
			c.kill(t, point, func(h *heldServer) <-chan string {
				return runHeldCLI(t, h, "import", "beta", seed, "--replace")
			}, nil, func(next *heldServer) {
				news := next.Text(t, "beta", "/news")
				switch {
				case strings.Contains(news, marker) && !strings.Contains(news, "SEED CONTENT"):
					outcome = "old content serving"
				case strings.Contains(news, "SEED CONTENT") && !strings.Contains(news, marker):
					outcome = "replaced, new content serving"
				default:
					t.Errorf("%s: beta serves neither its old content nor the import's:\n%.500s", point, news)
				}
			})
			table.add("import --replace", point, outcome)
		}
		// A new tenant's file renamed into DATA/tenants but not yet in
		// the catalog.
		outcome := ""
		c.kill(t, "import.adopted", func(h *heldServer) <-chan string {
			return runHeldCLI(t, h, "import", "delta", seed)
		}, nil, func(next *heldServer) {
			status, _ := next.Fetch(t, "delta", "/")
			switch status {
			case http.StatusOK:
				outcome = "created, serving"
			case http.StatusNotFound:
				outcome = "absent"
			default:
				t.Errorf("import.adopted: the new tenant answers %d", status)
			}
		})
		table.add("import (new)", "import.adopted", outcome)
	})

	t.Run("restore", func(t *testing.T) {
		ran.Store("restore", true)
		c := newCrashDir(t, "alpha", "beta")
		c.addPost(t, "beta", "BETA AT BACKUP")
		backup := filepath.Join(t.TempDir(), "backup")
		h := startHeld(t, c.dir, "")
		if _, errOut, err := h.cli(t, "", "backup", backup); err != nil {
			t.Fatal(errOut)
		}
		h.stopGracefully(t)
		for _, point := range []string{"restore.checked", "import.linked", "import.renamed"} {
			marker := "beta before a kill at " + point
			c.addPost(t, "beta", marker)
			outcome := ""
			c.kill(t, point, func(h *heldServer) <-chan string {
				return runHeldCLI(t, h, "restore", "beta", "--from", backup)
			}, nil, func(next *heldServer) {
				news := next.Text(t, "beta", "/news")
				posts := next.Call(t, next.Browser(), "GET", next.SiteURL("beta", "/api/posts"), nil, webtest.Bearer(c.tokens["beta"])...)
				switch {
				case strings.Contains(news, marker):
					outcome = "old content serving"
				case strings.Contains(news, "BETA AT BACKUP"):
					outcome = "restored, backup serving"
					// The backup's sessions were ended before it served.
					if posts.Status != http.StatusUnauthorized {
						t.Errorf("%s: the restored tenant takes a token of the time of the backup: %d", point, posts.Status)
						outcome += ", its old logins back"
					}
				default:
					t.Errorf("%s: beta serves neither its old content nor the backup's:\n%.500s", point, news)
				}
			})
			table.add("restore", point, outcome)
		}
	})

	t.Run("move", func(t *testing.T) {
		ran.Store("move", true)
		points := []string{"move.frozen", "move.exported", "move.imported", "move.committed", "move.thawed"}
		var slugs []string
		for i := range points {
			slugs = append(slugs, fmt.Sprintf("mv%d", i))
		}
		c := newCrashDir(t, append([]string{"alpha"}, slugs...)...)
		dest := filepath.Join(t.TempDir(), "dest")
		for i, point := range points {
			slug := slugs[i]
			var w *postWriters
			outcome := ""
			c.kill(t, point, func(h *heldServer) <-chan string {
				w = apiWriters(t, h.Addr, h.base, h.Port(), slug, c.tokens[slug], 2)
				w.waitFor(t, 2)
				return runHeldCLI(t, h, "move", slug, "--to", dest)
			}, nil, func(next *heldServer) {
				w.halt()
				acked := w.snapshot()
				if _, ok := tenantAt(t, c.dir, slug); ok {
					// Not moved: the source serves and takes writes, and
					// the copy at the destination, if any, was deleted.
					if status, _ := next.Fetch(t, slug, "/"); status != http.StatusOK {
						t.Errorf("%s: the source answers %d", point, status)
					}
					r := next.Call(t, next.Browser(), "POST", next.SiteURL(slug, "/api/posts"),
						map[string]any{"title": "after the kill at " + point, "published": true}, webtest.Bearer(c.tokens[slug])...)
					if r.Status != http.StatusCreated {
						t.Errorf("%s: the source does not take writes after the next start: %d %s", point, r.Status, r.Body)
					}
					outcome = "not moved: the source serves and takes writes"
					if there, ok := tenantAt(t, dest, slug); ok {
						t.Errorf("%s: the tenant is served here and a %s copy stays at the destination", point, there.Status)
					}
					c.acked[slug] = append(c.acked[slug], acked...)
					return
				}
				there, ok := tenantAt(t, dest, slug)
				if !ok || there.Status != catalog.StatusActive {
					t.Errorf("%s: the tenant left the source but is not active at the destination (%v %q)", point, ok, there.Status)
					return
				}
				have := postTitles(t, tenantdb.TenantPath(dest, there.ID))
				for _, title := range acked {
					if !have[title] {
						t.Errorf("%s: the moved tenant lost %q, which was acknowledged", point, title)
					}
				}
				outcome = "moved: active at the destination only"
			})
			table.add("move", point, outcome)
		}
	})

	t.Run("migration", func(t *testing.T) {
		ran.Store("migration", true)
		c := newCrashDir(t, "alpha", "mig")
		id := tenantIDOffline(t, c.dir, "mig")
		path := tenantdb.TenantPath(c.dir, id)
		for _, point := range []string{"migrate.locked", "migrate.tx", "migrate.marker"} {
			sqlitefile.RemoveFiles(path)
			if err := os.WriteFile(path, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			outcome := ""
			c.kill(t, point, func(h *heldServer) <-chan string {
				done := make(chan string, 1)
				go func() {
					resp, err := h.Browser().Get(h.SiteURL("mig", "/"))
					if err == nil {
						resp.Body.Close()
						done <- resp.Status
						return
					}
					done <- err.Error()
				}()
				return done
			}, func() {
				outcome = "user_version/goose at the kill " + userVersionOf(t, path)
			}, func(next *heldServer) {
				if status, _ := next.Fetch(t, "mig", "/"); status != http.StatusOK {
					t.Errorf("%s: the tenant answers %d after the next start", point, status)
				}
			})
			if v := userVersionOf(t, path); v != fmt.Sprintf("%d/%d", tenantdb.LatestVersion(), tenantdb.LatestVersion()) {
				t.Errorf("%s: after the next open the file is at %s", point, v)
			}
			table.add("migration on open", point, outcome+"; migrated at the next open")
		}
	})

	for _, p := range hold.Points {
		op, _, _ := strings.Cut(p, ".")
		if op == "migrate" {
			op = "migration"
		}
		if _, ok := ran.Load(op); !ok || t.Failed() {
			continue
		}
		if !slices.ContainsFunc(table.rows, func(r crashRow) bool { return r.point == p }) {
			t.Errorf("hold point %s was never killed at", p)
		}
	}
}

// tenantAt finds tenant slug in the catalog of data dir dir, if it has
// one.
func tenantAt(t *testing.T, dir, slug string) (catalog.Tenant, bool) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dir, "catalog.db")); err != nil {
		return catalog.Tenant{}, false
	}
	cat, err := catalog.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	tn, err := cat.Tenant(slug)
	return tn, err == nil
}
