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
	"strings"

	"golang.org/x/sys/unix"
)

// FileInfo describes a database file that Export wrote or a check read.
type FileInfo struct {
	Path    string `json:"-"`
	Size    int64  `json:"size"`
	SHA256  string `json:"sha256"`
	Version int64  `json:"schema_version"`
}

// Export writes a consistent snapshot of the tenant to the new file dst,
// while other connections keep reading and writing: every transaction that
// committed before Export began is in the file. The snapshot is written
// with VACUUM INTO to a temporary file next to dst, synced, checked with
// integrity_check and then renamed to dst, so dst either does not exist or
// is complete. The file is a single self-contained database (not in WAL
// mode). Export never overwrites dst: an existing dst is ErrConflict.
func (db *DB) Export(ctx context.Context, dst string) (FileInfo, error) {
	return exportFile(ctx, db.path, dst, tenantSchema)
}

// Export writes a consistent snapshot of the catalog to the new file dst,
// as DB.Export does for a tenant.
func (c *Catalog) Export(ctx context.Context, dst string) (FileInfo, error) {
	return exportFile(ctx, CatalogPath(c.dir), dst, catalogSchema)
}

func exportFile(ctx context.Context, src, dst string, s *schema) (info FileInfo, err error) {
	dst = filepath.Clean(dst)
	if _, err := os.Lstat(dst); err == nil {
		return info, fmt.Errorf("%s: %w (an export never overwrites a file; choose a new name)", dst, ErrConflict)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return info, err
	}
	dir := filepath.Dir(dst)
	if fi, err := os.Stat(dir); err != nil {
		return info, fmt.Errorf("export directory: %w", err)
	} else if !fi.IsDir() {
		return info, fmt.Errorf("export directory %s is not a directory", dir)
	}
	tmp := filepath.Join(dir, "."+filepath.Base(dst)+"."+newID(8)+".tmp")
	defer func() {
		if err != nil {
			RemoveFiles(tmp)
		}
	}()
	if err := vacuumInto(ctx, s, src, tmp); err != nil {
		return info, fmt.Errorf("snapshot: %w", err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return info, err
	}
	if info, err = checkFile(ctx, tmp, s, false); err != nil {
		return info, fmt.Errorf("the snapshot failed its check: %w", err)
	}
	if err := syncFile(tmp); err != nil {
		return info, err
	}
	if err := renameNoReplace(tmp, dst); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return info, fmt.Errorf("%s: %w (an export never overwrites a file; choose a new name)", dst, ErrConflict)
		}
		return info, err
	}
	info.Path = dst
	return info, syncDir(dir)
}

// vacuumInto copies the database at src, of kind s, into the new file dst
// in one read transaction, through a connection of its own, so that
// readers and the writer of src are not held up. A tenant file is opened
// as the pool opens it (unix-excl, read-write, though VACUUM INTO only
// reads): SQLite does not promise that connections of one process to one
// file may mix VFSes, and unix-excl treats read-only connections apart.
func vacuumInto(ctx context.Context, s *schema, src, dst string) error {
	mode := "ro"
	if s.vfs != "" {
		mode = "rw"
	}
	db, err := sql.Open("sqlite", dsn(s, src, mode))
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	_, err = db.ExecContext(ctx, `VACUUM INTO ?`, dst)
	return err
}

func escapePath(path string) string { return uriEscaper.Replace(path) }

// uriEscaper escapes what a file: URI would otherwise take as its query,
// fragment or an escape.
var uriEscaper = strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")

