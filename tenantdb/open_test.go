package tenantdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/chapterhouse/chapterhouse/tenantdb/sqlitefile"
)

func TestCreateMigratesAndMarks(t *testing.T) {
	ctx := context.Background()
	dir, id := newTenant(t)
	db, err := Open(ctx, dir, id)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.Migrated {
		t.Error("second open ran migrations; want only the version check")
	}
	var appID, version int64
	db.r.QueryRow("PRAGMA application_id").Scan(&appID)
	db.r.QueryRow("PRAGMA user_version").Scan(&version)
	if appID != sqlitefile.ApplicationID || version != LatestVersion() {
		t.Errorf("application_id %x, user_version %d; want %x, %d", appID, version, sqlitefile.ApplicationID, LatestVersion())
	}
	var mode string
	db.r.QueryRow("PRAGMA journal_mode").Scan(&mode)
	if mode != "wal" {
		t.Errorf("journal_mode %q, want wal", mode)
	}
}

func TestCreateRefusesExistingFile(t *testing.T) {
	dir, id := newTenant(t)
	if _, err := Create(context.Background(), dir, id); !errors.Is(err, ErrConflict) {
		t.Fatalf("Create over an existing file: %v, want ErrConflict", err)
	}
}

func TestOpenNeverCreates(t *testing.T) {
	dir := t.TempDir()
	for _, id := range []string{NewTenantID(), "../catalog", "x", "AAAAAAAAAAAAAAAA", "aaaaaaaaaaaaaaa/"} {
		if _, err := Open(context.Background(), dir, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Open(%q) = %v, want ErrNotFound", id, err)
		}
	}
	if n := countFiles(t, dir); n != 0 {
		t.Errorf("%d files in the data dir after opening missing tenants, want 0", n)
	}
}

func TestNewerSchemaIsRefused(t *testing.T) {
	ctx := context.Background()
	dir, id := newTenant(t)
	raw, err := sql.Open("sqlite", TenantPath(dir, id))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(fmt.Sprintf("PRAGMA user_version = %d", LatestVersion()+1)); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	_, err = Open(ctx, dir, id)
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("Open of a newer file: %v, want ErrSchemaTooNew", err)
	}
	if !strings.Contains(err.Error(), "newer than this binary") {
		t.Errorf("error %q does not say what is wrong", err)
	}
}

// Many independent openers (each its own connections, as separate
// processes would have) race to migrate one empty file: exactly one runs
// goose and nobody fails.
func TestConcurrentFirstOpensMigrateOnce(t *testing.T) {
	dir := t.TempDir()
	id := emptyTenantFile(t, dir)
	const n = 8
	var wg sync.WaitGroup
	results := make(chan error, n)
	migrated := make(chan bool, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := Open(context.Background(), dir, id)
			if err == nil {
				migrated <- db.Migrated
				err = db.Close()
			}
			results <- err
		}()
	}
	wg.Wait()
	close(results)
	close(migrated)
	for err := range results {
		if err != nil {
			t.Errorf("concurrent open: %v", err)
		}
	}
	ran := 0
	for m := range migrated {
		if m {
			ran++
		}
	}
	if ran != 1 {
		t.Errorf("%d opens ran migrations, want exactly 1", ran)
	}
	assertMigratedOnce(t, dir, id)
}

func assertMigratedOnce(t *testing.T, dir, id string) {
	t.Helper()
	raw, err := sql.Open("sqlite", TenantPath(dir, id))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var rows, distinct int
	if err := raw.QueryRow("SELECT count(*), count(DISTINCT version_id) FROM goose_db_version WHERE version_id > 0").Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	if want := len(migrationVersions(t)); rows != distinct || distinct != want {
		t.Errorf("goose_db_version has %d rows for %d versions, want %d once each", rows, distinct, want)
	}
}

