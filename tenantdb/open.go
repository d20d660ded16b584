package tenantdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chapterhouse/chapterhouse/migrations"
	"github.com/chapterhouse/chapterhouse/tenantdb/sqlitefile"
)

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
	tenantSchema = sqlitefile.NewSchema("tenant", migrations.Tenant(), tenantVFS)
)

// LatestVersion is the tenant schema version this binary migrates to.
func LatestVersion() int64 { return tenantSchema.Latest }

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
	// stats holds the visits counted and not yet written (stats.go).
	stats statsBuf
	// mailHook is OnMailQueued's function.
	mailHook atomic.Pointer[func()]
	// mailMark is the tenant's "mail waiting" marker (mailmark.go), ""
	// for a file that is not a tenant's own.
	mailMark string
	// fence is SetFence's function.
	fence atomic.Pointer[func() error]
	// pin holds a reader connection open while the file is replicated:
	// Litestream's own connection must never be the process's only one
	// (see OpenReplicated and Pin).
	pinMu sync.Mutex
	pin   *sql.Conn
	// firstWrite, when set, runs before the next write transaction while
	// armed (BeforeWrite, IfIdle); hookMu makes concurrent writers wait
	// for it.
	firstWrite func(ctx context.Context)
	hookMu     sync.Mutex
	armed      atomic.Bool
	// writeGate is held shared by every write transaction, from its
	// firstWrite check to its end, and exclusively by IfIdle; shut is
	// set under it by Close.
	writeGate sync.RWMutex
	shut      bool
	// lastWrite is when the last write transaction ended (unix ns).
	lastWrite atomic.Int64
	// opened is the generation the DB was opened at (Resume).
	opened uint64
}

// Pin holds one reader connection of a file opened with OpenReplicated
// open until db closes; call it before Litestream connects to the file.
// If every connection of ours had closed meanwhile, the pinned one is
// the process's first again and takes the exclusive lock. Pinning only
// when the replica starts (not at every open) spares a tenant only read
// a second connection.
func (db *DB) Pin(ctx context.Context) error {
	db.pinMu.Lock()
	defer db.pinMu.Unlock()
	if db.pin != nil {
		return nil
	}
	c, err := db.r.Conn(ctx)
	if err != nil {
		return fmt.Errorf("tenant %s: pinning a connection: %w", db.ID, err)
	}
	db.pin = c
	return nil
}

// BeforeWrite has fn run before the next write transaction of db begins
// (a content write or a flush of visit statistics) if armed is true, and
// again before the first write after each IfIdle that ran its function;
// a write that comes while fn runs waits for it. The replica uses it to
// start streaming a tenant only once it changes (docs/replication.md).
// Call it before db is shared: it is not synchronised with running
// writes.
func (db *DB) BeforeWrite(fn func(ctx context.Context), armed bool) {
	db.firstWrite = fn
	db.armed.Store(armed)
	db.lastWrite.Store(time.Now().UnixNano())
}

// beforeWrite runs the BeforeWrite function if it is armed, and holds
// off IfIdle until the returned function is called, at the end of the
// write transaction.
func (db *DB) beforeWrite(ctx context.Context) (done func()) {
	db.writeGate.RLock()
	if db.armed.Load() {
		db.hookMu.Lock()
		if db.armed.Load() {
			db.firstWrite(ctx)
			db.armed.Store(false)
		}
		db.hookMu.Unlock()
	}
	return func() {
		db.lastWrite.Store(time.Now().UnixNano())
		db.writeGate.RUnlock()
	}
}

// IfIdle runs fn if no write transaction of db runs now, none ended
// within d and db is open, holding off every write until fn returns; if
// fn reports true, the BeforeWrite function is armed again, so the next
// write runs it first. A write in progress makes IfIdle return false at
// once rather than wait. The replica uses it to stop streaming a tenant
// that stays open but is no longer written: a write either committed
// before fn (and fn's final sync ships it) or runs after it, behind the
// BeforeWrite function that starts streaming again.
func (db *DB) IfIdle(d time.Duration, fn func() bool) bool {
	if db.firstWrite == nil || !db.writeGate.TryLock() {
		return false
	}
	defer db.writeGate.Unlock()
	if db.shut || db.armed.Load() || time.Since(time.Unix(0, db.lastWrite.Load())) < d {
		return false
	}
	if !fn() {
		return false
	}
	db.armed.Store(true)
	return true
}

