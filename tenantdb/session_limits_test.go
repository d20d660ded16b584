package tenantdb

import (
	"strings"
	"testing"
	"time"
)

// TestSessionValidateAtItsLimits checks a stored session's rules at and
// one past each limit: the id's 16 to 128 characters, the kept User-Agent
// (300 bytes) and address (64), and an expiry after its creation.
func TestSessionValidateAtItsLimits(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ok := func() Session {
		return Session{ID: strings.Repeat("s", 16), AdminID: 1, CreatedAt: now, ExpiresAt: now.Add(time.Second)}
	}
	for _, tc := range []struct {
		name   string
		change func(*Session)
		field  string
	}{
		{"id of 16", func(s *Session) {}, ""},
		{"id of 15", func(s *Session) { s.ID = strings.Repeat("s", 15) }, "id"},
		{"id of 128", func(s *Session) { s.ID = strings.Repeat("s", 128) }, ""},
		{"id of 129", func(s *Session) { s.ID = strings.Repeat("s", 129) }, "id"},
		{"user agent of 300", func(s *Session) { s.UserAgent = strings.Repeat("u", 300) }, ""},
		{"user agent of 301", func(s *Session) { s.UserAgent = strings.Repeat("u", 301) }, "user_agent"},
		{"ip of 64", func(s *Session) { s.IP = strings.Repeat("1", 64) }, ""},
		{"ip of 65", func(s *Session) { s.IP = strings.Repeat("1", 65) }, "ip"},
		{"expiring as created", func(s *Session) { s.ExpiresAt = s.CreatedAt }, "expires_at"},
		{"expiring before created", func(s *Session) { s.ExpiresAt = s.CreatedAt.Add(-time.Second) }, "expires_at"},
	} {
		s := ok()
		tc.change(&s)
		err := s.Validate()
		if got := field(err); got != tc.field || (tc.field == "") != (err == nil) {
			t.Errorf("%s: Validate() = %v, want field %q", tc.name, err, tc.field)
		}
	}
}