// The same race between real processes: the test binary re-executes
// itself as migrators.
func TestConcurrentProcessesMigrateOnce(t *testing.T) {
	if dir := os.Getenv("CHAPTERHOUSE_TEST_MIGRATE_DIR"); dir != "" {
		db, err := Open(context.Background(), dir, os.Getenv("CHAPTERHOUSE_TEST_MIGRATE_ID"))
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("migrated:", db.Migrated)
		db.Close()
		os.Exit(0)
	}
	dir := t.TempDir()
	id := emptyTenantFile(t, dir)
	const n = 4
	var wg sync.WaitGroup
	outs := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(os.Args[0], "-test.run=^TestConcurrentProcessesMigrateOnce$")
			cmd.Env = append(os.Environ(), "CHAPTERHOUSE_TEST_MIGRATE_DIR="+dir, "CHAPTERHOUSE_TEST_MIGRATE_ID="+id)
			out, err := cmd.CombinedOutput()
			outs[i], errs[i] = string(out), err
		}()
	}
	wg.Wait()
	ran := 0
	for i := range n {
		if errs[i] != nil {
			t.Errorf("migrator %d: %v\n%s", i, errs[i], outs[i])
		}
		if strings.Contains(outs[i], "migrated: true") {
			ran++
		}
	}
	if ran != 1 {
		t.Errorf("%d processes ran migrations, want exactly 1:\n%v", ran, outs)
	}
	assertMigratedOnce(t, dir, id)
}

