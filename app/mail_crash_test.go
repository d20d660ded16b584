package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/mailpit"
	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// TestMailCrash kills the server with SIGKILL while it sends queued mail
// to a real SMTP server (Mailpit), again and again, then lets it finish:
// every queued mail is delivered at least once, each under its own
// Message-ID, and a mail is delivered twice only if the outbox shows it
// was in an attempt ('sending') at a kill: the window between the
// server's answer and our record of it, which docs/email.md describes
// (the second copy has the same Message-ID, so a receiver drops it).
// Exactly once is not possible over SMTP; this is what holds instead.
// The outbox ends with every mail sent.
func TestMailCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: not in -short runs")
	}
	mp := mailpit.Start(t)
	dir := t.TempDir()
	ctx := context.Background()
	slugs := []string{"alpha", "beta", "gamma"}
	const perTenant = 60
	want := map[string]bool{} // Message-IDs queued
	var ids []string          // the tenants
	p, err := platform.Open(ctx, dir, 8, time.Minute, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	for _, slug := range slugs {
		tn, err := p.CreateTenant(ctx, slug, "Chapter "+slug)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, tn.ID)
		h, err := p.Pool.Acquire(ctx, tn.ID)
		if err != nil {
			t.Fatal(err)
		}
		for i := range perTenant {
			err := h.QueueMail(ctx, tenantdb.OutMail{Kind: "test", To: fmt.Sprintf("member%d@%s.example.org", i, slug),
				Subject: fmt.Sprintf("Mail %d of %s", i, slug), Text: "Hello"})
			if err != nil {
				t.Fatal(err)
			}
		}
		out, err := h.Outbox(ctx, tenantdb.Window{})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range out {
			want[o.MessageID+"@chapters.test"] = true
		}
		h.Release()
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	total := len(want)

	delivered := func() (all int, per map[string]int) {
		per = map[string]int{}
		for _, m := range mp.Messages(t) {
			per[m.MessageID]++
			all++
		}
		return all, per
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0))
	kills := 0
	inFlight := map[string]bool{} // Message-IDs in an attempt at a kill
	for round := 0; ; round++ {
		cmd, ops := startMailChild(t, dir, mp)
		if round == 6 {
			// The last run: let it finish, as its metrics say.
			for !mailDrained(t, ops) {
				time.Sleep(10 * time.Millisecond)
			}
			kill(cmd)
			break
		}
		// Kill it once a few more mails have arrived: mid-stream.
		start, _ := delivered()
		target := start + 1 + rng.IntN(total/6)
		for {
			n, per := delivered()
			if n >= target || len(per) >= total {
				break
			}
			time.Sleep(time.Duration(rng.IntN(3)) * time.Millisecond)
		}
		kill(cmd)
		kills++
		// The mails the kill caught in an attempt: recorded 'sending', so
		// the server may or may not have taken them. Only these may arrive
		// twice.
		for _, id := range ids {
			db, err := tenantdb.Open(ctx, dir, id)
			if err != nil {
				t.Fatal(err)
			}
			out, err := db.Outbox(ctx, tenantdb.Window{})
			db.Close()
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range out {
				if o.Status == tenantdb.OutboxSending {
					inFlight[o.MessageID+"@chapters.test"] = true
				}
			}
		}
	}

	n, per := delivered()
	twice := 0
	for id, c := range per {
		if !want[id] {
			t.Errorf("delivered a mail with Message-ID %s, which was never queued", id)
		}
		if c > 1 {
			twice += c - 1
			if !inFlight[id] {
				t.Errorf("mail %s was delivered %d times, but no kill caught it in an attempt", id, c)
			}
		}
	}
	for id := range want {
		if per[id] == 0 {
			t.Errorf("mail %s was never delivered", id)
		}
	}
	t.Logf("%d mails queued, %d deliveries over %d kills: %d in an attempt at a kill, %d delivered twice", total, n, kills, len(inFlight), twice)
	if twice > kills {
		t.Errorf("%d mails were delivered twice over %d kills: more than the one in flight at each kill", twice, kills)
	}
	// Offline, the outbox agrees: every mail sent.
	p, err = platform.Open(ctx, dir, 8, time.Minute, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for _, slug := range slugs {
		tn, _ := p.Catalog.TenantBySlug(slug)
		h, err := p.Pool.Acquire(ctx, tn.ID)
		if err != nil {
			t.Fatal(err)
		}
		counts, err := h.OutboxCounts(ctx)
		h.Release()
		if err != nil {
			t.Fatal(err)
		}
		if counts[tenantdb.OutboxSent] != perTenant || len(counts) != 1 {
			t.Errorf("%s's outbox: %v, want all %d sent", slug, counts, perTenant)
		}
	}
}

