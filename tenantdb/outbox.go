package tenantdb

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/chapterhouse/chapterhouse/tenantdb/sqlitefile"
)

// Mail kinds queued by Chapterhouse itself. Other kinds are allowed (see
// mailKindPattern): the kind names a mail in the owner's outbox view.
const (
	MailContact       = "contact"        // a new contact message, to the admins who opted in
	MailPasswordReset = "password_reset" // a reset link, to an admin who asked
	MailAdminInvite   = "admin_invite"   // an invitation to become an admin
)

// Outbox statuses.
const (
	OutboxQueued  = "queued"  // waiting for its next attempt
	OutboxSending = "sending" // an attempt was recorded and may have reached the server
	OutboxSent    = "sent"    // the SMTP server accepted it
	OutboxFailed  = "failed"  // refused for good, or out of attempts
)

// Limits of a queued mail.
const (
	maxMailSubject = 200     // characters
	maxMailText    = 100_000 // bytes
	maxMailHTML    = 200_000 // bytes
)

var mailKindPattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)

// OutMail is a message to send, composed by the caller.
type OutMail struct{ Kind, To, ReplyTo, Subject, Text, HTML string }

// Validate checks m as queueMail stores it: a kind of a-z, 0-9 and '_';
// one bare address in To (and in ReplyTo, or none); a one-line subject;
// a text body. No header field may hold CR, LF or another control
// character, so nothing typed by a visitor can add a header. From is not
// the caller's: the worker sends in the chapter's name.
func (m *OutMail) Validate() error {
	if !mailKindPattern.MatchString(m.Kind) {
		return invalid("kind", "%q must be 1-40 characters of a-z, 0-9 and '_', starting with a letter", m.Kind)
	}
	for _, f := range []struct{ name, v string }{{"to", m.To}, {"reply_to", m.ReplyTo}, {"subject", m.Subject}} {
		if strings.ContainsFunc(f.v, unicode.IsControl) {
			return invalid(f.name, "contains a line break or another control character")
		}
	}
	if err := ValidateEmail("to", m.To); err != nil {
		return err
	}
	if m.ReplyTo != "" {
		if err := ValidateEmail("reply_to", m.ReplyTo); err != nil {
			return err
		}
	}
	if err := checkLen("subject", strings.TrimSpace(m.Subject), 1, maxMailSubject); err != nil {
		return err
	}
	if strings.TrimSpace(m.Text) == "" {
		return invalid("text", "is required")
	}
	if len(m.Text) > maxMailText {
		return invalid("text", "is longer than %d bytes", maxMailText)
	}
	if len(m.HTML) > maxMailHTML {
		return invalid("html", "is longer than %d bytes", maxMailHTML)
	}
	for _, f := range []struct{ name, v string }{{"text", m.Text}, {"html", m.HTML}} {
		if !utf8.ValidString(f.v) || strings.ContainsRune(f.v, 0) {
			return invalid(f.name, "contains invalid characters")
		}
	}
	return nil
}

