package tenantdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"

	"github.com/chapterhouse/chapterhouse/migrations"
)

// ApplicationID marks a SQLite file as Chapterhouse's ("CHAP").
const ApplicationID = 0x43484150

func init() {
	// SQLite's default POSIX record locks are dropped whenever the process
	// closes any descriptor of the file (say, to hash an export). Open file
	// description locks are not, and still exclude other processes.
	sqlite.OFDLocking(true)
	// Persistent WAL: the last connection to close a file checkpoints it but
	// keeps its -wal file (truncated, see dsn) instead of deleting it, so
	// the next cold open does not create it again. Measured here with
	// BenchmarkOpenReadClose: about 2x the cold opens per second.
	sqlite.RegisterConnectionHook(func(conn sqlite.ExecQuerierContext, _ string) error {
		if fc, ok := conn.(sqlite.FileControl); ok {
			_, err := fc.FileControlPersistWAL("main", 1)
			return err
		}
		return nil
	})
}

// schema is one kind of database: its embedded migrations, the version
// they reach, and the SQLite VFS its files are opened with.
type schema struct {
	name   string
	fsys   fs.FS
	latest int64
	vfs    string
}

// tenantVFS is the VFS of tenant files. SQLite's "unix-excl" is its unix
// VFS except in two ways. The first connection of a process to a file
// takes an exclusive lock on it, held until the process's last connection
// to the file closes; the process's connections then lock among
// themselves in memory, without a system call. And the WAL index lives in
// heap memory instead of a mapped -shm file. A cold open so skips creating,
// sizing, mapping, locking and unmapping the -shm file: measured with
// BenchmarkOpenReadClose, open, read and close take about half the time
// (0.59 ms to 0.28 ms). The price is that no other process can read a
// tenant file while this one has it open; none needs to, since the CLI
// reaches a running server through its control socket. The catalog, which
// any process may open, keeps the default VFS.
const tenantVFS = "unix-excl"

var (
	tenantSchema  = newSchema("tenant", migrations.Tenant(), tenantVFS)
	catalogSchema = newSchema("catalog", migrations.Catalog(), "")
)

func newSchema(name string, fsys fs.FS, vfs string) *schema {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil || len(names) == 0 {
		panic(fmt.Sprintf("%s migrations: none embedded (%v)", name, err))
	}
	s := &schema{name: name, fsys: fsys, vfs: vfs}
	for _, n := range names {
		v, err := strconv.ParseInt(strings.SplitN(n, "_", 2)[0], 10, 64)
		if err != nil {
			panic(fmt.Sprintf("%s migration %s: no version prefix", name, n))
		}
		s.latest = max(s.latest, v)
	}
	return s
}

// LatestVersion is the tenant schema version this binary migrates to.
func LatestVersion() int64 { return tenantSchema.latest }

// dsn builds the data source name of a server-made path of a database of
// kind s. busy_timeout comes first so that every later pragma
// (journal_mode needs a lock) waits for a busy file instead of failing at
// once.
func dsn(s *schema, path, mode string, params ...string) string {
	// journal_size_limit(0): with persistent WAL, the connection that
	// closes a file last truncates its -wal to nothing after the final
	// checkpoint, so the next open has no stale frames to read back.
	q := []string{"mode=" + mode, "_pragma=busy_timeout(10000)", "_pragma=journal_size_limit(0)"}
	if s.vfs != "" {
		q = append(q, "vfs="+s.vfs)
	}
	return "file:" + escapePath(path) + "?" + strings.Join(append(q, params...), "&")
}

// openWriter opens the one-connection write pool of path: WAL (persistent
// in the file once set), synchronous=NORMAL (durable at checkpoints, never
// corrupt), foreign keys on. Transactions begin IMMEDIATE, so a writer never
// fails half-way on a lock upgrade. Like every sql.DB it connects lazily: a
// tenant that is only read never opens its writer.
func openWriter(s *schema, path, mode string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn(s, path, mode,
		"_pragma=journal_mode(WAL)", "_pragma=synchronous(NORMAL)", "_pragma=foreign_keys(1)", "_txlock=immediate"))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	return db, nil
}

// openReaders opens the query-only read pool of path. Readers need no
// journal_mode (the file is in WAL already), synchronous or foreign_keys:
// fewer pragmas make a cold open cheaper.
func openReaders(path string, n int) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn(tenantSchema, path, "rw", "_query_only=1"))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	db.SetConnMaxIdleTime(time.Minute)
	return db, nil
}

