package tenantdb

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb/sqlitefile"
)

// Purposes of a mail token.
const (
	TokenPasswordReset = "password_reset" // sets an admin's password; 1 hour
	TokenAdminInvite   = "admin_invite"   // creates an admin with the invited email and role; 7 days
)

// TokenPurposes are the purposes a stored mail token may have; a package
// that adds one (members' magic links) registers it here, so imports
// accept it.
var TokenPurposes = map[string]bool{TokenPasswordReset: true, TokenAdminInvite: true}

// MailToken is a single-use token sent by mail. Only its hash is stored.
type MailToken struct {
	ID        int64
	Purpose   string
	TokenHash string
	Email     string
	AdminID   int64 // 0: none
	Role      string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
}

var tokenHashPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Validate checks a stored token.
func (t *MailToken) Validate() error {
	if !TokenPurposes[t.Purpose] {
		return invalid("purpose", "%q is not a known token purpose", t.Purpose)
	}
	if !tokenHashPattern.MatchString(t.TokenHash) {
		return invalid("token_hash", "is not a hex sha256")
	}
	if err := ValidateEmail("email", t.Email); err != nil {
		return err
	}
	if t.Role != "" {
		if err := ValidateRole(t.Role); err != nil {
			return err
		}
	}
	if t.Purpose == TokenAdminInvite && t.Role == "" {
		return invalid("role", "an invitation needs a role")
	}
	if !t.ExpiresAt.After(t.CreatedAt) {
		return invalid("expires_at", "is not after created_at")
	}
	return nil
}

const mailTokenColumns = `id, purpose, token_hash, email, admin_id, role, created_at, expires_at, used_at`

func scanMailToken(s scanner) (MailToken, error) {
	var t MailToken
	var admin sql.NullInt64
	var created, expires string
	var used sql.NullString
	err := s.Scan(&t.ID, &t.Purpose, &t.TokenHash, &t.Email, &admin, &t.Role, &created, &expires, &used)
	t.AdminID = admin.Int64
	t.CreatedAt, t.ExpiresAt = sqlitefile.ParseTime(created), sqlitefile.ParseTime(expires)
	if used.Valid {
		u := sqlitefile.ParseTime(used.String)
		t.UsedAt = &u
	}
	return t, err
}

// Token lifetimes.
const (
	PasswordResetTTL = time.Hour
	AdminInviteTTL   = 7 * 24 * time.Hour
	// resetsPerHour bounds the reset mails one admin gets an hour, so
	// that the form cannot flood a mailbox.
	resetsPerHour = 3
)

// ErrBadToken: a mailed link whose token is unknown, used or expired.
var ErrBadToken = fmt.Errorf("this link is not valid: it was used already, has expired or was mistyped: %w", ErrNotFound)

// HashToken is the stored form of a mailed token.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// insertToken stores a fresh token for purpose and returns it.
func (db *DB) insertToken(ctx context.Context, tx *sql.Tx, t MailToken, ttl time.Duration) (string, error) {
	token := NewToken()
	now := db.now().UTC()
	t.TokenHash, t.CreatedAt, t.ExpiresAt = HashToken(token), now, now.Add(ttl)
	if err := t.Validate(); err != nil {
		return "", err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO mail_tokens (purpose, token_hash, email, admin_id, role, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, t.Purpose, t.TokenHash, t.Email, sql.NullInt64{Int64: t.AdminID, Valid: t.AdminID != 0},
		t.Role, sqlitefile.FormatTime(t.CreatedAt), sqlitefile.FormatTime(t.ExpiresAt))
	return token, err
}

// liveToken finds the unused, unexpired token of purpose, or ErrBadToken.
func (db *DB) liveToken(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, purpose, token string) (MailToken, error) {
	t, err := scanMailToken(q.QueryRowContext(ctx, `SELECT `+mailTokenColumns+` FROM mail_tokens
		WHERE token_hash = ? AND purpose = ?`, HashToken(token), purpose))
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return t, ErrBadToken
		}
		return t, err
	}
	if t.UsedAt != nil || !db.now().Before(t.ExpiresAt) {
		return t, ErrBadToken
	}
	return t, nil
}

// CheckToken returns the live token of purpose, or ErrBadToken: what a
// link's page shows before its form is sent.
func (db *DB) CheckToken(ctx context.Context, purpose, token string) (MailToken, error) {
	return db.liveToken(ctx, db.r, purpose, token)
}

