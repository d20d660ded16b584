// Package mail hands finished messages to an SMTP server
// (github.com/wneessen/go-mail), or prints them to the log for a newcomer
// (--smtp log:). It composes nothing and keeps no queue: the outbox in each
// tenant's file does (tenantdb), and the platform's mail worker decides
// what to send when.
package mail

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	netmail "net/mail"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Message is one mail to send. Every field has been validated by the
// outbox (no CR or LF in a header, bare addresses).
type Message struct {
	FromName string // the chapter's name
	From     string // --mail-from
	To       string
	ReplyTo  string // "" for none
	Subject  string
	Text     string
	HTML     string // "" for a text-only mail
	// MessageID is "local@domain" without angle brackets: the same on
	// every attempt, so that a resend after a crash is the same mail to
	// the receiver.
	MessageID string
	Date      time.Time
}

// Sender delivers one message at a time.
type Sender interface {
	// Send hands m to the server. A nil error means the server accepted
	// it (250 after DATA).
	Send(ctx context.Context, m Message) error
	// String describes the sender for logs and the dashboard, without
	// credentials.
	String() string
}

// ErrPermanent marks a refusal that will not change on a retry: the
// server answered 5xx for the sender, a recipient or the data.
var ErrPermanent = errors.New("refused for good")

// Config is what the --smtp and --mail-from flags say.
type Config struct {
	URL  string // "", "log:", smtp://..., smtps://...
	From string
}

// New returns the sender cfg describes, or nil when cfg.URL is "" (mail
// is off). log is where "log:" prints mails.
//
// smtp://[user:pass@]host[:port] speaks STARTTLS and refuses a server
// without it (port 587 by default); smtps://...  is TLS from the first
// byte (port 465). ?starttls=off sends in the clear, for a relay on the
// same machine only: with credentials it is refused unless the host is a
// loopback address.
func New(cfg Config, log io.Writer) (Sender, error) {
	if cfg.URL == "" {
		return nil, nil
	}
	if err := checkAddress(cfg.From); err != nil {
		return nil, fmt.Errorf("--mail-from: %w", err)
	}
	if cfg.URL == "log:" {
		return &logSender{w: log}, nil
	}
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("--smtp: not a URL (want smtp://user:pass@host:587, smtps://... or log:)")
	}
	s := &smtpSender{host: u.Hostname(), user: u.User.Username()}
	s.pass, _ = u.User.Password()
	if s.host == "" {
		return nil, fmt.Errorf("--smtp %s: no host (want smtp://user:pass@host:587)", redact(u))
	}
	switch u.Scheme {
	case "smtp":
		s.port, s.policy = 587, gomail.TLSMandatory
	case "smtps":
		s.port, s.ssl = 465, true
	default:
		return nil, fmt.Errorf("--smtp %s: the scheme must be smtp, smtps or log", redact(u))
	}
	if p := u.Port(); p != "" {
		if s.port, err = strconv.Atoi(p); err != nil || s.port < 1 || s.port > 65535 {
			return nil, fmt.Errorf("--smtp %s: bad port %q", redact(u), p)
		}
	}
	q := u.Query()
	for k := range q {
		if k != "starttls" {
			return nil, fmt.Errorf("--smtp %s: unknown parameter %q (only starttls=off)", redact(u), k)
		}
	}
	switch q.Get("starttls") {
	case "":
	case "off":
		if s.ssl {
			return nil, fmt.Errorf("--smtp %s: starttls=off makes no sense with smtps", redact(u))
		}
		s.policy = gomail.NoTLS
		if ip := net.ParseIP(s.host); s.user != "" && (ip == nil || !ip.IsLoopback()) && s.host != "localhost" {
			return nil, fmt.Errorf("--smtp %s: starttls=off would send the password in the clear to a host that is not this machine", redact(u))
		}
	default:
		return nil, fmt.Errorf("--smtp %s: starttls=%s: only starttls=off can be given", redact(u), q.Get("starttls"))
	}
	s.desc = redact(u)
	return s, nil
}

