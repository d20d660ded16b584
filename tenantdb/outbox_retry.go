package tenantdb

import (
	"context"
	"database/sql"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb/sqlitefile"
)

// OutboxStatuses are the statuses of an outbox row, in the order a mail
// goes through them.
var OutboxStatuses = []string{OutboxQueued, OutboxSending, OutboxSent, OutboxFailed}

// OutboxWith lists the mails of the outbox with status (every mail for
// ""), newest first.
func (db *DB) OutboxWith(ctx context.Context, status string, w Window) ([]Outgoing, error) {
	if status == "" {
		return db.Outbox(ctx, w)
	}
	switch status {
	case OutboxQueued, OutboxSending, OutboxSent, OutboxFailed:
	default:
		return nil, invalid("status", "%q is not one of queued, sending, sent, failed", status)
	}
	return list(ctx, db, `SELECT `+outgoingColumns+` FROM outbox WHERE status = ? ORDER BY id DESC`, w, scanOutgoing, status)
}

// OutboxMail is mail id of the outbox.
func (db *DB) OutboxMail(ctx context.Context, id int64) (Outgoing, error) {
	o, err := scanOutgoing(db.r.QueryRowContext(ctx, `SELECT `+outgoingColumns+` FROM outbox WHERE id = ?`, id))
	return o, notFound(err, "mail %d", id)
}

// RetryMail has mail id tried again now, with a fresh count of attempts:
// a failed mail (the owner fixed the address, or the server's trouble is
// over) or a queued one waiting for its backoff or a limit (the limits
// still apply when it goes). A mail sent, or being sent, is refused
// (a ValidationError), and so is one queued before notBefore, whose links
// have expired (the worker would fail it again at once). The tenant's mail marker is made
// and the worker woken as for a newly queued mail.
func (db *DB) RetryMail(ctx context.Context, id int64, notBefore time.Time) (Outgoing, error) {
	var o Outgoing
	err := db.write(ctx, func(tx *sql.Tx) error {
		var err error
		o, err = scanOutgoing(tx.QueryRowContext(ctx, `SELECT `+outgoingColumns+` FROM outbox WHERE id = ?`, id))
		if err != nil {
			return notFound(err, "mail %d", id)
		}
		switch {
		case o.Status == OutboxSent || o.Status == OutboxSending:
			return invalid("status", "mail %d is %s: only a failed or queued mail is tried again", id, o.Status)
		case o.CreatedAt.Before(notBefore):
			return invalid("created_at", "mail %d was queued on %s, too long ago: its links have expired, so it is not sent again",
				id, o.CreatedAt.UTC().Format(time.DateOnly))
		}
		o, err = scanOutgoing(tx.QueryRowContext(ctx, `UPDATE outbox SET status = 'queued', attempts = 0, next_attempt_at = ?,
			last_error = '' WHERE id = ? RETURNING `+outgoingColumns, sqlitefile.FormatTime(db.now().UTC()), id))
		if err != nil {
			return err
		}
		mailQueued(tx)
		return nil
	})
	return o, err
}
