package platform_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/mailpit"
	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

func queue(t *testing.T, db *tenantdb.DB, n int, to string) {
	t.Helper()
	for i := range n {
		webtest.Must(t, db.QueueMail(context.Background(), tenantdb.OutMail{Kind: "test", To: to,
			Subject: fmt.Sprintf("Mail %d", i), Text: "Hello"}))
	}
}

// waitOutbox polls tenant slug's outbox until ok says it is as wanted.
func waitOutbox(t *testing.T, ls *webtest.Server, slug string, ok func([]tenantdb.Outgoing) bool) []tenantdb.Outgoing {
	t.Helper()
	db := ls.DB(slug)
	for {
		out, err := db.Outbox(context.Background(), tenantdb.Window{})
		webtest.Must(t, err)
		if ok(out) {
			return out
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func count(out []tenantdb.Outgoing, f func(tenantdb.Outgoing) bool) int {
	n := 0
	for _, o := range out {
		if f(o) {
			n++
		}
	}
	return n
}

// TestMailerHoldsAChapterToItsLimit: a chapter over its hourly limit has
// its further mails held (and told why), while another chapter's go out.
func TestMailerHoldsAChapterToItsLimit(t *testing.T) {
	ls := webtest.NewEmpty(t)
	ls.NewTenant(t, "spammy")
	ls.NewTenant(t, "quiet")
	mp := mailpit.Start(t)
	ls.StartMail(t, mp.URL(), platform.MailConfig{PerHour: 3}, io.Discard)
	queue(t, ls.DB("spammy").DB, 5, "list@example.net")
	out := waitOutbox(t, ls, "spammy", func(out []tenantdb.Outgoing) bool {
		return count(out, func(o tenantdb.Outgoing) bool { return o.Status == tenantdb.OutboxSent }) == 3 &&
			count(out, func(o tenantdb.Outgoing) bool {
				return strings.Contains(o.LastError, "sending limit of 3 mails an hour")
			}) >= 1
	})
	queue(t, ls.DB("quiet").DB, 1, "member@example.net")
	mp.WaitFor(t, "member@example.net")
	held := count(out, func(o tenantdb.Outgoing) bool { return o.Status == tenantdb.OutboxQueued })
	if n := len(mp.Messages(t)); n != 4 || held != 2 {
		t.Errorf("%d mails delivered, %d held; want 4 (3 of spammy's, quiet's) and 2", n, held)
	}
}

// TestMailerRetriesATemporaryRefusal: a 451 is retried after the backoff
// until the server takes the mail; a 550 fails the mail at once, and the
// owner's dashboard says so.
func TestMailerRetriesATemporaryRefusal(t *testing.T) {
	ls := webtest.NewEmpty(t)
	email, pw := ls.NewTenant(t, "riverside")
	mp := mailpit.Start(t, "--enable-chaos")
	mp.Refuse(t, 451)
	ls.StartMail(t, mp.URL(), platform.MailConfig{Backoff: func(int) time.Duration { return 20 * time.Millisecond }}, io.Discard)
	db := ls.DB("riverside").DB
	queue(t, db, 1, "member@example.net")
	waitOutbox(t, ls, "riverside", func(out []tenantdb.Outgoing) bool {
		return len(out) == 1 && out[0].Attempts >= 2 && strings.Contains(out[0].LastError, "451")
	})
	mp.Refuse(t, 0)
	mp.WaitFor(t, "member@example.net")
	out := waitOutbox(t, ls, "riverside", func(out []tenantdb.Outgoing) bool { return out[0].Status == tenantdb.OutboxSent })
	if out[0].Attempts < 2 || out[0].LastError != "" || out[0].SentAt == nil {
		t.Errorf("after the retries: %+v", out[0])
	}

	mp.Refuse(t, 550)
	queue(t, db, 1, "gone@example.net")
	out = waitOutbox(t, ls, "riverside", func(out []tenantdb.Outgoing) bool { return out[0].Status == tenantdb.OutboxFailed })
	if out[0].Attempts != 1 || !strings.Contains(out[0].LastError, "550") {
		t.Errorf("a refused mail: %+v, want failed after one attempt with the server's answer", out[0])
	}
	c := ls.Browser()
	ls.DashLogin(t, c, webtest.Host("riverside"), email, pw)
	if p := ls.Form(t, c, webtest.Host("riverside"), "/admin", nil); !strings.Contains(p.Body, "1 mail could not be delivered") {
		t.Error("the owner's dashboard does not show the failed mail")
	}
	if p := ls.Form(t, c, webtest.Host("riverside"), "/admin/outbox", nil); !strings.Contains(p.Body, "gone@example.net") || !strings.Contains(p.Body, "550") {
		t.Error("the outbox page does not show the failure and the server's answer")
	}
}

// TestMailerSendsWhatAnEarlierProcessLeft: mail queued while no worker
// ran (mail off, or a crash), and a mail whose attempt a crash cut short,
// are sent by the next worker, found by its scan at start.
func TestMailerSendsWhatAnEarlierProcessLeft(t *testing.T) {
	ls := webtest.NewEmpty(t)
	ls.NewTenant(t, "riverside")
	db := ls.DB("riverside").DB
	queue(t, db, 2, "member@example.net")
	out, err := db.Outbox(context.Background(), tenantdb.Window{})
	webtest.Must(t, err)
	// An attempt recorded, then the process died.
	_, err = db.BeginMailAttempt(context.Background(), out[0].ID, time.Now().Add(time.Hour))
	webtest.Must(t, err)
	mp := mailpit.Start(t)
	ls.StartMail(t, mp.URL(), platform.MailConfig{}, io.Discard)
	out = waitOutbox(t, ls, "riverside", func(out []tenantdb.Outgoing) bool {
		return count(out, func(o tenantdb.Outgoing) bool { return o.Status == tenantdb.OutboxSent }) == 2
	})
	if n := len(mp.Messages(t)); n != 2 {
		t.Errorf("%d mails delivered, want 2", n)
	}
	if out[0].Attempts != 2 {
		t.Errorf("the interrupted mail took %d attempts, want 2", out[0].Attempts)
	}
}

// TestMailerSendsAnImportsQueuedMail: a chapter imported into a running
// server (a move's destination) brings its queued mail, and the worker
// sends it without waiting for a restart.
func TestMailerSendsAnImportsQueuedMail(t *testing.T) {
	ctx := context.Background()
	ls := webtest.NewEmpty(t)
	ls.NewTenant(t, "riverside")
	db := ls.DB("riverside").DB
	queue(t, db, 1, "moved@example.net")
	export := filepath.Join(t.TempDir(), "riverside.db")
	_, err := db.Export(ctx, export)
	webtest.Must(t, err)
	// Here it is given up, so that only the import's copy can arrive.
	out, err := db.Outbox(ctx, tenantdb.Window{})
	webtest.Must(t, err)
	_, err = db.BeginMailAttempt(ctx, out[0].ID, time.Now())
	webtest.Must(t, err)
	webtest.Must(t, db.EndMailAttempt(ctx, out[0].ID, errors.New("given up"), true))

	mp := mailpit.Start(t)
	m := ls.StartMail(t, mp.URL(), platform.MailConfig{}, io.Discard)
	for !m.ScanDone() {
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := ls.Platform.Import(ctx, platform.ImportRequest{Slug: "copy", Src: export}); err != nil {
		t.Fatal(err)
	}
	mp.WaitFor(t, "moved@example.net")
	waitOutbox(t, ls, "copy", func(out []tenantdb.Outgoing) bool { return out[0].Status == tenantdb.OutboxSent })
	if n := len(mp.Messages(t)); n != 1 {
		t.Errorf("%d mails, want 1", n)
	}
}
