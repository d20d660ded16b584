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

// queueMail adds m to the outbox in tx, so it is sent if and only if tx commits.
func queueMail(ctx context.Context, tx *sql.Tx, m OutMail) error {
	if err := m.Validate(); err != nil {
		return fmt.Errorf("queueing a %s mail: %w", m.Kind, err)
	}
	now := sqlitefile.FormatTime(time.Now().UTC())
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
