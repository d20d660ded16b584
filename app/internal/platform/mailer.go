package platform

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/mail"
	"github.com/chapterhouse/chapterhouse/app/internal/metrics"
	"github.com/chapterhouse/chapterhouse/internal/hold"
	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
)

// MailConfig is how the mail worker sends.
type MailConfig struct {
	Sender mail.Sender // nil: mail is off
	From   string      // --mail-from
	// PerHour and PerDay bound the mails one chapter sends (0: the
	// defaults), so that a hijacked account cannot make a spam cannon of
	// the platform. A mail over the limit waits, and the owner sees why.
	PerHour, PerDay int
	// Backoff is the wait before attempt n+1 after n attempts (nil:
	// DefaultBackoff); MaxAttempts is when a mail fails for good.
	Backoff     func(attempts int) time.Duration
	MaxAttempts int
}

// Default sending limits and attempts.
const (
	DefaultMailPerHour  = 100
	DefaultMailPerDay   = 500
	DefaultMailAttempts = 10
	// mailMaxAge is how long a never-attempted mail may wait (mail off,
	// limits) before it fails: an old reset link or notice is no use.
	mailMaxAge = 72 * time.Hour
	// mailKeep is how long sent and failed mails stay in the outbox.
	mailKeep = 30 * 24 * time.Hour
)

// DefaultBackoff waits 1, 2, 4, ... minutes, at most 6 hours: ten
// attempts span about 17 hours.
func DefaultBackoff(attempts int) time.Duration {
	d := time.Minute << min(attempts-1, 9)
	return min(d, 6*time.Hour)
}

// Mailer sends the outboxes of the tenants that have mail waiting. It
// does not visit every tenant each tick: it keeps the set of tenants with
// mail still to send (fed by every committed write that queues mail, and
// at start by the tenants' "mail waiting" markers) with the time each is
// next due.
type Mailer struct {
	p   *Platform
	cfg MailConfig

	mu      sync.Mutex
	due     map[string]time.Time // tenant id -> when its next mail is due
	dirty   map[string]bool      // queued mail since the worker last looked
	visited map[string]bool      // tenants whose interrupted attempts were requeued
	wake    chan struct{}
	// scanned is closed when the start scan is done.
	scanned      chan struct{}
	sent, failed atomic.Int64
}

// NewMailer makes the mail worker of p and hooks it to the pool, so that
// every tenant whose write queues mail is visited. Run it with Run.
func (p *Platform) NewMailer(cfg MailConfig) *Mailer {
	if cfg.PerHour <= 0 {
		cfg.PerHour = DefaultMailPerHour
	}
	if cfg.PerDay <= 0 {
		cfg.PerDay = DefaultMailPerDay
	}
	if cfg.Backoff == nil {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMailAttempts
	}
	m := &Mailer{p: p, cfg: cfg, due: map[string]time.Time{}, dirty: map[string]bool{},
		visited: map[string]bool{}, wake: make(chan struct{}, 1), scanned: make(chan struct{})}
	p.Mail = cfg
	p.mailer.Store(m)
	p.Pool.OnMailQueued(m.Queued)
	p.Metrics.WatchMail(metrics.Mail{
		TenantsWaiting: m.Waiting,
		ScanDone:       m.ScanDone,
		Sent:           m.sent.Load, Failed: m.failed.Load,
	})
	return m
}

// mailWake has the mail worker, if one runs, look at tenant id's outbox:
// its file was replaced by one that may hold queued mail.
func (p *Platform) mailWake(id string) {
	if m := p.mailer.Load(); m != nil {
		m.Queued(id)
	}
}

// Waiting counts the tenants with mail still to send.
func (m *Mailer) Waiting() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.due)
}

// ScanDone reports whether the start's look for mail left by an earlier
// process is done.
func (m *Mailer) ScanDone() bool {
	select {
	case <-m.scanned:
		return true
	default:
		return false
	}
}

