package tenantdb

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestOutMailTakesItsLimits: a mail's text and HTML of exactly their
// limits are queued, a byte more is refused on its field.
func TestOutMailTakesItsLimits(t *testing.T) {
	ok := OutMail{Kind: MailContact, To: "owner@example.org", Subject: "Hello",
		Text: strings.Repeat("t", maxMailText), HTML: strings.Repeat("h", maxMailHTML)}
	if err := ok.Validate(); err != nil {
		t.Errorf("text and HTML at their limits: %v", err)
	}
	text := ok
	text.Text += "t"
	if f := field(text.Validate()); f != "text" {
		t.Errorf("text a byte over: refused on %q, want text", f)
	}
	html := ok
	html.HTML += "h"
	if f := field(html.Validate()); f != "html" {
		t.Errorf("HTML a byte over: refused on %q, want html", f)
	}
}

// TestOutgoingValidateChecksEveryField: a row read from a file (an
// import) is checked field by field, attempts and the error's length
// inclusively.
func TestOutgoingValidateChecksEveryField(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	ok := Outgoing{Kind: MailContact, To: "owner@example.org", Subject: "Hello", Text: "Hi", MessageID: "abcdefghijklmnopqrstuvwxyz",
		Status: OutboxQueued, Attempts: 1000, CreatedAt: now, NextAttemptAt: now, LastError: strings.Repeat("e", 1000)}
	if err := ok.Validate(); err != nil {
		t.Fatalf("a sound row at its limits: %v", err)
	}
	for _, tc := range []struct {
		change func(*Outgoing)
		field  string
	}{
		{func(o *Outgoing) { o.Status = "lost" }, "status"},
		{func(o *Outgoing) { o.Attempts = 1001 }, "attempts"},
		{func(o *Outgoing) { o.Attempts = -1 }, "attempts"},
		{func(o *Outgoing) { o.NextAttemptAt = time.Time{} }, "created_at"},
		{func(o *Outgoing) { o.Status = OutboxSent }, "sent_at"},
		{func(o *Outgoing) { o.SentAt = &now }, "sent_at"},
		{func(o *Outgoing) { o.LastError = strings.Repeat("e", 1001) }, "last_error"},
	} {
		o := ok
		tc.change(&o)
		if f := field(o.Validate()); f != tc.field {
			t.Errorf("%+v: refused on %q, want %q", o, f, tc.field)
		}
	}
}