// Tenant files are opened with the unix-excl VFS: while this process has
// a tenant open, its WAL index is in memory (no -shm file) and another
// process cannot read the file; once it is closed, it can. Connections of
// this process share the file: an export runs beside a writer.
func TestTenantFileIsExclusiveWhileOpen(t *testing.T) {
	if path := os.Getenv("CHAPTERHOUSE_TEST_READ_PATH"); path != "" {
		raw, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
		if err == nil {
			var v int64
			err = raw.QueryRow("PRAGMA user_version").Scan(&v)
			raw.Close()
		}
		fmt.Println("read:", err)
		os.Exit(0)
	}
	readFromOtherProcess := func(path string) string {
		t.Helper()
		cmd := exec.Command(os.Args[0], "-test.run=^TestTenantFileIsExclusiveWhileOpen$")
		cmd.Env = append(os.Environ(), "CHAPTERHOUSE_TEST_READ_PATH="+path)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("reader process: %v\n%s", err, out)
		}
		return strings.TrimSpace(string(out))
	}

	ctx := context.Background()
	dir, id := newTenant(t)
	path := TenantPath(dir, id)
	db, err := Open(ctx, dir, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.UpdateSite(ctx, &Site{Name: "Post 17", Timezone: "UTC", AccentColor: DefaultAccent}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + "-shm"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a -shm file exists while the tenant is open (%v); want the WAL index in memory", err)
	}
	if got := readFromOtherProcess(path); !strings.Contains(got, "locked") {
		t.Errorf("another process read the open tenant file: %q; want database is locked", got)
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "UPDATE site SET tagline = 'uncommitted'"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Export(ctx, filepath.Join(t.TempDir(), "export.db")); err != nil {
		t.Errorf("export beside an open write transaction: %v", err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readFromOtherProcess(path); got != "read: <nil>" {
		t.Errorf("another process after close: %q, want read: <nil>", got)
	}
}

// With unix-excl, a connection that closes while the process still holds
// the file's lock parks its descriptor for reuse instead of closing it.
// Reader connections that come and go must therefore reuse descriptors,
// not pile them up, and closing the tenant must release them all.
func TestReaderChurnDoesNotLeakDescriptors(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("counts descriptors in /proc/self/fd, which only Linux has")
	}
	openFDs := func() int {
		t.Helper()
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		return len(ents)
	}
	ctx := context.Background()
	dir, id := newTenant(t)
	before := openFDs()
	db, err := Open(ctx, dir, id)
	if err != nil {
		t.Fatal(err)
	}
	// reader takes a reader connection of its own and reads through it.
	reader := func() *sql.Conn {
		t.Helper()
		c, err := db.r.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var v int64
		if err := c.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
			t.Fatal(err)
		}
		return c
	}
	// One reader stays open throughout, so the process keeps its lock on
	// the file while the other three come and go.
	hold := reader()
	churn := func() {
		t.Helper()
		var conns []*sql.Conn
		for range 3 {
			conns = append(conns, reader())
		}
		for _, c := range conns {
			c.Close()
		}
		db.r.SetMaxIdleConns(0)
		db.r.SetMaxIdleConns(4)
	}
	churn()
	settled := openFDs()
	for range 20 {
		churn()
	}
	if n := openFDs(); n > settled {
		t.Errorf("%d descriptors open after 20 rounds of reader churn, %d after the first", n, settled)
	}
	hold.Close()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if n := openFDs(); n > before {
		t.Errorf("%d descriptors open after closing the tenant, %d before opening it", n, before)
	}
}

// TestGenerationIsNeverSeenTwice checks the contract the page cache relies
// on: a committed write moves a tenant's generation on, and so does every
// open, even of the same file, so that nothing derived from an old file
// (one replaced by an import or a restore) passes for the new one.
func TestGenerationIsNeverSeenTwice(t *testing.T) {
	ctx := context.Background()
	dir, id := newTenant(t)
	seen := map[uint64]bool{}
	see := func(what string, g uint64) {
		t.Helper()
		if seen[g] {
			t.Fatalf("%s: generation %d was seen before", what, g)
		}
		seen[g] = true
	}
	for round := range 3 {
		db, err := Open(ctx, dir, id)
		if err != nil {
			t.Fatal(err)
		}
		see(fmt.Sprintf("open %d", round), db.Generation())
		site, err := db.Site(ctx)
		if err != nil {
			t.Fatal(err)
		}
		before := db.Generation()
		if _, err := db.Site(ctx); err != nil || db.Generation() != before {
			t.Fatalf("a read moved the generation (%v)", err)
		}
		site.Name, site.Tagline = "Post 17", fmt.Sprintf("round %d", round)
		if err := db.UpdateSite(ctx, &site); err != nil {
			t.Fatal(err)
		}
		if db.Generation() == before {
			t.Fatalf("round %d: a committed write left the generation at %d", round, before)
		}
		see(fmt.Sprintf("write %d", round), db.Generation())
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestReopenMakesNoConnection checks what Reopen promises the pool: an
// unchanged file reopened at its last generation connects to nothing
// until a query needs it (Open connects a reader for the version
// check), takes up that generation, and then reads and writes as usual.
func TestReopenMakesNoConnection(t *testing.T) {
	ctx := context.Background()
	for _, repl := range []bool{false, true} {
		t.Run(fmt.Sprintf("replicated=%v", repl), func(t *testing.T) {
			dir, id := newTenant(t)
			db, err := openExisting(ctx, dir, id, repl)
			if err != nil {
				t.Fatal(err)
			}
			if n := db.r.Stats().OpenConnections; n != 1 {
				t.Fatalf("an open made %d reader connections, want 1 (the version check)", n)
			}
			gen := db.Generation()
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			db, err = Reopen(ctx, dir, id, repl, gen)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if n := db.r.Stats().OpenConnections + db.w.Stats().OpenConnections; n != 0 {
				t.Fatalf("Reopen made %d connections, want none", n)
			}
			if db.Generation() != gen {
				t.Fatalf("Reopen: generation %d, want %d (the one it was closed at)", db.Generation(), gen)
			}
			site, err := db.Site(ctx)
			if err != nil {
				t.Fatal(err)
			}
			site.Name, site.Tagline = "Post 17", "after the reopen"
			if err := db.UpdateSite(ctx, &site); err != nil {
				t.Fatal(err)
			}
			if got, err := db.Site(ctx); err != nil || got.Tagline != site.Tagline || db.Generation() == gen {
				t.Fatalf("after a write: %q, %v, generation %d (was %d)", got.Tagline, err, db.Generation(), gen)
			}
		})
	}
}
