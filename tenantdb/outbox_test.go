package tenantdb

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
)

// TestQueueMailOnlyWithItsTransaction checks that a queued mail is in the
// outbox if and only if the transaction that queued it commits, and that
// the mail hook runs only then.
func TestQueueMailOnlyWithItsTransaction(t *testing.T) {
	ctx := context.Background()
	db := openTenant(t)
	var hooked atomic.Int32
	db.OnMailQueued(func() { hooked.Add(1) })
	m := OutMail{Kind: MailContact, To: "owner@example.org", ReplyTo: "visitor@example.net",
		Subject: "New message", Text: "Hello", HTML: "<p>Hello</p>"}

	boom := errors.New("the change failed")
	err := db.write(ctx, func(tx *sql.Tx) error {
		if err := queueMail(ctx, tx, db.now(), m); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("write: %v", err)
	}
	if got, _ := db.Outbox(ctx, Window{}); len(got) != 0 || hooked.Load() != 0 {
		t.Fatalf("after a rollback: %d queued, hook ran %d times; want none", len(got), hooked.Load())
	}

	must(t, db.write(ctx, func(tx *sql.Tx) error { return queueMail(ctx, tx, db.now(), m) }))
	must(t, db.write(ctx, func(tx *sql.Tx) error { return queueMail(ctx, tx, db.now(), m) }))
	got, err := db.Outbox(ctx, Window{})
	must(t, err)
	if len(got) != 2 || hooked.Load() != 2 {
		t.Fatalf("after two commits: %d queued, hook ran %d times; want 2 and 2", len(got), hooked.Load())
	}
	o := got[0]
	if o.Status != OutboxQueued || o.To != m.To || o.ReplyTo != m.ReplyTo || o.Subject != m.Subject ||
		o.Text != m.Text || o.HTML != m.HTML || o.Attempts != 0 || o.SentAt != nil || o.Kind != MailContact {
		t.Errorf("queued row %+v, want the mail %+v queued", o, m)
	}
	if o.MessageID == got[1].MessageID {
		t.Errorf("two mails share the message id %q", o.MessageID)
	}
	if err := o.Validate(); err != nil {
		t.Errorf("a queued row does not pass its own validation: %v", err)
	}
	// A write that queues nothing does not call the hook.
	must(t, db.AddMessage(ctx, &Message{Name: "V", Email: "v@example.org", Body: "Hi"}))
	if hooked.Load() != 2 {
		t.Errorf("a write that queued no mail ran the hook")
	}
}

// TestQueueMailRefusesHeaderInjection checks that no header field of a
// queued mail can carry a line break (a visitor's "subject" adding a Bcc
// header), that addresses are single bare addresses, and that a refused
// mail leaves nothing in the outbox.
func TestQueueMailRefusesHeaderInjection(t *testing.T) {
	ctx := context.Background()
	db := openTenant(t)
	good := OutMail{Kind: MailContact, To: "owner@example.org", ReplyTo: "v@example.net", Subject: "Hi", Text: "Body"}
	cases := []struct {
		name  string
		edit  func(m *OutMail)
		field string
	}{
		{"CRLF in subject", func(m *OutMail) { m.Subject = "Hi\r\nBcc: victim@example.com" }, "subject"},
		{"LF in subject", func(m *OutMail) { m.Subject = "Hi\nBcc: victim@example.com" }, "subject"},
		{"CR in subject", func(m *OutMail) { m.Subject = "Hi\rBcc: victim@example.com" }, "subject"},
		{"CRLF in reply-to", func(m *OutMail) { m.ReplyTo = "v@example.net\r\nBcc: victim@example.com" }, "reply_to"},
		{"CRLF in to", func(m *OutMail) { m.To = "owner@example.org\r\nBcc: victim@example.com" }, "to"},
		{"two recipients", func(m *OutMail) { m.To = "owner@example.org, victim@example.com" }, "to"},
		{"a display name", func(m *OutMail) { m.To = "Owner <owner@example.org>" }, "to"},
		{"mailto parameters", func(m *OutMail) { m.ReplyTo = "v@example.net?bcc=victim@example.com" }, "reply_to"},
		{"not an address", func(m *OutMail) { m.ReplyTo = "nobody" }, "reply_to"},
		{"no subject", func(m *OutMail) { m.Subject = "  " }, "subject"},
		{"NUL in text", func(m *OutMail) { m.Text = "a\x00b" }, "text"},
		{"no text", func(m *OutMail) { m.Text = "" }, "text"},
		{"huge text", func(m *OutMail) { m.Text = strings.Repeat("x", maxMailText+1) }, "text"},
		{"bad kind", func(m *OutMail) { m.Kind = "Contact\r\n" }, "kind"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := good
			tc.edit(&m)
			err := db.write(ctx, func(tx *sql.Tx) error { return queueMail(ctx, tx, db.now(), m) })
			ve, ok := errors.AsType[*ValidationError](err)
			if !ok || ve.Field != tc.field {
				t.Fatalf("queueMail(%+v) = %v, want a validation error on %q", m, err, tc.field)
			}
		})
	}
	if got, _ := db.Outbox(ctx, Window{}); len(got) != 0 {
		t.Errorf("refused mails left %d rows in the outbox", len(got))
	}
	must(t, db.write(ctx, func(tx *sql.Tx) error { return queueMail(ctx, tx, db.now(), good) }))
}
