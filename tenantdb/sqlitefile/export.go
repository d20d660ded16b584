package sqlitefile

import (
	"context"
	"crypto/rand"
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

	"github.com/chapterhouse/chapterhouse/internal/hold"

	"golang.org/x/sys/unix"
)

// FileInfo describes a database file that Export wrote or a check read.
type FileInfo struct {
	Path    string `json:"-"`
	Size    int64  `json:"size"`
	SHA256  string `json:"sha256"`
	Version int64  `json:"schema_version"`
}

func Export(ctx context.Context, src, dst string, s *Schema) (info FileInfo, err error) {
	dst = filepath.Clean(dst)
	if _, err := os.Lstat(dst); err == nil {
		return info, fmt.Errorf("%s: %w (an export never overwrites a file; choose a new name)", dst, ErrExists)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return info, err
	}
	dir := filepath.Dir(dst)
	if fi, err := os.Stat(dir); err != nil {
		return info, fmt.Errorf("export directory: %w", err)
	} else if !fi.IsDir() {
		return info, fmt.Errorf("export directory %s is not a directory", dir)
	}
	tmp := filepath.Join(dir, "."+filepath.Base(dst)+"."+randomName()+".tmp")
	defer func() {
		if err != nil {
			RemoveFiles(tmp)
		}
	}()
	if err := VacuumInto(ctx, s, src, tmp); err != nil {
		return info, fmt.Errorf("snapshot: %w", err)
	}
	if err := dropLitestream(ctx, s, tmp); err != nil {
		return info, fmt.Errorf("snapshot: %w", err)
	}
	hold.At("export.snapshot")
	if err := os.Chmod(tmp, 0o600); err != nil {
		return info, err
	}
	if info, err = Check(ctx, tmp, s, false); err != nil {
		return info, fmt.Errorf("the snapshot failed its check: %w", err)
	}
	if err := SyncFile(tmp); err != nil {
		return info, err
	}
	hold.At("export.synced")
	if err := RenameNoReplace(tmp, dst); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return info, fmt.Errorf("%s: %w (an export never overwrites a file; choose a new name)", dst, ErrExists)
		}
		return info, err
	}
	info.Path = dst
	hold.At("export.renamed")
	return info, SyncDir(dir)
}

// VacuumInto copies the database at src, of kind s, into the new file dst
// in one read transaction, through a connection of its own, so that
// readers and the writer of src are not held up. A tenant file is opened
// as the pool opens it (unix-excl, read-write, though VACUUM INTO only
// reads): SQLite does not promise that connections of one process to one
// file may mix VFSes, and unix-excl treats read-only connections apart.
func VacuumInto(ctx context.Context, s *Schema, src, dst string) error {
	mode := "ro"
	if s.VFS != "" {
		mode = "rw"
	}
	db, err := sql.Open("sqlite", DSN(s, src, mode))
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	_, err = db.ExecContext(ctx, `VACUUM INTO ?`, dst)
	return err
}

// dropLitestream removes the tables Litestream makes in a file it
// replicates (_litestream_seq, _litestream_lock) from a new snapshot: an
// export holds content only, whether or not its source was replicated.
func dropLitestream(ctx context.Context, s *Schema, path string) error {
	db, err := sql.Open("sqlite", DSN(s, path, "rw"))
	if err != nil {
		return err
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE name IN ('_litestream_seq', '_litestream_lock')`).Scan(&n); err != nil || n == 0 {
		return err
	}
	_, err = db.ExecContext(ctx, `DROP TABLE IF EXISTS _litestream_seq; DROP TABLE IF EXISTS _litestream_lock`)
	return err
}

func EscapePath(path string) string { return uriEscaper.Replace(path) }

// uriEscaper escapes what a file: URI would otherwise take as its query,
// fragment or an escape.
var uriEscaper = strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")

// Check checks a self-contained database file that nothing has open
// (an export, a backup): it must be a SQLite file of Chapterhouse's at a
// version this binary knows, not in WAL mode, and pass integrity_check. It
// returns the file's size, sha256 and Schema version.
func Check(ctx context.Context, path string, s *Schema, allowWAL bool) (FileInfo, error) {
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
	if n < len(hdr) || string(hdr[:16]) != Magic {
		return info, errors.New("not a SQLite database")
	}
	if (hdr[18] == 2 || hdr[19] == 2) && !allowWAL {
		return info, errors.New("the file is in WAL mode; an export must be self-contained")
	}
	if id := binary.BigEndian.Uint32(hdr[68:72]); id != ApplicationID {
		return info, fmt.Errorf("application_id is %#x, not Chapterhouse's %#x", id, ApplicationID)
	}
	info.Version = int64(int32(binary.BigEndian.Uint32(hdr[60:64])))
	if info.Version < 1 || info.Version > s.Latest {
		return info, fmt.Errorf("schema version %d; this binary knows 1 to %d", info.Version, s.Latest)
	}
	db, err := OpenImmutable(path)
	if err != nil {
		return info, err
	}
	defer db.Close()
	if err := IntegrityCheck(ctx, db); err != nil {
		return info, err
	}
	return info, nil
}

const Magic = "SQLite format 3\x00"

// IntegrityCheck runs PRAGMA integrity_check and returns its first
// complaint as an error.
func IntegrityCheck(ctx context.Context, q interface {
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

func SyncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	return errors.Join(err, f.Close())
}

// SyncDir makes the entries of dir (a new or renamed file) durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	return errors.Join(err, d.Close())
}

// RenameNoReplace renames src to dst unless dst exists (fs.ErrExist).
func RenameNoReplace(src, dst string) error {
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

// SettleWAL makes sure the closed database of kind s at path keeps nothing
// in a WAL file, so the file alone is the whole database and can be
// renamed, linked or replaced. A WAL left by a crash is checkpointed into
// it.
func SettleWAL(s *Schema, path string) error {
	fi, err := os.Stat(path + "-wal")
	if errors.Is(err, os.ErrNotExist) {
		os.Remove(path + "-shm")
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Size() > 0 {
		db, err := sql.Open("sqlite", DSN(s, path, "rw"))
		if err != nil {
			return err
		}
		var busy, logFrames, done int
		err = db.QueryRow("PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logFrames, &done)
		err = errors.Join(err, db.Close())
		if err != nil {
			return fmt.Errorf("checkpointing %s: %w", path, err)
		}
		if busy != 0 {
			return fmt.Errorf("%s is held open by another process; stop it and try again", path)
		}
	}
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > 0 {
		return fmt.Errorf("%s is held open by another process; stop it and try again", path)
	}
	os.Remove(path + "-wal")
	os.Remove(path + "-shm")
	return nil
}

// randomName is a random file name part, for temporary files.
func randomName() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// OpenImmutable opens the file at path read-only and immutable, with
// trusted_schema off: for reading a snapshot, an export or a backup that
// nothing writes while it is open.
func OpenImmutable(path string) (*sql.DB, error) {
	return sql.Open("sqlite", "file:"+EscapePath(path)+"?mode=ro&immutable=1&_pragma=trusted_schema(0)")
}
