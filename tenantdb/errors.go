// Package tenantdb is one tenant's SQLite file: created and migrated on
// open, its content (site, pages, posts, events, officers, media, admins,
// sessions, messages) read and written with validation, exported,
// imported from a hostile copy, and digested. The catalog of tenants and
// the pool of open files are its subpackages; the SQLite mechanics they
// share are in sqlitefile.
package tenantdb

import (
	"errors"
	"fmt"

	"github.com/chapterhouse/chapterhouse/tenantdb/sqlitefile"
)

// Errors that callers map to statuses and exit codes with errors.Is.
var (
	// ErrNotFound: no such tenant, domain, post, event, ...
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique name (slug, host, email) is taken.
	ErrConflict = sqlitefile.ErrExists
	// ErrSchemaTooNew: the file was migrated by a newer Chapterhouse.
	ErrSchemaTooNew = sqlitefile.ErrTooNew
	// ErrClosed: the pool or catalog was closed.
	ErrClosed = errors.New("closed")
)

// ValidationError says which field of an input is wrong and why.
type ValidationError struct {
	Field   string
	Message string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Message }

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Message: fmt.Sprintf(format, args...)}
}
