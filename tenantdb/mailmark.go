package tenantdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/chapterhouse/chapterhouse/tenantdb/sqlitefile"
)

// The "mail waiting" markers: DATA/mail/<tenant id>, an empty file that
// exists whenever the tenant's outbox may hold mail to send (queued, or
// left 'sending' by a process that died). The mail worker's start reads
// this one directory instead of opening every tenant file.
//
// A marker is made durable (the file created, its directory synced)
// inside the write transaction that queues mail, before that transaction
// commits; a marker is removed only inside a write transaction that found
// no mail waiting. Tenant writes are serialised on the tenant's one
// writer connection, so no commit that queues mail can fall between the
// check and the removal. A crash at any point so leaves either no
// committed mail, or committed mail and its marker: a marker without
// mail (a crash before the commit, a rollback) costs one open at the next
// start, which removes it.

// mailMarkComplete, in the marker directory, says that every tenant with
// mail waiting has a marker: written after the first start that looked at
// every tenant (a data dir from before the markers), or at the creation
// of a fresh data dir. Without it the mail worker's start looks at every
// tenant once, as it did before the markers.
const mailMarkComplete = ".complete"

// MailMarkDir is the directory of the "mail waiting" markers of data dir dir.
func MailMarkDir(dir string) string { return filepath.Join(dir, "mail") }

// MarkMail makes the marker of tenant id in data dir dir durable: the
// file exists and its directory entry is synced. A marker already there
// costs one stat.
func MarkMail(dir, id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	return markMail(filepath.Join(MailMarkDir(dir), id))
}

func markMail(path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	d := filepath.Dir(path)
	if _, err := os.Stat(d); errors.Is(err, fs.ErrNotExist) {
		if err := os.Mkdir(d, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("making the mail marker directory: %w", err)
		}
		if err := sqlitefile.SyncDir(filepath.Dir(d)); err != nil {
			return fmt.Errorf("syncing the data dir: %w", err)
		}
	}
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("marking mail waiting: %w", err)
	}
	f.Close()
	if err := sqlitefile.SyncDir(d); err != nil {
		return fmt.Errorf("marking mail waiting: %w", err)
	}
	return nil
}

// MailMarks lists the tenants of data dir dir that have a marker, and
// whether the markers are complete (see MarkMailComplete): when they are
// not, tenants without a marker may have mail waiting too.
func MailMarks(dir string) (ids []string, complete bool, err error) {
	entries, err := os.ReadDir(MailMarkDir(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading the mail markers: %w", err)
	}
	for _, e := range entries {
		switch name := e.Name(); {
		case name == mailMarkComplete:
			complete = true
		case ValidTenantID(name) && e.Type().IsRegular():
			ids = append(ids, name)
		}
	}
	return ids, complete, nil
}

// MarkMailComplete records that every tenant of data dir dir with mail
// waiting has its marker.
func MarkMailComplete(dir string) error {
	if err := markMail(filepath.Join(MailMarkDir(dir), mailMarkComplete)); err != nil {
		return fmt.Errorf("recording the mail markers complete: %w", err)
	}
	return nil
}

// UnmarkMail removes the marker of tenant id of data dir dir whose file is
// gone (deleted, trashed): nothing can queue mail in it. A tenant that
// exists is unmarked by DB.UnmarkMail, which checks its outbox.
func UnmarkMail(dir, id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	if _, err := os.Stat(TenantPath(dir, id)); !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("tenant %s still has its file: %w", id, ErrConflict)
	}
	if err := os.Remove(filepath.Join(MailMarkDir(dir), id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// mailMarkPath is the marker of tenant id in data dir dir.
func mailMarkPath(dir, id string) string {
	if !ValidTenantID(id) {
		return ""
	}
	return filepath.Join(MailMarkDir(dir), id)
}

// UnmarkMail removes the tenant's marker if no mail waits in its outbox,
// and reports whether none waits. It runs as a write, so that no mail can
// be queued between the look and the removal.
func (db *DB) UnmarkMail(ctx context.Context) (bool, error) {
	if db.mailMark == "" {
		return false, nil
	}
	var empty bool
	err := db.write(ctx, func(tx *sql.Tx) error {
		var waiting bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM outbox WHERE status IN ('queued', 'sending'))`).Scan(&waiting); err != nil {
			return err
		}
		if waiting {
			return nil
		}
		empty = true
		if err := os.Remove(db.mailMark); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing the mail marker: %w", err)
		}
		return nil
	})
	return empty, err
}

// MailMarked reports whether the tenant's marker exists.
func (db *DB) MailMarked() bool {
	if db.mailMark == "" {
		return false
	}
	_, err := os.Stat(db.mailMark)
	return err == nil
}

// MailWaiting reports whether the prepared file holds mail to send
// (queued, or left 'sending'): the tenant it becomes needs its marker
// before the file is renamed into place.
func (im *Imported) MailWaiting(ctx context.Context) (bool, error) {
	db, err := openFile(ctx, im.Path, "import", "rw", false, false)
	if err != nil {
		return false, err
	}
	_, waiting, err := db.NextMailDue(ctx)
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = SettleWAL(im.Path)
	}
	if err != nil {
		return false, fmt.Errorf("looking for mail in the imported file: %w", err)
	}
	return waiting, nil
}