// checkFile checks a self-contained database file that nothing has open
// (an export, a backup): it must be a SQLite file of Chapterhouse's at a
// version this binary knows, not in WAL mode, and pass integrity_check. It
// returns the file's size, sha256 and schema version.
func checkFile(ctx context.Context, path string, s *schema, allowWAL bool) (FileInfo, error) {
	info := FileInfo{Path: path}
	f, err := os.Open(path)
	if err != nil {
		return info, err
	}
	defer f.Close()
	h := sha256.New()
	var hdr [100]byte
	n, err := io.ReadFull(io.TeeReader(f, h), hdr[:])
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return info, err
	}
	rest, err := io.Copy(h, f)
	if err != nil {
		return info, err
	}
	info.Size = int64(n) + rest
	info.SHA256 = hex.EncodeToString(h.Sum(nil))
	if n < len(hdr) || string(hdr[:16]) != sqliteMagic {
		return info, errors.New("not a SQLite database")
	}
	if (hdr[18] == 2 || hdr[19] == 2) && !allowWAL {
		return info, errors.New("the file is in WAL mode; an export must be self-contained")
	}
	if id := binary.BigEndian.Uint32(hdr[68:72]); id != ApplicationID {
		return info, fmt.Errorf("application_id is %#x, not Chapterhouse's %#x", id, ApplicationID)
	}
	info.Version = int64(int32(binary.BigEndian.Uint32(hdr[60:64])))
	if info.Version < 1 || info.Version > s.latest {
		return info, fmt.Errorf("schema version %d; this binary knows 1 to %d", info.Version, s.latest)
	}
	db, err := sql.Open("sqlite", "file:"+escapePath(path)+"?mode=ro&immutable=1&_pragma=trusted_schema(0)")
	if err != nil {
		return info, err
	}
	defer db.Close()
	if err := integrityCheck(ctx, db); err != nil {
		return info, err
	}
	return info, nil
}

const sqliteMagic = "SQLite format 3\x00"

// integrityCheck runs PRAGMA integrity_check and returns its first
// complaint as an error.
func integrityCheck(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}) error {
	rows, err := q.QueryContext(ctx, `PRAGMA integrity_check(20)`)
	if err != nil {
		return fmt.Errorf("integrity_check: %w", err)
	}
	defer rows.Close()
	var msgs []string
	for rows.Next() {
		var m string
		if err := rows.Scan(&m); err != nil {
			return fmt.Errorf("integrity_check: %w", err)
		}
		msgs = append(msgs, m)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("integrity_check: %w", err)
	}
	if len(msgs) != 1 || msgs[0] != "ok" {
		if len(msgs) > 3 {
			msgs = append(msgs[:3], fmt.Sprintf("(%d more)", len(msgs)-3))
		}
		return fmt.Errorf("integrity_check failed: %s", strings.Join(msgs, "; "))
	}
	return nil
}

// CheckTenantFile is CheckFile for a tenant's file.
func CheckTenantFile(ctx context.Context, path string) (FileInfo, error) {
	return checkFile(ctx, path, tenantSchema, false)
}

// CheckClosedTenantFile is CheckTenantFile for a tenant file that was in
// service (in WAL mode) and is now closed with its WAL settled (SettleWAL):
// one kept in the trash, say.
func CheckClosedTenantFile(ctx context.Context, path string) (FileInfo, error) {
	return checkFile(ctx, path, tenantSchema, true)
}

// CheckCatalogFile is CheckFile for a catalog's file.
func CheckCatalogFile(ctx context.Context, path string) (FileInfo, error) {
	return checkFile(ctx, path, catalogSchema, false)
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	return errors.Join(err, f.Close())
}

// syncDir makes the entries of dir (a new or renamed file) durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	return errors.Join(err, d.Close())
}

// SyncDir makes a rename or new file in dir durable.
func SyncDir(dir string) error { return syncDir(dir) }

// renameNoReplace renames src to dst unless dst exists (fs.ErrExist).
func renameNoReplace(src, dst string) error {
	err := unix.Renameat2(unix.AT_FDCWD, src, unix.AT_FDCWD, dst, unix.RENAME_NOREPLACE)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EEXIST):
		return &os.LinkError{Op: "rename", Old: src, New: dst, Err: fs.ErrExist}
	case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOSYS):
		// The file system cannot rename without replacing: a hard link
		// fails on an existing name just the same.
		if err := os.Link(src, dst); err != nil {
			return err
		}
		return os.Remove(src)
	}
	return &os.LinkError{Op: "rename", Old: src, New: dst, Err: err}
}

// RenameNoReplace renames src to dst, failing with fs.ErrExist if dst
// exists.
func RenameNoReplace(src, dst string) error { return renameNoReplace(src, dst) }

// Check runs integrity_check on the tenant's file as it is now.
func (db *DB) Check(ctx context.Context) error {
	return integrityCheck(ctx, db.r)
}

// Check runs integrity_check on the catalog's file.
func (c *Catalog) Check(ctx context.Context) error {
	return integrityCheck(ctx, c.db)
}
