package platform_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/mail"
	"github.com/chapterhouse/chapterhouse/app/internal/mailpit"
	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// TestMailerStartOpensOnlyMarkedTenants: mail left by an earlier
// process is found through the "mail waiting" markers, so the next
// process's worker opens the one tenant that has mail and none of the
// others, sends it, and removes the marker. A data dir without the
// markers' "complete" record (one from before them) has every tenant
// looked at once instead, and is recorded complete for the next start.
func TestMailerStartOpensOnlyMarkedTenants(t *testing.T) {
	ctx := context.Background()
	mp := mailpit.Start(t)
	dir := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	p, err := platform.Open(ctx, dir, 8, time.Minute, log)
	webtest.Must(t, err)
	var busy string
	for _, slug := range []string{"alpha", "beta", "gamma", "delta"} {
		tn, err := p.CreateTenant(ctx, slug, "Chapter "+slug)
		webtest.Must(t, err)
		if slug == "beta" {
			busy = tn.ID
			h, err := p.Pool.Acquire(ctx, tn.ID)
			webtest.Must(t, err)
			queue(t, h.DB, 2, "member@example.net")
			h.Release()
		}
	}
	webtest.Must(t, p.Close())
	marker := filepath.Join(tenantdb.MailMarkDir(dir), busy)

	// run starts a platform on dir with a mail worker, waits until it
	// has no mail left to send, and returns how many tenants it opened.
	run := func(t *testing.T) int64 {
		t.Helper()
		p, err := platform.Open(ctx, dir, 8, time.Minute, log)
		webtest.Must(t, err)
		defer p.Close()
		s, err := mail.New(mail.Config{URL: mp.URL(), From: webtest.MailFrom}, io.Discard)
		webtest.Must(t, err)
		m := p.NewMailer(platform.MailConfig{Sender: s, From: webtest.MailFrom})
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); m.Run(runCtx) }()
		defer func() { cancel(); <-done }()
		for !m.ScanDone() || m.Waiting() != 0 {
			time.Sleep(5 * time.Millisecond)
		}
		return p.Pool.Stats.Opens.Load()
	}

	t.Run("markers", func(t *testing.T) {
		if opens := run(t); opens != 1 {
			t.Errorf("the worker's start opened %d tenants, want 1 (the one with mail)", opens)
		}
		if n := len(mp.Messages(t)); n != 2 {
			t.Errorf("%d mails delivered, want 2", n)
		}
		if _, err := os.Stat(marker); err == nil {
			t.Error("the marker stays after the mail was sent")
		}
		if opens := run(t); opens != 0 {
			t.Errorf("with no mail waiting, the worker's start opened %d tenants, want 0", opens)
		}
	})
	t.Run("upgrade", func(t *testing.T) {
		// Mail queued by a binary without markers: no marker, no record.
		webtest.Must(t, os.RemoveAll(tenantdb.MailMarkDir(dir)))
		db, err := tenantdb.Open(ctx, dir, busy)
		webtest.Must(t, err)
		queue(t, db, 1, "later@example.net")
		webtest.Must(t, db.Close())
		webtest.Must(t, os.Remove(marker))
		if opens := run(t); opens != 4 {
			t.Errorf("without the complete record the worker's start opened %d tenants, want all 4", opens)
		}
		mp.WaitFor(t, "later@example.net")
		if ids, complete, err := tenantdb.MailMarks(dir); err != nil || len(ids) != 0 || !complete {
			t.Errorf("after the first look at every tenant: markers %v, complete %v, %v; want none, complete", ids, complete, err)
		}
		if opens := run(t); opens != 0 {
			t.Errorf("the start after the upgrade opened %d tenants, want 0", opens)
		}
	})
}
