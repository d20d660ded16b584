package tenantdb

import (
	"database/sql"
	"regexp"
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
