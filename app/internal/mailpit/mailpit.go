// Package mailpit runs a real SMTP server for the mail tests: Mailpit
// (github.com/axllent/mailpit, installed by .ci/run), started on loopback
// ports, whose delivered mails the tests read through its HTTP API.
package mailpit

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Server is a running Mailpit.
type Server struct {
	// SMTP is the host:port of its SMTP listener, API its HTTP base URL.
	SMTP string
	API  string
}

// URL is the --smtp value that sends to it (no TLS: a loopback relay).
func (s *Server) URL() string { return "smtp://" + s.SMTP + "?starttls=off" }

// Path finds the mailpit binary, or skips the test outside CI.
func Path(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("mailpit"); err == nil {
		return p
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		home, _ := os.UserHomeDir()
		gopath = filepath.Join(home, "go")
	}
	if p := filepath.Join(gopath, "bin", "mailpit"); fileExists(p) {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatal("CI: no mailpit; .ci/run installs it (go install github.com/axllent/mailpit@v1.33.1)")
	}
	t.Skip("mailpit is not installed: go install github.com/axllent/mailpit@v1.33.1")
	return ""
}

func fileExists(p string) bool { fi, err := os.Stat(p); return err == nil && fi.Mode().IsRegular() }

// Start runs Mailpit until the test ends. extra are more flags.
func Start(t testing.TB, extra ...string) *Server {
	t.Helper()
	bin := Path(t)
	dir := t.TempDir()
	var s *Server
	var out strings.Builder
	for try := 0; ; try++ {
		smtpAddr, apiAddr := freePort(t), freePort(t)
		args := append([]string{"--smtp", smtpAddr, "--listen", apiAddr, "--database", filepath.Join(dir, fmt.Sprintf("mailpit%d.db", try)),
			"--disable-version-check", "--quiet"}, extra...)
		cmd := exec.Command(bin, args...)
		out.Reset()
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting mailpit: %v", err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		t.Cleanup(func() {
			cmd.Process.Kill()
			<-done
		})
		s = &Server{SMTP: smtpAddr, API: "http://" + apiAddr}
		if s.await(done) {
			return s
		}
		if try == 2 {
			t.Fatalf("mailpit did not start: %s", out.String())
		}
	}
}

// await waits until both listeners answer, or the process ends.
func (s *Server) await(done <-chan error) bool {
	for {
		select {
		case <-done:
			return false
		default:
		}
		resp, err := http.Get(s.API + "/readyz")
		if err == nil {
			resp.Body.Close()
			if c, err := net.Dial("tcp", s.SMTP); err == nil {
				c.Close()
				if resp.StatusCode == http.StatusOK {
					return true
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Address is a mail address as the API gives it.
type Address struct {
	Name    string `json:"Name"`
	Address string `json:"Address"`
}

// Summary is a delivered mail as the list gives it.
type Summary struct {
	ID        string    `json:"ID"`
	MessageID string    `json:"MessageID"`
	From      Address   `json:"From"`
	To        []Address `json:"To"`
	ReplyTo   []Address `json:"ReplyTo"`
	Subject   string    `json:"Subject"`
}

// Mail is one delivered mail in full.
type Mail struct {
	Summary
	Text string `json:"Text"`
	HTML string `json:"HTML"`
}

// Messages lists every delivered mail, newest first.
func (s *Server) Messages(t testing.TB) []Summary {
	t.Helper()
	var all []Summary
	for start := 0; ; start += 500 {
		var page struct {
			Total    int       `json:"total"`
			Messages []Summary `json:"messages"`
		}
		s.get(t, fmt.Sprintf("/api/v1/messages?start=%d&limit=500", start), &page)
		all = append(all, page.Messages...)
		if len(page.Messages) == 0 || len(all) >= page.Total {
			return all
		}
	}
}

// Message reads one delivered mail.
func (s *Server) Message(t testing.TB, id string) Mail {
	t.Helper()
	var m Mail
	s.get(t, "/api/v1/message/"+id, &m)
	return m
}

// Headers reads one delivered mail's headers.
func (s *Server) Headers(t testing.TB, id string) map[string][]string {
	t.Helper()
	var h map[string][]string
	s.get(t, "/api/v1/message/"+id+"/headers", &h)
	return h
}

// WaitFor polls until a mail to addr arrives (the test's own timeout
// bounds it) and returns the newest.
func (s *Server) WaitFor(t testing.TB, addr string) Mail {
	t.Helper()
	for {
		for _, m := range s.Messages(t) {
			for _, to := range m.To {
				if strings.EqualFold(to.Address, addr) {
					return s.Message(t, m.ID)
				}
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// Refuse makes the server answer every recipient with code (451: try
// later, 550: refused), or, with 0, accept them again. The server must
// have been started with "--enable-chaos".
func (s *Server) Refuse(t testing.TB, code int) {
	t.Helper()
	prob := 100
	if code == 0 {
		code, prob = 451, 0
	}
	body := fmt.Sprintf(`{"Recipient":{"ErrorCode":%d,"Probability":%d}}`, code, prob)
	req, err := http.NewRequest(http.MethodPut, s.API+"/api/v1/chaos", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("mailpit chaos: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("mailpit chaos: %s", resp.Status)
	}
}

func (s *Server) get(t testing.TB, path string, v any) {
	t.Helper()
	resp, err := http.Get(s.API + path)
	if err != nil {
		t.Fatalf("mailpit API %s: %v", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("mailpit API %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("mailpit API %s: %v", path, err)
	}
}
