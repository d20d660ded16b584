package tenantdb

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb/sqlitefile"
)

// Admin roles.
const (
	RoleOwner  = "owner"  // everything, including the other admins and exports
	RoleEditor = "editor" // the content
)

// Admin is an account that edits this tenant's site.
type Admin struct {
	ID                int64     `json:"id"`
	Email             string    `json:"email"`
	Role              string    `json:"role"`
	PasswordHash      string    `json:"-"`
	CreatedAt         time.Time `json:"created_at"`
	PasswordChangedAt time.Time `json:"password_changed_at"`
}

// ValidateRole checks an admin role.
func ValidateRole(role string) error {
	if role != RoleOwner && role != RoleEditor {
		return invalid("role", "%q is not one of owner, editor", role)
	}
	return nil
}

// Validate checks an admin's email, role and that a password hash is set
// (its parameters are checked where it comes from elsewhere: imports).
func (a *Admin) Validate() error {
	if err := ValidateEmail("email", a.Email); err != nil {
		return err
	}
	if err := ValidateRole(a.Role); err != nil {
		return err
	}
	if a.PasswordHash == "" {
		return invalid("password", "is required")
	}
	return nil
}

const adminColumns = `id, email, role, password_hash, created_at, password_changed_at`

func scanAdmin(s scanner) (Admin, error) {
	var a Admin
	var created, changed string
	err := s.Scan(&a.ID, &a.Email, &a.Role, &a.PasswordHash, &created, &changed)
	a.CreatedAt, a.PasswordChangedAt = sqlitefile.ParseTime(created), sqlitefile.ParseTime(changed)
	return a, err
}

// Admins lists the admins by email.
func (db *DB) Admins(ctx context.Context) ([]Admin, error) { return db.AdminsIn(ctx, Window{}) }

// AdminsIn lists the admins of w, by email.
func (db *DB) AdminsIn(ctx context.Context, w Window) ([]Admin, error) {
	return list(ctx, db, `SELECT `+adminColumns+` FROM admins ORDER BY email, id`, w, scanAdmin)
}

// Admin returns admin id.
func (db *DB) Admin(ctx context.Context, id int64) (Admin, error) {
	a, err := scanAdmin(db.r.QueryRowContext(ctx, `SELECT `+adminColumns+` FROM admins WHERE id = ?`, id))
	return a, notFound(err, "admin %d", id)
}

// AdminByEmail returns the admin with the given email (any case).
func (db *DB) AdminByEmail(ctx context.Context, email string) (Admin, error) {
	a, err := scanAdmin(db.r.QueryRowContext(ctx, `SELECT `+adminColumns+` FROM admins WHERE email = ?`, strings.TrimSpace(email)))
	return a, notFound(err, "admin %q", email)
}