// redact prints u without its password.
func redact(u *url.URL) string {
	c := *u
	if c.User != nil {
		c.User = url.User(c.User.Username())
	}
	return c.String()
}

func checkAddress(addr string) error {
	if addr == "" {
		return errors.New("is required with --smtp (the address mails are sent from, e.g. chapters@example.org)")
	}
	a, err := netmail.ParseAddress(addr)
	if err != nil || a.Name != "" || a.Address != addr || strings.ContainsAny(addr, "\r\n") {
		return fmt.Errorf("%q is not a bare email address", addr)
	}
	return nil
}

// Domain is the part of addr after its last @: the Message-ID's right side.
func Domain(addr string) string {
	return addr[strings.LastIndexByte(addr, '@')+1:]
}

type smtpSender struct {
	host, user, pass string
	port             int
	ssl              bool
	policy           gomail.TLSPolicy
	desc             string
	// mu makes one connection at a time: the worker sends one by one.
	mu sync.Mutex
}

func (s *smtpSender) String() string { return s.desc }

func (s *smtpSender) Send(ctx context.Context, m Message) error {
	msg, err := build(m)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrPermanent, err)
	}
	opts := []gomail.Option{gomail.WithPort(s.port), gomail.WithTimeout(30 * time.Second)}
	if s.ssl {
		opts = append(opts, gomail.WithSSL())
	} else {
		opts = append(opts, gomail.WithTLSPolicy(s.policy))
	}
	if s.user != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(s.user), gomail.WithPassword(s.pass))
	}
	c, err := gomail.NewClient(s.host, opts...)
	if err != nil {
		return fmt.Errorf("smtp client: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	conn, err := c.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", s.desc, err)
	}
	if err := c.SendWithSMTPClient(conn, msg); err != nil {
		c.CloseWithSMTPClient(conn)
		if se, ok := errors.AsType[*gomail.SendError](err); ok && se.ErrorCode() >= 500 {
			return fmt.Errorf("%w: %v", ErrPermanent, err)
		}
		return fmt.Errorf("sending through %s: %w", s.desc, err)
	}
	// The mail is delivered once the server answered its data. The QUIT
	// is not waited for: the worker records the mail as sent at once
	// (the shorter the time from the answer to that record, the smaller
	// the window in which a crash sends it again), and a failing QUIT
	// must not count as a failed mail.
	go c.CloseWithSMTPClient(conn)
	return nil
}

// build makes the MIME message: text, and HTML as its alternative.
func build(m Message) (*gomail.Msg, error) {
	msg := gomail.NewMsg()
	if err := msg.FromFormat(m.FromName, m.From); err != nil {
		return nil, fmt.Errorf("from: %w", err)
	}
	if err := msg.To(m.To); err != nil {
		return nil, fmt.Errorf("to: %w", err)
	}
	if m.ReplyTo != "" {
		if err := msg.ReplyTo(m.ReplyTo); err != nil {
			return nil, fmt.Errorf("reply-to: %w", err)
		}
	}
	msg.Subject(m.Subject)
	msg.SetMessageIDWithValue(m.MessageID)
	msg.SetDateWithValue(m.Date)
	msg.SetGenHeader(gomail.HeaderXAutoResponseSuppress, "All")
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}

// logSender prints each mail to the log instead of sending it.
type logSender struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *logSender) String() string { return "log: (mails are printed to the log, not sent)" }

func (l *logSender) Send(_ context.Context, m Message) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	reply := ""
	if m.ReplyTo != "" {
		reply = "\nReply-To: " + m.ReplyTo
	}
	_, err := fmt.Fprintf(l.w, "---- mail (--smtp log:, not sent) ----\nFrom: %q <%s>\nTo: %s%s\nSubject: %s\nMessage-ID: <%s>\n\n%s\n---- end of mail ----\n",
		m.FromName, m.From, m.To, reply, m.Subject, m.MessageID, strings.TrimRight(m.Text, "\n"))
	return err
}