// Unpin closes the connection Pin holds, once Litestream's connection to
// the file is closed (a tenant no longer streamed while it stays open):
// the next Pin opens one again. The connection is closed, not handed
// back to the readers' pool, where it would stay idle with its page
// cache for a minute.
func (db *DB) Unpin() error {
	db.pinMu.Lock()
	defer db.pinMu.Unlock()
	if db.pin == nil {
		return nil
	}
	// ErrBadConn from Raw makes database/sql close the connection.
	err := db.pin.Raw(func(any) error { return driver.ErrBadConn })
	if errors.Is(err, driver.ErrBadConn) {
		err = nil
	}
	db.pin = nil
	return err
}

// generations numbers the states of every tenant database in the process:
// a DB starts at a fresh number when opened and takes another on every
// committed write, so a generation is never seen twice, not even after a
// tenant's file was replaced and reopened.
var generations atomic.Uint64

// Generation identifies the content of this tenant as this process last
// wrote it. It changes on every committed write through this DB and on
// every open (unless the pool resumes the generation of an unchanged
// file: Resume), so callers can cache what they derive from the content.
func (db *DB) Generation() uint64 { return db.gen.Load() }

// Resume has a DB that nothing has written since it was opened take up
// gen, the generation its file had when this process last closed it, for
// a caller that knows the file has not changed since (the pool checks the
// files' identity, size and times): what was derived from that content,
// such as cached pages, stays valid across the reopen. It reports whether
// it did; after a write it does nothing.
func (db *DB) Resume(gen uint64) bool {
	return gen != 0 && gen < db.opened && db.gen.CompareAndSwap(db.opened, gen)
}

// Close writes the counted visits, then closes the readers and then the
// writer, which checkpoints the WAL (unless another connection of the
// process, Litestream's, is open).
func (db *DB) Close() error {
	err := db.closeStats()
	db.writeGate.Lock()
	db.shut = true
	db.writeGate.Unlock()
	db.pinMu.Lock()
	if db.pin != nil {
		err = errors.Join(err, db.pin.Close())
		db.pin = nil
	}
	db.pinMu.Unlock()
	return errors.Join(err, db.r.Close(), db.w.Close())
}

// Path is the tenant's file.
func (db *DB) Path() string { return db.path }

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
	return openExisting(ctx, dir, id, false)
}

// Reopen is Open (with repl, OpenReplicated) of a file that this process
// closed, migrated, at generation gen, for a caller that knows it has not
// changed since (the pool checks the files' identity, size and times). It
// skips the version check, so an open whose request the page cache
// answers makes no SQLite connection, and its close has no checkpoint to
// run; and it takes up gen (Resume). With a replica that matters most: a
// replicated file keeps its -wal (see OpenReplicated), which every first
// connection reads back and every last one copies into the file again.
func Reopen(ctx context.Context, dir, id string, repl bool, gen uint64) (*DB, error) {
	db, err := openKnown(ctx, dir, id, repl, true)
	if err != nil {
		return nil, err
	}
	db.Resume(gen)
	return db, nil
}

func openExisting(ctx context.Context, dir, id string, repl bool) (*DB, error) {
	return openKnown(ctx, dir, id, repl, false)
}

// openKnown opens tenant id's existing file; known skips the version
// check (Reopen).
func openKnown(ctx context.Context, dir, id string, repl, known bool) (*DB, error) {
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
	return openMarked(ctx, dir, id, "rw", repl, known)
}

// OpenReplicated is Open for a file that Litestream replicates while it
// is open. Litestream opens the file itself, with SQLite's default VFS;
// the first connection of the process to a file decides how it is
// locked, so before Litestream connects the DB must hold one reader
// connection (unix-excl) until it closes (Pin): Litestream's connection,
// made after it, shares the
// exclusive lock and the in-heap WAL index instead of setting up a -shm
// that another process could use. The writer does not checkpoint
// (wal_autocheckpoint(0)): Litestream's read transaction would stop it
// copying back anyway, and Litestream checkpoints itself once it has
// shipped the frames. No connection truncates the -wal at close, so a
// tenant only read leaves its -wal as Litestream last saw it.
func OpenReplicated(ctx context.Context, dir, id string) (*DB, error) {
	return openExisting(ctx, dir, id, true)
}

