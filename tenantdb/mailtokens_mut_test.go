package tenantdb

import (
	"context"
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

// TestAcceptInviteReturnsTheStoredAdmin: the admin an invitation creates
// comes back as stored, with its id (the caller logs it in by that id),
// and no password means nothing is spent.
func TestAcceptInviteReturnsTheStoredAdmin(t *testing.T) {
	ctx := context.Background()
	db := openTenant(t)
	must(t, db.AddAdmin(ctx, &Admin{Email: "owner@example.org", Role: RoleOwner, PasswordHash: testHash}))
	var token string
	must(t, db.InviteAdmin(ctx, "ed@example.org", RoleEditor, func(to, tok string) OutMail {
		token = tok
		return OutMail{Kind: MailAdminInvite, To: to, Subject: "Invitation", Text: tok}
	}))
	if _, err := db.AcceptInvite(ctx, token, ""); field(err) != "password" {
		t.Errorf("no password: %v", err)
	}
	a, err := db.AcceptInvite(ctx, token, testHash)
	must(t, err)
	stored, err := db.Admin(ctx, a.ID)
	if err != nil || a.ID == 0 || stored.Email != "ed@example.org" || stored.Role != RoleEditor || stored.PasswordHash != testHash {
		t.Errorf("accepted %+v; stored under its id: %+v, %v", a, stored, err)
	}
}
