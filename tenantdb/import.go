package tenantdb

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/chapterhouse/chapterhouse/tenantdb/sqlitefile"
	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
)

// ErrRejected marks an imported file that failed a check. The error says
// which check, in words for the operator.
var ErrRejected = errors.New("rejected")

func reject(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrRejected, fmt.Sprintf(format, args...))
}

// Imported is a tenant file built from the rows of an imported one, ready
// to be renamed into place. Discard removes what is left of the work.
type Imported struct {
	// Path is the new tenant file: migrated to the latest version, checked,
	// synced, not open.
	Path string
	// SourceVersion is the schema version of the imported file.
	SourceVersion int64
	// Digest is the logical digest of the rows as read from the imported
	// file (and found equal in the copy), at SourceVersion.
	Digest   Digest
	SiteName string
	Size     int64
	// SHA256 is the hash of the imported file as it was read.
	SHA256 string
	work   string
}

// Discard removes the work directory, with Path unless it was moved away.
func (im *Imported) Discard() {
	if im.work != "" {
		os.RemoveAll(im.work)
	}
}

// EndSessions ends every login session in the prepared file, before it
// is renamed into place (a restore: the logins of the time of the backup
// must not come back, even if the process dies right after the rename).
// The file is left whole, without a WAL, and synced.
func (im *Imported) EndSessions(ctx context.Context) error {
	db, err := openFile(ctx, im.Path, "import", "rw", false, false)
	if err != nil {
		return err
	}
	err = db.EndAllSessions(ctx)
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = SettleWAL(im.Path)
	}
	if err == nil {
		err = sqlitefile.SyncFile(im.Path)
	}
	if err != nil {
		return fmt.Errorf("ending the imported file's sessions: %w", err)
	}
	return nil
}

// PrepareImport treats the file at src as hostile and builds a new tenant
// file from it in a fresh directory under workDir. The file must be a
// regular file (not a symlink or device) of at most maxSize bytes; it is
// copied first, so that it cannot change under the checks, and the copy is
// opened read-only, immutable, with trusted_schema off, in defensive mode
// and under an authorizer that allows nothing but reading tables. It must
// pass integrity_check, carry Chapterhouse's application_id and a schema
// version this binary knows, and its schema must be exactly that of a
// fresh database migrated to the same version: no extra table, index,
// trigger, view or constraint. Its rows are then copied, with their types
// checked, into a fresh file built by our own migrations, which is
// migrated up and checked again. The imported file itself is never used.
//
// Every refusal is an ErrRejected naming the check.
func PrepareImport(ctx context.Context, src, workDir string, maxSize int64) (*Imported, error) {
	if err := os.MkdirAll(workDir, 0o700); err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp(workDir, "import-")
	if err != nil {
		return nil, err
	}
	im := &Imported{work: work}
	if err := im.prepare(ctx, src, maxSize); err != nil {
		im.Discard()
		return nil, err
	}
	return im, nil
}

func (im *Imported) prepare(ctx context.Context, src string, maxSize int64) error {
	copyPath := filepath.Join(im.work, "source.db")
	sum, err := copyUntrusted(src, copyPath, maxSize)
	if err != nil {
		return err
	}
	im.SHA256 = sum
	version, err := checkHeader(copyPath)
	if err != nil {
		return err
	}
	im.SourceVersion = version

	source, err := openUntrusted(ctx, copyPath)
	if err != nil {
		return err
	}
	defer source.Close()
	if err := checkUntrusted(ctx, source, version, im.work); err != nil {
		return err
	}

	im.Path = filepath.Join(im.work, "tenant.db")
	if err := buildFromRows(ctx, source, im.Path, version); err != nil {
		return err
	}
	srcDigest, err := digest(ctx, source)
	if err != nil {
		return reject("reading the file's rows: %v", err)
	}
	im.Digest = srcDigest
	source.Close()
	os.Remove(copyPath)

	name, size, err := finishImport(ctx, im.Path, srcDigest, version)
	if err != nil {
		return err
	}
	im.SiteName, im.Size = name, size
	return nil
}