// migrate brings the database in w up to s.latest. A file at the latest
// version costs one header read, through check (any connection pool of the
// file); otherwise goose runs on w under the cross-process lock of the
// file, whose version is re-checked once the lock is held.
func migrate(ctx context.Context, check, w *sql.DB, s *schema, lockDir, lockName string) (ran bool, err error) {
	v, err := userVersion(ctx, check)
	if err != nil {
		return false, err
	}
	if v == s.latest {
		return false, nil
	}
	if v > s.latest {
		return false, fmt.Errorf("%w: file is at version %d, this binary knows %d", ErrSchemaTooNew, v, s.latest)
	}
	unlock, err := lockMigration(ctx, lockDir, lockName)
	if err != nil {
		return false, fmt.Errorf("migration lock: %w", err)
	}
	defer unlock()
	if v, err = userVersion(ctx, w); err != nil || v == s.latest {
		return false, err
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, w, s.fsys, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return false, err
	}
	current, err := p.GetDBVersion(ctx)
	if err != nil && !errors.Is(err, goose.ErrVersionNotFound) {
		return false, err
	}
	if current > s.latest {
		return false, fmt.Errorf("%w: goose version %d, this binary knows %d", ErrSchemaTooNew, current, s.latest)
	}
	if _, err := p.Up(ctx); err != nil {
		return false, fmt.Errorf("migrate %s: %w", s.name, err)
	}
	// The marker is written last: a crash before it only means goose
	// checks again (and finds nothing to do) on the next open.
	if _, err := w.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id = %d; PRAGMA user_version = %d", ApplicationID, s.latest)); err != nil {
		return false, err
	}
	return true, nil
}

func userVersion(ctx context.Context, db *sql.DB) (int64, error) {
	var v int64
	err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v)
	return v, err
}

// DB is one tenant's open database: a single writer connection and a small
// pool of query-only readers over the same WAL-mode file.
type DB struct {
	ID   string
	path string
	w    *sql.DB
	r    *sql.DB
	gen  atomic.Uint64
	now  func() time.Time
	// stmts holds the prepared read statements (stmts.go).
	stmts sync.Map
	// Migrated reports whether this open ran migrations.
	Migrated bool
}

// generations numbers the states of every tenant database in the process:
// a DB starts at a fresh number when opened and takes another on every
// committed write, so a generation is never seen twice, not even after a
// tenant's file was replaced and reopened.
var generations atomic.Uint64

// Generation identifies the content of this tenant as this process last
// wrote it. It changes on every committed write through this DB and on
// every open, so callers can cache what they derive from the content.
func (db *DB) Generation() uint64 { return db.gen.Load() }

// Close closes the readers and then the writer, which checkpoints the WAL.
func (db *DB) Close() error {
	return errors.Join(db.r.Close(), db.w.Close())
}

// TenantPath is where the file of tenant id lives in data dir dir.
func TenantPath(dir, id string) string {
	return filepath.Join(dir, "tenants", id+".db")
}

func checkID(id string) error {
	if !ValidTenantID(id) {
		return fmt.Errorf("tenant id %q: %w", id, ErrNotFound)
	}
	return nil
}

// Open opens the existing database of tenant id in data dir dir, migrating
// it on its first open by this process. A missing file is ErrNotFound:
// Open never creates one.
func Open(ctx context.Context, dir, id string) (*DB, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	path := TenantPath(dir, id)
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("tenant %s: %w", id, ErrNotFound)
		}
		return nil, err
	}
	return open(ctx, dir, id, "rw")
}

func open(ctx context.Context, dir, id, mode string) (*DB, error) {
	return openFile(ctx, TenantPath(dir, id), id, mode)
}

// openFile opens the tenant database at path, migrating it; name keys its
// migration lock in the file's directory.
func openFile(ctx context.Context, path, id, mode string) (*DB, error) {
	w, err := openWriter(tenantSchema, path, mode)
	if err != nil {
		return nil, err
	}
	r, err := openReaders(path, 4)
	if err != nil {
		w.Close()
		return nil, err
	}
	// The version check goes through a reader: a visitor's request then
	// needs one connection, and the writer connects on the first write.
	ran, err := migrate(ctx, r, w, tenantSchema, filepath.Dir(path), id)
	if err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("tenant %s: %w", id, err)
	}
	db := &DB{ID: id, path: path, w: w, r: r, now: time.Now, Migrated: ran}
	db.gen.Store(generations.Add(1))
	return db, nil
}

// Create makes the file of a new tenant and migrates it. It fails if the
// file exists.
func Create(ctx context.Context, dir, id string) (*DB, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	path := TenantPath(dir, id)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("tenant file %s: %w", id, ErrConflict)
		}
		return nil, err
	}
	f.Close()
	db, err := open(ctx, dir, id, "rw")
	if err != nil {
		RemoveFiles(path)
		return nil, err
	}
	return db, nil
}

// RemoveFiles removes a database file and its WAL and shared-memory files.
func RemoveFiles(path string) {
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(path + suffix)
	}
}
