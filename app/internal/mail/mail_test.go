package mail

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/mailpit"
)

func testMessage() Message {
	return Message{FromName: "Riverside Post 42 — VFW", From: "chapters@example.org", To: "cmdr@example.net",
		ReplyTo: "post42@example.com", Subject: "Réunion: new message", Text: "Hello,\nplain text.\n",
		HTML: "<p>Hello, <b>HTML</b>.</p>", MessageID: "abcdefghijklmnopqrstuvwxyz@example.org",
		Date: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)}
}

// TestSendThroughMailpit sends one mail to a real SMTP server and reads
// it back: the chapter's name in From, its reply-to, our Message-ID, a
// non-ASCII subject, text and HTML.
func TestSendThroughMailpit(t *testing.T) {
	mp := mailpit.Start(t)
	s, err := New(Config{URL: mp.URL(), From: "chapters@example.org"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := testMessage()
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	got := mp.WaitFor(t, m.To)
	if got.From.Name != m.FromName || got.From.Address != m.From || got.Subject != m.Subject ||
		len(got.ReplyTo) != 1 || got.ReplyTo[0].Address != m.ReplyTo || got.MessageID != m.MessageID {
		t.Errorf("delivered %+v, want the fields of %+v", got.Summary, m)
	}
	if !strings.Contains(got.Text, "plain text.") || !strings.Contains(got.HTML, "<b>HTML</b>") {
		t.Errorf("bodies: text %q, html %q", got.Text, got.HTML)
	}
	if h := mp.Headers(t, got.ID); len(h["Auto-Submitted"]) != 1 || h["Auto-Submitted"][0] != "auto-generated" {
		t.Errorf("Auto-Submitted header: %q", h["Auto-Submitted"])
	}
}

// TestSTARTTLSIsRequiredByDefault checks that smtp:// without
// starttls=off does not send to a server that offers no STARTTLS.
func TestSTARTTLSIsRequiredByDefault(t *testing.T) {
	mp := mailpit.Start(t)
	s, err := New(Config{URL: "smtp://" + mp.SMTP, From: "chapters@example.org"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Send(context.Background(), testMessage())
	if err == nil || !strings.Contains(strings.ToLower(err.Error()), "starttls") {
		t.Fatalf("sent to a server without STARTTLS: %v", err)
	}
	if n := len(mp.Messages(t)); n != 0 {
		t.Errorf("%d mails went out in the clear", n)
	}
}

// TestRefusalIsPermanent checks that a 5xx refusal of the recipient is
// ErrPermanent (the worker then does not retry).
func TestRefusalIsPermanent(t *testing.T) {
	mp := mailpit.Start(t, "--smtp-allowed-recipients", `@allowed\.example$`)
	s, err := New(Config{URL: mp.URL(), From: "chapters@example.org"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), testMessage()); !errors.Is(err, ErrPermanent) {
		t.Fatalf("refused recipient: %v, want ErrPermanent", err)
	}
	m := testMessage()
	m.To = "someone@allowed.example"
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatalf("allowed recipient: %v", err)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	for _, tc := range []struct{ url, from, want string }{
		{"smtp://mail.example.org", "", "--mail-from: is required"},
		{"smtp://mail.example.org", "Chapters <c@example.org>", "not a bare email address"},
		{"smtp://mail.example.org", "c@example.org\r\nBcc: x@example.com", "not a bare email address"},
		{"http://mail.example.org", "c@example.org", "scheme must be smtp, smtps or log"},
		{"smtp://", "c@example.org", "no host"},
		{"smtp://mail.example.org:99999", "c@example.org", "bad port"},
		{"smtp://mail.example.org:65536", "c@example.org", "bad port"},
		{"smtp://mail.example.org:0", "c@example.org", "bad port"},
		{"smtp://u:secret@mail.example.org?starttls=off", "c@example.org", "password in the clear"},
		{"smtp://mail.example.org?tls=no", "c@example.org", `unknown parameter "tls"`},
		{"smtps://mail.example.org?starttls=off", "c@example.org", "makes no sense"},
	} {
		_, err := New(Config{URL: tc.url, From: tc.from}, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%q, %q) = %v, want an error saying %q", tc.url, tc.from, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("the error shows the password: %v", err)
		}
	}
	for _, ok := range []string{"smtp://u:p@127.0.0.1:1025?starttls=off", "smtps://u:p@mail.example.org", "log:",
		"smtp://mail.example.org:1", "smtp://mail.example.org:65535"} {
		if s, err := New(Config{URL: ok, From: "c@example.org"}, nil); err != nil || s == nil {
			t.Errorf("New(%q) = %v, %v", ok, s, err)
		} else if strings.Contains(s.String(), ":p@") {
			t.Errorf("String() shows the password: %s", s)
		}
	}
	if s, err := New(Config{}, nil); s != nil || err != nil {
		t.Errorf("no --smtp: %v, %v; want mail off", s, err)
	}
}

// TestLogSenderPrintsTheMail: --smtp log: shows a newcomer each mail, link
// included, in the log.
func TestLogSenderPrintsTheMail(t *testing.T) {
	var b strings.Builder
	s, err := New(Config{URL: "log:", From: "chapters@example.org"}, &b)
	if err != nil {
		t.Fatal(err)
	}
	m := testMessage()
	m.Text = "Open http://demo.localhost:8080/admin/reset?token=abc within an hour."
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"To: cmdr@example.net", "Reply-To: post42@example.com", "Subject: " + m.Subject, m.Text, "not sent"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the log lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	m.ReplyTo = ""
	if err := s.Send(context.Background(), m); err != nil || strings.Contains(b.String(), "Reply-To") {
		t.Errorf("a mail without a reply-to: %v\n%s", err, b.String())
	}
}

// TestEvery5xxIsPermanent checks the boundary: 500 is permanent, 451 is
// not.
func TestEvery5xxIsPermanent(t *testing.T) {
	mp := mailpit.Start(t, "--enable-chaos")
	s, err := New(Config{URL: mp.URL(), From: "chapters@example.org"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		code      int
		permanent bool
	}{{500, true}, {499, false}, {451, false}} {
		mp.Refuse(t, tc.code)
		err := s.Send(context.Background(), testMessage())
		if err == nil || errors.Is(err, ErrPermanent) != tc.permanent {
			t.Errorf("answer %d: %v, want permanent %v", tc.code, err, tc.permanent)
		}
	}
}
