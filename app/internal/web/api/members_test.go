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
	email, password := ls.NewTenant(t, "post42")
	otherEmail, otherPassword := ls.NewTenant(t, "beta")
	ls.AddAdmin(t, "post42", "editor@example.org", tenantdb.RoleEditor, "editor-password-1")
	tok := ls.Login(t, "post42", email, password)
	editor := ls.Login(t, "post42", "editor@example.org", "editor-password-1")
	other := ls.Login(t, "beta", otherEmail, otherPassword)
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
	c := ls.Browser()
	api := func(method, path string, body any) webtest.APIResult {
		return ls.Call(t, c, method, ls.SiteURL("post42", path), body, webtest.Bearer(tok)...)
	}

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

	tn, _ := ls.Platform.Catalog.TenantBySlug("post42")
	digest := func() string {
		t.Helper()
		d, err := ls.Platform.Digest(ctx, tn)
		webtest.Must(t, err)
		return d.Sum()
	}
	for _, tc := range []struct {
		name, method, path string
		token              string
		body               any
		status             int
		field              string
	}{
		{"invite without an address", "POST", "/api/members", tok, map[string]any{"name": "X"}, 422, "email"},
		{"invite of a bad address", "POST", "/api/members", tok, map[string]any{"email": "x@y@z", "name": "X"}, 422, "email"},
		{"invite with a line break", "POST", "/api/members", tok, map[string]any{"email": "a@example.org\r\nBcc: b@example.org", "name": "X"}, 422, "email"},
		{"invite with a bad date", "POST", "/api/members", tok, map[string]any{"email": "new@example.org", "name": "X", "renewal_date": "July"}, 422, "renewal_date"},
		{"invite with a status", "POST", "/api/members", tok, map[string]any{"email": "new@example.org", "name": "X", "status": "active"}, 422, "status"},
		{"invite of a member", "POST", "/api/members", tok, map[string]any{"email": "maria@example.org", "name": "Maria"}, 409, ""},
		{"invite of malformed JSON", "POST", "/api/members", tok, `{"email": `, 400, ""},
		{"status unknown", "PATCH", memberPath, tok, map[string]any{"status": "gone"}, 422, "status"},
		{"name emptied", "PATCH", memberPath, tok, map[string]any{"name": ""}, 422, "name"},
		{"renewal not a date", "PATCH", memberPath, tok, map[string]any{"renewal_date": "2031-02-30"}, 422, "renewal_date"},
		{"status of a wrong type", "PATCH", memberPath, tok, map[string]any{"status": 3}, 422, "status"},
		{"unknown member", "PATCH", "/api/members/424242", tok, map[string]any{"status": "active"}, 404, ""},
		{"member id not a number", "GET", "/api/members/abc", tok, nil, 404, ""},
		{"invitation again to an active member", "POST", memberPath + "/invite", tok, nil, 422, "status"},
		{"outbox of an unknown status", "GET", "/api/outbox?status=lost", tok, nil, 422, "status"},
		{"retry of a sent mail", "POST", fmt.Sprintf("/api/outbox/%d/retry", sent), tok, nil, 422, "status"},
		{"retry of an unknown mail", "POST", "/api/outbox/424242/retry", tok, nil, 404, ""},
		{"members for an editor", "GET", "/api/members", editor, nil, 403, ""},
		{"invite by an editor", "POST", "/api/members", editor, map[string]any{"email": "ed@example.org", "name": "Ed"}, 403, ""},
		{"retry by an editor", "POST", fmt.Sprintf("/api/outbox/%d/retry", failed[0].ID), editor, nil, 403, ""},
		{"members with another chapter's token", "GET", "/api/members", other, nil, 401, ""},
		{"status with another chapter's token", "PATCH", memberPath, other, map[string]any{"status": "resigned"}, 401, ""},
		{"retry with another chapter's token", "POST", fmt.Sprintf("/api/outbox/%d/retry", failed[0].ID), other, nil, 401, ""},
		{"outbox without a token", "GET", "/api/outbox", "", nil, 401, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := digest()
			var h []string
			if tc.token != "" {
				h = webtest.Bearer(tc.token)
			}
			r := ls.Call(t, c, tc.method, ls.SiteURL("post42", tc.path), tc.body, h...)
			msg, field := r.ErrField(t)
			if r.Status != tc.status || field != tc.field || msg == "" {
				t.Errorf("%s %s: %d %.300s, want %d naming field %q", tc.method, tc.path, r.Status, r.Body, tc.status, tc.field)
			}
			if digest() != before {
				t.Errorf("%s %s was refused but changed the chapter's rows", tc.method, tc.path)
			}
		})
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
