package webtest

import (
	"context"
	"io"
	"testing"

	"github.com/chapterhouse/chapterhouse/app/internal/mail"
	"github.com/chapterhouse/chapterhouse/app/internal/platform"
)

// MailFrom is the sending address of test servers with mail on.
const MailFrom = "chapters@" + Base

// StartMail turns mail on: a mail worker sending through smtpURL (a
// Mailpit's, or "log:" to w) runs until the test ends.
func (ts *Server) StartMail(t testing.TB, smtpURL string, cfg platform.MailConfig, w io.Writer) *platform.Mailer {
	t.Helper()
	s, err := mail.New(mail.Config{URL: smtpURL, From: MailFrom}, w)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Sender, cfg.From = s, MailFrom
	m := ts.Platform.NewMailer(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return m
}