// queueMail adds m to the outbox in tx, queued at (the store's clock), so
// it is sent if and only if tx commits.
// tx must be the transaction of db.write (every store's writes are): its
// commit then wakes the mail worker (OnMailQueued). A mail queued in any
// other transaction still goes, but only once the worker next looks at
// the tenant (its scan at start).
func queueMail(ctx context.Context, tx *sql.Tx, at time.Time, m OutMail) error {
	if err := m.Validate(); err != nil {
		return fmt.Errorf("queueing a %s mail: %w", m.Kind, err)
	}
	now := sqlitefile.FormatTime(at.UTC())
	_, err := tx.ExecContext(ctx, `INSERT INTO outbox (kind, to_addr, reply_to, subject, text_body, html_body,
		message_id, created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		m.Kind, m.To, m.ReplyTo, strings.TrimSpace(m.Subject), m.Text, m.HTML, NewToken(), now, now)
	if err != nil {
		return fmt.Errorf("queueing a %s mail: %w", m.Kind, err)
	}
	mailQueued(tx)
	return nil
}

// Outgoing is a row of the outbox.
type Outgoing struct {
	ID      int64  `json:"id"`
	Kind    string `json:"kind"`
	To      string `json:"to"`
	ReplyTo string `json:"reply_to"`
	Subject string `json:"subject"`
	Text    string `json:"-"`
	HTML    string `json:"-"`
	// MessageID is the local part of the mail's Message-ID, the same on
	// every attempt.
	MessageID     string     `json:"-"`
	CreatedAt     time.Time  `json:"created_at"`
	Attempts      int        `json:"attempts"`
	NextAttemptAt time.Time  `json:"next_attempt_at"`
	SentAt        *time.Time `json:"sent_at"`
	LastError     string     `json:"last_error"`
	Status        string     `json:"status"`
}

var messageIDPattern = regexp.MustCompile(`^[a-z2-7]{26}$`)

// Validate checks a stored outbox row: the mail as queueMail takes it, and
// its bookkeeping.
func (o *Outgoing) Validate() error {
	m := OutMail{Kind: o.Kind, To: o.To, ReplyTo: o.ReplyTo, Subject: o.Subject, Text: o.Text, HTML: o.HTML}
	if err := m.Validate(); err != nil {
		return err
	}
	if !messageIDPattern.MatchString(o.MessageID) {
		return invalid("message_id", "is not a Chapterhouse message id")
	}
	switch o.Status {
	case OutboxQueued, OutboxSending, OutboxSent, OutboxFailed:
	default:
		return invalid("status", "%q is not one of queued, sending, sent, failed", o.Status)
	}
	if o.Attempts < 0 || o.Attempts > 1000 {
		return invalid("attempts", "%d is out of range", o.Attempts)
	}
	if o.CreatedAt.IsZero() || o.NextAttemptAt.IsZero() {
		return invalid("created_at", "is not a time")
	}
	if (o.Status == OutboxSent) != (o.SentAt != nil) {
		return invalid("sent_at", "is set if and only if the mail was sent")
	}
	if err := checkLen("last_error", o.LastError, 0, 1000); err != nil {
		return err
	}
	return nil
}

const outgoingColumns = `id, kind, to_addr, reply_to, subject, text_body, html_body, message_id, created_at,
	attempts, next_attempt_at, sent_at, last_error, status`

func scanOutgoing(s scanner) (Outgoing, error) {
	var o Outgoing
	var created, next string
	var sent sql.NullString
	err := s.Scan(&o.ID, &o.Kind, &o.To, &o.ReplyTo, &o.Subject, &o.Text, &o.HTML, &o.MessageID, &created,
		&o.Attempts, &next, &sent, &o.LastError, &o.Status)
	o.CreatedAt, o.NextAttemptAt = sqlitefile.ParseTime(created), sqlitefile.ParseTime(next)
	if sent.Valid {
		t := sqlitefile.ParseTime(sent.String)
		o.SentAt = &t
	}
	return o, err
}

// Outbox lists the outbox of w, newest first.
func (db *DB) Outbox(ctx context.Context, w Window) ([]Outgoing, error) {
	return list(ctx, db, `SELECT `+outgoingColumns+` FROM outbox ORDER BY id DESC`, w, scanOutgoing)
}

// OutboxCounts counts the outbox's rows by status.
func (db *DB) OutboxCounts(ctx context.Context) (map[string]int, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT status, count(*) FROM outbox GROUP BY status`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	c := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		c[s] = n
	}
	return c, rows.Err()
}

// RequeueInterrupted makes every mail whose attempt was under way when the
// last process stopped due again. Such a mail may have reached the server
// (the process may have died between the server's answer and the
// recording of it): it goes again with the same Message-ID. The mail
// worker calls it on its first visit of a tenant in a process, when no
// attempt of this process can be under way.
func (db *DB) RequeueInterrupted(ctx context.Context) (int64, error) {
	var n int64
	err := db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE outbox SET status = 'queued', next_attempt_at = ?,
			last_error = 'interrupted by a restart while it was being sent; sent again with the same Message-ID'
			WHERE status = 'sending'`, sqlitefile.FormatTime(db.now().UTC()))
		if err == nil {
			n, err = res.RowsAffected()
		}
		return err
	})
	return n, err
}

// DueMail returns at most n queued mails whose next attempt is due,
// oldest due first.
func (db *DB) DueMail(ctx context.Context, n int) ([]Outgoing, error) {
	return list(ctx, db, `SELECT `+outgoingColumns+` FROM outbox WHERE status = 'queued' AND next_attempt_at <= ?
		ORDER BY next_attempt_at, id`, Window{Limit: n}, scanOutgoing, sqlitefile.FormatTime(db.now().UTC()))
}

// NextMailDue is the time of the earliest attempt still to make, and
// false when nothing waits. A mail left 'sending' (by a process that
// died: the worker's own attempts are over when it asks) is due now.
func (db *DB) NextMailDue(ctx context.Context) (time.Time, bool, error) {
	var next sql.NullString
	err := db.r.QueryRowContext(ctx, `SELECT min(CASE status WHEN 'sending' THEN '' ELSE next_attempt_at END)
		FROM outbox WHERE status IN ('queued', 'sending')`).Scan(&next)
	if err != nil || !next.Valid {
		return time.Time{}, false, err
	}
	return sqlitefile.ParseTime(next.String), true, nil
}

// MailAttemptsSince counts the mails sent, or being sent, since t: what
// the sending limits count.
func (db *DB) MailAttemptsSince(ctx context.Context, t time.Time) (int, error) {
	var n int
	err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM outbox WHERE status = 'sending' OR (status = 'sent' AND sent_at >= ?)`,
		sqlitefile.FormatTime(t.UTC())).Scan(&n)
	return n, err
}