// copyUntrusted copies the regular file src to dst, refusing symlinks,
// devices, pipes and anything over maxSize bytes.
func copyUntrusted(src, dst string, maxSize int64) (sha string, err error) {
	fi, err := os.Lstat(src)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("%s: no such file", src)
		}
		return "", err
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return "", reject("%s is a symbolic link; give the file itself", src)
	case !fi.Mode().IsRegular():
		return "", reject("%s is not a regular file (%s)", src, fi.Mode().Type())
	case fi.Size() > maxSize:
		return "", reject("the file is %d bytes, more than the import limit of %d bytes", fi.Size(), maxSize)
	}
	// O_NOFOLLOW and O_NONBLOCK: a file swapped for a symlink or a pipe
	// since the Lstat fails or does not block; the fstat below sees it.
	f, err := os.OpenFile(src, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return "", reject("%s is a symbolic link; give the file itself", src)
		}
		return "", err
	}
	defer f.Close()
	ofi, err := f.Stat()
	if err != nil {
		return "", err
	}
	if !ofi.Mode().IsRegular() || !os.SameFile(fi, ofi) {
		return "", reject("%s changed while it was being opened", src)
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), io.LimitReader(f, maxSize+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	if n > maxSize {
		return "", reject("the file grew past the import limit of %d bytes while being read", maxSize)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// checkHeader reads the SQLite header of path: the magic, a sane page
// size, a length that the header agrees with, Chapterhouse's
// application_id and a schema version this binary knows.
func checkHeader(path string) (version int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	var hdr [100]byte
	if _, err := io.ReadFull(f, hdr[:]); err != nil || string(hdr[:16]) != sqlitefile.Magic {
		return 0, reject("not a SQLite database (the file does not start with the SQLite header)")
	}
	pageSize := int64(binary.BigEndian.Uint16(hdr[16:18]))
	if pageSize == 1 {
		pageSize = 65536
	}
	if pageSize < 512 || pageSize > 65536 || pageSize&(pageSize-1) != 0 {
		return 0, reject("damaged SQLite header (page size %d)", pageSize)
	}
	if fi.Size()%pageSize != 0 || fi.Size() == 0 {
		return 0, reject("the file is truncated: %d bytes is not a whole number of %d-byte pages", fi.Size(), pageSize)
	}
	pages := int64(binary.BigEndian.Uint32(hdr[28:32]))
	changeCounter := binary.BigEndian.Uint32(hdr[24:28])
	validFor := binary.BigEndian.Uint32(hdr[92:96])
	if pages > 0 && validFor == changeCounter && pages*pageSize != fi.Size() {
		if pages*pageSize > fi.Size() {
			return 0, reject("the file is truncated: its header counts %d pages, the file holds %d", pages, fi.Size()/pageSize)
		}
		return 0, reject("the file is longer than its header says (%d pages, the file holds %d)", pages, fi.Size()/pageSize)
	}
	if id := binary.BigEndian.Uint32(hdr[68:72]); id != sqlitefile.ApplicationID {
		return 0, reject("not a Chapterhouse tenant file (application_id %#x, want %#x)", id, sqlitefile.ApplicationID)
	}
	version = int64(int32(binary.BigEndian.Uint32(hdr[60:64])))
	if version > tenantSchema.Latest {
		return 0, reject("the file's schema version %d is newer than this Chapterhouse knows (%d); upgrade Chapterhouse first", version, tenantSchema.Latest)
	}
	if version < 1 {
		return 0, reject("the file has schema version %d; it was never migrated", version)
	}
	return version, nil
}

// untrustedPragmas are the pragmas the checks run on an imported file.
var untrustedPragmas = map[string]bool{
	"integrity_check": true, "application_id": true, "user_version": true, "table_info": true,
}

// untrustedFunctions are the SQL functions the checks call.
var untrustedFunctions = map[string]bool{"count": true, "upper": true, "max": true, "coalesce": true,
	"datetime": true,
	"like":     true, // in the DEFAULT of goose's table, seen when the schema is parsed
}

// untrusted is a connection to the private copy of an imported file.
type untrusted struct {
	*sql.Conn
	db *sql.DB
}

func (u *untrusted) Close() error {
	if u.Conn == nil {
		return nil
	}
	err := errors.Join(u.Conn.Close(), u.db.Close())
	u.Conn = nil
	return err
}

// openUntrusted opens a private copy of an imported file for reading only:
// immutable (no locks, no journal, no WAL), trusted_schema off (functions in
// its schema do not run), defensive, and with an authorizer that lets
// statements read tables and nothing else: not through a view, not via a
// trigger, no ATTACH, no writes.
func openUntrusted(ctx context.Context, path string) (*untrusted, error) {
	db, err := sql.Open("sqlite", "file:"+sqlitefile.EscapePath(path)+"?mode=ro&immutable=1&_defensive=1"+
		"&_pragma=trusted_schema(0)&_pragma=cell_size_check(1)&_pragma=mmap_size(0)&_pragma=query_only(1)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, reject("cannot open the file as a database: %v", err)
	}
	err = conn.Raw(func(dc any) error {
		ar, ok := dc.(sqlite.AuthorizerRegisterer)
		if !ok {
			return errors.New("the sqlite driver has no authorizer")
		}
		return ar.RegisterAuthorizer(readOnlyAuthorizer)
	})
	if err != nil {
		conn.Close()
		db.Close()
		return nil, err
	}
	return &untrusted{Conn: conn, db: db}, nil
}

func readOnlyAuthorizer(action sqlite.AuthorizerActionCode, arg1, arg2, _, triggerOrView string) sqlite.AuthorizerReturnCode {
	if triggerOrView != "" {
		return sqlite.AuthorizerDeny
	}
	switch action {
	case sqlite.AuthSelect, sqlite.AuthRead, sqlite.AuthTransaction:
		return sqlite.AuthorizerOK
	case sqlite.AuthPragma:
		if untrustedPragmas[strings.ToLower(arg1)] {
			return sqlite.AuthorizerOK
		}
	case sqlite.AuthFunction:
		if untrustedFunctions[strings.ToLower(arg2)] {
			return sqlite.AuthorizerOK
		}
	}
	return sqlite.AuthorizerDeny
}

// checkUntrusted runs the checks that need SQLite on an opened import;
// work is the import's own directory (for the reference schema's file).
func checkUntrusted(ctx context.Context, c *untrusted, version int64, work string) error {
	// The schema first: integrity_check would read any virtual table.
	ref, err := referenceSchema(ctx, version, work)
	if err != nil {
		return err
	}
	got, err := readSchema(ctx, c)
	if err != nil {
		return reject("reading the file's schema: %v", err)
	}
	if err := compareSchema(got, ref); err != nil {
		return err
	}
	if err := sqlitefile.IntegrityCheck(ctx, c); err != nil {
		return reject("%v", err)
	}
	var appID, userVersion int64
	if err := c.QueryRowContext(ctx, "PRAGMA application_id").Scan(&appID); err != nil {
		return reject("reading application_id: %v", err)
	}
	if err := c.QueryRowContext(ctx, "PRAGMA user_version").Scan(&userVersion); err != nil {
		return reject("reading user_version: %v", err)
	}
	if appID != sqlitefile.ApplicationID || userVersion != version {
		return reject("the file's header and its pragmas disagree")
	}
	var gooseMax sql.NullInt64
	if err := c.QueryRowContext(ctx, `SELECT max(version_id) FROM goose_db_version WHERE is_applied = 1`).Scan(&gooseMax); err != nil {
		return reject("reading the migration history: %v", err)
	}
	if !gooseMax.Valid || gooseMax.Int64 != version {
		return reject("the migration history (version %d) disagrees with the schema version %d", gooseMax.Int64, version)
	}
	return nil
}

// schemaEntry is one row of sqlite_schema.
type schemaEntry struct {
	Type, Name, Table, SQL string
}

func readSchema(ctx context.Context, q querier) (map[string]schemaEntry, error) {
	rows, err := q.QueryContext(ctx, `SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_schema`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	m := map[string]schemaEntry{}
	for rows.Next() {
		var e schemaEntry
		if err := rows.Scan(&e.Type, &e.Name, &e.Table, &e.SQL); err != nil {
			return nil, err
		}
		m[e.Type+" "+e.Name] = e
	}
	return m, rows.Err()
}

// statTables are made by ANALYZE and PRAGMA optimize; they hold no
// content, are allowed in an import and are not copied.
var statTables = map[string]string{
	"sqlite_stat1": "CREATE TABLE sqlite_stat1(tbl,idx,stat)",
	"sqlite_stat4": "CREATE TABLE sqlite_stat4(tbl,idx,neq,nlt,ndlt,sample)",
}

// litestreamTables are made by Litestream in a file it replicates (and so
// are in a file restored from a replica); they hold no content, are
// allowed in an import as Litestream defines them and are not copied.
var litestreamTables = map[string]string{
	"_litestream_seq":  "CREATE TABLE _litestream_seq (id INTEGER PRIMARY KEY, seq INTEGER)",
	"_litestream_lock": "CREATE TABLE _litestream_lock (id INTEGER)",
}

// compareSchema names the first difference between an imported schema and
// the reference.
func compareSchema(got, want map[string]schemaEntry) error {
	keys := make([]string, 0, len(got))
	for k := range got {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		g := got[k]
		w, ok := want[k]
		if !ok {
			if g.Type == "table" && statTables[g.Name] != "" && statTables[g.Name] == g.SQL {
				continue
			}
			if g.Type == "table" && litestreamTables[g.Name] != "" && litestreamTables[g.Name] == g.SQL {
				continue
			}
			kind := g.Type
			if g.Type == "table" && strings.HasPrefix(strings.ToUpper(strings.TrimSpace(g.SQL)), "CREATE VIRTUAL") {
				kind = "virtual table"
			}
			if g.Type == "trigger" || g.Type == "index" {
				return reject("the file has an extra %s %q on table %q that Chapterhouse does not create", kind, g.Name, g.Table)
			}
			return reject("the file has an extra %s %q that Chapterhouse does not create", kind, g.Name)
		}
		if g.SQL != w.SQL || g.Table != w.Table {
			return reject("the %s %q is not defined as Chapterhouse defines it (changed columns or constraints)", g.Type, g.Name)
		}
	}
	missing := []string{}
	for k, w := range want {
		if _, ok := got[k]; !ok {
			missing = append(missing, w.Type+" "+fmt.Sprintf("%q", w.Name))
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return reject("the file lacks the %s of Chapterhouse's schema", strings.Join(missing, ", "))
	}
	return nil
}

var references sync.Map // int64 version -> map[string]schemaEntry

// referenceSchema is sqlite_schema of a fresh tenant database migrated to
// version, built once per version and process in a temp dir under parent
// ("" is the system's): the import passes its work dir, under DATA/tmp,
// which the next start empties if the process dies while it builds.
func referenceSchema(ctx context.Context, version int64, parent string) (map[string]schemaEntry, error) {
	if m, ok := references.Load(version); ok {
		return m.(map[string]schemaEntry), nil
	}
	dir, err := os.MkdirTemp(parent, "schema-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	w, err := freshAt(ctx, filepath.Join(dir, "ref.db"), version)
	if err != nil {
		return nil, err
	}
	defer w.Close()
	m, err := readSchema(ctx, w)
	if err != nil {
		return nil, err
	}
	references.Store(version, m)
	return m, nil
}

// freshAt creates a tenant database at path migrated to exactly version,
// marked as Chapterhouse's at that version, and returns its writer. The
// first one of a version in a process runs the migrations; the later
// ones start from a copy of its bytes (freshTemplates), half the cost of
// a cluster's takeover check of a chapter of a few hundred KB.
func freshAt(ctx context.Context, path string, version int64) (*sql.DB, error) {
	key := freshKey{tenantSchema, version, false}
	if b, ok := freshTemplates.Load(key); ok {
		if err := writeNew(path, b.([]byte), false); err != nil {
			return nil, err
		}
		return sqlitefile.OpenWriter(tenantSchema, path, "rw")
	}
	w, err := migrateFresh(ctx, path, version)
	if err != nil {
		return nil, err
	}
	// The template: the file as it is closed (WAL checkpointed); kept
	// only if nothing of it is left in the WAL.
	if err := w.Close(); err != nil {
		return nil, err
	}
	if b, err := os.ReadFile(path); err == nil {
		if fi, err := os.Lstat(path + "-wal"); errors.Is(err, fs.ErrNotExist) || err == nil && fi.Size() == 0 {
			freshTemplates.Store(key, b)
		}
	}
	return sqlitefile.OpenWriter(tenantSchema, path, "rw")
}

// freshTemplates holds, by schema and version, the bytes of a fresh
// database that migrateFresh made, for freshAt to copy. The migrations
// compute nothing that differs between two runs (no random or clock
// values; goose's own time stamps aside).
var freshTemplates sync.Map // freshKey -> []byte

type freshKey struct {
	schema     *sqlitefile.Schema
	version    int64
	litestream bool // with Litestream's tables (freshBytes)
}

// writeNew writes b to the new file path (which must not exist); with
// durable, it syncs the file and its directory before it returns.
func writeNew(path string, b []byte, durable bool) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil && durable {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && durable {
		err = sqlitefile.SyncDir(filepath.Dir(path))
	}
	return err
}

// freshBytes is a fresh tenant database at version, as freshAt keeps it:
// the first call of a process (of a version) migrates one in a temp dir
// under parent (created if need be; the platform's DATA/tmp, emptied at
// its start). With litestream, the copy also has the two tables
// Litestream makes in a file it replicates, made by its own statements:
// its first connection to a new tenant then finds them (two commits
// fewer, each with an fsync, in the create of a replicated tenant). An
// error says no copy could be kept.
func freshBytes(ctx context.Context, parent string, version int64, litestream bool) ([]byte, error) {
	key := freshKey{tenantSchema, version, litestream}
	if b, ok := freshTemplates.Load(key); ok {
		return b.([]byte), nil
	}
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(parent, "fresh-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	path := filepath.Join(tmp, "fresh.db")
	w, err := freshAt(ctx, path, version)
	if err != nil {
		return nil, err
	}
	if litestream {
		for _, stmt := range litestreamCreates {
			if _, err := w.ExecContext(ctx, stmt); err != nil {
				w.Close()
				return nil, err
			}
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	if !litestream {
		if b, ok := freshTemplates.Load(key); ok {
			return b.([]byte), nil
		}
		return nil, errors.New("tenantdb: no fresh database kept (its WAL was not empty)")
	}
	if fi, err := os.Lstat(path + "-wal"); err == nil && fi.Size() > 0 {
		return nil, errors.New("tenantdb: no fresh database kept (its WAL was not empty)")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	freshTemplates.Store(key, b)
	return b, nil
}

// litestreamCreates are the statements Litestream (v0.5, DB.init) runs on
// a file it starts to replicate, as it writes them: SQLite keeps a
// table's statement without IF NOT EXISTS, so the tables are those of
// litestreamTables.
var litestreamCreates = []string{
	`CREATE TABLE IF NOT EXISTS _litestream_seq (id INTEGER PRIMARY KEY, seq INTEGER);`,
	`CREATE TABLE IF NOT EXISTS _litestream_lock (id INTEGER);`,
}

// freshMigrations counts the runs of migrateFresh.
var freshMigrations atomic.Int64

// migrateFresh is freshAt by running the migrations.
func migrateFresh(ctx context.Context, path string, version int64) (*sql.DB, error) {
	freshMigrations.Add(1)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	f.Close()
	w, err := sqlitefile.OpenWriter(tenantSchema, path, "rw")
	if err != nil {
		return nil, err
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, w, tenantSchema.FS, goose.WithDisableGlobalRegistry(true))
	if err == nil {
		_, err = p.UpTo(ctx, version)
	}
	if err == nil {
		_, err = w.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id = %d; PRAGMA user_version = %d", sqlitefile.ApplicationID, version))
	}
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("building a version %d tenant database: %w", version, err)
	}
	return w, nil
}

// buildFromRows creates a fresh database at dst at version and copies
// every content table's rows from source into it, checking each value's
// type against the column's declared type.
func buildFromRows(ctx context.Context, source *untrusted, dst string, version int64) error {
	w, err := freshAt(ctx, dst, version)
	if err != nil {
		return err
	}
	defer w.Close()
	conn, err := w.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	// Rows arrive table by table; references are checked once all are in.
	if _, err := conn.ExecContext(ctx, "PRAGMA foreign_keys = OFF"); err != nil {
		return err
	}
	tables, err := userTables(ctx, conn)
	if err != nil {
		return err
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, table := range tables {
		if err := copyTable(ctx, source, tx, table); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, "PRAGMA foreign_keys = ON"); err != nil {
		return err
	}
	rows, err := conn.QueryContext(ctx, "PRAGMA foreign_key_check")
	if err != nil {
		return err
	}
	defer rows.Close()
	if rows.Next() {
		var table, parent string
		var rowid sql.NullInt64
		var fk int
		rows.Scan(&table, &rowid, &parent, &fk)
		return reject("a row of table %q refers to a missing row of %q", table, parent)
	}
	return rows.Err()
}

func copyTable(ctx context.Context, source *untrusted, tx *sql.Tx, table string) error {
	ti, err := describeTable(ctx, tx, table)
	if err != nil {
		return err
	}
	rows, err := source.QueryContext(ctx, ti.selectAll(table))
	if err != nil {
		return reject("reading table %q: %v", table, err)
	}
	defer rows.Close()
	cols := make([]string, len(ti.columns))
	marks := make([]string, len(ti.columns))
	for i, c := range ti.columns {
		cols[i], marks[i] = quoteIdent(c), "?"
	}
	ins, err := tx.PrepareContext(ctx, `INSERT INTO `+quoteIdent(table)+` (`+strings.Join(cols, ", ")+`) VALUES (`+strings.Join(marks, ", ")+`)`)
	if err != nil {
		return err
	}
	defer ins.Close()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(vals))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	n := 0
	limit := maxRows(table)
	for rows.Next() {
		n++
		if n > limit {
			return reject("table %q has more than %d rows, the most an import takes", table, limit)
		}
		if err := rows.Scan(ptrs...); err != nil {
			return reject("reading table %q: %v", table, err)
		}
		for i, v := range vals {
			if err := checkValue(ti.types[i], v); err != nil {
				return reject("table %q row %d column %q: %v", table, n, ti.columns[i], err)
			}
		}
		switch table {
		case "media", "media_variants":
			if err := checkMediaRow(ti.columns, vals); err != nil {
				return reject("table %q row %d: %v", table, n, err)
			}
		case "documents":
			if err := checkDocumentRow(ti.columns, vals); err != nil {
				return reject("table \"documents\" row %d: %v", n, err)
			}
		}
		if _, err := ins.ExecContext(ctx, vals...); err != nil {
			return reject("table %q row %d does not fit Chapterhouse's schema: %v", table, n, err)
		}
	}
	if err := rows.Err(); err != nil {
		return reject("reading table %q: %v", table, err)
	}
	return nil
}

// checkValue checks that v has the storage class its column declares.
func checkValue(declared string, v any) error {
	switch v := v.(type) {
	case nil:
		return nil
	case string:
		if !utf8.ValidString(v) {
			return errors.New("text is not valid UTF-8")
		}
		if declared != "TEXT" && declared != "" {
			return fmt.Errorf("text in a %s column", declared)
		}
	case int64:
		if declared != "INTEGER" && declared != "" {
			return fmt.Errorf("an integer in a %s column", declared)
		}
	case float64:
		if declared != "REAL" && declared != "" {
			return fmt.Errorf("a real number in a %s column", declared)
		}
	case []byte:
		if declared != "BLOB" && declared != "" {
			return fmt.Errorf("a blob in a %s column", declared)
		}
	default:
		return fmt.Errorf("unexpected value of type %T", v)
	}
	return nil
}

// checkMediaRow checks what the site trusts about an image when it serves
// it: an allowed content type, and bytes that match their size and hash.
func checkMediaRow(cols []string, vals []any) error {
	get := map[string]any{}
	for i, c := range cols {
		get[c] = vals[i]
	}
	ct, _ := get["content_type"].(string)
	if !MediaTypes[ct] {
		return fmt.Errorf("content type %q is not an allowed image type", ct)
	}
	data, _ := get["data"].([]byte)
	size, _ := get["size"].(int64)
	if len(data) == 0 || len(data) > MaxMediaSize || int64(len(data)) != size {
		return fmt.Errorf("image of %d bytes (recorded size %d, limit %d)", len(data), size, MaxMediaSize)
	}
	sum := sha256.Sum256(data)
	if h, _ := get["sha256"].(string); h != hex.EncodeToString(sum[:]) {
		return errors.New("image bytes do not match their recorded sha256")
	}
	return nil
}

// checkDocumentRow checks what the site trusts about a document when it
// serves it: bytes that match their size and hash, and whose content is
// of the recorded type, by the same check as an upload.
func checkDocumentRow(cols []string, vals []any) error {
	get := map[string]any{}
	for i, c := range cols {
		get[c] = vals[i]
	}
	data, _ := get["data"].([]byte)
	size, _ := get["size"].(int64)
	if len(data) == 0 || len(data) > MaxDocumentSize || int64(len(data)) != size {
		return fmt.Errorf("document of %d bytes (recorded size %d, limit %d)", len(data), size, MaxDocumentSize)
	}
	if h, _ := get["sha256"].(string); h != sha256Hex(data) {
		return errors.New("document bytes do not match their recorded sha256")
	}
	ct, err := SniffDocument(data)
	if err != nil {
		return fmt.Errorf("document content: %v", err)
	}
	if rec, _ := get["content_type"].(string); rec != ct {
		return fmt.Errorf("document recorded as %q is %s by its content", rec, ct)
	}
	return nil
}

// finishImport checks that the copy at path holds exactly the rows read
// (by digest), migrates it up, validates its records with the same rules
// as the admin screens, checks its integrity and syncs it.
func finishImport(ctx context.Context, path string, want Digest, version int64) (siteName string, size int64, err error) {
	got, err := FileDigest(ctx, path)
	if err != nil {
		return "", 0, err
	}
	if diff := want.Diff(got); len(diff) > 0 {
		return "", 0, reject("the copied rows differ from the file's in tables %v", diff)
	}
	db, err := openFile(ctx, path, "import", "rw", false, false)
	if err != nil {
		return "", 0, fmt.Errorf("migrating the import from version %d: %w", version, err)
	}
	defer func() {
		if cerr := db.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	if siteName, err = db.validateAll(ctx); err != nil {
		return "", 0, err
	}
	if err := sqlitefile.IntegrityCheck(ctx, db.r); err != nil {
		return "", 0, err
	}
	if err := db.Close(); err != nil {
		return "", 0, err
	}
	if err := sqlitefile.SyncFile(path); err != nil {
		return "", 0, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return "", 0, err
	}
	return siteName, fi.Size(), nil
}

// maxImportRows bounds each table of an imported file, checked as its
// rows are copied, before anything is validated: far beyond a chapter
// (the largest seen has a few hundred posts and a few thousand
// messages), so that an export of any real site imports again (a restore
// and a move import too), yet small enough that a crafted file cannot
// make an import take minutes. A table not named here takes
// defaultMaxImportRows.
var maxImportRows = map[string]int{
	"site":  1,
	"media": 20_000,
	// three sizes of each image at most
	"media_variants": 60_000,
	"documents":      20_000,
	"albums":         5_000,
	"album_photos":   100_000,
	"pages":          2_000,
	"posts":          100_000,
	"events":         100_000,
	"officers":       2_000,
	"messages":       100_000,
	"admins":         1_000,
	"sessions":       100_000,
	"outbox":         100_000,
	"mail_tokens":    10_000,
	// Members: a large lodge has thousands; no chapter has 50,000.
	"members":             50_000,
	"member_applications": 10_000,
	"member_tokens":       150_000,
	"member_sessions":     250_000,
	"rsvps":               100_000,
	// A day's visitors by page: far more than a chapter sees in a day.
	"stats_seen":  500_000,
	"stats_daily": 200_000,
}

const defaultMaxImportRows = 100_000

func maxRows(table string) int {
	if n, ok := maxImportRows[table]; ok {
		return n
	}
	return defaultMaxImportRows
}

// rejectRow is an import refused for one row, naming its table, its id
// and, for a ValidationError, the field.
func rejectRow(table string, id any, err error) error {
	if ve, ok := errors.AsType[*ValidationError](err); ok {
		return reject("table %q row %v field %q: %s", table, id, ve.Field, ve.Message)
	}
	return reject("table %q row %v: %v", table, id, err)
}

// eachRow runs check on every row of query, scanned by scan, one at a
// time: an imported table is never held in memory whole.
func eachRow[T any](ctx context.Context, db *DB, table, query string, scan func(scanner) (T, error), check func(T) (id any, err error)) error {
	rows, err := db.r.QueryContext(ctx, query)
	if err != nil {
		return reject("reading table %q: %v", table, err)
	}
	defer rows.Close()
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return reject("reading table %q: %v", table, err)
		}
		if id, err := check(v); err != nil {
			return rejectRow(table, id, err)
		}
	}
	if err := rows.Err(); err != nil {
		return reject("reading table %q: %v", table, err)
	}
	return nil
}

// validateAll checks every row of every table of an imported tenant with
// the validators the stores apply to what the API and the dashboard save,
// so that the site serves nothing it would not accept; and the admins'
// password hashes against the verifier's ceiling, so that no login costs
// more than one of ours. A new table must be added here:
// TestImportValidatesEveryTable fails until it is.
func (db *DB) validateAll(ctx context.Context) (siteName string, err error) {
	site, err := db.Site(ctx)
	if err != nil {
		return "", reject("the site settings: %v", err)
	}
	if err := site.Validate(); err != nil {
		return "", rejectRow("site", 1, err)
	}
	for _, check := range []func() error{
		func() error {
			return eachRow(ctx, db, "media", `SELECT `+mediaColumns+` FROM media ORDER BY id`,
				func(s scanner) (Media, error) { return scanMedia(s) },
				func(m Media) (any, error) { return m.ID, m.Validate() })
		},
		func() error {
			// Each copy is checked against its original's dimensions.
			return eachRow(ctx, db, "media_variants", `SELECT v.`+strings.ReplaceAll(variantColumns, ", ", ", v.")+`, `+
				`m.width, m.height FROM media_variants v JOIN media m ON m.id = v.media_id ORDER BY v.media_id, v.variant`,
				func(s scanner) (mediaVariantRow, error) {
					var r mediaVariantRow
					v, err := scanVariant(s, &r.of.Width, &r.of.Height)
					r.v = v
					return r, err
				},
				func(r mediaVariantRow) (any, error) { return r.v.MediaID + " " + r.v.Variant, r.v.Validate(r.of) })
		},
		func() error {
			return eachRow(ctx, db, "documents", `SELECT `+documentColumns+` FROM documents ORDER BY id`, scanDocumentRow,
				func(d Document) (any, error) { return d.ID, d.Validate() })
		},
		func() error {
			return eachRow(ctx, db, "albums", `SELECT `+albumColumns+` FROM albums ORDER BY id`, scanAlbumRow,
				func(a Album) (any, error) { return a.ID, a.Validate() })
		},
		func() error {
			return eachRow(ctx, db, "album_photos", `SELECT rowid, album_id, media_id, position, caption FROM album_photos ORDER BY rowid`,
				scanAlbumPhotoRow, func(r albumPhotoRow) (any, error) { return r.rowid, r.p.Validate() })
		},
		func() error {
			return eachRow(ctx, db, "pages", `SELECT `+pageColumns+` FROM pages ORDER BY id`, scanPage,
				func(p Page) (any, error) { return p.ID, p.Validate() })
		},
		func() error {
			return eachRow(ctx, db, "posts", `SELECT `+postColumns+` FROM posts ORDER BY id`, scanPost,
				func(p Post) (any, error) { return p.ID, p.Validate() })
		},
		func() error {
			return eachRow(ctx, db, "events", `SELECT `+eventColumns+` FROM events ORDER BY id`, scanEvent,
				func(e Event) (any, error) { return e.ID, e.Validate() })
		},
		func() error {
			return eachRow(ctx, db, "officers", `SELECT `+officerColumns+` FROM officers ORDER BY id`, scanOfficer,
				func(o Officer) (any, error) { return o.ID, o.Validate() })
		},
		func() error {
			return eachRow(ctx, db, "messages", `SELECT `+messageColumns+` FROM messages ORDER BY id`, scanMessage,
				func(m Message) (any, error) {
					if errs := m.Validate(); len(errs) > 0 {
						return m.ID, errs[0]
					}
					if len(m.IP) > 64 {
						return m.ID, invalid("ip", "is longer than 64 bytes")
					}
					return m.ID, nil
				})
		},
		func() error {
			return eachRow(ctx, db, "admins", `SELECT `+adminColumns+` FROM admins ORDER BY id`, scanAdmin,
				func(a Admin) (any, error) {
					if err := a.Validate(); err != nil {
						return a.ID, err
					}
					if _, err := ParsePasswordHash(a.PasswordHash); err != nil {
						return fmt.Sprintf("%d (admin %s)", a.ID, a.Email), invalid("password_hash", "%v", err)
					}
					return a.ID, nil
				})
		},
		func() error {
			return eachRow(ctx, db, "rsvps", `SELECT `+rsvpColumns+` FROM rsvps ORDER BY id`, scanRSVP,
				func(r RSVP) (any, error) { return r.ID, r.validateStored(r.Token) })
		},
		func() error {
			type row struct {
				day, path       string
				views, visitors int64
			}
			return eachRow(ctx, db, "stats_daily", `SELECT day, path, views, visitors FROM stats_daily ORDER BY day, path`,
				func(s scanner) (row, error) {
					var r row
					return r, s.Scan(&r.day, &r.path, &r.views, &r.visitors)
				},
				func(r row) (any, error) {
					return r.day + " " + r.path, checkStatsRow(r.day, r.path, r.views, r.visitors)
				})
		},
		func() error {
			type row struct{ day, path, visitor string }
			return eachRow(ctx, db, "stats_seen", `SELECT day, path, visitor FROM stats_seen ORDER BY day, path, visitor`,
				func(s scanner) (row, error) {
					var r row
					return r, s.Scan(&r.day, &r.path, &r.visitor)
				},
				func(r row) (any, error) { return r.day + " " + r.path, checkSeenRow(r.day, r.path, r.visitor) })
		},
		func() error {
			return eachRow(ctx, db, "outbox", `SELECT `+outgoingColumns+` FROM outbox ORDER BY id`, scanOutgoing,
				func(o Outgoing) (any, error) { return o.ID, o.Validate() })
		},
		func() error {
			return eachRow(ctx, db, "mail_tokens", `SELECT `+mailTokenColumns+` FROM mail_tokens ORDER BY id`, scanMailToken,
				func(t MailToken) (any, error) { return t.ID, t.Validate() })
		},
		func() error {
			// A session is named by its rowid: its id is a credential.
			return eachRow(ctx, db, "sessions", `SELECT rowid, id, admin_id, created_at, expires_at, ip, user_agent FROM sessions ORDER BY rowid`,
				scanSessionRow, func(r sessionRow) (any, error) { return r.rowid, r.s.Validate() })
		},
		func() error {
			return eachRow(ctx, db, "members", `SELECT `+memberColumns+` FROM members ORDER BY id`, scanMember,
				func(m Member) (any, error) { return m.ID, m.Validate() })
		},
		func() error {
			return eachRow(ctx, db, "member_applications", `SELECT `+applicationColumns+` FROM member_applications ORDER BY id`,
				scanApplication, func(a Application) (any, error) {
					if errs := a.Validate(); len(errs) > 0 {
						return a.ID, errs[0]
					}
					return a.ID, nil
				})
		},
		// Links and sessions are named by their rowid: the hash stands for
		// a credential. The member they belong to is a foreign key.
		func() error {
			return eachRow(ctx, db, "member_tokens", `SELECT rowid, hash, created_at, expires_at, used_at FROM member_tokens ORDER BY rowid`,
				scanSecretRow, checkSecretRow)
		},
		func() error {
			return eachRow(ctx, db, "member_sessions", `SELECT rowid, hash, created_at, expires_at, '' FROM member_sessions ORDER BY rowid`,
				scanSecretRow, checkSecretRow)
		},
	} {
		if err := check(); err != nil {
			return "", err
		}
	}
	return site.Name, nil
}

type mediaVariantRow struct {
	v  MediaVariant
	of Media
}

type sessionRow struct {
	rowid int64
	s     Session
}

func scanSessionRow(s scanner) (sessionRow, error) {
	var r sessionRow
	var created, expires string
	err := s.Scan(&r.rowid, &r.s.ID, &r.s.AdminID, &created, &expires, &r.s.IP, &r.s.UserAgent)
	r.s.CreatedAt, r.s.ExpiresAt = sqlitefile.ParseTime(created), sqlitefile.ParseTime(expires)
	return r, err
}

// secretRow is a magic link's or a member session's row as an import
// checks it.
type secretRow struct {
	rowid                        int64
	hash, created, expires, used string
}

func scanSecretRow(s scanner) (secretRow, error) {
	var r secretRow
	err := s.Scan(&r.rowid, &r.hash, &r.created, &r.expires, &r.used)
	return r, err
}

// checkSecretRow checks the shape of a stored secret's row: a sha256 in
// lower-case hex, and times as the stores write them.
func checkSecretRow(r secretRow) (any, error) {
	if len(r.hash) != 64 || strings.Trim(r.hash, "0123456789abcdef") != "" {
		return r.rowid, invalid("hash", "is not a sha256 in hex")
	}
	for _, f := range []struct{ name, v string }{{"created_at", r.created}, {"expires_at", r.expires}, {"used_at", r.used}} {
		if f.v == "" && f.name == "used_at" {
			continue
		}
		if _, err := time.Parse(sqlitefile.StoredTime, f.v); err != nil {
			return r.rowid, invalid(f.name, "%q is not a stored time", f.v)
		}
	}
	return r.rowid, nil
}
