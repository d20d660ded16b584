package tenantdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"
)

// write runs fn in an IMMEDIATE transaction on the writer connection and,
// once it commits, moves the generation on so caches of this tenant drop.
// A write that fails to commit may still have reached the file, so the
// generation moves on whenever fn succeeded.
//
// A write whose fn queued mail (queueMail) makes the tenant's "mail
// waiting" marker durable before it commits (mailmark.go: a marker that
// cannot be made fails the write), and calls the DB's mail hook
// (OnMailQueued) once it commits, so the mail worker knows to visit.
func (db *DB) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	defer db.beforeWrite(ctx)()
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var queued atomic.Bool
	writes.Store(tx, &queued)
	defer writes.Delete(tx)
	if err := fn(tx); err != nil {
		return err
	}
	if queued.Load() && db.mailMark != "" {
		if err := markMail(db.mailMark); err != nil {
			return err
		}
	}
	if f := db.fence.Load(); f != nil {
		if err := (*f)(); err != nil {
			return err // rolled back: nothing of it is written
		}
	}
	err = tx.Commit()
	db.gen.Store(generations.Add(1))
	if err == nil && queued.Load() {
		if hook := db.mailHook.Load(); hook != nil {
			(*hook)()
		}
	}
	return err
}

// writes maps the transaction of each running db.write to a flag that
// queueMail sets: queueMail gets only the transaction.
var writes sync.Map // *sql.Tx -> *atomic.Bool

// mailQueued notes that tx queued mail.
func mailQueued(tx *sql.Tx) {
	if f, ok := writes.Load(tx); ok {
		f.(*atomic.Bool).Store(true)
	}
}

// SetFence makes every write of db call fn right before it commits; an
// error from fn rolls the write back and is the write's error. A node of a
// cluster fences the tenants whose lease it may have lost (docs/cluster.md).
func (db *DB) SetFence(fn func() error) { db.fence.Store(&fn) }

// OnMailQueued makes every committed write of db that queued mail call
// fn (after the commit, on the writer's goroutine: fn must not block).
func (db *DB) OnMailQueued(fn func()) { db.mailHook.Store(&fn) }

// exec runs one statement as a write and reports ErrNotFound when it
// touched no row.
func (db *DB) exec(ctx context.Context, what string, query string, args ...any) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err == nil && n == 0 {
			return fmt.Errorf("%s: %w", what, ErrNotFound)
		}
		return nil
	})
}

type scanner interface{ Scan(...any) error }

func notFound(err error, format string, args ...any) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf(format+": %w", append(args, ErrNotFound)...)
	}
	return err
}

// checkLen validates the length of a text field in characters.
func checkLen(field, v string, minLen, maxLen int) error {
	n := utf8.RuneCountInString(v)
	if n < minLen {
		if minLen == 1 {
			return invalid(field, "is required")
		}
		return invalid(field, "must be at least %d characters", minLen)
	}
	if n > maxLen {
		return invalid(field, "must be at most %d characters", maxLen)
	}
	if !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
		return invalid(field, "contains invalid characters")
	}
	return nil
}

var contentSlugPattern = regexp.MustCompile(`^[a-z0-9]+(?:-[a-z0-9]+)*$`)

func checkSlug(field, slug string) error {
	if len(slug) > 80 || !contentSlugPattern.MatchString(slug) {
		return invalid(field, "%q must be 1-80 characters of a-z, 0-9 and single '-' between words", slug)
	}
	return nil
}

// Slugify makes a URL slug of a title: "Memorial Day 2026!" -> "memorial-day-2026".
func Slugify(title string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(title) {
		switch {
		case r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			b.WriteRune(r)
			dash = false
		case b.Len() > 0 && !dash:
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= 80 {
			break
		}
	}
	s := strings.Trim(b.String(), "-")
	if s == "" {
		s = "item"
	}
	return s
}

// uniqueSlug returns base, or base-2, base-3, ... whichever is free in table.
func uniqueSlug(ctx context.Context, tx *sql.Tx, table, base string, exceptID int64) (string, error) {
	slug := base
	for i := 2; ; i++ {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM `+table+` WHERE slug = ? AND id <> ?`, slug, exceptID).Scan(&n); err != nil {
			return "", err
		}
		if n == 0 {
			return slug, nil
		}
		slug = fmt.Sprintf("%s-%d", base, i)
	}
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }
