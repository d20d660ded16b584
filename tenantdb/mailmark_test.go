package tenantdb

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestMailMarkerBeforeTheCommit checks the "mail waiting" marker: made
// by a write that queues mail, before it commits (a marker that cannot
// be made fails the write, and neither the change nor the mail is
// kept); not made by a write that queues none; kept while mail waits
// (queued or sending) and removed by UnmarkMail once none does.
func TestMailMarkerBeforeTheCommit(t *testing.T) {
	ctx := context.Background()
	dir, id := newTenant(t)
	db, err := Open(ctx, dir, id)
	must(t, err)
	t.Cleanup(func() { db.Close() })
	marker := filepath.Join(MailMarkDir(dir), id)
	exists := func() bool { _, err := os.Stat(marker); return err == nil }

	must(t, db.AddMessage(ctx, &Message{Name: "V", Email: "v@example.org", Body: "Hi"}))
	if exists() {
		t.Fatal("a write that queued no mail made a marker")
	}

	// A marker that cannot be made (a file where its directory goes)
	// fails the write that queues mail: nothing of it is kept.
	must(t, os.WriteFile(MailMarkDir(dir), nil, 0o600))
	m := OutMail{Kind: "test", To: "member@example.org", Subject: "Hello", Text: "Hello"}
	err = db.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO messages (name, email, subject, body, ip, read, created_at)
			VALUES ('W', 'w@example.org', '', 'x', '', 0, '2026-01-01T00:00:00Z')`); err != nil {
			return err
		}
		return queueMail(ctx, tx, db.now(), m)
	})
	if err == nil {
		t.Fatal("a write queued mail though its marker could not be made")
	}
	out, _ := db.Outbox(ctx, Window{})
	msgs, _ := db.Messages(ctx)
	if len(out) != 0 || len(msgs) != 1 {
		t.Fatalf("after the failed write: %d mails, %d messages; want 0 and 1", len(out), len(msgs))
	}
	must(t, os.Remove(MailMarkDir(dir)))

	must(t, db.QueueMail(ctx, m))
	if !exists() || !db.MailMarked() {
		t.Fatal("queued mail has no marker")
	}
	ids, complete, err := MailMarks(dir)
	must(t, err)
	if !slices.Equal(ids, []string{id}) || complete {
		t.Errorf("MailMarks: %v, %v; want [%s], not complete", ids, complete, id)
	}
	out, err = db.Outbox(ctx, Window{})
	must(t, err)
	for _, step := range []struct {
		name string
		do   func() error
		kept bool
	}{
		{"queued", func() error { return nil }, true},
		{"sending", func() error { _, err := db.BeginMailAttempt(ctx, out[0].ID, time.Now()); return err }, true},
		{"sent", func() error { return db.EndMailAttempt(ctx, out[0].ID, nil, false) }, false},
	} {
		must(t, step.do())
		empty, err := db.UnmarkMail(ctx)
		must(t, err)
		if exists() != step.kept || empty == step.kept {
			t.Errorf("mail %s: marker kept %v (empty %v), want kept %v", step.name, exists(), empty, step.kept)
		}
	}

	must(t, MarkMailComplete(dir))
	if ids, complete, _ := MailMarks(dir); len(ids) != 0 || !complete {
		t.Errorf("MailMarks: %v, %v; want none, complete", ids, complete)
	}
	// A tenant whose file is gone has its marker removed; one whose file
	// is there keeps it.
	must(t, MarkMail(dir, id))
	if err := UnmarkMail(dir, id); !errors.Is(err, ErrConflict) || !exists() {
		t.Errorf("UnmarkMail of a tenant with its file: %v, marker kept %v; want a conflict, kept", err, exists())
	}
	db.Close()
	must(t, os.Rename(TenantPath(dir, id), TenantPath(dir, id)+".gone"))
	must(t, UnmarkMail(dir, id))
	if exists() {
		t.Error("the marker of a tenant whose file is gone stays")
	}
}