// AddAdmin creates an admin whose password the caller has hashed.
func (db *DB) AddAdmin(ctx context.Context, a *Admin) error {
	a.Email = strings.TrimSpace(a.Email)
	if err := a.Validate(); err != nil {
		return err
	}
	now := db.now().UTC()
	a.CreatedAt, a.PasswordChangedAt = now, now
	return db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO admins (email, role, password_hash, created_at, password_changed_at)
			VALUES (?, ?, ?, ?, ?)`, a.Email, a.Role, a.PasswordHash, sqlitefile.FormatTime(now), sqlitefile.FormatTime(now))
		if sqlitefile.IsUnique(err) {
			return fmt.Errorf("admin %q: %w", a.Email, ErrConflict)
		}
		if err != nil {
			return err
		}
		a.ID, err = res.LastInsertId()
		return err
	})
}

// SetPassword replaces admin id's password hash and ends every session of
// that admin.
func (db *DB) SetPassword(ctx context.Context, id int64, hash string) error {
	if hash == "" {
		return invalid("password", "is required")
	}
	return db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE admins SET password_hash = ?, password_changed_at = ? WHERE id = ?`,
			hash, sqlitefile.FormatTime(db.now()), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("admin %d: %w", id, ErrNotFound)
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM sessions WHERE admin_id = ?`, id)
		return err
	})
}

// ErrLastOwner: the site must keep at least one owner.
var ErrLastOwner = &ValidationError{Field: "role", Message: "the last owner cannot be removed"}

// DeleteAdmin deletes admin id and their sessions; the last owner stays.
func (db *DB) DeleteAdmin(ctx context.Context, id int64) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		var role string
		err := tx.QueryRowContext(ctx, `SELECT role FROM admins WHERE id = ?`, id).Scan(&role)
		if err != nil {
			return notFound(err, "admin %d", id)
		}
		if role == RoleOwner {
			var owners int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM admins WHERE role = 'owner'`).Scan(&owners); err != nil {
				return err
			}
			if owners <= 1 {
				return ErrLastOwner
			}
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM admins WHERE id = ?`, id)
		return err
	})
}

// Session is a logged-in admin's session; a token is only honoured while
// its session row exists and has not expired.
type Session struct {
	ID        string
	AdminID   int64
	CreatedAt time.Time
	ExpiresAt time.Time
	IP        string
	UserAgent string
}

// NewSessionID returns a fresh random session id.
func NewSessionID() string { return NewToken() }

// maxUserAgent is how much of a session's User-Agent header is kept.
const maxUserAgent = 300

// Validate checks a stored session: an id, and what CreateSession keeps
// of the client.
func (s *Session) Validate() error {
	if len(s.ID) < 16 || len(s.ID) > 128 {
		return invalid("id", "a session id must be 16 to 128 characters")
	}
	if len(s.UserAgent) > maxUserAgent {
		return invalid("user_agent", "is longer than %d bytes", maxUserAgent)
	}
	if len(s.IP) > 64 {
		return invalid("ip", "is longer than 64 bytes")
	}
	if !s.ExpiresAt.After(s.CreatedAt) {
		return invalid("expires_at", "is not after created_at")
	}
	return nil
}

// CreateSession stores s, and drops the sessions of its admin that had
// ended when s began (by the clock that began it: see SessionAt).
func (db *DB) CreateSession(ctx context.Context, s Session) error {
	if len(s.UserAgent) > maxUserAgent {
		s.UserAgent = s.UserAgent[:maxUserAgent]
	}
	return db.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE admin_id = ? AND expires_at < ?`,
			s.AdminID, sqlitefile.FormatTime(s.CreatedAt)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO sessions (id, admin_id, created_at, expires_at, ip, user_agent)
			VALUES (?, ?, ?, ?, ?, ?)`, s.ID, s.AdminID, sqlitefile.FormatTime(s.CreatedAt), sqlitefile.FormatTime(s.ExpiresAt), s.IP, s.UserAgent)
		return err
	})
}

// Session returns the live session id together with its admin.
func (db *DB) Session(ctx context.Context, id string) (Session, Admin, error) {
	return db.SessionAt(ctx, id, db.now())
}

// SessionAt is Session by the clock of the caller that started it (the
// web server's, which may be a test's), live if now is before its end.
func (db *DB) SessionAt(ctx context.Context, id string, now time.Time) (Session, Admin, error) {
	var s Session
	var a Admin
	var created, expires, adminCreated, changed string
	err := db.r.QueryRowContext(ctx, `SELECT a.id, a.email, a.role, a.password_hash, a.created_at, a.password_changed_at,
		s.id, s.created_at, s.expires_at, s.ip, s.user_agent
		FROM sessions s JOIN admins a ON a.id = s.admin_id WHERE s.id = ?`, id).Scan(
		&a.ID, &a.Email, &a.Role, &a.PasswordHash, &adminCreated, &changed,
		&s.ID, &created, &expires, &s.IP, &s.UserAgent)
	if err != nil {
		return s, a, notFound(err, "session")
	}
	s.AdminID = a.ID
	a.CreatedAt, a.PasswordChangedAt = sqlitefile.ParseTime(adminCreated), sqlitefile.ParseTime(changed)
	s.CreatedAt, s.ExpiresAt = sqlitefile.ParseTime(created), sqlitefile.ParseTime(expires)
	if !now.Before(s.ExpiresAt) {
		return s, a, fmt.Errorf("session expired: %w", ErrNotFound)
	}
	return s, a, nil
}

// DeleteSession ends session id.
func (db *DB) DeleteSession(ctx context.Context, id string) error {
	return db.exec(ctx, "session", `DELETE FROM sessions WHERE id = ?`, id)
}

// DeleteSessions ends every session of admin id.
func (db *DB) DeleteSessions(ctx context.Context, adminID int64) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE admin_id = ?`, adminID)
		return err
	})
}

// EndAllSessions ends every session of every admin and member, and
// every member's unused magic link: their login tokens no longer pass
// (each request checks its session row). A tenant brought back from the
// trash starts with none.
func (db *DB) EndAllSessions(ctx context.Context) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		for _, table := range []string{"sessions", "member_sessions", "member_tokens"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+table); err != nil {
				return err
			}
		}
		return nil
	})
}
