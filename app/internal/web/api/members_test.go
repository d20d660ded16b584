package api_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/chapterhouse/chapterhouse/app/internal/mailpit"
	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

type apiMember struct {
	ID          int64  `json:"id"`
	Email       string `json:"email"`
	Name        string `json:"name"`
	Phone       string `json:"phone"`
	Status      string `json:"status"`
	RenewalDate string `json:"renewal_date"`
	Directory   struct {
		Listed bool `json:"listed"`
	} `json:"directory"`
}

type apiMail struct {
	ID        int64  `json:"id"`
	Kind      string `json:"kind"`
	To        string `json:"to"`
	Status    string `json:"status"`
	Attempts  int    `json:"attempts"`
	LastError string `json:"last_error"`
}

// TestAPIMembersAndOutbox: an owner's integration invites a member, sees
// the invitation in the outbox, changes the member's status and renewal
// date; a mail the SMTP server refused for good is listed as failed with
// the server's answer and, once retried, is delivered. Editors and other
// chapters' tokens are refused; bad input is refused naming the field
// and changes no row.
func TestAPIMembersAndOutbox(t *testing.T) {
	ls := webtest.NewEmpty(t)
	ch := newChapter(t, ls, "post42")
	tok, other := ch.tok, newChapter(t, ls, "beta").tok
	ls.AddAdmin(t, "post42", "editor@example.org", tenantdb.RoleEditor, "editor-password-1")
	editor := ls.Login(t, "post42", "editor@example.org", "editor-password-1")
	// A mail sent before, which cannot be retried.
	ctx := context.Background()
	db := ls.DB("post42").DB
	webtest.Must(t, db.QueueMail(ctx, tenantdb.OutMail{Kind: "test", To: "sent@example.net", Subject: "Sent", Text: "Hello"}))
	out, err := db.Outbox(ctx, tenantdb.Window{})
	webtest.Must(t, err)
	sent := out[0].ID
	_, err = db.BeginMailAttempt(ctx, sent, out[0].NextAttemptAt)
	webtest.Must(t, err)
	webtest.Must(t, db.EndMailAttempt(ctx, sent, nil, false))

	mp := mailpit.Start(t, "--enable-chaos")
	mp.Refuse(t, 550)
	ls.StartMail(t, mp.URL(), platform.MailConfig{}, io.Discard)
	api := ch.api

	r := api("POST", "/api/members", map[string]any{"email": "maria@example.org", "name": "Maria Lopez", "renewal_date": "2031-07-01"})
	var m apiMember
	r.JSON(t, &m)
	if r.Status != http.StatusCreated || m.ID == 0 || m.Status != tenantdb.MemberInvited || m.Email != "maria@example.org" ||
		r.Header.Get("Location") != fmt.Sprintf("/api/members/%d", m.ID) {
		t.Fatalf("POST /api/members: %d %s (Location %q), want 201 with an invited member", r.Status, r.Body, r.Header.Get("Location"))
	}
	memberPath := fmt.Sprintf("/api/members/%d", m.ID)

	// The invitation is refused by the server (550): failed, with its answer.
	var failed []apiMail
	for len(failed) == 0 {
		api("GET", "/api/outbox?status=failed", nil).JSON(t, &failed)
	}
	if f := failed[0]; f.Kind != tenantdb.MailMemberInvite || f.To != "maria@example.org" || !strings.Contains(f.LastError, "550") {
		t.Fatalf("the failed invitation in /api/outbox: %+v", f)
	}
	if r := api("GET", "/api/outbox", nil); strings.Contains(string(r.Body), "/members/login") || strings.Contains(string(r.Body), "text") {
		t.Errorf("the outbox list shows the mails' bodies (their links): %s", r.Body)
	}

	r = api("PATCH", memberPath, map[string]any{"status": "active", "phone": "555-0100", "id": 999, "directory": map[string]any{"listed": true}})
	r.JSON(t, &m)
	if r.Status != http.StatusOK || m.Status != tenantdb.MemberActive || m.Phone != "555-0100" || m.Name != "Maria Lopez" ||
		m.RenewalDate != "2031-07-01" || m.Directory.Listed {
		t.Fatalf("PATCH status and phone: %d %s (the name and renewal date stay; the directory is the member's choice)", r.Status, r.Body)
	}
	var ms []apiMember
	api("GET", "/api/members", nil).JSON(t, &ms)
	if len(ms) != 1 || ms[0].Status != tenantdb.MemberActive {
		t.Errorf("GET /api/members: %+v", ms)
	}

	checkRefusals(t, ch, []refusal{
		ch.refuses("invite without an address", tok, "POST", "/api/members", map[string]any{"name": "X"}, 422, "email"),
		ch.refuses("invite of a bad address", tok, "POST", "/api/members", map[string]any{"email": "x@y@z", "name": "X"}, 422, "email"),
		ch.refuses("invite with a line break", tok, "POST", "/api/members", map[string]any{"email": "a@example.org\r\nBcc: b@example.org", "name": "X"}, 422, "email"),
		ch.refuses("invite with a bad date", tok, "POST", "/api/members", map[string]any{"email": "new@example.org", "name": "X", "renewal_date": "July"}, 422, "renewal_date"),
		ch.refuses("invite with a status", tok, "POST", "/api/members", map[string]any{"email": "new@example.org", "name": "X", "status": "active"}, 422, "status"),
		ch.refuses("invite of a member", tok, "POST", "/api/members", map[string]any{"email": "maria@example.org", "name": "Maria"}, 409, ""),
		ch.refuses("invite of malformed JSON", tok, "POST", "/api/members", `{"email": `, 400, ""),
		ch.refuses("status unknown", tok, "PATCH", memberPath, map[string]any{"status": "gone"}, 422, "status"),
		ch.refuses("name emptied", tok, "PATCH", memberPath, map[string]any{"name": ""}, 422, "name"),
		ch.refuses("renewal not a date", tok, "PATCH", memberPath, map[string]any{"renewal_date": "2031-02-30"}, 422, "renewal_date"),
		ch.refuses("status of a wrong type", tok, "PATCH", memberPath, map[string]any{"status": 3}, 422, "status"),
		ch.refuses("unknown member", tok, "PATCH", "/api/members/424242", map[string]any{"status": "active"}, 404, ""),
		ch.refuses("member id not a number", tok, "GET", "/api/members/abc", nil, 404, ""),
		ch.refuses("invitation again to an active member", tok, "POST", memberPath+"/invite", nil, 422, "status"),
		ch.refuses("outbox of an unknown status", tok, "GET", "/api/outbox?status=lost", nil, 422, "status"),
		ch.refuses("retry of a sent mail", tok, "POST", fmt.Sprintf("/api/outbox/%d/retry", sent), nil, 422, "status"),
		ch.refuses("retry of an unknown mail", tok, "POST", "/api/outbox/424242/retry", nil, 404, ""),
		ch.refuses("members for an editor", editor, "GET", "/api/members", nil, 403, ""),
		ch.refuses("invite by an editor", editor, "POST", "/api/members", map[string]any{"email": "ed@example.org", "name": "Ed"}, 403, ""),
		ch.refuses("retry by an editor", editor, "POST", fmt.Sprintf("/api/outbox/%d/retry", failed[0].ID), nil, 403, ""),
		ch.refuses("members with another chapter's token", other, "GET", "/api/members", nil, 401, ""),
		ch.refuses("status with another chapter's token", other, "PATCH", memberPath, map[string]any{"status": "resigned"}, 401, ""),
		ch.refuses("retry with another chapter's token", other, "POST", fmt.Sprintf("/api/outbox/%d/retry", failed[0].ID), nil, 401, ""),
		ch.refuses("outbox without a token", "", "GET", "/api/outbox", nil, 401, ""),
		ch.refuses("a field members do not have", tok, "PATCH", memberPath, map[string]any{"colour": "red"}, 422, "colour"),
		ch.refuses("a JSON array", tok, "PATCH", memberPath, []string{"status"}, 422, "body"),
	})
	// The dashboard's words for an address taken; null leaves a field.
	if r := api("POST", "/api/members", map[string]any{"email": "maria@example.org", "name": "Maria"}); !strings.Contains(string(r.Body), `"maria@example.org is already a member"`) {
		t.Errorf("invite of a member: %s", r.Body)
	}
	if r := api("PATCH", memberPath, map[string]any{"name": nil, "phone": "555-0101"}); !strings.Contains(string(r.Body), `"name":"Maria Lopez"`) {
		t.Errorf("PATCH with a null name: %d %s, want the name kept", r.Status, r.Body)
	}

	// The server takes mail again: the owner retries the failed invitation.
	mp.Refuse(t, 0)
	r = api("POST", fmt.Sprintf("/api/outbox/%d/retry", failed[0].ID), nil)
	var retried apiMail
	r.JSON(t, &retried)
	if r.Status != http.StatusOK || retried.Status != tenantdb.OutboxQueued || retried.Attempts != 0 || retried.LastError != "" {
		t.Fatalf("retry: %d %s, want the mail queued again with no attempts", r.Status, r.Body)
	}
	mp.WaitFor(t, "maria@example.org")
	for retried.Status != tenantdb.OutboxSent {
		api("GET", fmt.Sprintf("/api/outbox/%d", failed[0].ID), nil).JSON(t, &retried)
	}
	if n := len(mp.Messages(t)); n != 1 {
		t.Errorf("%d mails delivered, want the one retried", n)
	}

	r = api("DELETE", memberPath, nil)
	if r.Status != http.StatusNoContent {
		t.Errorf("DELETE %s: %d %s", memberPath, r.Status, r.Body)
	}
	if r := api("GET", memberPath, nil); r.Status != http.StatusNotFound {
		t.Errorf("a deleted member: %d, want 404", r.Status)
	}
}