func open(ctx context.Context, dir, id, mode string) (*DB, error) {
	return openMarked(ctx, dir, id, mode, false, false)
}

// openMarked opens the file of tenant id in data dir dir, with its mail
// marker.
func openMarked(ctx context.Context, dir, id, mode string, repl, known bool) (*DB, error) {
	db, err := openFile(ctx, TenantPath(dir, id), id, mode, repl, known)
	if err == nil {
		db.mailMark = mailMarkPath(dir, id)
	}
	return db, err
}

// openFile opens the tenant database at path, migrating it; name keys its
// migration lock in the file's directory.
// With repl, it is opened for replication (see OpenReplicated); known
// skips the version check of a file migrated already (Reopen).
func openFile(ctx context.Context, path, id, mode string, repl, known bool) (*DB, error) {
	var params, wparams []string
	if repl {
		// journal_size_limit(-1): a replicated file's -wal is never
		// truncated at close, not even by our own connections when they
		// close last (a tenant only read, that Litestream never
		// connected to): Litestream takes a truncated WAL for another
		// process's doing and ships a whole snapshot.
		//
		// synchronous(OFF) on the readers: the last of our connections
		// to close a tenant only read checkpoints the -wal's frames into
		// the file again (the WAL index lives in memory, so every open
		// takes them for new). Without it that costs three fsyncs a
		// close (strace of BenchmarkOpenClose/file-lazy: 335 fsyncs in
		// 101 cycles, 32 with it; "off": 16). Nothing is lost: readers
		// write nothing else, the frames stay in the -wal (never
		// truncated here), and no -wal is restarted or truncated before
		// a checkpoint of that session (Litestream's, synchronous) has
		// copied them again and synced the file.
		wparams = []string{"_pragma=journal_size_limit(-1)", "_pragma=wal_autocheckpoint(0)"}
		params = []string{"_pragma=journal_size_limit(-1)", "_pragma=synchronous(OFF)"}
	}
	w, err := sqlitefile.OpenWriter(tenantSchema, path, mode, wparams...)
	if err != nil {
		return nil, err
	}
	readers := 4
	if repl {
		readers++ // the pinned one
	}
	r, err := sqlitefile.OpenReaders(tenantSchema, path, readers, params...)
	if err != nil {
		w.Close()
		return nil, err
	}
	// The version check goes through a reader: a visitor's request then
	// needs one connection, and the writer connects on the first write.
	ran := false
	if !known {
		if ran, err = sqlitefile.Migrate(ctx, r, w, tenantSchema, filepath.Dir(path), id); err != nil {
			r.Close()
			w.Close()
			return nil, fmt.Errorf("tenant %s: %w", id, err)
		}
	}
	db := &DB{ID: id, path: path, w: w, r: r, now: time.Now, Migrated: ran}
	db.opened = generations.Add(1)
	db.gen.Store(db.opened)
	return db, nil
}

// Create makes the file of a new tenant, at the newest schema, and opens
// it. It fails with ErrConflict if the file exists. The file is a copy of
// a fresh database its process migrated once (freshBytes: the migrations
// compute nothing that differs between tenants), written and synced
// before it opens: a create writes one file instead of running every
// migration, which cost most of a create's time (docs/performance.md).
// Should no copy be at hand, the open migrates the empty file.
func Create(ctx context.Context, dir, id string) (*DB, error) {
	return create(ctx, dir, id, false)
}

// CreateForReplica is Create for a tenant that will be replicated: its
// file already has the tables Litestream makes at its first connection.
func CreateForReplica(ctx context.Context, dir, id string) (*DB, error) {
	return create(ctx, dir, id, true)
}

func create(ctx context.Context, dir, id string, litestream bool) (*DB, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	path := TenantPath(dir, id)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	fresh, _ := freshBytes(ctx, filepath.Join(dir, "tmp"), LatestVersion(), litestream)
	if err := writeNew(path, fresh, true); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("tenant file %s: %w", id, ErrConflict)
		}
		os.Remove(path)
		return nil, err
	}
	db, err := open(ctx, dir, id, "rw")
	if err != nil {
		sqlitefile.RemoveFiles(path)
		return nil, err
	}
	return db, nil
}
