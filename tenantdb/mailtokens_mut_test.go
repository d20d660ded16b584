package tenantdb

import (
	"strings"
	"testing"
	"time"
)

// TestMailTokenValidateChecksEveryField: a stored token (as an import
// reads it) is refused for each field that is wrong, naming it, and a
// sound one of each purpose passes.
func TestMailTokenValidateChecksEveryField(t *testing.T) {
	at := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	sound := MailToken{Purpose: TokenAdminInvite, TokenHash: strings.Repeat("ab", 32), Email: "ann@example.org",
		Role: RoleEditor, CreatedAt: at, ExpiresAt: at.Add(AdminInviteTTL)}
	if err := sound.Validate(); err != nil {
		t.Fatalf("a sound invitation: %v", err)
	}
	reset := sound
	reset.Purpose, reset.Role, reset.ExpiresAt = TokenPasswordReset, "", at.Add(time.Nanosecond)
	if err := reset.Validate(); err != nil {
		t.Fatalf("a sound reset without a role: %v", err)
	}
	for _, tc := range []struct {
		name, field string
		change      func(*MailToken)
	}{
		{"unknown purpose", "purpose", func(m *MailToken) { m.Purpose = "magic" }},
		{"short hash", "token_hash", func(m *MailToken) { m.TokenHash = m.TokenHash[2:] }},
		{"bad email", "email", func(m *MailToken) { m.Email = "ann at example.org" }},
		{"bad role", "role", func(m *MailToken) { m.Role = "root" }},
		{"invitation without a role", "role", func(m *MailToken) { m.Role = "" }},
		{"expires when created", "expires_at", func(m *MailToken) { m.ExpiresAt = m.CreatedAt }},
	} {
		m := sound
		tc.change(&m)
		if f := field(m.Validate()); f != tc.field {
			t.Errorf("%s: field %q, want %q", tc.name, f, tc.field)
		}
	}
}