// TestOutboxLifecycle follows mails through the worker's calls on a
// clock: due when their time comes, oldest due first; an attempt counts
// and holds the mail; a failure queues it again (or fails it for good)
// with its error cut to 900 characters and made one line; a success
// sends it; an attempt cut short by a stop is due again after a
// restart; a mail held waits; mail queued too long ago expires; a retry
// starts a failed or queued mail afresh and refuses one sent, being
// sent, or too old.
func TestOutboxLifecycle(t *testing.T) {
	ctx := context.Background()
	db := openTenant(t)
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	db.now = func() time.Time { return now }
	queue := func(to string) int64 {
		t.Helper()
		must(t, db.QueueMail(ctx, OutMail{Kind: MailContact, To: to, Subject: "Hello", Text: "Hi"}))
		all, err := db.Outbox(ctx, Window{Limit: 1})
		must(t, err)
		return all[0].ID
	}
	statuses := func() string {
		t.Helper()
		c, err := db.OutboxCounts(ctx)
		must(t, err)
		return fmt.Sprintf("queued %d sending %d sent %d failed %d", c[OutboxQueued], c[OutboxSending], c[OutboxSent], c[OutboxFailed])
	}
	due := func() []int64 {
		t.Helper()
		ms, err := db.DueMail(ctx, 10)
		must(t, err)
		var ids []int64
		for _, m := range ms {
			ids = append(ids, m.ID)
		}
		return ids
	}
	if _, waiting, err := db.NextMailDue(ctx); err != nil || waiting {
		t.Fatalf("an empty outbox: waiting %v, %v", waiting, err)
	}
	a := queue("a@example.org")
	now = now.Add(time.Minute)
	b := queue("b@example.org")
	if next, waiting, err := db.NextMailDue(ctx); err != nil || !waiting || !next.Equal(now.Add(-time.Minute)) {
		t.Errorf("next due %v %v %v, want a's time", next, waiting, err)
	}
	if got := due(); len(got) != 2 || got[0] != a || got[1] != b {
		t.Errorf("due %v, want [%d %d]", got, a, b)
	}

	// a: an attempt that fails, then one that fails for good.
	retryAt := now.Add(10 * time.Minute)
	o, err := db.BeginMailAttempt(ctx, a, retryAt)
	must(t, err)
	if o.Status != OutboxSending || o.Attempts != 1 || !o.NextAttemptAt.Equal(retryAt) {
		t.Errorf("attempt begun: %+v", o)
	}
	if _, err := db.BeginMailAttempt(ctx, a, retryAt); !errors.Is(err, ErrNotFound) {
		t.Errorf("a second attempt while sending: %v, want not found", err)
	}
	if n, err := db.MailAttemptsSince(ctx, now); err != nil || n != 1 {
		t.Errorf("attempts since now: %d, %v; want 1 (sending)", n, err)
	}
	long := "550 mailbox unavailable\r\n" + strings.Repeat("é", 1000)
	must(t, db.EndMailAttempt(ctx, a, errors.New(long), false))
	got, err := db.OutboxMail(ctx, a)
	must(t, err)
	wantErr := "550 mailbox unavailable  " + strings.Repeat("é", 900-len("550 mailbox unavailable\r\n")) + "…"
	if got.Status != OutboxQueued || got.LastError != wantErr {
		t.Errorf("after a failure: %s, error %q\nwant queued, %q", got.Status, got.LastError, wantErr)
	}
	if ids := due(); len(ids) != 1 || ids[0] != b {
		t.Errorf("due before a's retry time: %v, want only b", ids)
	}
	_, err = db.BeginMailAttempt(ctx, a, retryAt)
	must(t, err)
	exact := "550 no such user " + strings.Repeat("é", 900-len("550 no such user ")) // 900 characters: kept whole
	must(t, db.EndMailAttempt(ctx, a, errors.New(exact), true))
	if got, _ := db.OutboxMail(ctx, a); got.Status != OutboxFailed || got.LastError != exact {
		t.Errorf("after a final failure: %s, error %q\nwant failed, %q", got.Status, got.LastError, exact)
	}

	// b: sent.
	_, err = db.BeginMailAttempt(ctx, b, retryAt)
	must(t, err)
	must(t, db.EndMailAttempt(ctx, b, nil, false))
	if got, _ := db.OutboxMail(ctx, b); got.Status != OutboxSent || got.SentAt == nil || !got.SentAt.Equal(now) {
		t.Errorf("after sending: %+v", got)
	}
	if err := db.EndMailAttempt(ctx, b, nil, false); !errors.Is(err, ErrNotFound) {
		t.Errorf("ending an attempt not under way: %v, want not found", err)
	}
	if s := statuses(); s != "queued 0 sending 0 sent 1 failed 1" {
		t.Errorf("counts %s", s)
	}
	if n, _ := db.MailAttemptsSince(ctx, now.Add(time.Second)); n != 0 {
		t.Errorf("attempts since after b was sent: %d, want 0", n)
	}
	for status, want := range map[string][]int64{"": {b, a}, OutboxSent: {b}, OutboxFailed: {a}, OutboxQueued: nil} {
		ms, err := db.OutboxWith(ctx, status, Window{})
		must(t, err)
		var ids []int64
		for _, m := range ms {
			ids = append(ids, m.ID)
		}
		if fmt.Sprint(ids) != fmt.Sprint(want) {
			t.Errorf("OutboxWith(%q) = %v, want %v", status, ids, want)
		}
	}
	if _, err := db.OutboxWith(ctx, "lost", Window{}); field(err) != "status" {
		t.Errorf("OutboxWith(lost): %v, want a refusal of status", err)
	}

	// c: interrupted by a stop while sending, due again at the restart.
	c := queue("c@example.org")
	_, err = db.BeginMailAttempt(ctx, c, now.Add(time.Hour))
	must(t, err)
	if next, waiting, _ := db.NextMailDue(ctx); !waiting || !next.IsZero() {
		t.Errorf("a mail left sending: next due %v, want now (zero time)", next)
	}
	if n, err := db.RequeueInterrupted(ctx); err != nil || n != 1 {
		t.Errorf("requeued %d, %v; want 1", n, err)
	}
	if got, _ := db.OutboxMail(ctx, c); got.Status != OutboxQueued || !got.NextAttemptAt.Equal(now) ||
		!strings.Contains(got.LastError, "same Message-ID") {
		t.Errorf("after the restart: %+v", got)
	}

	// Held, then expired.
	must(t, db.HoldMail(ctx, c, now.Add(time.Hour), "over the hourly limit"))
	if ids := due(); len(ids) != 0 {
		t.Errorf("due while held: %v", ids)
	}
	if got, _ := db.OutboxMail(ctx, c); got.LastError != "over the hourly limit" {
		t.Errorf("held: %+v", got)
	}
	if n, err := db.ExpireMail(ctx, now); err != nil || n != 0 {
		t.Errorf("expired %d, %v; want none queued before now", n, err)
	}
	if n, err := db.ExpireMail(ctx, now.Add(time.Second)); err != nil || n != 1 {
		t.Errorf("expired %d, %v; want c", n, err)
	}
	if got, _ := db.OutboxMail(ctx, c); got.Status != OutboxFailed {
		t.Errorf("after expiry: %+v", got)
	}

	// Retries.
	now = now.Add(time.Hour)
	var woken atomic.Int32
	db.OnMailQueued(func() { woken.Add(1) })
	r, err := db.RetryMail(ctx, a, now.Add(-24*time.Hour))
	must(t, err)
	if woken.Load() != 1 {
		t.Errorf("a retry woke the mail worker %d times, want once", woken.Load())
	}
	if r.Status != OutboxQueued || r.Attempts != 0 || !r.NextAttemptAt.Equal(now) || r.LastError != "" {
		t.Errorf("retried: %+v", r)
	}
	if _, err := db.RetryMail(ctx, b, now.Add(-24*time.Hour)); field(err) != "status" {
		t.Errorf("retrying a sent mail: %v, want a refusal of status", err)
	}
	if _, err := db.RetryMail(ctx, c, now); field(err) != "created_at" {
		t.Errorf("retrying a mail queued before notBefore: %v, want a refusal of created_at", err)
	}
	if _, err := db.RetryMail(ctx, c+100, now); !errors.Is(err, ErrNotFound) {
		t.Errorf("retrying no mail: %v, want not found", err)
	}
	if _, err := db.OutboxMail(ctx, c+100); !errors.Is(err, ErrNotFound) {
		t.Errorf("no mail: %v, want not found", err)
	}
	if s := statuses(); s != "queued 1 sending 0 sent 1 failed 1" {
		t.Errorf("counts at the end %s", s)
	}
}
