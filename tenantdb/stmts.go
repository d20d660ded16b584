package tenantdb

import (
	"context"
	"database/sql"
)

// The read queries of the public site run prepared: each query text is
// prepared once per DB (and by database/sql once per reader connection)
// instead of being parsed by SQLite on every page view. Query texts are
// constants of this package, so the set of statements is bounded. The
// statements are not closed one by one: closing the readers finalizes
// every statement prepared on them, and the sql.Stmt values go with the DB.

// stmt returns the prepared statement for query, preparing it once.
func (db *DB) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if s, ok := db.stmts.Load(query); ok {
		return s.(*sql.Stmt), nil
	}
	s, err := db.r.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := db.stmts.LoadOrStore(query, s); loaded {
		s.Close()
		return prev.(*sql.Stmt), nil
	}
	return s, nil
}

// query runs a prepared read query.
func (db *DB) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	s, err := db.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return s.QueryContext(ctx, args...)
}

// queryRow runs a prepared read query for one row. A statement that
// cannot be prepared runs unprepared, which reports the same error.
func (db *DB) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	s, err := db.stmt(ctx, query)
	if err != nil {
		return db.r.QueryRowContext(ctx, query, args...)
	}
	return s.QueryRowContext(ctx, args...)
}
