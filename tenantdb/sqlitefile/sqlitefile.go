// Package sqlitefile is how Chapterhouse handles a SQLite file, for the
// tenant files and the catalog alike: the DSN and its pragmas, the writer
// and reader pools, migrate-on-open under a cross-process lock, SQLite's
// lookaside, consistent snapshots (VACUUM INTO), integrity checks, fsync
// and no-replace renames.
package sqlitefile

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chapterhouse/chapterhouse/internal/hold"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
)

// Errors of a file, which tenantdb's own errors name for its callers.
var (
	// ErrTooNew: the file was migrated by a newer Chapterhouse.
	ErrTooNew = errors.New("database schema is newer than this binary")
	// ErrExists: a file that must be new exists already.
	ErrExists = errors.New("already exists")
)

func init() {
	// SQLite's default POSIX record locks are dropped whenever the process
	// closes any descriptor of the file (say, to hash an export). Open file
	// description locks are not, and still exclude other processes.
	sqlite.OFDLocking(true)
	// Persistent WAL: the last connection to close a file checkpoints it but
	// keeps its -wal file (truncated, see DSN) instead of deleting it, so
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

// ApplicationID marks a SQLite file as Chapterhouse's ("CHAP").
const ApplicationID = 0x43484150

// Schema is one kind of database: its embedded migrations, the version
// they reach, and the SQLite VFS its files are opened with.
type Schema struct {
	Name   string
	FS     fs.FS // the goose SQL migrations
	Latest int64 // the version they reach
	VFS    string
}

// NewSchema is the kind of database whose migrations are fsys, opened with
// SQLite's VFS vfs ("": the default).
func NewSchema(name string, fsys fs.FS, vfs string) *Schema {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil || len(names) == 0 {
		panic(fmt.Sprintf("%s migrations: none embedded (%v)", name, err))
	}
	s := &Schema{Name: name, FS: fsys, VFS: vfs}
	for _, n := range names {
		v, err := strconv.ParseInt(strings.SplitN(n, "_", 2)[0], 10, 64)
		if err != nil {
			panic(fmt.Sprintf("%s migration %s: no version prefix", name, n))
		}
		s.Latest = max(s.Latest, v)
	}
	return s
}

// DSN builds the data source name of a server-made path of a database of
// kind s. busy_timeout comes first so that every later pragma
// (journal_mode needs a lock) waits for a busy file instead of failing at
// once.
func DSN(s *Schema, path, mode string, params ...string) string {
	// journal_size_limit(0): with persistent WAL, the connection that
	// closes a file last truncates its -wal to nothing after the final
	// checkpoint, so the next open has no stale frames to read back.
	// A param may set another limit: modernc runs the pragmas sorted by
	// their text, not in order, so the default gives way instead.
	q := []string{"mode=" + mode, "_pragma=busy_timeout(10000)"}
	if !slices.ContainsFunc(params, func(p string) bool { return strings.HasPrefix(p, "_pragma=journal_size_limit(") }) {
		q = append(q, "_pragma=journal_size_limit(0)")
	}
	if s.VFS != "" {
		q = append(q, "vfs="+s.VFS)
	}
	return "file:" + EscapePath(path) + "?" + strings.Join(append(q, params...), "&")
}

// OpenWriter opens the one-connection write pool of path: WAL (persistent
// in the file once set), synchronous=NORMAL (durable at checkpoints, never
// corrupt), foreign keys on. Transactions begin IMMEDIATE, so a writer never
// fails half-way on a lock upgrade. Like every sql.DB it connects lazily: a
// tenant that is only read never opens its writer.
// Extra params (more pragmas) follow the usual ones.
func OpenWriter(s *Schema, path, mode string, params ...string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", DSN(s, path, mode, append([]string{
		"_pragma=journal_mode(WAL)", "_pragma=synchronous(NORMAL)", "_pragma=foreign_keys(1)", "_txlock=immediate"}, params...)...))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	return db, nil
}

// OpenReaders opens the query-only read pool of path. Readers need no
// journal_mode (the file is in WAL already), synchronous or foreign_keys:
// fewer pragmas make a cold open cheaper. Extra params (more pragmas)
// follow the usual ones.
func OpenReaders(s *Schema, path string, n int, params ...string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", DSN(s, path, "rw", append([]string{"_query_only=1"}, params...)...))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	db.SetConnMaxIdleTime(time.Minute)
	return db, nil
}

// Migrate brings the database in w up to s.Latest. A file at the latest
// version costs one header read, through check (any connection pool of the
// file); otherwise goose runs on w under the cross-process lock of the
// file, whose version is re-checked once the lock is held.
func Migrate(ctx context.Context, check, w *sql.DB, s *Schema, lockDir, lockName string) (ran bool, err error) {
	v, err := UserVersion(ctx, check)
	if err != nil {
		return false, err
	}
	if v == s.Latest {
		return false, nil
	}
	if v > s.Latest {
		return false, fmt.Errorf("%w: file is at version %d, this binary knows %d", ErrTooNew, v, s.Latest)
	}
	unlock, err := LockMigration(ctx, lockDir, lockName)
	if err != nil {
		return false, fmt.Errorf("migration lock: %w", err)
	}
	defer unlock()
	hold.At("migrate.locked")
	if v, err = UserVersion(ctx, w); err != nil || v == s.Latest {
		return false, err
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, w, s.FS, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return false, err
	}
	current, err := p.GetDBVersion(ctx)
	if err != nil && !errors.Is(err, goose.ErrVersionNotFound) {
		return false, err
	}
	if current > s.Latest {
		return false, fmt.Errorf("%w: goose version %d, this binary knows %d", ErrTooNew, current, s.Latest)
	}
	if _, err := p.Up(ctx); err != nil {
		return false, fmt.Errorf("migrate %s: %w", s.Name, err)
	}
	hold.At("migrate.marker")
	// The marker is written last: a crash before it only means goose
	// checks again (and finds nothing to do) on the next open.
	if _, err := w.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id = %d; PRAGMA user_version = %d", ApplicationID, s.Latest)); err != nil {
		return false, err
	}
	return true, nil
}

func UserVersion(ctx context.Context, db *sql.DB) (int64, error) {
	var v int64
	err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v)
	return v, err
}

// RemoveFiles removes a database file and its WAL and shared-memory files.
func RemoveFiles(path string) {
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(path + suffix)
	}
}
