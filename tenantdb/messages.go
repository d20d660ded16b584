package tenantdb

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb/sqlitefile"
)

// Message is a contact-form message from a visitor.
type Message struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Email     string    `json:"email"`
	Subject   string    `json:"subject"`
	Body      string    `json:"body"`
	IP        string    `json:"ip"`
	Read      bool      `json:"read"`
	CreatedAt time.Time `json:"created_at"`
}

// Validate checks the fields a visitor typed, all of them, and returns one
// ValidationError per bad field.
func (m *Message) Validate() []error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(checkLen("name", strings.TrimSpace(m.Name), 1, 100))
	if err := checkLen("email", m.Email, 1, 254); err != nil {
		add(err)
	} else {
		add(ValidateEmail("email", m.Email))
	}
	add(checkLen("subject", m.Subject, 0, 200))
	add(checkLen("body", strings.TrimSpace(m.Body), 1, 5000))
	return errs
}

const messageColumns = `id, name, email, subject, body, ip, read, created_at`

func scanMessage(s scanner) (Message, error) {
	var m Message
	var created string
	err := s.Scan(&m.ID, &m.Name, &m.Email, &m.Subject, &m.Body, &m.IP, &m.Read, &created)
	m.CreatedAt = sqlitefile.ParseTime(created)
	return m, err
}

// AddMessage validates and stores a contact message.
func (db *DB) AddMessage(ctx context.Context, m *Message) error {
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
		m.ID, err = res.LastInsertId()
		return err
	})
}

// Messages returns the contact messages, newest first.
func (db *DB) Messages(ctx context.Context) ([]Message, error) { return db.MessagesIn(ctx, Window{}) }

// MessagesIn returns the messages of w, newest first.
func (db *DB) MessagesIn(ctx context.Context, w Window) ([]Message, error) {
	return list(ctx, db, `SELECT `+messageColumns+` FROM messages ORDER BY id DESC`, w, scanMessage)
}

// Message returns message id.
func (db *DB) Message(ctx context.Context, id int64) (Message, error) {
	m, err := scanMessage(db.r.QueryRowContext(ctx, `SELECT `+messageColumns+` FROM messages WHERE id = ?`, id))
	return m, notFound(err, "message %d", id)
}

// MarkMessageRead marks message id read (or unread).
func (db *DB) MarkMessageRead(ctx context.Context, id int64, read bool) error {
	return db.exec(ctx, fmt.Sprintf("message %d", id), `UPDATE messages SET read = ? WHERE id = ?`, read, id)
}

// DeleteMessage deletes message id.
func (db *DB) DeleteMessage(ctx context.Context, id int64) error {
	return db.exec(ctx, fmt.Sprintf("message %d", id), `DELETE FROM messages WHERE id = ?`, id)
}