// BeginMailAttempt records an attempt at mail id before it is made: one
// more attempt, status sending, and the time of the next attempt should
// this one fail or never report (retryAt). It is ErrNotFound when the
// mail is not queued (any more).
func (db *DB) BeginMailAttempt(ctx context.Context, id int64, retryAt time.Time) (Outgoing, error) {
	var o Outgoing
	err := db.write(ctx, func(tx *sql.Tx) error {
		var err error
		o, err = scanOutgoing(tx.QueryRowContext(ctx, `UPDATE outbox SET status = 'sending', attempts = attempts + 1,
			next_attempt_at = ? WHERE id = ? AND status = 'queued' RETURNING `+outgoingColumns,
			sqlitefile.FormatTime(retryAt.UTC()), id))
		return notFound(err, "queued mail %d", id)
	})
	return o, err
}

// EndMailAttempt records how the attempt at mail id ended: sent (sendErr
// nil), or failed with sendErr, for good when final, else queued for its
// next attempt.
func (db *DB) EndMailAttempt(ctx context.Context, id int64, sendErr error, final bool) error {
	now := sqlitefile.FormatTime(db.now().UTC())
	if sendErr == nil {
		return db.exec(ctx, fmt.Sprintf("mail %d", id),
			`UPDATE outbox SET status = 'sent', sent_at = ?, last_error = '' WHERE id = ? AND status = 'sending'`, now, id)
	}
	status := OutboxQueued
	if final {
		status = OutboxFailed
	}
	msg := sendErr.Error()
	if utf8.RuneCountInString(msg) > 900 {
		msg = string([]rune(msg)[:900]) + "…"
	}
	msg = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, msg)
	return db.exec(ctx, fmt.Sprintf("mail %d", id),
		`UPDATE outbox SET status = ?, last_error = ? WHERE id = ? AND status = 'sending'`, status, msg, id)
}

// HoldMail puts queued mail id off until t, saying why.
func (db *DB) HoldMail(ctx context.Context, id int64, t time.Time, why string) error {
	return db.exec(ctx, fmt.Sprintf("mail %d", id), `UPDATE outbox SET next_attempt_at = ?, last_error = ?
		WHERE id = ? AND status = 'queued'`, sqlitefile.FormatTime(t.UTC()), why, id)
}

// ExpireMail fails the mails queued before t that are still waiting
// (mail was off, the chapter over its limits, the server down for days):
// a password reset or a notice that old is no use.
func (db *DB) ExpireMail(ctx context.Context, t time.Time) (int64, error) {
	var n int64
	err := db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE outbox SET status = 'failed', last_error = 'not sent: still waiting after 3 days'
			WHERE status = 'queued' AND created_at < ?`, sqlitefile.FormatTime(t.UTC()))
		if err == nil {
			n, err = res.RowsAffected()
		}
		return err
	})
	return n, err
}

// PruneOutbox deletes the mails sent or failed before t, with their
// bodies (which may hold links with tokens).
func (db *DB) PruneOutbox(ctx context.Context, t time.Time) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM outbox WHERE status IN ('sent', 'failed') AND created_at < ?`,
			sqlitefile.FormatTime(t.UTC()))
		return err
	})
}

// QueueMail queues m on its own, in a transaction of its own: a mail that
// goes with no other change (a test mail, a reminder). A mail caused by a
// change is queued with queueMail in the change's transaction.
func (db *DB) QueueMail(ctx context.Context, m OutMail) error {
	return db.write(ctx, func(tx *sql.Tx) error { return queueMail(ctx, tx, db.now(), m) })
}
