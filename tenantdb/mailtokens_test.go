package tenantdb

import (
	"context"
	"errors"
	"testing"
	"time"
)

func resetMail(token *string) func(to, tok string) OutMail {
	return func(to, tok string) OutMail {
		*token = tok
		return OutMail{Kind: MailPasswordReset, To: to, Subject: "Reset", Text: "/admin/reset?token=" + tok}
	}
}

// TestPasswordResetTokens checks the reset token's life: only for an
// admin's address, stored hashed, single use, one hour, at most three an
// hour; using it sets the password and ends the admin's sessions.
func TestPasswordResetTokens(t *testing.T) {
	ctx := context.Background()
	db := openTenant(t)
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	db.now = func() time.Time { return now }
	a := &Admin{Email: "Owner@Example.org", Role: RoleOwner, PasswordHash: testHash}
	must(t, db.AddAdmin(ctx, a))
	must(t, db.CreateSession(ctx, Session{ID: NewSessionID(), AdminID: a.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}))

	var token string
	if ok, err := db.RequestPasswordReset(ctx, "nobody@example.org", resetMail(&token)); ok || err != nil || token != "" {
		t.Fatalf("reset for an unknown address: %v, %v, token %q; want nothing queued", ok, err, token)
	}
	if ok, err := db.RequestPasswordReset(ctx, "owner@example.org", resetMail(&token)); !ok || err != nil {
		t.Fatalf("reset for the owner (another case): %v, %v", ok, err)
	}
	var stored int
	must(t, db.r.QueryRow(`SELECT count(*) FROM mail_tokens WHERE token_hash = ?`, token).Scan(&stored))
	if stored != 0 {
		t.Error("the token is stored in clear")
	}
	if out, _ := db.Outbox(ctx, Window{}); len(out) != 1 || out[0].To != a.Email {
		t.Fatalf("outbox %+v, want one mail to the owner", out)
	}

	now = now.Add(PasswordResetTTL)
	if _, err := db.ResetPassword(ctx, token, "$argon2id$new"); !errors.Is(err, ErrBadToken) {
		t.Errorf("a token an hour old: %v, want ErrBadToken", err)
	}
	now = now.Add(-time.Second)
	got, err := db.ResetPassword(ctx, token, "$argon2id$new")
	if err != nil || got.PasswordHash != "$argon2id$new" {
		t.Fatalf("reset within the hour: %+v, %v", got, err)
	}
	if _, _, err := db.Session(ctx, "x"); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	var sessions int
	must(t, db.r.QueryRow(`SELECT count(*) FROM sessions WHERE admin_id = ?`, a.ID).Scan(&sessions))
	if sessions != 0 {
		t.Errorf("%d sessions left after the reset", sessions)
	}
	if _, err := db.ResetPassword(ctx, token, "$argon2id$again"); !errors.Is(err, ErrBadToken) {
		t.Errorf("the token used twice: %v, want ErrBadToken", err)
	}

	// Three reset mails an hour per admin, then none until the hour passes.
	n := 0
	for range 5 {
		if ok, err := db.RequestPasswordReset(ctx, a.Email, resetMail(&token)); err != nil {
			t.Fatal(err)
		} else if ok {
			n++
		}
	}
	if n != 2 { // the first request of the hour counts too
		t.Errorf("%d more reset mails within the hour, want 2", n)
	}
	now = now.Add(time.Hour + time.Second)
	if ok, _ := db.RequestPasswordReset(ctx, a.Email, resetMail(&token)); !ok {
		t.Error("no reset mail an hour later")
	}
}

// TestAdminInvitations checks an invitation: refused for an admin's
// address, accepted once, creating the admin with the invited role.
func TestAdminInvitations(t *testing.T) {
	ctx := context.Background()
	db := openTenant(t)
	must(t, db.AddAdmin(ctx, &Admin{Email: "owner@example.org", Role: RoleOwner, PasswordHash: testHash}))
	var token string
	compose := func(to, tok string) OutMail {
		token = tok
		return OutMail{Kind: MailAdminInvite, To: to, Subject: "Invitation", Text: tok}
	}
	if err := db.InviteAdmin(ctx, "OWNER@example.org", RoleEditor, compose); !errors.Is(err, ErrConflict) {
		t.Errorf("inviting an admin: %v, want ErrConflict", err)
	}
	for _, bad := range []struct{ email, role string }{{"a@b.c\nBcc: x@y.z", RoleEditor}, {"ed@example.org", "root"}} {
		if err := db.InviteAdmin(ctx, bad.email, bad.role, compose); err == nil {
			t.Errorf("InviteAdmin(%q, %q) passed", bad.email, bad.role)
		}
	}
	must(t, db.InviteAdmin(ctx, "ed@example.org", RoleEditor, compose))
	inv, err := db.Invitations(ctx)
	if err != nil || len(inv) != 1 || inv[0].Email != "ed@example.org" {
		t.Fatalf("invitations %+v, %v", inv, err)
	}
	a, err := db.AcceptInvite(ctx, token, testHash)
	if err != nil || a.Role != RoleEditor || a.Email != "ed@example.org" {
		t.Fatalf("accept: %+v, %v", a, err)
	}
	if _, err := db.AcceptInvite(ctx, token, testHash); !errors.Is(err, ErrBadToken) {
		t.Errorf("accepting twice: %v, want ErrBadToken", err)
	}
	if inv, _ := db.Invitations(ctx); len(inv) != 0 {
		t.Errorf("%d open invitations after the acceptance", len(inv))
	}
}
