package sqlitefile

import (
	"database/sql"
	"errors"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// IsUnique reports whether err is a UNIQUE or PRIMARY KEY constraint
// failing: a name (slug, host, email) that is taken.
func IsUnique(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// StoredTime is how times are stored: UTC with a fixed width, so that text
// order is time order.
const StoredTime = "2006-01-02T15:04:05.000Z"

// FormatTime writes t as stored.
func FormatTime(t time.Time) string { return t.UTC().Format(StoredTime) }

// ParseTime reads a stored time; the zero time if s is not one.
func ParseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

// ParseNullTime reads a stored time that may be NULL (nil).
func ParseNullTime(s sql.NullString) *time.Time {
	if !s.Valid {
		return nil
	}
	t := ParseTime(s.String)
	return &t
}

// NullTime is t as stored, NULL for nil.
func NullTime(t *time.Time) sql.NullString {
	if t == nil {
		return sql.NullString{}
	}
	return sql.NullString{String: FormatTime(*t), Valid: true}
}