// RequestPasswordReset queues a reset mail, composed by compose from the
// token, for the admin with email, if there is one and they have had
// fewer than three in the last hour. It says whether a mail was queued;
// the caller must not tell the person who asked (account enumeration).
func (db *DB) RequestPasswordReset(ctx context.Context, email string, compose func(to, token string) OutMail) (bool, error) {
	queued := false
	err := db.write(ctx, func(tx *sql.Tx) error {
		a, err := scanAdmin(tx.QueryRowContext(ctx, `SELECT `+adminColumns+` FROM admins WHERE email = ?`, strings.TrimSpace(email)))
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		var recent int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM mail_tokens WHERE purpose = ? AND admin_id = ? AND created_at > ?`,
			TokenPasswordReset, a.ID, sqlitefile.FormatTime(db.now().UTC().Add(-time.Hour))).Scan(&recent); err != nil {
			return err
		}
		if recent >= resetsPerHour {
			return nil
		}
		token, err := db.insertToken(ctx, tx, MailToken{Purpose: TokenPasswordReset, Email: a.Email, AdminID: a.ID}, PasswordResetTTL)
		if err != nil {
			return err
		}
		queued = true
		return queueMail(ctx, tx, db.now(), compose(a.Email, token))
	})
	return queued && err == nil, err
}

// ResetPassword uses a reset token: sets its admin's password hash, ends
// every session of that admin and spends every reset token of theirs, in
// one transaction. A token that is not live is ErrBadToken.
func (db *DB) ResetPassword(ctx context.Context, token, hash string) (Admin, error) {
	if hash == "" {
		return Admin{}, invalid("password", "is required")
	}
	var a Admin
	err := db.write(ctx, func(tx *sql.Tx) error {
		t, err := db.liveToken(ctx, tx, TokenPasswordReset, token)
		if err != nil {
			return err
		}
		now := sqlitefile.FormatTime(db.now().UTC())
		if _, err := tx.ExecContext(ctx, `UPDATE mail_tokens SET used_at = ? WHERE purpose = ? AND admin_id = ? AND used_at IS NULL`,
			now, TokenPasswordReset, t.AdminID); err != nil {
			return err
		}
		a, err = scanAdmin(tx.QueryRowContext(ctx, `UPDATE admins SET password_hash = ?, password_changed_at = ? WHERE id = ?
			RETURNING `+adminColumns, hash, now, t.AdminID))
		if err != nil {
			return notFound(err, "admin %d", t.AdminID)
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM sessions WHERE admin_id = ?`, t.AdminID)
		return err
	})
	return a, err
}

// InviteAdmin queues an invitation, composed by compose from the token,
// for email to become an admin with role. An email that is an admin's
// already is ErrConflict.
func (db *DB) InviteAdmin(ctx context.Context, email, role string, compose func(to, token string) OutMail) error {
	email = strings.TrimSpace(email)
	if err := ValidateEmail("email", email); err != nil {
		return err
	}
	if err := ValidateRole(role); err != nil {
		return err
	}
	return db.write(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM admins WHERE email = ?`, email).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("admin %q: %w", email, ErrConflict)
		}
		token, err := db.insertToken(ctx, tx, MailToken{Purpose: TokenAdminInvite, Email: email, Role: role}, AdminInviteTTL)
		if err != nil {
			return err
		}
		return queueMail(ctx, tx, db.now(), compose(email, token))
	})
}

// AcceptInvite uses an invitation token: creates the admin it names with
// the password hash, and spends every open invitation of that email.
func (db *DB) AcceptInvite(ctx context.Context, token, hash string) (Admin, error) {
	if hash == "" {
		return Admin{}, invalid("password", "is required")
	}
	var a Admin
	err := db.write(ctx, func(tx *sql.Tx) error {
		t, err := db.liveToken(ctx, tx, TokenAdminInvite, token)
		if err != nil {
			return err
		}
		now := db.now().UTC()
		if _, err := tx.ExecContext(ctx, `UPDATE mail_tokens SET used_at = ? WHERE purpose = ? AND email = ? COLLATE NOCASE AND used_at IS NULL`,
			sqlitefile.FormatTime(now), TokenAdminInvite, t.Email); err != nil {
			return err
		}
		a = Admin{Email: t.Email, Role: t.Role, PasswordHash: hash, CreatedAt: now, PasswordChangedAt: now}
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
	return a, err
}

// Invitations lists the open invitations (unused, unexpired), newest first.
func (db *DB) Invitations(ctx context.Context) ([]MailToken, error) {
	return list(ctx, db, `SELECT `+mailTokenColumns+` FROM mail_tokens WHERE purpose = ? AND used_at IS NULL AND expires_at > ?
		ORDER BY id DESC`, Window{}, scanMailToken, TokenAdminInvite, sqlitefile.FormatTime(db.now().UTC()))
}

// SetNotifyMessages sets whether admin id gets a mail for each new
// contact message.
func (db *DB) SetNotifyMessages(ctx context.Context, id int64, on bool) error {
	return db.exec(ctx, fmt.Sprintf("admin %d", id), `UPDATE admins SET notify_messages = ? WHERE id = ?`, on, id)
}

// NotifyMessages reports whether admin id gets contact messages by mail.
func (db *DB) NotifyMessages(ctx context.Context, id int64) (bool, error) {
	var on bool
	err := db.r.QueryRowContext(ctx, `SELECT notify_messages FROM admins WHERE id = ?`, id).Scan(&on)
	return on, notFound(err, "admin %d", id)
}

// ReceiveMessage stores a contact message and, in the same transaction,
// queues compose(to) for every admin who opted in.
func (db *DB) ReceiveMessage(ctx context.Context, m *Message, compose func(to string) OutMail) error {
	if errs := m.Validate(); len(errs) > 0 {
		return errs[0]
	}
	m.CreatedAt = db.now().UTC()
	return db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO messages (name, email, subject, body, ip, read, created_at)
			VALUES (?, ?, ?, ?, ?, 0, ?)`, m.Name, m.Email, m.Subject, m.Body, m.IP, sqlitefile.FormatTime(m.CreatedAt))
		if err != nil {
			return err
		}
		if m.ID, err = res.LastInsertId(); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT email FROM admins WHERE notify_messages = 1 ORDER BY id`)
		if err != nil {
			return err
		}
		var to []string
		for rows.Next() {
			var e string
			if err := rows.Scan(&e); err != nil {
				rows.Close()
				return err
			}
			to = append(to, e)
		}
		rows.Close()
		for _, e := range to {
			if err := queueMail(ctx, tx, db.now(), compose(e)); err != nil {
				return err
			}
		}
		return rows.Err()
	})
}