// Queued tells the worker that tenant id committed a write that queued
// mail.
func (m *Mailer) Queued(id string) {
	m.mu.Lock()
	m.due[id] = time.Time{}
	m.dirty[id] = true
	m.mu.Unlock()
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// Run sends until ctx is done. Without a sender it only keeps the set
// (mail is off: the mails wait, and the dashboard says so).
func (m *Mailer) Run(ctx context.Context) {
	go m.scan(ctx)
	for {
		if m.cfg.Sender != nil {
			m.sendDue(ctx)
		}
		// Sleep until the next mail is due (a retry, a held mail), at most
		// 15 seconds, or until a write queues one.
		wait := 15 * time.Second
		if m.cfg.Sender != nil {
			m.mu.Lock()
			for _, t := range m.due {
				wait = min(wait, max(t.Sub(m.p.Now()), 0))
			}
			m.mu.Unlock()
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-m.wake:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// scan finds the mail an earlier process left: the tenants with a "mail
// waiting" marker (tenantdb's mailmark.go) are due now, and no other
// tenant is opened. A data dir whose markers are not complete (one from
// before them) has every tenant looked at once, the markers of those with
// mail made, and is then recorded complete.
func (m *Mailer) scan(ctx context.Context) {
	defer close(m.scanned)
	ids, complete, err := tenantdb.MailMarks(m.p.Dir)
	if err != nil {
		m.p.Log.Error("mail: reading the markers of mail waiting", "err", err)
		return
	}
	if !complete {
		if ids, err = m.scanAll(ctx); err != nil {
			m.p.Log.Error("mail: looking at every outbox", "err", err)
			return
		}
	}
	m.mu.Lock()
	for _, id := range ids {
		if _, had := m.due[id]; !had {
			m.due[id] = time.Time{}
		}
	}
	m.mu.Unlock()
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// scanAll looks at every tenant's outbox, one tenant at a time, marks
// those with mail waiting and returns them; once all are looked at it
// records the markers complete.
func (m *Mailer) scanAll(ctx context.Context) ([]string, error) {
	tenants, err := m.p.Catalog.Tenants(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing the tenants: %w", err)
	}
	m.p.Log.Info("mail: a first look at every outbox, to mark those with mail waiting", "tenants", len(tenants))
	var ids []string
	for _, t := range tenants {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		h, err := m.p.Pool.Acquire(ctx, t.ID)
		if err != nil {
			if errors.Is(err, tenantdb.ErrNotFound) {
				continue
			}
			return nil, fmt.Errorf("opening tenant %s: %w", t.Slug, err)
		}
		_, ok, err := h.NextMailDue(ctx)
		h.Release()
		if err != nil {
			return nil, fmt.Errorf("tenant %s: %w", t.Slug, err)
		}
		if ok {
			if err := tenantdb.MarkMail(m.p.Dir, t.ID); err != nil {
				return nil, err
			}
			ids = append(ids, t.ID)
		}
	}
	return ids, tenantdb.MarkMailComplete(m.p.Dir)
}

// sendDue visits every tenant whose mail is due.
func (m *Mailer) sendDue(ctx context.Context) {
	now := m.p.Now()
	m.mu.Lock()
	var ids []string
	for id, t := range m.due {
		if !t.After(now) {
			ids = append(ids, id)
		}
	}
	m.mu.Unlock()
	for _, id := range ids {
		if ctx.Err() != nil {
			return
		}
		m.visit(ctx, id)
	}
}

// visit sends the due mail of one tenant and records when it is next due.
func (m *Mailer) visit(ctx context.Context, id string) {
	m.mu.Lock()
	m.dirty[id] = false
	m.mu.Unlock()
	t, ok := m.p.Catalog.TenantByID(id)
	if !ok {
		// Deleted or trashed: its marker goes with its file. (A file
		// still there, not yet in the catalog, keeps it.)
		if err := tenantdb.UnmarkMail(m.p.Dir, id); err != nil && !errors.Is(err, tenantdb.ErrConflict) {
			m.p.Log.Warn("mail: removing the marker of a tenant that is gone", "tenant", id, "err", err)
		}
		m.forget(id)
		return
	}
	if t.Status != catalog.StatusActive {
		// Suspended: nothing leaves; frozen: no writes. Look again later.
		m.setDue(id, m.p.Now().Add(time.Minute))
		return
	}
	h, err := m.p.Pool.Acquire(ctx, id)
	if err != nil {
		if errors.Is(err, tenantdb.ErrNotFound) {
			m.forget(id)
			return
		}
		m.p.Log.Warn("mail: opening the tenant", "tenant", t.Slug, "err", err)
		m.setDue(id, m.p.Now().Add(time.Minute))
		return
	}
	defer h.Release()
	if err := m.sendTenant(ctx, t, h.DB); err != nil && ctx.Err() == nil {
		m.p.Log.Error("mail: sending", "tenant", t.Slug, "err", err)
	}
	next, ok, err := h.NextMailDue(ctx)
	switch {
	case err != nil:
		m.setDue(id, m.p.Now().Add(time.Minute))
	case ok:
		m.setDue(id, next)
	default:
		// Nothing waits: the marker goes (unless a write queued mail
		// meanwhile), and so does the tenant from the set.
		empty, err := h.UnmarkMail(ctx)
		if err != nil {
			m.p.Log.Warn("mail: removing the marker of mail waiting", "tenant", t.Slug, "err", err)
			m.setDue(id, m.p.Now().Add(time.Minute))
			return
		}
		m.mu.Lock()
		if empty && !m.dirty[id] {
			delete(m.due, id)
			delete(m.dirty, id)
		}
		m.mu.Unlock()
		if !empty {
			m.setDue(id, time.Time{})
		}
	}
}

func (m *Mailer) setDue(id string, t time.Time) {
	m.mu.Lock()
	if !m.dirty[id] {
		m.due[id] = t
	}
	m.mu.Unlock()
}

func (m *Mailer) forget(id string) {
	m.mu.Lock()
	delete(m.due, id)
	delete(m.dirty, id)
	m.mu.Unlock()
}

// sendTenant sends one tenant's due mail, one at a time, within its
// limits. Each attempt is recorded before it is made, so a crash never
// loses a mail; a crash after the server accepted it and before it was
// recorded as sent sends it once more, with the same Message-ID.
func (m *Mailer) sendTenant(ctx context.Context, t catalog.Tenant, db *tenantdb.DB) error {
	m.mu.Lock()
	first := !m.visited[t.ID]
	m.visited[t.ID] = true
	m.mu.Unlock()
	if first {
		if n, err := db.RequeueInterrupted(ctx); err != nil {
			return err
		} else if n > 0 {
			m.p.Log.Warn("mail: attempts interrupted by a restart are made again", "tenant", t.Slug, "mails", n)
		}
		if err := db.PruneOutbox(ctx, m.p.Now().Add(-mailKeep)); err != nil {
			return err
		}
	}
	if n, err := db.ExpireMail(ctx, m.p.Now().Add(-mailMaxAge)); err != nil {
		return err
	} else if n > 0 {
		m.p.Log.Warn("mail: mails still unsent after 3 days failed", "tenant", t.Slug, "mails", n)
	}
	site, err := db.Site(ctx)
	if err != nil {
		return err
	}
	for ctx.Err() == nil {
		due, err := db.DueMail(ctx, 20)
		if err != nil || len(due) == 0 {
			return err
		}
		for _, o := range due {
			if ctx.Err() != nil {
				return nil
			}
			if held, err := m.overLimit(ctx, t, db, o); held || err != nil {
				return err
			}
			if err := m.send(ctx, t, db, site, o); err != nil {
				return err
			}
		}
	}
	return nil
}

// overLimit holds o back when the tenant has sent its hourly or daily
// share, and says so.
func (m *Mailer) overLimit(ctx context.Context, t catalog.Tenant, db *tenantdb.DB, o tenantdb.Outgoing) (bool, error) {
	now := m.p.Now()
	for _, l := range []struct {
		window time.Duration
		max    int
		what   string
	}{{time.Hour, m.cfg.PerHour, "an hour"}, {24 * time.Hour, m.cfg.PerDay, "a day"}} {
		n, err := db.MailAttemptsSince(ctx, now.Add(-l.window))
		if err != nil {
			return false, err
		}
		if n >= l.max {
			why := fmt.Sprintf("held: this chapter's sending limit of %d mails %s is reached", l.max, l.what)
			m.p.Log.Warn("mail: sending limit reached", "tenant", t.Slug, "limit", l.max, "per", l.window.String())
			// Look again in a tenth of the window: a slot frees as old
			// mails leave it.
			return true, db.HoldMail(ctx, o.ID, now.Add(l.window/10), why)
		}
	}
	return false, nil
}

func (m *Mailer) send(ctx context.Context, t catalog.Tenant, db *tenantdb.DB, site tenantdb.Site, o tenantdb.Outgoing) error {
	now := m.p.Now()
	o, err := db.BeginMailAttempt(ctx, o.ID, now.Add(m.cfg.Backoff(o.Attempts+1)))
	if errors.Is(err, tenantdb.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	hold.At("mail.recorded")
	replyTo := o.ReplyTo
	if replyTo == "" {
		replyTo = site.Email
	}
	msg := mail.Message{FromName: site.Name, From: m.cfg.From, To: o.To, ReplyTo: replyTo, Subject: o.Subject,
		Text: o.Text, HTML: o.HTML, MessageID: o.MessageID + "@" + mail.Domain(m.cfg.From), Date: o.CreatedAt}
	sendCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	sendErr := m.cfg.Sender.Send(sendCtx, msg)
	cancel()
	hold.At("mail.sent")
	final := sendErr != nil && (errors.Is(sendErr, mail.ErrPermanent) || o.Attempts >= m.cfg.MaxAttempts)
	if sendErr == nil {
		m.sent.Add(1)
	} else {
		m.failed.Add(1)
		m.p.Log.Warn("mail: attempt failed", "tenant", t.Slug, "mail", o.ID, "kind", o.Kind,
			"attempt", o.Attempts, "final", final, "err", sendErr)
	}
	// The outcome is recorded even when the server is shutting down.
	return db.EndMailAttempt(context.WithoutCancel(ctx), o.ID, sendErr, final)
}

// RetryMail has mail id of db tried again now (tenantdb's RetryMail): a
// failed mail, or a queued one waiting. A mail queued longer ago than the
// worker sends (3 days) is refused: its links have expired.
func (p *Platform) RetryMail(ctx context.Context, db *tenantdb.DB, id int64) (tenantdb.Outgoing, error) {
	return db.RetryMail(ctx, id, p.Now().Add(-mailMaxAge))
}