// startMailChild starts a server on dir sending through mp, and returns
// it with the address of its ops listener.
func startMailChild(t *testing.T, dir string, mp *mailpit.Server) (*exec.Cmd, string) {
	t.Helper()
	args := []string{"serve", "--data", dir, "--addr", "127.0.0.1:0", "--ask-addr", "127.0.0.1:0", "--base-domain", liveBase, "--no-demo",
		"--smtp", mp.URL(), "--mail-from", "chapters@chapters.test", "--mail-per-hour", "1000", "--mail-per-day", "1000"}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
	cmd.Env = append(os.Environ(), "CHAPTERHOUSE_CRASH_CHILD="+strings.Join(args, "\n"))
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kill(cmd) })
	lines := bufio.NewScanner(out)
	ops := ""
	for lines.Scan() {
		if u, ok := strings.CutPrefix(lines.Text(), "ops listener: "); ok {
			ops, _, _ = strings.Cut(u, " ")
		}
		if strings.HasPrefix(lines.Text(), "listening on ") {
			break
		}
	}
	if ops == "" {
		kill(cmd)
		t.Fatalf("the child server did not start:\n%s", stderr)
	}
	go io.Copy(io.Discard, out)
	return cmd, ops
}

// mailDrained reads the mail worker's metrics: true once it looked at
// every outbox and no chapter has mail left to send.
func mailDrained(t *testing.T, ops string) bool {
	t.Helper()
	resp, err := http.Get(ops + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	body := string(b)
	return strings.Contains(body, "\nchapterhouse_mail_start_scan_done 1\n") &&
		strings.Contains(body, "\nchapterhouse_mail_tenants_waiting 0\n")
}

// TestMailCrashAtHoldPoints kills the server (the crashtest build) at the
// two moments of an attempt: after it was recorded and before the SMTP
// conversation ("mail.recorded": the next server sends the mail, once),
// and after the server took the mail and before it was recorded as sent
// ("mail.sent": the documented window, where the next server sends it a
// second time, with the same Message-ID).
func TestMailCrashAtHoldPoints(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: not in -short runs")
	}
	mp := mailpit.Start(t)
	t.Setenv("CHAPTERHOUSE_SMTP", mp.URL())
	t.Setenv("CHAPTERHOUSE_MAIL_FROM", "chapters@"+liveBase)
	ctx := context.Background()
	for _, tc := range []struct {
		point         string
		before, after int // deliveries at the kill, and in all
	}{{"mail.recorded", 0, 1}, {"mail.sent", 1, 2}} {
		t.Run(tc.point, func(t *testing.T) {
			dir := shortTempDir(t)
			to := strings.ReplaceAll(tc.point, ".", "-") + "@example.net"
			p, err := platform.Open(ctx, dir, 8, time.Minute, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatal(err)
			}
			tn, err := p.CreateTenant(ctx, "riverside", "Riverside")
			if err != nil {
				t.Fatal(err)
			}
			// Chapters without mail, which the next server must not open.
			for _, slug := range []string{"quiet", "still"} {
				if _, err := p.CreateTenant(ctx, slug, slug); err != nil {
					t.Fatal(err)
				}
			}
			h, err := p.Pool.Acquire(ctx, tn.ID)
			if err == nil {
				err = h.QueueMail(ctx, tenantdb.OutMail{Kind: "test", To: to, Subject: "Hello", Text: "Hello"})
				h.Release()
			}
			if err == nil {
				err = p.Close()
			}
			if err != nil {
				t.Fatal(err)
			}
			mine := func() []mailpit.Summary {
				var out []mailpit.Summary
				for _, m := range mp.Messages(t) {
					if m.To[0].Address == to {
						out = append(out, m)
					}
				}
				return out
			}

			held := startHeld(t, dir, tc.point)
			held.killAt(t, tc.point, nil)
			if n := len(mine()); n != tc.before {
				t.Fatalf("%d deliveries at the kill, want %d", n, tc.before)
			}
			next := startHeld(t, dir, "")
			for len(mine()) < tc.after {
				time.Sleep(10 * time.Millisecond)
			}
			// It found the mail through the tenant's "mail waiting" marker,
			// opening no other tenant.
			if n := metricValue(t, next.ops, "chapterhouse_tenant_opens_total"); n != 1 {
				t.Errorf("the server after the kill opened %v tenants, want 1 (the one with mail)", n)
			}
			next.stopGracefully(t)
			got := mine()
			if len(got) != tc.after || got[0].MessageID != got[len(got)-1].MessageID {
				t.Errorf("%d deliveries, want %d, all with one Message-ID", len(got), tc.after)
			}
			p, err = platform.Open(ctx, dir, 8, time.Minute, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			h, err = p.Pool.Acquire(ctx, tn.ID)
			if err != nil {
				t.Fatal(err)
			}
			defer h.Release()
			out, err := h.Outbox(ctx, tenantdb.Window{})
			if err != nil || len(out) != 1 || out[0].Status != tenantdb.OutboxSent || out[0].Attempts != 2 {
				t.Errorf("the outbox after the restart: %+v, %v; want the mail sent at the second attempt", out, err)
			}
		})
	}
}

// metricValue reads the value of the unlabelled metric name from the
// server's /metrics at ops.
func metricValue(t *testing.T, ops, name string) float64 {
	t.Helper()
	resp, err := http.Get(ops + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			var f float64
			if _, err := fmt.Sscan(v, &f); err != nil {
				t.Fatalf("metric %s: %q", name, l)
			}
			return f
		}
	}
	t.Fatalf("no metric %s in /metrics", name)
	return 0
}
