package tenantdb

import "context"

// Window is one page of a list: at most Limit items after skipping
// Offset. The zero Window (Limit 0) is the whole list, for the callers
// whose lists are bounded otherwise (the public site's menu, feeds);
// what a client asks for goes through a Window with a Limit.
type Window struct{ Offset, Limit int }

func (w Window) clause() (string, []any) {
	if w.Limit <= 0 {
		return "", nil
	}
	return " LIMIT ? OFFSET ?", []any{w.Limit, max(0, w.Offset)}
}

// list runs query (which ends with its ORDER BY) within w and scans
// every row.
func list[T any](ctx context.Context, db *DB, query string, w Window, scan func(scanner) (T, error), args ...any) ([]T, error) {
	clause, more := w.clause()
	rows, err := db.query(ctx, query+clause, append(args, more...)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Counts is how many rows of each kind a tenant has, for the dashboard.
type Counts struct {
	Posts, Drafts, Events, Officers, Pages, Media, Messages, Unread int
	Documents, Albums                                               int
}

// Counts counts the tenant's content in one query, reading no row.
func (db *DB) Counts(ctx context.Context) (Counts, error) {
	var n Counts
	err := db.queryRow(ctx, `SELECT
		(SELECT count(*) FROM posts WHERE published = 1), (SELECT count(*) FROM posts WHERE published = 0),
		(SELECT count(*) FROM events), (SELECT count(*) FROM officers), (SELECT count(*) FROM pages),
		(SELECT count(*) FROM media), (SELECT count(*) FROM messages), (SELECT count(*) FROM messages WHERE read = 0),
		(SELECT count(*) FROM documents), (SELECT count(*) FROM albums)`).Scan(
		&n.Posts, &n.Drafts, &n.Events, &n.Officers, &n.Pages, &n.Media, &n.Messages, &n.Unread, &n.Documents, &n.Albums)
	return n, err
}
